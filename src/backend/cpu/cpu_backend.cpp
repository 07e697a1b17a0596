// The CPU backend (backend.h): OpenBLAS for GEMM/SYRK/TRMM, LAPACKE for POTRF/TRTRI, host memory
// for buffers. The one place that includes the BLAS and LAPACKE headers. Each operation is one
// BLAS/LAPACK call with the caller's arguments (OpenBLAS's 32-bit interface: every dimension and
// leading dimension below 2^31), so results are those of calling OpenBLAS directly.
//
// Row-major triangles through column-major LAPACK: read column-major, a row-major matrix is its
// transpose, and the transpose of a lower triangle is an upper one. So the row-major lower
// Cholesky A = L L^T is LAPACK's upper one, A = U^T U with U = L^T in column-major, which is L in
// row-major: the same memory, with the triangle's name swapped, and no LAPACKE row-major copies.
#include <cblas.h>
#include <lapacke.h>

#include <cstring>

#include "backend/backend.h"

namespace vqr::backend {

namespace {

CBLAS_TRANSPOSE cblas_op(Op op) { return op == Op::Trans ? CblasTrans : CblasNoTrans; }
CBLAS_UPLO cblas_uplo(Triangle t) { return t == Triangle::Upper ? CblasUpper : CblasLower; }
CBLAS_SIDE cblas_side(Side s) { return s == Side::Left ? CblasLeft : CblasRight; }
CBLAS_DIAG cblas_diag(Diag d) { return d == Diag::Unit ? CblasUnit : CblasNonUnit; }
// LAPACK's (column-major) name of the row-major triangle t: the other one.
char lapack_uplo_of_rowmajor(Triangle t) { return t == Triangle::Lower ? 'U' : 'L'; }

class HostBuffer final : public DeviceBuffer {
 public:
  explicit HostBuffer(size_t bytes) : data_(new unsigned char[bytes]), bytes_(bytes) {}
  size_t bytes() const override { return bytes_; }
  void upload(size_t offset, const void *src, size_t n) override { std::memcpy(data_.get() + offset, src, n); }
  void download(size_t offset, void *dst, size_t n) const override { std::memcpy(dst, data_.get() + offset, n); }
  void *host() override { return data_.get(); }

 private:
  std::unique_ptr<unsigned char[]> data_;  // new[] of unsigned char: aligned for any scalar type
  size_t bytes_;
};

class CpuBackend final : public Backend {
 public:
  std::string description() const override { return std::string("BLAS ") + openblas_get_config() + " + LAPACKE"; }

  std::unique_ptr<DeviceBuffer> alloc(size_t bytes) override { return std::make_unique<HostBuffer>(bytes); }

  void gemm(Op op_a, Op op_b, int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda,
            const float *b, int64_t ldb, float beta, float *c, int64_t ldc) override {
    cblas_sgemm(CblasRowMajor, cblas_op(op_a), cblas_op(op_b), (int)m, (int)n, (int)k, alpha, a, (int)lda, b,
                (int)ldb, beta, c, (int)ldc);
  }
  void gemm(Op op_a, Op op_b, int64_t m, int64_t n, int64_t k, double alpha, const double *a, int64_t lda,
            const double *b, int64_t ldb, double beta, double *c, int64_t ldc) override {
    cblas_dgemm(CblasRowMajor, cblas_op(op_a), cblas_op(op_b), (int)m, (int)n, (int)k, alpha, a, (int)lda, b,
                (int)ldb, beta, c, (int)ldc);
  }

  void syrk(Triangle uplo, Op op, int64_t n, int64_t k, float alpha, const float *a, int64_t lda, float beta,
            float *c, int64_t ldc) override {
    cblas_ssyrk(CblasRowMajor, cblas_uplo(uplo), cblas_op(op), (int)n, (int)k, alpha, a, (int)lda, beta, c,
                (int)ldc);
  }
  void syrk(Triangle uplo, Op op, int64_t n, int64_t k, double alpha, const double *a, int64_t lda, double beta,
            double *c, int64_t ldc) override {
    cblas_dsyrk(CblasRowMajor, cblas_uplo(uplo), cblas_op(op), (int)n, (int)k, alpha, a, (int)lda, beta, c,
                (int)ldc);
  }

  void trmm(Side side, Triangle uplo, Op op_a, Diag diag, int64_t m, int64_t n, float alpha, const float *a,
            int64_t lda, float *b, int64_t ldb) override {
    cblas_strmm(CblasRowMajor, cblas_side(side), cblas_uplo(uplo), cblas_op(op_a), cblas_diag(diag), (int)m, (int)n,
                alpha, a, (int)lda, b, (int)ldb);
  }

  int potrf(Triangle uplo, int64_t n, float *a, int64_t lda) override {
    return LAPACKE_spotrf(LAPACK_COL_MAJOR, lapack_uplo_of_rowmajor(uplo), (lapack_int)n, a, (lapack_int)lda);
  }

  int trtri(Triangle uplo, Diag diag, int64_t n, float *a, int64_t lda) override {
    return LAPACKE_strtri(LAPACK_COL_MAJOR, lapack_uplo_of_rowmajor(uplo), diag == Diag::Unit ? 'U' : 'N',
                          (lapack_int)n, a, (lapack_int)lda);
  }
};

}  // namespace

Backend &cpu() {
  static CpuBackend instance;
  return instance;
}

}  // namespace vqr::backend
