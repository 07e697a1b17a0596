// Round-to-nearest quantization of a whole weight matrix on the grid of spec gptq §1.6, per
// output row or in groups of g consecutive input columns.
#pragma once

#include <cstdint>

#include "quant/config.h"
#include "quant/quantized_layer.h"

namespace vqr::quant {

// W: m x n dense fp32 (rows = out_features). Group sizes are validated by the caller.
QuantizedLayer rtn_quantize(const float *W, int64_t m, int64_t n, const QuantConfig &config, int threads);

}  // namespace vqr::quant
