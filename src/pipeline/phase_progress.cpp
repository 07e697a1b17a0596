// Phase events as progress reports (phase_progress.h).
#include "pipeline/phase_progress.h"

#include <chrono>
#include <string_view>

namespace vqr::pipeline {

std::function<void(const PhaseEvent &)> phase_progress(Context *ctx) {
  const auto start = std::chrono::steady_clock::now();
  return [ctx, start](const PhaseEvent &e) {
    // A block's start ("block", seconds 0) is not a finished phase: the C API reports phases as
    // they end (vqround.h, vqr_progress.seconds).
    if (std::string_view(e.phase) == "block") return;
    ProgressInfo p;
    p.stage = e.phase;
    p.done = e.block + 1;
    p.total = e.blocks;
    p.elapsed_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    p.seconds = e.seconds;
    report_progress(ctx, p);
  };
}

}  // namespace vqr::pipeline
