// RTN and GPTQ initializations of the learned rounding (rounding_init.h).
#include "learn/rounding_init.h"

#include <cmath>

#include "backend/rectified_sigmoid.h"
#include "quant/gptq.h"
#include "quant/grid.h"
#include "quant/rtn.h"

namespace vqr::learn {

RoundingInit make_rounding_init(const float *W, int64_t m, int64_t n, const hessian::HessianView &H,
                                const quant::QuantConfig &config, Context *ctx, int threads) {
  const int64_t count = m * n;
  if (config.init == quant::Init::Gptq) {
    quant::QuantConfig gptq = config;
    gptq.method = quant::Method::Gptq;
    gptq.alpha = gptq.alpha2 = 0;
    quant::RoundingSplit split;
    quant::QuantizedLayer layer =
        quant::gptq_quantize(W, m, n, H, gptq, ctx, threads, /*factor_out=*/nullptr, &split);
    std::vector<uint8_t> up((size_t)count);
    for (int64_t i = 0; i < count; ++i) up[(size_t)i] = split.residual[(size_t)i] >= 0.5f;
    return {std::move(layer), std::move(split.base), std::move(split.residual), std::move(up)};
  }
  quant::QuantizedLayer layer = quant::rtn_quantize(W, m, n, config, threads);
  const ElementGrid<float> grid(layer);
  Buffer<float> base((size_t)count), residual((size_t)count);
  std::vector<uint8_t> up((size_t)count);
#pragma omp parallel for num_threads(threads_for(threads, count)) schedule(static)
  for (int64_t r = 0; r < m; ++r)
    for (int64_t j = 0; j < n; ++j) {
      const int64_t i = r * n + j;
      const float u = W[i] / grid.s(r, j), b = std::floor(u);  // the division RTN's code uses
      base[(size_t)i] = b;
      residual[(size_t)i] = u - b;
      up[(size_t)i] = quant::round_half_even(u) > b;
    }
  return {std::move(layer), std::move(base), std::move(residual), std::move(up)};
}

Buffer<float> initial_latents(const RoundingInit &init, int threads) {
  const size_t count = init.base.size();
  Buffer<float> A(count);
#pragma omp parallel for num_threads(threads_for(threads, (int64_t)count)) schedule(static)
  for (size_t i = 0; i < count; ++i) {
    const float a = backend::rsig_inverse(init.residual[i]);
    // A tiny negative value still gives h(A) = 0.5 in the soft weights but hardens downwards.
    A[i] = init.up[i] ? (a >= 0.0f ? a : 0.0f) : (a < 0.0f ? a : -1e-20f);
  }
  return A;
}

}  // namespace vqr::learn
