// Entry point behind vqr_quantize_layer: validates the request, widens W to fp32, runs the method
// and fills the report (proxy losses against the Hessian, damping, timing).
#pragma once

#include "core/context.h"
#include "hessian/hessian.h"
#include "quant/config.h"
#include "quant/quantized_layer.h"

namespace vqr::quant {

QuantizedLayer quantize_layer(vqr_context *ctx, const QuantConfig &config, const vqr_tensor &w,
                              const hessian::Hessian *h);

}  // namespace vqr::quant
