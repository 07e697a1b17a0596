// RTN and the GPTQ-family sweep on one layer, each with its report: the proxy loss of the result
// and of RTN on the same grid through one Cholesky factor of the damped Hessian and, with D, the
// asymmetric objective (DESIGN §3.1). Choosing the method and validating the request is the
// dispatch's job, one floor up (pipeline/quantize_layer.h).
#pragma once

#include <cstdint>

#include "core/context.h"
#include "hessian/hessian.h"
#include "quant/config.h"
#include "quant/quantized_layer.h"

namespace vqr::quant {

// config: presets resolved, method of the round-to-nearest family. W: m x n dense fp32, finite,
// read only. h: may be NULL (then no proxy losses); when given, its width is n.
QuantizedLayer rtn_quantize_layer(Context *ctx, const QuantConfig &config, const float *W, int64_t m, int64_t n,
                                  const hessian::Hessian *h, int threads);

// config: presets resolved, method of the GPTQ-sweep family. W as above. h: width n, with tokens,
// with D when the method needs it.
QuantizedLayer sweep_quantize_layer(Context *ctx, const QuantConfig &config, const float *W, int64_t m,
                                    int64_t n, const hessian::Hessian &h, int threads);

}  // namespace vqr::quant
