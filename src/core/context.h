// The execution context of one library call: thread count, seed, log and progress callbacks, the
// cancellation flag and the compute backend (the C API's vqr_context wraps one). Callbacks are
// only ever invoked from the thread that made the API call (DESIGN §2); long-running code calls
// `checkpoint()` between units of work, outside parallel regions.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>

namespace vqr {

namespace backend {
class Backend;
}

// Severity of a log line; also the filter (None delivers nothing). The numbers equal the public
// vqr_log_level ones (capi/enum_mirror.cpp).
enum class LogLevel : int { Debug = 0, Info = 1, Warn = 2, Error = 3, None = 4 };

// What a long call reports as it goes (the public vqr_progress without its struct_size).
struct ProgressInfo {
  const char *stage = "";  // "gptq", "adaround", "eval", ...
  int64_t done = 0;
  int64_t total = 0;
  double elapsed_seconds = 0;
  double loss = std::numeric_limits<double>::quiet_NaN();  // NaN when the stage has none
  double seconds = std::numeric_limits<double>::quiet_NaN();  // the unit just finished (a phase of a block); NaN when none
  int64_t tokens = 0;  // training stages that count them: tokens processed so far
};

struct Context {
  int threads = 0;  // 0 = all available cores
  uint64_t seed = 0;
  // Empty: no logging. Receives lines whose level passes `log_level`.
  std::function<void(LogLevel level, const char *message)> log_fn;
  LogLevel log_level = LogLevel::Info;
  // Empty: no reports. A non-zero return cancels the call (Status::Cancelled).
  std::function<int(const ProgressInfo &progress)> progress_fn;
  std::atomic<bool> cancel_requested{false};
  // What the context computes with; nullptr = the process-wide CPU backend. Read it through
  // vqr::backend_of(ctx) (backend/backend.h), which resolves the default.
  backend::Backend *backend = nullptr;
  // Bytes a call may commit for input-sized data (core/memory_budget.h); 0 = physical memory.
  int64_t memory_limit = 0;
};

// Effective thread count for an OpenMP region (num_threads clause); never changes global state.
int thread_count(const Context *ctx);

// Threads worth starting for `work` elementary operations: 1 below ~64K (a parallel region's
// fork/join and barrier cost more than the work), else `threads`. Tiny layers stay serial.
inline int threads_for(int threads, int64_t work) { return work < (int64_t(1) << 16) ? 1 : threads; }

// Sends a log line to the context's callback when its level passes the filter. ctx may be NULL.
void log_message(const Context *ctx, LogLevel level, const std::string &message);

// Sends `info` to the context's progress callback at once (no throttle: for events that come at a
// bounded rate of their own, such as the end of a block's phase). Throws Error(Status::Cancelled)
// naming info.stage when cancellation was requested or the callback returned non-zero. ctx may be NULL.
void report_progress(Context *ctx, const ProgressInfo &info);

// Throws Error(Status::Cancelled) naming `stage` when cancellation was requested (and clears the
// request, as every check does); reports nothing. For a call that must not start its work, or
// leave anything behind, once cancelled. ctx may be NULL.
void check_cancelled(Context *ctx, const char *stage);

// Progress reporting and cancellation for one long call. Rate-limited to ~10 callbacks/second.
class Progress {
 public:
  Progress(Context *ctx, const char *stage, int64_t total);
  // Reports `done` units and the stage's current `loss` (NaN when it has none; throttled, `force`
  // bypasses the throttle) and throws Error(Status::Cancelled) when cancellation was requested
  // or the callback asked for it.
  void checkpoint(int64_t done, bool force = false, double loss = std::numeric_limits<double>::quiet_NaN());
  double elapsed_seconds() const;
  // The tokens processed so far, sent with every later report (ProgressInfo::tokens).
  void set_tokens(int64_t tokens) { tokens_ = tokens; }

 private:
  Context *ctx_;
  const char *stage_;
  int64_t total_;
  int64_t tokens_ = 0;
  std::chrono::steady_clock::time_point start_, last_report_;
};

}  // namespace vqr
