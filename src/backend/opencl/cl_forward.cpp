// The forward's resident passes on an OpenCL device (cl_forward.h).
#include "backend/opencl/cl_forward.h"

#include <mutex>
#include <string>

#include "backend/backend.h"
#include "backend/opencl/cl_device.h"
#include "backend/opencl/cl_gemm.h"
#include "core/error.h"

namespace vqr::backend::opencl {

namespace {

constexpr size_t kNormLanes = 16;  // forward.cl's NORM_LANES (model::kNormLanes)
constexpr size_t kRowItems = 64;   // forward.cl's ROW_ITEMS
// Device memory the weight cache may take on a CPU device, whose "device memory" is the host's.
constexpr uint64_t kCpuDeviceWeightBytes = uint64_t(2) << 30;

// The kernels' indices are 32-bit where a dimension is (rows, widths, heads); offsets are 64-bit.
void require_int(int64_t v, const char *what) {
  require(v >= 0 && v < (int64_t(1) << 31), Status::OutOfRange,
          std::string("OpenCL forward: ") + what + " must be below 2^31");
}

class ClForwardKernels final : public ForwardKernels {
 public:
  explicit ClForwardKernels(ClDevice &dev) : dev_(dev) {
    const std::string opt = dev.correctly_rounded_option();
    gemm_ = dev.kernel("gemm", "", "gemm_tiled");
    rmsnorm_ = dev.kernel("forward", opt, "rmsnorm_rows");
    fill_ = dev.kernel("forward", opt, "fill_rows");
    rope_ = dev.kernel("forward", opt, "qk_norm_rope_rows");
    swiglu_ = dev.kernel("forward", opt, "swiglu");
    softmax_ = dev.kernel("forward", opt, "causal_softmax");
  }

  void gemm(Op op_a, Op op_b, int64_t m, int64_t n, int64_t k, float alpha, const DeviceBuffer &a, int64_t a_off,
            int64_t lda, const DeviceBuffer &b, int64_t b_off, int64_t ldb, float beta, DeviceBuffer &c,
            int64_t c_off, int64_t ldc) override {
    if (m == 0 || n == 0) return;
    for (int64_t v : {m, n, k, lda, ldb, ldc}) require_int(v, "a GEMM dimension");
    std::lock_guard<std::mutex> lock(dev_.mutex());
    enqueue_gemm<float>(dev_, gemm_, op_a == Op::Trans, op_b == Op::Trans, (int)m, (int)n, (int)k, alpha, mem_of(a),
                        (cl_ulong)a_off, (int)lda, mem_of(b), (cl_ulong)b_off, (int)ldb, beta, mem_of(c),
                        (cl_ulong)c_off, (int)ldc, 0);
  }

  void rmsnorm_rows(DeviceBuffer &out, const DeviceBuffer &inp, const DeviceBuffer &weight, int64_t rows,
                    int64_t width, float eps) override {
    require_int(rows, "rows");
    require_int(width, "a width");
    std::lock_guard<std::mutex> lock(dev_.mutex());
    set_args(rmsnorm_, mem_of(out), mem_of(inp), mem_of(weight), (int)width, eps);
    const size_t global = (size_t)rows * kNormLanes, local = kNormLanes;
    dev_.launch(rmsnorm_, 1, &global, &local);
  }

  void fill_rows(DeviceBuffer &y, const DeviceBuffer &bias, int64_t rows, int64_t n) override {
    require_int(rows, "rows");
    require_int(n, "a width");
    std::lock_guard<std::mutex> lock(dev_.mutex());
    set_args(fill_, mem_of(y), mem_of(bias), (int)rows, (int)n);
    const size_t global[2] = {(size_t)n, (size_t)rows}, local[2] = {64, 1};
    dev_.launch(fill_, 2, global, local);
  }

  void qk_norm_rope_rows(DeviceBuffer &q, DeviceBuffer &k, int64_t row0, const DeviceBuffer &table,
                         const DeviceBuffer *q_norm, const DeviceBuffer *k_norm, float eps, int64_t T, int64_t NH,
                         int64_t NKV, int64_t HS, bool half_layout) override {
    for (int64_t v : {T, NH + NKV, HS}) require_int(v, "a RoPE dimension");
    std::lock_guard<std::mutex> lock(dev_.mutex());
    const cl_mem qn = q_norm ? mem_of(*q_norm) : nullptr, kn = k_norm ? mem_of(*k_norm) : nullptr;
    set_args(rope_, mem_of(q), mem_of(k), (cl_long)(row0 * NH * HS), (cl_long)(row0 * NKV * HS), mem_of(table), qn, kn,
             eps, (int)T, (int)NH, (int)NKV, (int)HS, (int)half_layout);
    const size_t global[2] = {(size_t)(NH + NKV), (size_t)T};
    dev_.launch(rope_, 2, global, nullptr);
  }

  void swiglu(DeviceBuffer &hb, const DeviceBuffer &hb2, int64_t n) override {
    std::lock_guard<std::mutex> lock(dev_.mutex());
    set_args(swiglu_, mem_of(hb), mem_of(hb2), (cl_long)n);
    const size_t global = (size_t)n, local = dev_.local_size(swiglu_);
    dev_.launch(swiglu_, 1, &global, &local);
  }

  void causal_softmax(DeviceBuffer &scores, int64_t count, int64_t rows, int64_t nk, int64_t t0, int64_t k0,
                      int64_t window, float scale) override {
    for (int64_t v : {count, rows, nk, t0, k0, window}) require_int(v, "an attention dimension");
    std::lock_guard<std::mutex> lock(dev_.mutex());
    set_args(softmax_, mem_of(scores), (int)rows, (int)nk, (int)t0, (int)k0, (int)window, scale);
    const size_t global = (size_t)count * kRowItems, local = kRowItems;
    dev_.launch(softmax_, 1, &global, &local);
  }

  uint64_t weight_cache_bytes() const override {
    const DeviceInfo &d = dev_.info();
    return d.type == DeviceType::Cpu ? kCpuDeviceWeightBytes : d.global_mem_bytes / 2;
  }

 private:
  ClDevice &dev_;
  cl_kernel gemm_, rmsnorm_, fill_, rope_, swiglu_, softmax_;
};

}  // namespace

void build_forward_kernels(ClDevice &dev) {
  const std::string opt = dev.correctly_rounded_option();
  for (const char *name : {"rmsnorm_rows", "fill_rows", "qk_norm_rope_rows", "swiglu", "causal_softmax"})
    dev.kernel("forward", opt, name);
}

std::unique_ptr<ForwardKernels> make_forward_kernels(ClDevice &dev) {
  return std::make_unique<ClForwardKernels>(dev);
}

}  // namespace vqr::backend::opencl
