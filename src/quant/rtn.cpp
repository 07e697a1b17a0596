// RTN (rtn.h): each (row, group) slice gets its own (scale, zero); codes round half to even.
#include "quant/rtn.h"

#include <algorithm>

#include "core/context.h"
#include "quant/grid.h"

namespace vqr::quant {

QuantizedLayer rtn_quantize(const float *W, int64_t m, int64_t n, const QuantConfig &config, int threads) {
  QuantizedLayer q(m, n, config.group_size, config.bits);
  const GridSpec spec = grid_spec(config);
  const int64_t gs = q.group_size;
#pragma omp parallel for num_threads(threads_for(threads, m * n)) schedule(dynamic, 16)
  for (int64_t r = 0; r < m; ++r) {
    const float *w = W + r * n;
    for (int64_t k = 0; k < q.groups; ++k) {
      const int64_t j0 = k * gs, j1 = std::min(n, j0 + gs);
      const GroupParams p = find_group_params(w + j0, j1 - j0, spec);
      q.scales[(size_t)(k * m + r)] = p.scale;
      q.zeros[(size_t)(k * m + r)] = p.zero;
      for (int64_t j = j0; j < j1; ++j) q.codes[(size_t)(r * n + j)] = (uint8_t)quantize_code(w[j], p, spec.maxq);
    }
  }
  q.report.method = Method::Rtn;
  return q;
}

}  // namespace vqr::quant
