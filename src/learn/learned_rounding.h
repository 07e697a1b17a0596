// Entry point of the learned-rounding methods (AdaRound, AutoRound, VQRound, LoRA-rounding) behind
// vqr_quantize_layer: builds the initialization and the parameterization, runs the shared
// trainer against the H-form layer objective, hardens, and fills the report and histories.
#pragma once

#include <cstdint>

#include "core/context.h"
#include "hessian/hessian.h"
#include "quant/config.h"
#include "quant/quantized_layer.h"

namespace vqr::learn {

// config: presets resolved. W: m x n fp32 (finite). H: the layer statistic (D used if present).
quant::QuantizedLayer learned_quantize(vqr_context *ctx, const quant::QuantConfig &config, const float *W, int64_t m,
                                       int64_t n, const hessian::HessianView &H, int threads);

}  // namespace vqr::learn
