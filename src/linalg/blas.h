// The one place that includes the BLAS and LAPACKE headers. Row-major callers use the
// column-major LAPACK routines on symmetric/triangular matrices by transposing the triangle
// name ('U' in column-major = lower in row-major), which avoids LAPACKE's row-major copies.
#pragma once

#include <cblas.h>
#include <lapacke.h>

namespace vqr::linalg {

// In-place lower Cholesky of a row-major SPD n x n matrix: A = L L^T, L in the lower triangle
// (the strict upper triangle is left as it was). Returns LAPACK's info (0 = success,
// k > 0 = the leading minor of order k is not positive definite).
inline int cholesky_lower_rowmajor(float *a, int n) {
  return LAPACKE_spotrf(LAPACK_COL_MAJOR, 'U', n, a, n);
}

// In-place inverse of a row-major lower-triangular non-unit matrix (lower triangle only).
inline int invert_lower_rowmajor(float *a, int n) {
  return LAPACKE_strtri(LAPACK_COL_MAJOR, 'U', 'N', n, a, n);
}

// Row-major C = alpha op(A) op(B) + beta C for fp32 and fp64 alike, so templated code (the
// learned-rounding engine runs in double for its gradient checks) names one function.
inline void gemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float *a, int lda,
                 const float *b, int ldb, float beta, float *c, int ldc) {
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, m, n, k,
              alpha, a, lda, b, ldb, beta, c, ldc);
}
inline void gemm(bool trans_a, bool trans_b, int m, int n, int k, double alpha, const double *a, int lda,
                 const double *b, int ldb, double beta, double *c, int ldc) {
  cblas_dgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, m, n, k,
              alpha, a, lda, b, ldb, beta, c, ldc);
}

}  // namespace vqr::linalg
