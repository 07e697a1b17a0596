// C API: per-layer control and inspection of a vqr_model — override and skip rules, the records of
// the last quantization, provenance metadata, borrowed views of the linear weights, and one
// Hessian per distinct linear input (DESIGN §3.1: what every layer-wise method needs).
#include <memory>
#include <string>
#include <vector>

#include "capi/guard.h"
#include "capi/handles.h"
#include "capi/model_handle.h"
#include "hessian/hessian.h"
#include "model/sequences.h"

using vqr::capi::guarded;
using vqr::capi::require_arg;

namespace {

void add_rule(vqr_model *m, const char *pattern, vqr_param param, double value, bool as_float) {
  require_arg(m != nullptr, "model is NULL");
  require_arg(pattern != nullptr && *pattern, "pattern is NULL or empty");
  m->session.add_override(pattern, vqr::capi::to_internal(param), value, as_float);
}

}  // namespace

extern "C" {

VQR_API vqr_status vqr_model_override_int(vqr_model *m, const char *pattern, vqr_param param, int64_t value) {
  return guarded(__func__, [&] { add_rule(m, pattern, param, (double)value, false); });
}

VQR_API vqr_status vqr_model_override_float(vqr_model *m, const char *pattern, vqr_param param, double value) {
  return guarded(__func__, [&] { add_rule(m, pattern, param, value, true); });
}

VQR_API vqr_status vqr_model_skip_layers(vqr_model *m, const char *pattern) {
  return guarded(__func__, [&] {
    require_arg(m != nullptr, "model is NULL");
    require_arg(pattern != nullptr && *pattern, "pattern is NULL or empty");
    m->session.skip_layers(pattern);
  });
}

VQR_API void vqr_model_clear_overrides(vqr_model *m) {
  if (m) m->session.clear_overrides();
}

VQR_API vqr_status vqr_model_layer_info(const vqr_model *m, int64_t index, vqr_layer_info *out) {
  return guarded(__func__, [&] {
    require_arg(m != nullptr, "model is NULL");
    require_arg(out != nullptr && out->struct_size >= sizeof(size_t), "out is NULL or out->struct_size is not set");
    const vqr::pipeline::LayerSummary s = m->session.layer_summary(index);
    const vqr::pipeline::LayerRecord &r = *s.record;
    const vqr::quant::QuantConfig &c = s.config;
    vqr_layer_info info{};
    info.name = r.name.c_str();
    info.block = r.layer;
    info.skipped = r.skipped ? 1 : 0;
    info.method = static_cast<int>(c.method);
    info.bits = c.bits;
    info.group_size = c.group_size;
    info.sym = c.sym ? 1 : 0;
    info.rows = s.rows;
    info.cols = s.cols;
    vqr::capi::write_versioned(out, info);
  });
}

VQR_API vqr_status vqr_model_set_metadata(vqr_model *m, const char *key, const char *value) {
  return guarded(__func__, [&] {
    require_arg(m != nullptr, "model is NULL");
    require_arg(key != nullptr && *key, "key is NULL or empty");
    m->session.set_metadata(key, value);
  });
}

VQR_API int64_t vqr_model_linear_count(const vqr_model *m) {
  return m ? m->session.linear_count() : 0;
}

VQR_API vqr_status vqr_model_linear(const vqr_model *m, int64_t index, const char **name, vqr_tensor *weight,
                                    int64_t *hessian_index) {
  return guarded(__func__, [&] {
    require_arg(m != nullptr, "model is NULL");
    const vqr::pipeline::LinearEntry e = m->session.linear(index);
    if (name) *name = e.name->c_str();
    if (weight) *weight = vqr_tensor_2d(e.weight.data, VQR_DTYPE_F32, e.weight.rows, e.weight.cols, 0);
    if (hessian_index) *hessian_index = e.hessian_index;
  });
}

VQR_API vqr_status vqr_model_collect_hessians(vqr_context *ctx, const vqr_model *m, const int32_t *tokens,
                                              const int64_t *lengths, int64_t sequences, vqr_hessian **hessians,
                                              int64_t capacity) {
  return guarded(__func__, [&] {
    require_arg(m != nullptr, "model is NULL");
    require_arg(hessians != nullptr, "hessians is NULL");
    const int64_t count = m->session.hessian_count();
    vqr::require(capacity >= count, vqr::Status::BufferTooSmall,
                 "capacity " + std::to_string(capacity) + " < " + std::to_string(count) + " Hessians (n_layers * 4)");
    const auto seqs = vqr::model::split_sequences(tokens, lengths, sequences, m->session.seq_len());
    std::vector<vqr::hessian::Hessian> collected = m->session.collect_hessians(ctx, seqs);
    std::vector<std::unique_ptr<vqr_hessian>> hs;  // all allocated before any is handed out
    for (auto &h : collected) hs.push_back(std::make_unique<vqr_hessian>(std::move(h)));
    for (int64_t i = 0; i < count; ++i) hessians[i] = hs[(size_t)i].release();
  });
}

}  // extern "C"
