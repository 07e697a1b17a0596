// The execution context behind vqr_context: thread count, seed, log and progress callbacks, the
// cancellation flag and the compute backend. Callbacks are only ever invoked from the thread that
// made the API call (DESIGN §2); long-running code calls `checkpoint()` between units of work,
// outside parallel regions.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <limits>
#include <string>

#include "vqround/vqround.h"

namespace vqr::backend {
class Backend;
}

struct vqr_context {
  int threads = 0;  // 0 = all available cores
  uint64_t seed = 0;
  vqr_log_fn log_fn = nullptr;
  void *log_user = nullptr;
  vqr_log_level log_level = VQR_LOG_INFO;
  vqr_progress_fn progress_fn = nullptr;
  void *progress_user = nullptr;
  std::atomic<bool> cancel_requested{false};
  // What the context computes with; nullptr = the process-wide CPU backend. Read it through
  // vqr::backend_of(ctx) (backend/backend.h), which resolves the default.
  vqr::backend::Backend *backend = nullptr;
};

namespace vqr {

// Effective thread count for an OpenMP region (num_threads clause); never changes global state.
int thread_count(const vqr_context *ctx);

// Threads worth starting for `work` elementary operations: 1 below ~64K (a parallel region's
// fork/join and barrier cost more than the work), else `threads`. Tiny layers stay serial.
inline int threads_for(int threads, int64_t work) { return work < (int64_t(1) << 16) ? 1 : threads; }

// Sends a log line to the context's callback when its level passes the filter. ctx may be NULL.
void log_message(const vqr_context *ctx, vqr_log_level level, const std::string &message);

// Progress reporting and cancellation for one long call. Rate-limited to ~10 callbacks/second.
class Progress {
 public:
  Progress(vqr_context *ctx, const char *stage, int64_t total);
  // Reports `done` units and the stage's current `loss` (NaN when it has none; throttled, `force`
  // bypasses the throttle) and throws Error(VQR_ERR_CANCELLED) when cancellation was requested
  // or the callback asked for it.
  void checkpoint(int64_t done, bool force = false, double loss = std::numeric_limits<double>::quiet_NaN());
  double elapsed_seconds() const;

 private:
  vqr_context *ctx_;
  const char *stage_;
  int64_t total_;
  std::chrono::steady_clock::time_point start_, last_report_;
};

}  // namespace vqr
