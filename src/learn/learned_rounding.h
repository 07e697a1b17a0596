// Entry point of the learned-rounding methods (AdaRound, AutoRound, VQRound, LoRA-rounding), called
// by the per-layer dispatch (pipeline/quantize_layer.h): builds the initialization and the
// parameterization, runs the shared trainer against the H-form layer objective with the
// optimizer and stage of the method's traits, hardens, and fills the report and histories.
#pragma once

#include <cstdint>

#include "core/context.h"
#include "hessian/hessian.h"
#include "quant/config.h"
#include "quant/quantized_layer.h"

namespace vqr::learn {

// config: presets resolved, a learned method. W: m x n fp32 (finite). H: the layer statistic (D used if present).
quant::QuantizedLayer learned_quantize(Context *ctx, const quant::QuantConfig &config, const float *W, int64_t m,
                                       int64_t n, const hessian::HessianView &H, int threads);

}  // namespace vqr::learn
