// Proxy loss through the Cholesky factor (proxy_loss.h).
#include "quant/proxy_loss.h"

#include <vector>

#include "core/buffer.h"
#include "core/context.h"

namespace vqr::quant {

double proxy_loss(backend::Backend &be, const float *deq, const float *W, int64_t m, int64_t n,
                  const HessianFactor &f, int threads) {
  // E = (deq - W) with columns in reversed processing order: E[:, c] = dW[:, perm[n-1-c]].
  Buffer<float> E((size_t)(m * n));
  double correction = 0.0;
#pragma omp parallel for num_threads(threads_for(threads, m * n)) schedule(static) reduction(+ : correction)
  for (int64_t r = 0; r < m; ++r)
    for (int64_t c = 0; c < n; ++c) {
      const int64_t q = n - 1 - c;
      const int64_t j = f.perm[(size_t)q];
      const float e = deq[r * n + j] - W[r * n + j];
      E[(size_t)(r * n + c)] = e;
      correction += (double)f.shift[(size_t)q] * (double)e * (double)e;
    }
  be.trmm(backend::Side::Right, backend::Triangle::Lower, backend::Op::None, backend::Diag::NonUnit, m, n, 1.0f,
          f.L.data(), n, E.data(), n);
  double total = 0.0;
#pragma omp parallel for num_threads(threads_for(threads, m * n)) schedule(static) reduction(+ : total)
  for (int64_t i = 0; i < m * n; ++i) total += (double)E[(size_t)i] * (double)E[(size_t)i];
  return total - correction;
}

}  // namespace vqr::quant
