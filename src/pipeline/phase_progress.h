// The sequential pipeline's phase events (PhaseEvent: a block finished loading, its forward
// passes, its Hessians or its sweeps) as progress reports on the caller's context, so that a C API
// progress callback sees stages "load", "forward", "hessian" and "sweep" beside "model".
#pragma once

#include <functional>

#include "core/context.h"
#include "pipeline/sequential_quantizer.h"

namespace vqr::pipeline {

// A PipelineOptions::on_phase that reports each event to ctx's progress callback, unthrottled (a
// few events per block): stage = the phase, done = block + 1, total = blocks, seconds = the
// phase's duration, elapsed_seconds since this function was called. The callback returning
// non-zero, or vqr_context_cancel, throws Error(Status::Cancelled). ctx may be NULL (no reports).
std::function<void(const PhaseEvent &)> phase_progress(Context *ctx);

}  // namespace vqr::pipeline
