// The context's backend (backend.h).
#include "backend/backend.h"

#include <algorithm>
#include <vector>

#include "core/context.h"

namespace vqr {

namespace backend {

void Backend::syrk_upper_view(const TensorView &x, int64_t stride, float *c, int64_t ldc) {
  const int64_t n = x.cols, rows = x.rows;
  if (x.dtype == DType::F32) {
    syrk(Triangle::Upper, Op::Trans, n, rows, 1.0f, (const float *)x.data, stride, 1.0f, c, ldc);
    return;
  }
  const int64_t chunk = std::min(rows, std::max<int64_t>(256, (int64_t(1) << 22) / n));
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

bool Backend::gptq_sweep_block(const GptqBlockJob &) { return false; }

}  // namespace backend

backend::Backend &backend_of(const Context *ctx) {
  return ctx && ctx->backend ? *ctx->backend : backend::cpu();
}

}  // namespace vqr
