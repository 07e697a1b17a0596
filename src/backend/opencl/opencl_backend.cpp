// The OpenCL backend (opencl_backend.h).
#include "backend/opencl/opencl_backend.h"

#include <algorithm>
#include <mutex>
#include <vector>

#include "backend/opencl/cl_device.h"
#include "backend/opencl/clblast_gemm.h"
#include "backend/opencl/cl_forward.h"
#include "backend/opencl/cl_gemm.h"
#include "backend/opencl/cl_gptq_sweep.h"
#include "backend/opencl/cl_rounding.h"
#include "core/error.h"

namespace vqr::backend::opencl {

namespace {

// Most bytes one staged operand slice may take; the device limit (CL_DEVICE_MAX_MEM_ALLOC_SIZE)
// may lower it. Bounds what an operation holds on the device besides its C.
constexpr uint64_t kSliceBytes = uint64_t(256) << 20;

// Staging slots of ClDevice used here.
enum Slot { kSlotA = 0, kSlotB = 1, kSlotC = 2 };

class OpenClBackend final : public Backend {
 public:
  OpenClBackend(const DeviceInfo &d, const std::string &kernels_dir, uint64_t slice_bytes)
      : dev_(d, kernels_dir),
        slice_bytes_(std::min<uint64_t>(slice_bytes ? slice_bytes : kSliceBytes,
                                        d.max_alloc_bytes ? d.max_alloc_bytes : kSliceBytes)) {
    // Every kernel is built now, so that a compile error surfaces when the backend is chosen.
    gemm32_ = dev_.kernel("gemm", "", "gemm_tiled");
    if (d.fp64) gemm64_ = dev_.kernel("gemm", "-DVQR_F64", "gemm_tiled");
    widen_f16_ = dev_.kernel("widen", "", "widen_f16");
    widen_bf16_ = dev_.kernel("widen", "", "widen_bf16");
    sweep_ = std::make_unique<ClGptqSweep>(dev_);
    build_rounding_kernels(dev_);
    build_forward_kernels(dev_);
  }

  std::string description() const override {
    const DeviceInfo &d = dev_.info();
    return "OpenCL " + d.name + " (" + d.platform_name + ", " + device_type_name(d.type) +
           (clblast_enabled() ? ", CLBlast GEMM/SYRK" : "") + ")";
  }

  std::unique_ptr<DeviceBuffer> alloc(size_t bytes) override {
    std::lock_guard<std::mutex> lock(dev_.mutex());
    return std::make_unique<ClBuffer>(dev_.context(), dev_.queue(), bytes);
  }

  void gemm(Op op_a, Op op_b, int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda,
            const float *b, int64_t ldb, float beta, float *c, int64_t ldc) override {
    run(gemm32_, op_a, op_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, 0);
  }
  void gemm(Op op_a, Op op_b, int64_t m, int64_t n, int64_t k, double alpha, const double *a, int64_t lda,
            const double *b, int64_t ldb, double beta, double *c, int64_t ldc) override {
    if (!gemm64_) return cpu().gemm(op_a, op_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    run(gemm64_, op_a, op_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, 0);
  }

  // op(a) op(a)^T: a^T a (Trans, a is k x n) or a a^T (None, a is n x k).
  void syrk(Triangle uplo, Op op, int64_t n, int64_t k, float alpha, const float *a, int64_t lda, float beta,
            float *c, int64_t ldc) override {
    run(gemm32_, op, op == Op::Trans ? Op::None : Op::Trans, n, n, k, alpha, a, lda, a, lda, beta, c, ldc,
        uplo == Triangle::Upper ? 1 : 2);
  }
  void syrk(Triangle uplo, Op op, int64_t n, int64_t k, double alpha, const double *a, int64_t lda, double beta,
            double *c, int64_t ldc) override {
    if (!gemm64_) return cpu().syrk(uplo, op, n, k, alpha, a, lda, beta, c, ldc);
    run(gemm64_, op, op == Op::Trans ? Op::None : Op::Trans, n, n, k, alpha, a, lda, a, lda, beta, c, ldc,
        uplo == Triangle::Upper ? 1 : 2);
  }

  void syrk_upper_view(const TensorView &x, int64_t stride, float *c, int64_t ldc) override;
  void syrk_upper_view(const TensorView &x, int64_t stride, DeviceBuffer &c) override;
  // A resident batch: the SYRK kernel reads it where it is.
  void syrk_upper_resident(const DeviceBuffer &x, int64_t offset, int64_t rows, int64_t n, DeviceBuffer &c) override {
    if (rows == 0 || n == 0) return;
    require(rows < (int64_t(1) << 31) && n < (int64_t(1) << 31), Status::OutOfRange,
            "OpenCL SYRK dimensions must be below 2^31");
    std::lock_guard<std::mutex> lock(dev_.mutex());
    opencl::enqueue_gemm<float>(dev_, gemm32_, true, false, (int)n, (int)n, (int)rows, 1.0f, mem_of(x),
                                (cl_ulong)offset, (int)n, mem_of(x), (cl_ulong)offset, (int)n, 1.0f, mem_of(c), 0,
                                (int)n, 1);
  }
  void gemm_accumulate(Op op_a, Op op_b, int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda,
                       const float *b, int64_t ldb, DeviceBuffer &c) override {
    if (m == 0 || n == 0) return;
    std::lock_guard<std::mutex> lock(dev_.mutex());
    accumulate_products(gemm32_, op_a, op_b, m, n, k, alpha, a, lda, b, ldb, 1.0f, mem_of(c), 0);
    dev_.finish();  // a and b are the caller's memory
  }
  bool host_memory() const override { return false; }

  void trmm(Side side, Triangle uplo, Op op_a, Diag diag, int64_t m, int64_t n, float alpha, const float *a,
            int64_t lda, float *b, int64_t ldb) override {
    cpu().trmm(side, uplo, op_a, diag, m, n, alpha, a, lda, b, ldb);
  }
  int potrf(Triangle uplo, int64_t n, float *a, int64_t lda) override { return cpu().potrf(uplo, n, a, lda); }
  int trtri(Triangle uplo, Diag diag, int64_t n, float *a, int64_t lda) override {
    return cpu().trtri(uplo, diag, n, a, lda);
  }

  // ---- The GPTQ-family sweep (issue 18 item 3) --------------------------------------------------
  // The in-block column loop fused per block (kernels_cl/gptq_sweep.cl, cl_gptq_sweep.h).
  bool gptq_sweep_block(const GptqBlockJob &job) override {
    std::lock_guard<std::mutex> lock(dev_.mutex());
    return sweep_->run(job);
  }

  // --- Learned rounding's elementwise kernels (cl_rounding.h) -----------------------------------
  std::unique_ptr<AdaRoundKernels<float>> make_adaround_kernels(const RelaxedLayout<float> &layout) override {
    return opencl::make_adaround_kernels(dev_, layout);
  }
  std::unique_ptr<VqRoundKernels<float>> make_vqround_kernels(const RelaxedLayout<float> &layout,
                                                              const VqLayout<float> &vq) override {
    return opencl::make_vqround_kernels(dev_, layout, vq);
  }
  std::unique_ptr<SignRoundKernels<float>> make_signround_kernels(const SignRoundLayout<float> &layout) override {
    return opencl::make_signround_kernels(dev_, layout);
  }

  // --- The forward's passes on resident activations (cl_forward.h) ------------------------------
  std::unique_ptr<ForwardKernels> make_forward_kernels() override { return opencl::make_forward_kernels(dev_); }

 private:
  void accumulate_gram(const TensorView &x, int64_t stride, cl_mem dc);

  template <typename T>
  void enqueue_gemm(cl_kernel kern, bool ta, bool tb, int m, int n, int k, T alpha, cl_mem a, int lda, cl_mem b,
                    int ldb, T beta, cl_mem c, int ldc, int tri) {
    opencl::enqueue_gemm<T>(dev_, kern, ta, tb, m, n, k, alpha, a, 0, lda, b, 0, ldb, beta, c, 0, ldc, tri);
  }

  // Host-operand GEMM/SYRK: stages C (when it is read or only a triangle is written) into slot C,
  // accumulates there (accumulate_products) and reads C back.
  template <typename T>
  void run(cl_kernel kern, Op op_a, Op op_b, int64_t m, int64_t n, int64_t k, T alpha, const T *a, int64_t lda,
           const T *b, int64_t ldb, T beta, T *c, int64_t ldc, int tri) {
    if (m == 0 || n == 0) return;
    const size_t es = sizeof(T);
    std::lock_guard<std::mutex> lock(dev_.mutex());
    cl_mem dc = dev_.scratch(kSlotC, (size_t)(m * n) * es);
    if (beta != T(0) || tri != 0) dev_.write_rect(dc, c, m, n, ldc, es);
    accumulate_products(kern, op_a, op_b, m, n, k, alpha, a, lda, b, ldb, beta, dc, tri);
    dev_.read_rect(dc, c, m, n, ldc, es);
  }

  // Device C (dense m x n) = alpha op(A) op(B) + beta C for host A and B: op(A) and op(B) cross slice
  // by slice along k (slots A and B), each slice accumulating into C. The caller holds the mutex
  // and reads or finishes the queue before A and B may change.
  template <typename T>
  void accumulate_products(cl_kernel kern, Op op_a, Op op_b, int64_t m, int64_t n, int64_t k, T alpha, const T *a,
                           int64_t lda, const T *b, int64_t ldb, T beta, cl_mem dc, int tri) {
    const size_t es = sizeof(T);
    require(m < (int64_t(1) << 31) && n < (int64_t(1) << 31) && k < (int64_t(1) << 31), Status::OutOfRange,
            "OpenCL GEMM dimensions must be below 2^31");
    const bool ta = op_a == Op::Trans, tb = op_b == Op::Trans;
    const bool same = a == b && lda == ldb && ta != tb;  // SYRK: op(B) = op(A)^T, one upload
    if (k == 0 || alpha == T(0)) {
      // C = beta C: the kernel with k = 0 scales (and, for beta = 0, zeroes) without reading A/B.
      enqueue_gemm<T>(kern, ta, tb, (int)m, (int)n, 0, alpha, dc, 1, dc, 1, beta, dc, (int)n, tri);
      return;
    }
    const int64_t kc = std::max<int64_t>(1, std::min<int64_t>(k, (int64_t)(slice_bytes_ / (es * std::max(m, n)))));
    cl_mem da = dev_.scratch(kSlotA, (size_t)(m * kc) * es);
    cl_mem db = same ? da : dev_.scratch(kSlotB, (size_t)(kc * n) * es);
    for (int64_t p0 = 0; p0 < k; p0 += kc) {
      const int64_t kk = std::min(kc, k - p0);
      // op(A) slice: columns p0.. of A (m x k) or rows p0.. of A (k x m); stored densely.
      if (ta) dev_.write_rect(da, a + p0 * lda, kk, m, lda, es);
      else dev_.write_rect(da, a + p0, m, kk, lda, es);
      if (!same) {
        if (tb) dev_.write_rect(db, b + p0, n, kk, ldb, es);
        else dev_.write_rect(db, b + p0 * ldb, kk, n, ldb, es);
      }
      enqueue_gemm<T>(kern, ta, tb, (int)m, (int)n, (int)kk, alpha, da, (int)(ta ? m : kk), db, (int)(tb ? kk : n),
                      p0 == 0 ? beta : T(1), dc, (int)n, tri);
    }
  }

  ClDevice dev_;
  uint64_t slice_bytes_;
  cl_kernel gemm32_ = nullptr, gemm64_ = nullptr, widen_f16_ = nullptr, widen_bf16_ = nullptr;
  std::unique_ptr<ClGptqSweep> sweep_;  // the GPTQ-family in-block sweep
};

// The Hessian's statistic into device memory `dc` (dense n x n): the batch crosses the bus slice by
// slice as it is stored (16-bit batches as 16-bit values, widened on the device into slot A), and
// the SYRK kernel accumulates each slice into dc's upper triangle. The caller holds the mutex.
void OpenClBackend::accumulate_gram(const TensorView &x, int64_t stride, cl_mem dc) {
  const int64_t n = x.cols, rows = x.rows;
  if (n == 0 || rows == 0) return;
  const int64_t kc = std::max<int64_t>(1, std::min<int64_t>(rows, (int64_t)(slice_bytes_ / (4 * n))));
  cl_mem wide = dev_.scratch(kSlotA, (size_t)(kc * n) * 4);
  const bool f32 = x.dtype == DType::F32;
  cl_mem raw = f32 ? nullptr : dev_.scratch(kSlotB, (size_t)(kc * n) * 2);
  cl_kernel widen = x.dtype == DType::F16 ? widen_f16_ : widen_bf16_;
  for (int64_t r0 = 0; r0 < rows; r0 += kc) {
    const int kk = (int)std::min(kc, rows - r0);
    if (f32) {
      dev_.write_rect(wide, (const float *)x.data + r0 * stride, kk, n, stride, 4);
    } else {
      dev_.write_rect(raw, (const uint16_t *)x.data + r0 * stride, kk, n, stride, 2);
      set_args(widen, raw, (int)n, kk, (int)n, wide);
      const size_t local[2] = {16, 16};
      const size_t global[2] = {(size_t)n, (size_t)kk};
      dev_.launch(widen, 2, global, local);
    }
    enqueue_gemm<float>(gemm32_, true, false, (int)n, (int)n, kk, 1.0f, wide, (int)n, wide, (int)n, 1.0f, dc, (int)n, 1);
  }
}

void OpenClBackend::syrk_upper_view(const TensorView &x, int64_t stride, float *c, int64_t ldc) {
  const int64_t n = x.cols;
  if (n == 0 || x.rows == 0) return;
  std::lock_guard<std::mutex> lock(dev_.mutex());
  cl_mem dc = dev_.scratch(kSlotC, (size_t)(n * n) * 4);
  dev_.write_rect(dc, c, n, n, ldc, 4);
  accumulate_gram(x, stride, dc);
  dev_.read_rect(dc, c, n, n, ldc, 4);
}

void OpenClBackend::syrk_upper_view(const TensorView &x, int64_t stride, DeviceBuffer &c) {
  std::lock_guard<std::mutex> lock(dev_.mutex());
  accumulate_gram(x, stride, mem_of(c));
  dev_.finish();  // the batch is the caller's memory: every queued copy of it must be done
}

}  // namespace

std::unique_ptr<Backend> make_backend(const DeviceInfo &device, const std::string &kernels_dir, uint64_t slice_bytes) {
  return std::make_unique<OpenClBackend>(device, kernels_dir, slice_bytes);
}

}  // namespace vqr::backend::opencl
