// Progress lines of `vqround quantize` (quantize_progress.h).
#include "cli/quantize_progress.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstring>

#include "cli/memory_usage.h"
#include "cli/units.h"

namespace vqr::cli {

namespace {

// The phase stages of vqr_model_quantize (vqround.h: vqr_quantize_stats).
bool is_phase(const char *stage) {
  for (const char *p : {"load", "forward", "hessian", "sweep"})
    if (std::strcmp(stage, p) == 0) return true;
  return false;
}

// Layers per decoder block (wq, wk, wv, wo, w1, w2, w3).
constexpr int64_t kLayersPerBlock = 7;
// Seconds between two distill progress lines off a terminal.
constexpr double kDistillLineSeconds = 10.0;

}  // namespace

QuantizeProgress::QuantizeProgress(vqr_model *model, int blocks, bool tty)
    : model_(model),
      blocks_(blocks),
      linears_(vqr_model_linear_count(model)),
      tty_(tty),
      start_(std::chrono::steady_clock::now()) {}

int QuantizeProgress::callback(void *user, const vqr_progress *p) {
  auto *self = static_cast<QuantizeProgress *>(user);
  self->flush_layers();
  // vqr_progress.seconds exists since 0.5.0: read it only when the library's struct has it.
  const bool has_seconds = p->struct_size >= offsetof(vqr_progress, seconds) + sizeof p->seconds;
  if (p->stage != nullptr && is_phase(p->stage) && has_seconds) self->on_phase(*p);
  // vqr_progress.tokens exists since 0.5.0 as well.
  const bool has_tokens = p->struct_size >= offsetof(vqr_progress, tokens) + sizeof p->tokens;
  if (p->stage != nullptr && std::strcmp(p->stage, "distill") == 0 && has_tokens) self->on_distill(*p);
  if (self->tty_) self->draw_status();
  return 0;
}

double QuantizeProgress::elapsed_seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

double QuantizeProgress::eta_seconds() const {
  const double elapsed = elapsed_seconds();
  if (blocks_done_ > 0) {
    const double per_block = last_block_end_ / blocks_done_;
    const double left = per_block * (blocks_ - blocks_done_) - (elapsed - last_block_end_);
    return left > 0 ? left : 0;
  }
  if (printed_ == 0 || linears_ == 0) return NAN;
  return elapsed * (double)(linears_ - printed_) / (double)printed_;
}

std::string QuantizeProgress::memory_text() const {
  // ru_maxrss and /proc/self/statm are sampled differently: the peak shown is never below the current.
  const int64_t current = current_rss_bytes(), peak = std::max(peak_rss_bytes(), current);
  return "RSS " + format_bytes((double)current) + " (peak " + format_bytes((double)peak) + ")";
}

void QuantizeProgress::flush_layers() {
  const int64_t count = vqr_model_layer_count(model_);
  for (; printed_ < count; ++printed_) {
    vqr_layer_info li{};
    li.struct_size = sizeof li;
    vqr_report rep{};
    rep.struct_size = sizeof rep;
    const char *name = nullptr;
    if (vqr_model_layer_info(model_, printed_, &li) != VQR_OK ||
        vqr_model_layer_report(model_, printed_, &name, &rep) != VQR_OK)
      break;
    const long long n = (long long)printed_ + 1, all = (long long)linears_;
    last_layer_ = li.name;
    if (n % kLayersPerBlock == 0) {
      blocks_done_ = (int)(n / kLayersPerBlock);
      last_block_end_ = elapsed_seconds();
    }
    if (tty_) continue;
    if (li.skipped)
      std::fprintf(stderr, "%lld/%lld %s skipped (full precision)\n", n, all, li.name);
    else
    {
      // The RTN comparison is computed only when asked (--report-rtn; vqr_report_level).
      char rtn[48] = "";
      if (!std::isnan(rep.rtn_proxy_loss)) std::snprintf(rtn, sizeof rtn, " (rtn %.4e)", rep.rtn_proxy_loss);
      std::fprintf(stderr, "%lld/%lld %s %s %d-bit proxy %.4e%s %.2fs RSS %s\n", n, all, li.name,
                   vqr_method_name((vqr_method)li.method), li.bits, rep.proxy_loss, rtn, rep.seconds,
                   format_bytes((double)current_rss_bytes()).c_str());
    }
  }
}

void QuantizeProgress::on_phase(const vqr_progress &p) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "block %lld/%lld %s %s", (long long)p.done, (long long)p.total, p.stage,
                format_seconds(p.seconds).c_str());
  last_phase_ = buf;
  if (tty_) return;
  const double eta = eta_seconds();
  std::fprintf(stderr, "%s, elapsed %s, ETA %s, %s\n", buf, format_seconds(elapsed_seconds()).c_str(),
               std::isnan(eta) ? "?" : format_seconds(eta).c_str(), memory_text().c_str());
}

void QuantizeProgress::on_distill(const vqr_progress &p) {
  // The stage's own clock (elapsed_seconds since the loop began): its rate excludes the setup.
  const double rate = p.elapsed_seconds > 0 ? (double)p.tokens / p.elapsed_seconds : 0.0;
  const double eta = p.done > 0 ? p.elapsed_seconds * (double)(p.total - p.done) / (double)p.done : NAN;
  char buf[200];
  std::snprintf(buf, sizeof buf, "distill step %lld/%lld loss %.4g, %.0f tokens/s", (long long)p.done,
                (long long)p.total, p.loss, rate);
  last_phase_ = buf;
  if (tty_) return;
  const double now = elapsed_seconds();
  if (p.done != p.total && now - last_distill_line_ < kDistillLineSeconds) return;
  last_distill_line_ = now;
  std::fprintf(stderr, "%s, elapsed %s, ETA %s, %s\n", buf, format_seconds(now).c_str(),
               std::isnan(eta) ? "?" : format_seconds(eta).c_str(), memory_text().c_str());
}

void QuantizeProgress::draw_status() {
  const int width = 30;
  const int filled = linears_ > 0 ? (int)(width * printed_ / linears_) : 0;
  const double eta = eta_seconds();
  std::fprintf(stderr, "\r[%.*s%*s] %lld/%lld %-12s %s ETA %s %s   ", filled, "##############################",
               width - filled, "", (long long)printed_, (long long)linears_, last_layer_.c_str(), last_phase_.c_str(),
               std::isnan(eta) ? "?" : format_seconds(eta).c_str(), memory_text().c_str());
}

void QuantizeProgress::finish() {
  flush_layers();
  if (tty_ && printed_ > 0) {
    draw_status();
    std::fputc('\n', stderr);
  }
}

}  // namespace vqr::cli
