// Entry point of the learned-rounding methods (AdaRound, AutoRound, VQRound, LoRA-rounding), called
// by the per-layer dispatch (pipeline/quantize_layer.h): builds the initialization and the
// parameterization, runs the shared trainer against the H-form layer objective with the
// optimizer and stage of the method's traits, hardens, and fills the report and histories.
#pragma once

#include <cstdint>

#include "core/context.h"
#include "hessian/hessian.h"
#include "learn/trainer.h"
#include "quant/config.h"
#include "quant/quantized_layer.h"

namespace vqr::learn {

// Optimizer and schedules from the method's traits (spec learned_rounding §1.6, §3.3-3.4; spec
// vqround §1.7, §3.5); the regularizer and beta annealing apply to the relaxed
// parameterizations. The trainer's regularizer weight is c.reg_weight times `unit` (what one unit
// of it is worth in the objective's units), divided by `weights` (the weights it sums over) with
// reg_mean. config: presets resolved.
TrainSchedule schedule_for(const quant::QuantConfig &config, const quant::MethodTraits &traits, bool relaxed,
                           int64_t weights, double unit);

// config: presets resolved, a learned method. W: m x n fp32 (finite). H: the layer statistic (D used if present).
quant::QuantizedLayer learned_quantize(Context *ctx, const quant::QuantConfig &config, const float *W, int64_t m,
                                       int64_t n, const hessian::HessianView &H, int threads);

}  // namespace vqr::learn
