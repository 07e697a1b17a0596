// The progress lines of `vqround quantize` (issue 16 item 6), printed from the library's progress
// callback: one line per finished layer (its method, bits, proxy loss) and one per finished phase
// of a block (block i/N, phase, its seconds, elapsed, ETA, current and peak resident set); on a
// terminal one redrawn status line instead. The ETA extrapolates the time per finished block.
// End-to-end distillation (--e2e) then reports its steps: step, training loss, tokens per second
// and the ETA from the steps' own rate, a line every kDistillLineSeconds (or the status line).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "cli/library.h"

namespace vqr::cli {

class QuantizeProgress {
 public:
  // model: read for the finished layers' records; blocks: its decoder blocks; tty: redraw one
  // status line on stderr instead of printing lines.
  QuantizeProgress(vqr_model *model, int blocks, bool tty);

  // A vqr_progress_fn; user is this object. Never cancels (Ctrl-C goes through vqr_context_cancel).
  static int callback(void *user, const vqr_progress *progress);

  // Prints the layers not yet printed and ends the status line.
  void finish();

  double elapsed_seconds() const;

 private:
  void flush_layers();
  void on_phase(const vqr_progress &p);
  void on_distill(const vqr_progress &p);
  // Seconds left: the mean time per finished block times the blocks left, less the time already
  // spent on the current one; before the first block ends, by the share of layers finished.
  double eta_seconds() const;
  std::string memory_text() const;
  void draw_status();

  vqr_model *model_;
  int blocks_;
  int64_t linears_;
  bool tty_;
  std::chrono::steady_clock::time_point start_;
  int64_t printed_ = 0;         // layer records printed (or counted, on a terminal)
  int blocks_done_ = 0;         // blocks whose seven layers are finished
  double last_block_end_ = 0;   // elapsed seconds when the latest of them finished
  std::string last_phase_ = "";  // "block 3/32 hessian 1.2s" for the status line
  std::string last_layer_ = "";
  double last_distill_line_ = -1e9;  // elapsed seconds at the last distill line printed
};

}  // namespace vqr::cli
