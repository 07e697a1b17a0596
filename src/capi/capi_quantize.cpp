// C API: vqr_quantize_layer, vqr_result accessors, GPTQ packing.
#include <cstddef>
#include <cstring>
#include <string>

#include "capi/guard.h"
#include "capi/handles.h"
#include "core/buffer.h"
#include "core/dtype.h"
#include "core/memory_budget.h"
#include "io/gptq_packing.h"
#include "pipeline/layer_codes.h"
#include "pipeline/quantize_layer.h"
#include "quant/config.h"

using vqr::capi::guarded;
using vqr::capi::require_arg;
using vqr::capi::to_internal;

extern "C" {

VQR_API vqr_status vqr_quantize_layer(vqr_context *ctx, const vqr_config *config, const vqr_tensor *w,
                                      const vqr_hessian *hessian, vqr_result **out) {
  return guarded(__func__, [&] {
    require_arg(config != nullptr, "config is NULL");
    require_arg(w != nullptr, "w is NULL");
    require_arg(out != nullptr, "out is NULL");
    // The caller's view is untrusted: check it once here and widen it to a dense fp32 matrix (a
    // dense fp32 view is read in place); the dispatch below reads plain memory.
    const vqr::TensorView view = to_internal(*w);
    const int64_t stride = vqr::validate_view(&view, "w");
    const bool widen = view.dtype != vqr::DType::F32 || stride != view.cols;
    vqr::require_memory(ctx, (widen ? 4.0 * (double)view.rows * (double)view.cols : 0.0) +
                                 vqr::pipeline::quantize_layer_bytes(config->typed(), view.rows, view.cols),
                        "quantizing a " + std::to_string(view.rows) + " x " + std::to_string(view.cols) + " layer");
    vqr::Buffer<float> widened;
    const float *W = static_cast<const float *>(view.data);
    if (widen) {
      widened = vqr::Buffer<float>((size_t)(view.rows * view.cols));
      vqr::view_rows_to_f32(widened.data(), view, stride, 0, view.rows);
      W = widened.data();
    }
    *out = new vqr_result(vqr::pipeline::quantize_layer(ctx, config->typed(), W, view.rows, view.cols, hessian));
  });
}

VQR_API void vqr_result_free(vqr_result *result) { delete result; }

VQR_API vqr_status vqr_result_shape(const vqr_result *r, int64_t *rows, int64_t *cols, int64_t *groups, int *bits) {
  return guarded(__func__, [&] {
    require_arg(r != nullptr, "result is NULL");
    if (rows) *rows = r->rows;
    if (cols) *cols = r->cols;
    if (groups) *groups = r->groups;
    if (bits) *bits = r->bits;
  });
}

VQR_API const uint8_t *vqr_result_codes(const vqr_result *r) { return r ? r->codes.data() : nullptr; }
VQR_API const float *vqr_result_scales(const vqr_result *r) { return r ? r->scales.data() : nullptr; }
VQR_API const float *vqr_result_zeros(const vqr_result *r) { return r ? r->zeros.data() : nullptr; }
VQR_API const int32_t *vqr_result_g_idx(const vqr_result *r) { return r ? r->g_idx.data() : nullptr; }

VQR_API vqr_status vqr_result_dequantize(const vqr_result *r, vqr_dtype dtype, void *out, int64_t row_stride) {
  return guarded(__func__, [&] {
    require_arg(r != nullptr, "result is NULL");
    require_arg(out != nullptr, "out is NULL");
    require_arg(dtype == VQR_DTYPE_F32 || dtype == VQR_DTYPE_F16 || dtype == VQR_DTYPE_BF16, "unknown dtype");
    const int64_t stride = row_stride == 0 ? r->cols : row_stride;
    require_arg(stride >= r->cols, "row_stride is smaller than the number of columns");
    vqr::require_extent(r->rows, stride, r->cols, to_internal(dtype) == vqr::DType::F32 ? 4 : 2, "out");
    std::vector<float> deq((size_t)(r->rows * r->cols));
    r->dequantize(deq.data(), vqr::thread_count(nullptr));
    vqr::f32_to_dtype_rows(out, to_internal(dtype), stride, deq.data(), r->rows, r->cols);
  });
}

VQR_API const double *vqr_result_history(const vqr_result *r, vqr_history which, int64_t *count) {
  if (count) *count = 0;
  if (!r || !count || (which != VQR_HISTORY_LOSS && which != VQR_HISTORY_REGULARIZER)) return nullptr;
  const std::vector<double> &h = which == VQR_HISTORY_LOSS ? r->loss_history : r->reg_history;
  *count = (int64_t)h.size();
  return h.empty() ? nullptr : h.data();
}

VQR_API vqr_status vqr_result_report(const vqr_result *r, vqr_report *out) {
  return guarded(__func__, [&] {
    require_arg(r != nullptr, "result is NULL");
    require_arg(out != nullptr, "out is NULL");
    vqr::capi::write_versioned(out, vqr::capi::to_public(r->report));
  });
}

VQR_API vqr_status vqr_result_packed_shape(const vqr_result *r, vqr_pack_format format, vqr_packed_shape *out) {
  return guarded(__func__, [&] {
    require_arg(r != nullptr, "result is NULL");
    require_arg(out != nullptr, "out is NULL");
    vqr::require(format == VQR_PACK_GPTQ_V1 || format == VQR_PACK_GPTQ_V2, vqr::Status::Unsupported,
                 "unknown pack format " + std::to_string((int)format));
    vqr_packed_shape s{};
    s.qweight_rows = vqr::io::gptq_packed_words(r->cols, r->bits);
    s.qweight_cols = r->rows;
    s.qzeros_rows = r->groups;
    s.qzeros_cols = vqr::io::gptq_packed_words(r->rows, r->bits);
    s.scales_rows = r->groups;
    s.scales_cols = r->rows;
    s.g_idx_len = r->cols;
    vqr::capi::write_versioned_from_0_4(out, s, offsetof(vqr_packed_shape, g_idx_len) + sizeof s.g_idx_len);
  });
}

VQR_API vqr_status vqr_result_pack_gptq(const vqr_result *r, vqr_pack_format format, int32_t *qweight,
                                        int32_t *qzeros, uint16_t *scales, int32_t *g_idx) {
  return guarded(__func__, [&] {
    require_arg(r != nullptr, "result is NULL");
    vqr::quant::QuantizedLayer scratch;  // used only if the codes are parked
    vqr::io::pack_gptq(vqr::pipeline::grid_codes_of(*r, &scratch), to_internal(format), qweight, qzeros, scales,
                       g_idx);
  });
}

}  // extern "C"
