// Asymmetry projection and exact target (asymmetry.h).
#include "quant/asymmetry.h"

#include "core/context.h"
#include "linalg/blas.h"

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

Buffer<float> asymmetry_projection(Buffer<float> Dp, const HessianFactor &f) {
  const int n = (int)f.n;
  float *A = Dp.data();
  // A := Dp U^T, then keep the strict upper triangle, then A := triu1(A) U.
  cblas_strmm(CblasRowMajor, CblasRight, CblasUpper, CblasTrans, CblasNonUnit, n, n, 1.0f, f.U.data(), n, A, n);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j <= i; ++j) A[i * n + j] = 0.0f;
  cblas_strmm(CblasRowMajor, CblasRight, CblasUpper, CblasNoTrans, CblasNonUnit, n, n, 1.0f, f.U.data(), n, A, n);
  return Dp;
}

void apply_exact_target(float *Wp, int64_t m, const Buffer<float> &Dp, const HessianFactor &f) {
  const int n = (int)f.n;
  Buffer<float> Y((size_t)(m * n));
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, n, n, 1.0f, Wp, n, Dp.data(), n, 0.0f, Y.data(), n);
  // H_damped^-1 = U^T U: Y := Y U^T U.
  cblas_strmm(CblasRowMajor, CblasRight, CblasUpper, CblasTrans, CblasNonUnit, (int)m, n, 1.0f, f.U.data(), n,
              Y.data(), n);
  cblas_strmm(CblasRowMajor, CblasRight, CblasUpper, CblasNoTrans, CblasNonUnit, (int)m, n, 1.0f, f.U.data(), n,
              Y.data(), n);
  for (size_t i = 0; i < Y.size(); ++i) Wp[i] += Y[i];
}

}  // namespace vqr::quant
