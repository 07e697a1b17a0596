// `vqround quantize`: calibrate on a text file, quantize the whole model block by block
// (pipeline/sequential_quantizer.h) with any method of the library, and write the native model
// folder (pipeline/model_folder.h), which appears only when complete. Ctrl-C cancels the run
// through vqr_context_cancel and leaves nothing behind.
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <new>
#include <sstream>
#include <string>
#include <vector>

#include "cli/args.h"
#include "cli/cli_error.h"
#include "cli/commands.h"
#include "cli/interrupt.h"
#include "cli/model_inputs.h"
#include "core/context.h"
#include "core/error.h"
#include "core/json_text.h"
#include "model/text_corpus.h"
#include "model/token_file.h"
#include "pipeline/model_folder.h"
#include "pipeline/sequential_quantizer.h"
#include "quant/config.h"

namespace vqr::cli {

namespace {

const char *const kCommand = "quantize";

const char *const kInits[] = {"rtn", "gptq"};

int method_arg(const std::string &name, const std::string &option) {
  const int m = quant::method_from_name(name);
  if (m < 0)
    throw usage_error(kCommand, option + ": unknown method '" + name +
                                    "' (known: rtn, gptq, gptaq, rescomp, gptaq_paper, adaround, autoround, vqround, "
                                    "loraround)");
  return m;
}

int grid_arg(const std::string &name) {
  const int g = quant::grid_from_name(name);
  if (g < 0) throw usage_error(kCommand, "--grid: unknown grid '" + name + "' (known: gptq, quarot, full_range)");
  return g;
}

int init_arg(const std::string &name) {
  for (int i = 0; i < 2; ++i)
    if (name == kInits[i]) return i;
  throw usage_error(kCommand, "--init: unknown initialization '" + name + "' (known: rtn, gptq)");
}

double parse_float(const std::string &text, const std::string &option) {
  char *end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || !std::isfinite(v)) throw usage_error(kCommand, option + ": not a number: " + text);
  return v;
}

// Sets one parameter through the C API's checked setters, so bounds errors read like the library's.
void set_param(vqr_config *cfg, vqr_param p, double v, const std::string &option) {
  vqr_bounds b;
  b.struct_size = sizeof b;
  vqr_param_bounds(p, &b);
  const vqr_status st = b.is_float ? vqr_config_set_float(cfg, p, v) : vqr_config_set_int(cfg, p, (int64_t)v);
  if (st != VQR_OK) throw usage_error(kCommand, option + ": " + vqr_last_error());
}

// "PATTERN:key=value,key=value;PATTERN:skip" with keys method, bits, group-size.
std::vector<pipeline::LayerOverride> parse_overrides(const std::string &text) {
  std::vector<pipeline::LayerOverride> out;
  std::stringstream entries(text);
  std::string entry;
  while (std::getline(entries, entry, ';')) {
    if (entry.empty()) continue;
    const size_t colon = entry.find(':');
    if (colon == std::string::npos || colon == 0)
      throw usage_error(kCommand, "--override: '" + entry + "' is not PATTERN:key=value[,key=value] or PATTERN:skip");
    pipeline::LayerOverride o;
    o.pattern = entry.substr(0, colon);
    std::stringstream fields(entry.substr(colon + 1));
    std::string field;
    while (std::getline(fields, field, ',')) {
      if (field == "skip") {
        o.skip = true;
        continue;
      }
      const size_t eq = field.find('=');
      const std::string key = field.substr(0, eq), value = eq == std::string::npos ? "" : field.substr(eq + 1);
      if (eq == std::string::npos || value.empty())
        throw usage_error(kCommand, "--override: '" + field + "' needs key=value (keys: method, bits, group-size)");
      if (key == "method") o.method = method_arg(value, "--override method");
      else if (key == "bits") o.bits = (int)parse_float(value, "--override bits");
      else if (key == "group-size") o.group_size = (int64_t)parse_float(value, "--override group-size");
      else throw usage_error(kCommand, "--override: unknown key '" + key + "' (keys: method, bits, group-size, skip)");
    }
    out.push_back(o);
  }
  return out;
}

std::string format_seconds(double s) {
  char buf[32];
  if (s < 60) std::snprintf(buf, sizeof buf, "%.1fs", s);
  else std::snprintf(buf, sizeof buf, "%dm%02ds", (int)(s / 60), (int)s % 60);
  return buf;
}

}  // namespace

int run_quantize(const std::vector<std::string> &argv) {
  ArgParser args(kCommand, "--model PATH --calib FILE --method M --bits B --out DIR [options]");
  args.add("model", "PATH", "",
           "llama2.c checkpoint, Hugging Face folder (config.json + safetensors), or a folder written by "
           "`vqround quantize`");
  args.add("tokenizer", "PATH", "",
           "tokenizer.model (SentencePiece) or llama2.c tokenizer.bin (default: the folder's, or tokenizer.bin / "
           "tok*.bin beside a checkpoint file)");
  args.add("calib", "FILE", "", "calibration text (paragraphs separated by blank lines)");
  args.add("calib-tokens", "FILE", "", "calibration as pre-tokenized ids (little-endian uint32), instead of --calib");
  args.add("method", "M", "gptq", "rtn, gptq, gptaq, rescomp, gptaq_paper, adaround, autoround, vqround, loraround");
  args.add("bits", "B", "4", "bits per weight, 2..8");
  args.add("group-size", "G", "-1", "group size along the input (-1 = one group per output row)");
  args.add("out", "DIR", "", "output folder (must not exist)");
  args.add_flag("act-order", "GPTQ family: process columns by descending diag(H)");
  args.add_flag("sym", "symmetric grid");
  args.add("grid", "NAME", "gptq", "gptq, quarot or full_range");
  args.add_flag("mse", "search a clipping ratio per group");
  args.add("calib-samples", "N", "128", "calibration sequences");
  args.add("calib-mode", "MODE", "windows",
           "windows: N random windows of the tokenized text (GPTQ protocol); paragraphs: the first N "
           "paragraphs, each its own sequence (truncated to --calib-seqlen)");
  args.add("calib-seqlen", "L", "0", "tokens per window (0 = min(2048, the model's context))");
  args.add("seed", "S", "0", "seed of the calibration windows and of the learned methods");
  args.add("steps", "N", "-1", "learned methods: optimizer steps (-1 = the method's preset)");
  args.add("lr", "X", "-1", "learned methods: learning rate (-1 = preset)");
  args.add("init", "NAME", "rtn", "adaround/vqround initialization: rtn or gptq");
  args.add("vq-dim", "D", "8", "vqround: latents per codebook vector");
  args.add("codebook-size", "K", "4096", "vqround: codewords (capped at the number of vectors)");
  args.add("kmeans-iters", "N", "500", "vqround: k-means iterations at most");
  args.add_flag("sign-consistent", "vqround: keep the initialization's rounding decisions in k-means");
  args.add("rank", "R", "8", "loraround: rank");
  args.add("override", "LIST", "",
           "per-layer settings, ';'-separated PATTERN:key=value,... (keys method, bits, group-size) or "
           "PATTERN:skip; PATTERN globs layer names like blk.0.wq, *.w2");
  args.add("threads", "N", "0", "threads (0 = all cores)");
  args.add_flag("json", "print a JSON summary on stdout");
  if (!args.parse(argv)) {
    std::fputs(args.usage().c_str(), stdout);
    return 0;
  }
  if (args.get("out").empty()) throw usage_error(kCommand, "--out DIR is required");
  const std::string calib_text = args.get("calib"), calib_tokens = args.get("calib-tokens");
  if (calib_text.empty() == calib_tokens.empty())
    throw usage_error(kCommand, "pass exactly one of --calib FILE (text) and --calib-tokens FILE (uint32 ids)");
  const std::string out_dir = args.get("out");
  struct stat st;
  if (stat(out_dir.c_str(), &st) == 0)
    throw CliError("--out", out_dir + " already exists", "choose a new folder name or remove the old one");

  // Settings, checked by the library's own bounds before any work.
  vqr_config *raw_cfg = nullptr;
  if (vqr_config_create(&raw_cfg) != VQR_OK) throw std::bad_alloc();
  std::unique_ptr<vqr_config, void (*)(vqr_config *)> cfg(raw_cfg, vqr_config_free);
  set_param(cfg.get(), VQR_PARAM_METHOD, method_arg(args.get("method"), "--method"), "--method");
  set_param(cfg.get(), VQR_PARAM_BITS, parse_float(args.get("bits"), "--bits"), "--bits");
  set_param(cfg.get(), VQR_PARAM_GROUP_SIZE, parse_float(args.get("group-size"), "--group-size"), "--group-size");
  set_param(cfg.get(), VQR_PARAM_ALLOW_PARTIAL_GROUP, 1, "--group-size");
  set_param(cfg.get(), VQR_PARAM_ACT_ORDER, args.flag("act-order"), "--act-order");
  set_param(cfg.get(), VQR_PARAM_SYM, args.flag("sym"), "--sym");
  set_param(cfg.get(), VQR_PARAM_GRID, grid_arg(args.get("grid")), "--grid");
  set_param(cfg.get(), VQR_PARAM_MSE, args.flag("mse"), "--mse");
  set_param(cfg.get(), VQR_PARAM_STEPS, parse_float(args.get("steps"), "--steps"), "--steps");
  set_param(cfg.get(), VQR_PARAM_LR, parse_float(args.get("lr"), "--lr"), "--lr");
  set_param(cfg.get(), VQR_PARAM_INIT, init_arg(args.get("init")), "--init");
  set_param(cfg.get(), VQR_PARAM_VQ_DIM, parse_float(args.get("vq-dim"), "--vq-dim"), "--vq-dim");
  set_param(cfg.get(), VQR_PARAM_CODEBOOK_SIZE, parse_float(args.get("codebook-size"), "--codebook-size"),
            "--codebook-size");
  set_param(cfg.get(), VQR_PARAM_KMEANS_ITERS, parse_float(args.get("kmeans-iters"), "--kmeans-iters"),
            "--kmeans-iters");
  set_param(cfg.get(), VQR_PARAM_SIGN_CONSISTENT, args.flag("sign-consistent"), "--sign-consistent");
  set_param(cfg.get(), VQR_PARAM_RANK, parse_float(args.get("rank"), "--rank"), "--rank");
  pipeline::PipelineOptions options;
  options.config = cfg->typed();
  options.overrides = parse_overrides(args.get("override"));
  options.threads = (int)args.get_int("threads", 0, 4096);
  const int64_t samples = args.get_int("calib-samples", 1, 1 << 20);
  const int64_t seqlen_arg = args.get_int("calib-seqlen", 0, 1 << 20);
  const uint64_t seed = (uint64_t)args.get_int("seed", 0, INT64_MAX);
  const bool json = args.flag("json");

  const std::string mode = args.get("calib-mode");
  if (mode != "windows" && mode != "paragraphs")
    throw usage_error(kCommand, "--calib-mode: unknown mode '" + mode + "' (known: windows, paragraphs)");
  if (mode == "paragraphs" && !calib_tokens.empty())
    throw usage_error(kCommand, "--calib-mode paragraphs needs text (--calib); ids have no paragraph boundaries");

  LoadedModel loaded = load_model_inputs(args.get("model"), args.get("tokenizer"));
  const model::ModelSource &src = loaded.source;
  model::Model &model = loaded.model;
  const int64_t seqlen = seqlen_arg > 0 ? std::min<int64_t>(seqlen_arg, model.config().seq_len)
                                        : std::min<int64_t>(2048, model.config().seq_len);
  std::vector<std::vector<int32_t>> windows;
  if (!calib_tokens.empty()) {
    const std::vector<int32_t> stream = model::read_token_file(calib_tokens, model.config().vocab_size);
    if (stream.size() >= 2) windows = model::random_windows(stream, samples, seqlen, seed);
  } else {
    const model::Tokenizer &tok = require_tokenizer(loaded, kCommand, "--calib-tokens");
    const std::vector<std::string> paragraphs = model::split_paragraphs(model::read_text_file(calib_text));
    if (mode == "paragraphs") {
      for (size_t i = 0; i < paragraphs.size() && (int64_t)windows.size() < samples; ++i) {
        std::vector<int32_t> ids = tok.encode(paragraphs[i], /*bos=*/true, /*eos=*/false);
        if ((int64_t)ids.size() > seqlen) ids.resize((size_t)seqlen);
        windows.push_back(std::move(ids));
      }
    } else {
      const std::vector<int32_t> stream = model::encode_paragraphs(tok, paragraphs);
      if (stream.size() >= 2) windows = model::random_windows(stream, samples, seqlen, seed);
    }
  }
  if (windows.empty())
    throw CliError(calib_text.empty() ? "--calib-tokens" : "--calib",
                   (calib_text.empty() ? calib_tokens : calib_text) + " has too little to calibrate on",
                   "pass a longer text or id file");

  vqr_context *raw_ctx = nullptr;
  if (vqr_context_create(&raw_ctx) != VQR_OK) throw std::bad_alloc();
  std::unique_ptr<vqr_context, void (*)(vqr_context *)> ctx(raw_ctx, vqr_context_free);
  vqr_context_set_threads(ctx.get(), options.threads);
  vqr_context_set_seed(ctx.get(), seed);

  // One line per layer, or a progress bar with ETA when stderr is a terminal.
  const bool tty = isatty(fileno(stderr));
  const auto t0 = std::chrono::steady_clock::now();
  options.on_layer = [&](const pipeline::LayerRecord &r, int64_t done, int64_t total) {
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (tty) {
      const int width = 30, filled = (int)(width * done / total);
      const double eta = done > 0 ? elapsed * (double)(total - done) / (double)done : 0.0;
      std::fprintf(stderr, "\r[%.*s%*s] %lld/%lld %-12s ETA %s   ", filled, "##############################",
                   width - filled, "", (long long)done, (long long)total, r.name.c_str(), format_seconds(eta).c_str());
      if (done == total) std::fputc('\n', stderr);
    } else if (r.skipped) {
      std::fprintf(stderr, "%lld/%lld %s skipped (full precision)\n", (long long)done, (long long)total, r.name.c_str());
    } else {
      std::fprintf(stderr, "%lld/%lld %s %s %d-bit proxy %.4e (rtn %.4e) %.2fs\n", (long long)done, (long long)total,
                   r.name.c_str(), quant::method_name(r.config.method), r.config.bits, r.report.proxy_loss,
                   r.report.rtn_proxy_loss, r.report.seconds);
    }
  };
  pipeline::QuantizedModel result;
  {
    const InterruptGuard interrupt(ctx.get());
    result = pipeline::quantize_sequential(model, windows, options, ctx.get());
  }

  pipeline::FolderMetadata meta;
  meta.source_model = src.model_file;
  meta.calibration_file = calib_text.empty() ? calib_tokens : calib_text;
  meta.calibration_samples = (int64_t)windows.size();
  meta.calibration_seqlen = seqlen;
  meta.seed = seed;
  meta.overrides = args.get("override");
  pipeline::write_model_folder(model, src, options, result, meta, out_dir);
  double total_proxy = 0;
  for (const auto &r : result.layers)
    if (!r.skipped) total_proxy += r.report.proxy_loss;
  const quant::QuantConfig c = quant::resolve_presets(options.config);
  if (json)
    std::printf("{\"out\": %s, \"method\": %s, \"bits\": %d, \"layers\": %zu, \"seconds\": %s, \"proxy_loss_total\": %s}\n",
                json_string(out_dir).c_str(), json_string(quant::method_name(c.method)).c_str(), c.bits,
                result.layers.size(), json_number(result.seconds).c_str(), json_number(total_proxy).c_str());
  else
    std::printf("wrote %s: %zu layers, %s, total proxy loss %.4e\n", out_dir.c_str(), result.layers.size(),
                format_seconds(result.seconds).c_str(), total_proxy);
  return 0;
}

}  // namespace vqr::cli
