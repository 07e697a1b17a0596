// The compute seam (DESIGN §1, §4): every BLAS-3 and LAPACK call of the library goes through a
// Backend; a context carries the one it uses (backend_of). The CPU backend (backend/cpu) is the
// only code that includes cblas.h or lapacke.h; the OpenCL backend implements the same class.
//
// Why this shape:
// - An abstract class with virtual operations. Every call is a BLAS-3 operation on whole panels
//   (the GPTQ cross-block GEMM once per block of columns, 128 by default; the k-means SGEMM once
//   per block of at least 64 rows x K centroids; the learned-rounding GEMMs once per step), so the
//   indirect call (nanoseconds) is invisible next to the work (>= ~10^5 flops). No caller issues
//   BLAS calls in a small-call loop: the GPTQ in-block column loop is one fused operation per
//   block (gptq_sweep_block, at the end of the class).
// - Operands are row-major host pointers with leading dimensions (elements), float and, where the
//   library needs them, double: GEMM and SYRK (fp64 Hessians; the learned-rounding engine is a
//   template that runs in double for its gradient checks). The CPU backend passes them to
//   OpenBLAS unchanged, so routing a call through the seam changes no result bit. A device
//   backend stages host operands through its DeviceBuffers; operations on resident buffers are
//   its issue's extension of this class.
// - Triangles are named as the row-major caller sees them. LAPACK is column-major; a row-major
//   matrix is its transpose, so the CPU backend calls LAPACK with the other triangle's name
//   ('U' in column-major = lower in row-major) instead of letting LAPACKE copy to and from a
//   transposed layout (backend/cpu/cpu_backend.cpp).
//
// Dimension letters follow BLAS: op(A) is m x k, op(B) is k x n, C is m x n; SYRK's C is n x n
// and op(A) is n x k; TRMM's B is m x n and A is m x m (Side::Left) or n x n (Side::Right).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "backend/gptq_block_job.h"
#include "core/dtype.h"

namespace vqr {
struct Context;
}

namespace vqr::backend {

// The learned-rounding kernels (backend/rounding_kernels.h).
template <typename T>
struct RelaxedLayout;
template <typename T>
struct VqLayout;
template <typename T>
struct SignRoundLayout;
template <typename T>
class AdaRoundKernels;
template <typename T>
class VqRoundKernels;
template <typename T>
class SignRoundKernels;
class ForwardKernels;  // backend/forward_kernels.h

enum class Op { None, Trans };          // op(X) = X or X^T
enum class Triangle { Upper, Lower };   // of the row-major matrix
enum class Side { Left, Right };        // TRMM: B := op(A) B or B op(A)
enum class Diag { NonUnit, Unit };      // whether the triangle's diagonal is taken as ones

// Memory a backend's operations can use. On the CPU a buffer is host memory and host() points at
// it; a device buffer has no host address (host() is nullptr) and moves bytes by upload/download.
class DeviceBuffer {
 public:
  virtual ~DeviceBuffer() = default;
  virtual size_t bytes() const = 0;
  // Copies n bytes from src to the buffer at byte `offset` (offset + n <= bytes()).
  virtual void upload(size_t offset, const void *src, size_t n) = 0;
  // Copies n bytes from the buffer at byte `offset` to dst (offset + n <= bytes()).
  virtual void download(size_t offset, void *dst, size_t n) const = 0;
  // The buffer's memory when it is host-addressable, else nullptr.
  virtual void *host() = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;

  // What runs the operations, for vqr_build_info and logs (e.g. "OpenBLAS 0.3.21 ... + LAPACKE").
  virtual std::string description() const = 0;

  // An uninitialized buffer of `bytes` bytes. Throws std::bad_alloc on exhaustion.
  virtual std::unique_ptr<DeviceBuffer> alloc(size_t bytes) = 0;

  // c (m x n, overwritten when beta = 0, else scaled and accumulated) = alpha op(a) op(b) + beta c.
  virtual void gemm(Op op_a, Op op_b, int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda,
                    const float *b, int64_t ldb, float beta, float *c, int64_t ldc) = 0;
  virtual void gemm(Op op_a, Op op_b, int64_t m, int64_t n, int64_t k, double alpha, const double *a, int64_t lda,
                    const double *b, int64_t ldb, double beta, double *c, int64_t ldc) = 0;

  // The `uplo` triangle of c (n x n) = alpha op(a) op(a)^T + beta c; op(a) is n x k, so with
  // Op::Trans a is k x n and c gets a^T a. The other triangle is not touched.
  virtual void syrk(Triangle uplo, Op op, int64_t n, int64_t k, float alpha, const float *a, int64_t lda,
                    float beta, float *c, int64_t ldc) = 0;
  virtual void syrk(Triangle uplo, Op op, int64_t n, int64_t k, double alpha, const double *a, int64_t lda,
                    double beta, double *c, int64_t ldc) = 0;

  // b (m x n, in place) = alpha op(a) b (Side::Left) or alpha b op(a) (Side::Right), a triangular;
  // the entries outside a's `uplo` triangle are not read.
  virtual void trmm(Side side, Triangle uplo, Op op_a, Diag diag, int64_t m, int64_t n, float alpha, const float *a,
                    int64_t lda, float *b, int64_t ldb) = 0;

  // The upper triangle of c (x.cols x x.cols, fp32) += x^T x for a batch `x` of any dtype with
  // row stride `stride` (elements): the Hessian's statistic. fp32 batches go to syrk as they are;
  // the default widens 16-bit ones on the host in chunks of about 16 MiB and calls syrk per chunk;
  // a device backend widens them on the device.
  virtual void syrk_upper_view(const TensorView &x, int64_t stride, float *c, int64_t ldc);
  // The same into a dense n x n fp32 matrix held in a buffer of this backend (an accumulator that
  // stays on the device between batches). The default works on the buffer's host memory.
  virtual void syrk_upper_view(const TensorView &x, int64_t stride, DeviceBuffer &c);
  // The same from a batch resident in a buffer of this backend: rows x n dense fp32 at element
  // `offset` of x (a device forward's linear input, model/resident_forward.h), so it never crosses
  // the bus. The default works on x's host memory, or downloads it in chunks when it has none.
  virtual void syrk_upper_resident(const DeviceBuffer &x, int64_t offset, int64_t rows, int64_t n, DeviceBuffer &c);
  // c (a dense m x n fp32 matrix in a buffer of this backend) += alpha op(a) op(b), host a and b:
  // the asymmetric Hessian's D accumulating on the device. The default works on host memory.
  virtual void gemm_accumulate(Op op_a, Op op_b, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
                               int64_t lda, const float *b, int64_t ldb, DeviceBuffer &c);

  // Whether this backend's buffers are host memory (the CPU) or device memory that operations
  // reach only through upload/download.
  virtual bool host_memory() const { return true; }

  // In-place Cholesky of the SPD n x n matrix a, read and written in its `uplo` triangle only:
  // a = L L^T (Lower) or U^T U (Upper). Returns LAPACK's info: 0 = success, k > 0 = the leading
  // minor of order k is not positive definite.
  virtual int potrf(Triangle uplo, int64_t n, float *a, int64_t lda) = 0;

  // In-place inverse of the triangular n x n matrix a (its `uplo` triangle only). Returns LAPACK's
  // info: 0 = success, k > 0 = a[k-1][k-1] is zero (singular).
  virtual int trtri(Triangle uplo, Diag diag, int64_t n, float *a, int64_t lda) = 0;

  // ---- The GPTQ-family sweep (issue 18 item 3) --------------------------------------------------
  // This family's virtuals stay in this block, at the end of the class.

  // The in-block column loop of one block of the GPTQ-family sweep (gptq_block_job.h): every row
  // quantizes the block's columns in order, e = (w_c - Q_c) / U_cc, and updates the rest of the
  // block. Returns true when this backend ran the job, every output bit for bit as quant/gptq.cpp's
  // CPU tile loop computes it; false when it does not run such jobs (nothing is written), and the
  // caller runs that tile loop itself. The default returns false: on the CPU backend the sweep is
  // the tile loop, unchanged.
  virtual bool gptq_sweep_block(const GptqBlockJob &job);

  // --- Learned rounding's elementwise kernels (issue 18 item 3; backend/rounding_kernels.h) -----
  // One object per layer, made once, holding the layer's constant data where this backend
  // computes; its per-step calls take and return host arrays. Float only: the engine's double
  // instantiation (gradient checks) uses the CPU implementation directly. The defaults are the
  // CPU implementation (backend/cpu/cpu_rounding.cpp); the layouts' ownership rules are in
  // rounding_kernels.h. Throws Error on a device failure.
  virtual std::unique_ptr<AdaRoundKernels<float>> make_adaround_kernels(const RelaxedLayout<float> &layout);
  virtual std::unique_ptr<VqRoundKernels<float>> make_vqround_kernels(const RelaxedLayout<float> &layout,
                                                                      const VqLayout<float> &vq);
  virtual std::unique_ptr<SignRoundKernels<float>> make_signround_kernels(const SignRoundLayout<float> &layout);

  // --- The model forward's passes on resident activations (backend/forward_kernels.h) -------------
  // One object per Forward. nullptr (the default) when this backend's buffers are host memory: the
  // forward then runs its host passes with this backend's GEMMs.
  virtual std::unique_ptr<ForwardKernels> make_forward_kernels();
};

// Rows per chunk when 16-bit batches of width n are widened to fp32 on the host: about 16 MiB of
// staging, never fewer than 256 rows (the default syrk_upper_view and the Hessian's fp64 and
// paired additions).
inline int64_t widening_chunk_rows(int64_t n) { return std::max<int64_t>(256, (int64_t(1) << 22) / n); }

// The process-wide CPU backend (OpenBLAS + LAPACKE; backend/cpu). Stateless, so shared by all
// threads and contexts.
Backend &cpu();

}  // namespace vqr::backend

namespace vqr {

// The backend a context computes with: the one set on it, else the CPU backend. ctx may be NULL.
backend::Backend &backend_of(const Context *ctx);

}  // namespace vqr
