// QuantizedLayer storage and dequantization (quantized_layer.h).
#include "quant/quantized_layer.h"

#include <cmath>

#include "core/context.h"

namespace vqr::quant {

QuantizedLayer::QuantizedLayer(int64_t m, int64_t n, int64_t gs, int b)
    : rows(m), cols(n), group_size(gs > 0 ? gs : n), bits(b) {
  groups = group_size > 0 ? (n + group_size - 1) / group_size : 0;  // n = 0: an empty placeholder
  codes.assign((size_t)(m * n), 0);
  scales.assign((size_t)(groups * m), 0.0f);
  zeros.assign((size_t)(groups * m), 0.0f);
  g_idx.assign((size_t)n, 0);
  for (int64_t j = 0; j < n; ++j) g_idx[(size_t)j] = (int32_t)(j / group_size);
  report.proxy_loss = NAN;
  report.rtn_proxy_loss = NAN;
  report.asym_loss = NAN;
  report.init_proxy_loss = NAN;
  report.sign_flip_rate = NAN;
}

void QuantizedLayer::dequantize(float *out, int threads) const {
#pragma omp parallel for num_threads(threads_for(threads, rows * cols)) schedule(static)
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < cols; ++j) {
      const size_t g = (size_t)g_idx[(size_t)j] * (size_t)rows + (size_t)r;
      out[r * cols + j] = scales[g] * ((float)codes[(size_t)(r * cols + j)] - zeros[g]);
    }
}

}  // namespace vqr::quant
