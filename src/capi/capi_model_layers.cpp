// C API: per-layer control and inspection of a vqr_model — override and skip rules, the records of
// the last quantization, provenance metadata, borrowed views of the linear weights, and one
// Hessian per distinct linear input (DESIGN §3.1: what every layer-wise method needs).
#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "capi/guard.h"
#include "capi/model_handle.h"
#include "core/context.h"
#include "core/json_text.h"
#include "hessian/hessian.h"
#include "model/forward.h"
#include "model/linear_kinds.h"
#include "quant/config.h"

using vqr::capi::guarded;
using vqr::capi::require_arg;
using vqr::model::LinearInput;
using vqr::model::LinearKind;

namespace {

void add_rule(vqr_model *m, const char *pattern, vqr_param param, double value, bool as_float) {
  require_arg(m != nullptr, "model is NULL");
  require_arg(pattern != nullptr && *pattern, "pattern is NULL or empty");
  vqr::quant::check_param_value(param, value, as_float);
  m->overrides.push_back({pattern, {{param, value}}, false});
}

// Which linear layer `index` is: block index / 7, kind index % 7 (llama2.c order).
LinearKind kind_at(int64_t index) { return vqr::model::kAllLinearKinds[index % vqr::model::kLinearKindCount]; }

}  // namespace

namespace vqr::capi {

std::string overrides_text(const std::vector<pipeline::LayerOverride> &rules) {
  std::string out;
  for (const auto &r : rules) {
    std::string fields;
    for (const auto &[param, value] : r.params) {
      const int i = quant::param_index(param);
      char buf[64];
      std::snprintf(buf, sizeof buf, "%g", value);
      fields += (fields.empty() ? "" : ",") + std::string(i >= 0 ? quant::param_table()[i].name : "?") + "=" + buf;
    }
    if (r.skip) fields += fields.empty() ? "skip" : ",skip";
    out += (out.empty() ? "" : ";") + r.pattern + ":" + fields;
  }
  return out;
}

}  // namespace vqr::capi

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
    m->overrides.push_back({pattern, {}, true});
  });
}

VQR_API void vqr_model_clear_overrides(vqr_model *m) {
  if (m) m->overrides.clear();
}

VQR_API vqr_status vqr_model_layer_info(const vqr_model *m, int64_t index, vqr_layer_info *out) {
  return guarded(__func__, [&] {
    require_arg(m != nullptr, "model is NULL");
    require_arg(out != nullptr && out->struct_size >= sizeof(size_t), "out is NULL or out->struct_size is not set");
    require_arg(index >= 0 && index < (int64_t)m->last.layers.size(), "index is out of range");
    const vqr::pipeline::LayerRecord &r = m->last.layers[(size_t)index];
    const vqr::quant::QuantConfig c = vqr::quant::resolve_presets(r.config);
    const vqr::model::LinearWeight w = m->model.linear(r.layer, r.kind);
    vqr_layer_info info{};
    info.name = r.name.c_str();
    info.block = r.layer;
    info.skipped = r.skipped ? 1 : 0;
    info.method = c.method;
    info.bits = c.bits;
    info.group_size = c.group_size;
    info.sym = c.sym ? 1 : 0;
    info.rows = w.rows;
    info.cols = w.cols;
    vqr::capi::write_versioned(out, info);
  });
}

VQR_API vqr_status vqr_model_set_metadata(vqr_model *m, const char *key, const char *value) {
  return guarded(__func__, [&] {
    require_arg(m != nullptr, "model is NULL");
    require_arg(key != nullptr && *key, "key is NULL or empty");
    auto &md = m->metadata;
    md.erase(std::remove_if(md.begin(), md.end(), [&](const auto &kv) { return kv.first == key; }), md.end());
    if (value) md.emplace_back(key, value);
  });
}

VQR_API int64_t vqr_model_linear_count(const vqr_model *m) {
  return m ? (int64_t)m->model.config().n_layers * vqr::model::kLinearKindCount : 0;
}

VQR_API vqr_status vqr_model_linear(const vqr_model *m, int64_t index, const char **name, vqr_tensor *weight,
                                    int64_t *hessian_index) {
  return guarded(__func__, [&] {
    require_arg(m != nullptr, "model is NULL");
    require_arg(index >= 0 && index < vqr_model_linear_count(m), "index is out of range");
    const int layer = (int)(index / vqr::model::kLinearKindCount);
    const LinearKind kind = kind_at(index);
    if (name) *name = m->linear_names[(size_t)index].c_str();
    if (weight) {
      const vqr::model::LinearWeight w = m->model.linear(layer, kind);
      *weight = vqr_tensor_2d(w.data, VQR_DTYPE_F32, w.rows, w.cols, 0);
    }
    if (hessian_index)
      *hessian_index = (int64_t)layer * vqr::model::kLinearInputCount + (int64_t)vqr::model::input_of(kind);
  });
}

VQR_API vqr_status vqr_model_collect_hessians(vqr_context *ctx, const vqr_model *m, const int32_t *tokens,
                                              const int64_t *lengths, int64_t sequences, vqr_hessian **hessians,
                                              int64_t capacity) {
  return guarded(__func__, [&] {
    require_arg(m != nullptr, "model is NULL");
    require_arg(hessians != nullptr, "hessians is NULL");
    const vqr::model::ModelConfig &c = m->model.config();
    const int64_t count = (int64_t)c.n_layers * vqr::model::kLinearInputCount;
    vqr::require(capacity >= count, VQR_ERR_BUFFER_TOO_SMALL,
                 "capacity " + std::to_string(capacity) + " < " + std::to_string(count) + " Hessians (n_layers * 4)");
    const auto seqs = vqr::capi::sequences_of(tokens, lengths, sequences, c.seq_len);
    int64_t longest = 0;
    for (const auto &s : seqs) longest = std::max<int64_t>(longest, (int64_t)s.size());
    std::vector<std::unique_ptr<vqr_hessian>> hs;
    for (int l = 0; l < c.n_layers; ++l)
      for (int i = 0; i < vqr::model::kLinearInputCount; ++i)
        hs.push_back(std::make_unique<vqr_hessian>(c.input_width((LinearInput)i), false, false));
    vqr::model::Forward fwd(m->model, longest, vqr::thread_count(ctx));
    const vqr::model::ActivationSink sink = [&](int layer, LinearInput input, const float *x, int64_t n, int64_t width) {
      const vqr_tensor t = vqr_tensor_2d(x, VQR_DTYPE_F32, n, width, 0);
      hs[(size_t)(layer * vqr::model::kLinearInputCount + (int)input)]->add(t);
    };
    vqr::Progress progress(ctx, "hessian", sequences);
    for (size_t i = 0; i < seqs.size(); ++i) {
      fwd.run(seqs[i].data(), (int64_t)seqs[i].size(), nullptr, sink);
      progress.checkpoint((int64_t)i + 1, i + 1 == seqs.size());
    }
    for (int64_t i = 0; i < count; ++i) hessians[i] = hs[(size_t)i].release();
  });
}

}  // extern "C"
