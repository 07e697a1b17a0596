// Context helpers: thread count, logging, throttled progress with cancellation (context.h).
#include "core/context.h"

#include <omp.h>

#include "core/error.h"

namespace vqr {

int thread_count(const Context *ctx) {
  const int requested = ctx ? ctx->threads : 0;
  return requested > 0 ? requested : omp_get_max_threads();
}

void log_message(const Context *ctx, LogLevel level, const std::string &message) {
  if (ctx && ctx->log_fn && level >= ctx->log_level && ctx->log_level != LogLevel::None)
    ctx->log_fn(level, message.c_str());
}

Progress::Progress(Context *ctx, const char *stage, int64_t total)
    : ctx_(ctx), stage_(stage), total_(total), start_(std::chrono::steady_clock::now()), last_report_(start_) {
  checkpoint(0);
}

double Progress::elapsed_seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

namespace {

// exchange() both observes and clears the request, so one cancel stops exactly one call.
void check_cancel(Context *ctx, const char *stage) {
  if (ctx->cancel_requested.exchange(false))
    throw Error(Status::Cancelled, std::string(stage) + ": cancelled by vqr_context_cancel");
}

void deliver(Context *ctx, const ProgressInfo &info) {
  if (ctx->progress_fn(info) != 0)
    throw Error(Status::Cancelled, std::string(info.stage) + ": cancelled by the progress callback");
}

}  // namespace

void check_cancelled(Context *ctx, const char *stage) {
  if (ctx) check_cancel(ctx, stage);
}

void report_progress(Context *ctx, const ProgressInfo &info) {
  if (!ctx) return;
  check_cancel(ctx, info.stage);
  if (ctx->progress_fn) deliver(ctx, info);
}

void Progress::checkpoint(int64_t done, bool force, double loss) {
  if (!ctx_) return;
  check_cancel(ctx_, stage_);
  if (!ctx_->progress_fn) return;
  const auto now = std::chrono::steady_clock::now();
  if (!force && done != 0 && now - last_report_ < std::chrono::milliseconds(100)) return;
  last_report_ = now;
  ProgressInfo p;
  p.stage = stage_;
  p.done = done;
  p.total = total_;
  p.elapsed_seconds = elapsed_seconds();
  p.loss = loss;
  p.tokens = tokens_;
  deliver(ctx_, p);
}

}  // namespace vqr
