// Ctrl-C for long commands: while an InterruptGuard lives, SIGINT asks the library call running
// on `ctx` to stop at its next check point (vqr_context_cancel is an atomic store, safe in a
// signal handler); the call then fails with VQR_ERR_CANCELLED and the command cleans up.
#pragma once

#include <csignal>

#include "vqround/vqround.h"

namespace vqr::cli {

inline vqr_context *g_interrupt_ctx = nullptr;
inline void on_interrupt(int) { vqr_context_cancel(g_interrupt_ctx); }

// Installs on_interrupt for the lifetime of the object, then restores the previous handler.
class InterruptGuard {
 public:
  explicit InterruptGuard(vqr_context *ctx) {
    g_interrupt_ctx = ctx;
    previous_ = std::signal(SIGINT, on_interrupt);
  }
  ~InterruptGuard() {
    std::signal(SIGINT, previous_ == SIG_ERR ? SIG_DFL : previous_);
    g_interrupt_ctx = nullptr;
  }
  InterruptGuard(const InterruptGuard &) = delete;
  InterruptGuard &operator=(const InterruptGuard &) = delete;

 private:
  void (*previous_)(int) = SIG_DFL;
};

}  // namespace vqr::cli
