// Asymmetry projection and exact target (asymmetry.h).
#include "quant/asymmetry.h"

#include "core/context.h"

namespace vqr::quant {

Buffer<float> permuted_d(const hessian::HessianView &H, const HessianFactor &f, int threads) {
  const int64_t n = f.n;
  Buffer<float> Dp((size_t)(n * n));
#pragma omp parallel for num_threads(threads_for(threads, n * n)) schedule(static)
  for (int64_t a = 0; a < n; ++a)
    for (int64_t b = 0; b < n; ++b) {
      const int64_t j = f.perm[(size_t)b];
      Dp[(size_t)(a * n + b)] = f.dead[(size_t)j] ? 0.0f : H.d_at(f.perm[(size_t)a], j);
    }
  return Dp;
}

Buffer<float> asymmetry_projection(backend::Backend &be, Buffer<float> Dp, const HessianFactor &f) {
  using backend::Diag, backend::Op, backend::Side, backend::Triangle;
  const int64_t n = f.n;
  float *A = Dp.data();
  // A := Dp U^T, then keep the strict upper triangle, then A := triu1(A) U.
  be.trmm(Side::Right, Triangle::Upper, Op::Trans, Diag::NonUnit, n, n, 1.0f, f.U.data(), n, A, n);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j <= i; ++j) A[i * n + j] = 0.0f;
  be.trmm(Side::Right, Triangle::Upper, Op::None, Diag::NonUnit, n, n, 1.0f, f.U.data(), n, A, n);
  return Dp;
}

void apply_exact_target(backend::Backend &be, float *Wp, int64_t m, const Buffer<float> &Dp, const HessianFactor &f) {
  using backend::Diag, backend::Op, backend::Side, backend::Triangle;
  const int64_t n = f.n;
  Buffer<float> Y((size_t)(m * n));
  be.gemm(Op::None, Op::None, m, n, n, 1.0f, Wp, n, Dp.data(), n, 0.0f, Y.data(), n);
  // H_damped^-1 = U^T U: Y := Y U^T U.
  be.trmm(Side::Right, Triangle::Upper, Op::Trans, Diag::NonUnit, m, n, 1.0f, f.U.data(), n, Y.data(), n);
  be.trmm(Side::Right, Triangle::Upper, Op::None, Diag::NonUnit, m, n, 1.0f, f.U.data(), n, Y.data(), n);
  for (size_t i = 0; i < Y.size(); ++i) Wp[i] += Y[i];
}

}  // namespace vqr::quant
