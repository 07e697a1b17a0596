// The context's backend (backend.h).
#include "backend/backend.h"

#include <algorithm>
#include <vector>

#include "backend/forward_kernels.h"
#include "backend/rounding_kernels.h"
#include "core/context.h"

namespace vqr {

namespace backend {

void Backend::syrk_upper_view(const TensorView &x, int64_t stride, float *c, int64_t ldc) {
  const int64_t n = x.cols, rows = x.rows;
  if (x.dtype == DType::F32) {
    syrk(Triangle::Upper, Op::Trans, n, rows, 1.0f, (const float *)x.data, stride, 1.0f, c, ldc);
    return;
  }
  const int64_t chunk = std::min(rows, widening_chunk_rows(n));
  std::vector<float> staging((size_t)(chunk * n));
  for (int64_t r0 = 0; r0 < rows; r0 += chunk) {
    const int64_t count = std::min(chunk, rows - r0);
    view_rows_to_f32(staging.data(), x, stride, r0, count);
    syrk(Triangle::Upper, Op::Trans, n, count, 1.0f, staging.data(), n, 1.0f, c, ldc);
  }
}

void Backend::syrk_upper_view(const TensorView &x, int64_t stride, DeviceBuffer &c) {
  syrk_upper_view(x, stride, static_cast<float *>(c.host()), x.cols);
}

void Backend::syrk_upper_resident(const DeviceBuffer &x, int64_t offset, int64_t rows, int64_t n, DeviceBuffer &c) {
  if (rows == 0 || n == 0) return;
  const void *host = const_cast<DeviceBuffer &>(x).host();
  if (host) {
    syrk_upper_view(tensor_2d(static_cast<const float *>(host) + offset, DType::F32, rows, n, 0), n, c);
    return;
  }
  const int64_t chunk = std::min(rows, widening_chunk_rows(n));
  std::vector<float> staging((size_t)(chunk * n));
  for (int64_t r0 = 0; r0 < rows; r0 += chunk) {
    const int64_t count = std::min(chunk, rows - r0);
    x.download((size_t)(offset + r0 * n) * sizeof(float), staging.data(), (size_t)(count * n) * sizeof(float));
    syrk_upper_view(tensor_2d(staging.data(), DType::F32, count, n, 0), n, c);
  }
}

std::unique_ptr<ForwardKernels> Backend::make_forward_kernels() { return nullptr; }

void Backend::gemm_accumulate(Op op_a, Op op_b, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
                              int64_t lda, const float *b, int64_t ldb, DeviceBuffer &c) {
  gemm(op_a, op_b, m, n, k, alpha, a, lda, b, ldb, 1.0f, static_cast<float *>(c.host()), n);
}

bool Backend::gptq_sweep_block(const GptqBlockJob &) { return false; }

std::unique_ptr<AdaRoundKernels<float>> Backend::make_adaround_kernels(const RelaxedLayout<float> &layout) {
  return cpu_adaround_kernels<float>(layout);
}
std::unique_ptr<VqRoundKernels<float>> Backend::make_vqround_kernels(const RelaxedLayout<float> &layout,
                                                                     const VqLayout<float> &vq) {
  return cpu_vqround_kernels<float>(layout, vq);
}
std::unique_ptr<SignRoundKernels<float>> Backend::make_signround_kernels(const SignRoundLayout<float> &layout) {
  return cpu_signround_kernels<float>(layout);
}

// The engine's entry points (rounding_kernels.h): float through the backend, double on the CPU.
template <>
std::unique_ptr<AdaRoundKernels<float>> adaround_kernels_on<float>(Backend &be, const RelaxedLayout<float> &layout) {
  return be.make_adaround_kernels(layout);
}
template <>
std::unique_ptr<AdaRoundKernels<double>> adaround_kernels_on<double>(Backend &, const RelaxedLayout<double> &layout) {
  return cpu_adaround_kernels<double>(layout);
}
template <>
std::unique_ptr<VqRoundKernels<float>> vqround_kernels_on<float>(Backend &be, const RelaxedLayout<float> &layout,
                                                                 const VqLayout<float> &vq) {
  return be.make_vqround_kernels(layout, vq);
}
template <>
std::unique_ptr<VqRoundKernels<double>> vqround_kernels_on<double>(Backend &, const RelaxedLayout<double> &layout,
                                                                   const VqLayout<double> &vq) {
  return cpu_vqround_kernels<double>(layout, vq);
}
template <>
std::unique_ptr<SignRoundKernels<float>> signround_kernels_on<float>(Backend &be,
                                                                     const SignRoundLayout<float> &layout) {
  return be.make_signround_kernels(layout);
}
template <>
std::unique_ptr<SignRoundKernels<double>> signround_kernels_on<double>(Backend &,
                                                                       const SignRoundLayout<double> &layout) {
  return cpu_signround_kernels<double>(layout);
}

}  // namespace backend

backend::Backend &backend_of(const Context *ctx) {
  return ctx && ctx->backend ? *ctx->backend : backend::cpu();
}

}  // namespace vqr
