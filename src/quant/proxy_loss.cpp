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

double proxy_loss_from_sweep(double damped_loss, const QuantizedLayer &q, const float *W,
                             const hessian::HessianView &H, int threads) {
  const int64_t m = q.rows, n = q.cols;
  std::vector<uint8_t> live((size_t)n);
  for (int64_t j = 0; j < n; ++j) live[(size_t)j] = H.at(j, j) != 0.0f;  // the dead rule of factor_hessian
  double dw_sq = 0.0;
#pragma omp parallel for num_threads(threads_for(threads, m * n)) schedule(static) reduction(+ : dw_sq)
  for (int64_t r = 0; r < m; ++r) {
    double row = 0.0;
    for (int64_t j = 0; j < n; ++j) {
      if (!live[(size_t)j]) continue;
      const size_t g = (size_t)q.g_idx[(size_t)j] * (size_t)m + (size_t)r;
      // The same fp32 expression as QuantizedLayer::dequantize.
      const float deq = q.scales[g] * ((float)q.codes[(size_t)(r * n + j)] - q.zeros[g]);
      const double d = (double)deq - (double)W[r * n + j];
      row += d * d;
    }
    dw_sq += row;
  }
  return damped_loss - q.report.damp_lambda * dw_sq;
}

}  // namespace vqr::quant
