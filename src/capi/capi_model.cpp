// C API: vqr_model — load, tokenize, quantize block by block, evaluate NLL, save.
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "capi/guard.h"
#include "capi/handles.h"
#include "capi/model_handle.h"
#include "core/memory_budget.h"
#include "model/model_source.h"
#include "model/sequences.h"
#include "quant/config.h"

using vqr::capi::guarded;
using vqr::capi::require_arg;

extern "C" {

VQR_API vqr_status vqr_model_load(const char *path, const char *tokenizer_path, vqr_model **out) {
  return vqr_model_load_on(nullptr, path, tokenizer_path, out);
}

VQR_API vqr_status vqr_model_load_on(vqr_context *ctx, const char *path, const char *tokenizer_path, vqr_model **out) {
  return guarded(__func__, [&] {
    require_arg(path != nullptr, "path is NULL");
    require_arg(out != nullptr, "out is NULL");
    const std::optional<std::string> tokenizer = tokenizer_path ? std::optional<std::string>(tokenizer_path) : std::nullopt;
    // The loaders allocate without a context: the scope carries its memory limit to them.
    const vqr::MemoryLimitScope budget(ctx ? ctx->memory_limit : 0);
    *out = new vqr_model(vqr::pipeline::ModelSession::load(path, tokenizer));
  });
}

VQR_API void vqr_model_free(vqr_model *model) { delete model; }

VQR_API vqr_status vqr_model_get_info(const vqr_model *m, vqr_model_info *out) {
  return guarded(__func__, [&] {
    require_arg(m != nullptr, "model is NULL");
    require_arg(out != nullptr, "out is NULL");
    require_arg(out->struct_size >= sizeof(size_t), "out->struct_size is not set (set it to sizeof(vqr_model_info))");
    const vqr::pipeline::ModelSession &s = m->session;
    const vqr::model::ModelConfig &c = s.model().config();
    vqr_model_info info{};
    info.dim = c.dim;
    info.hidden_dim = c.hidden_dim;
    info.n_layers = c.n_layers;
    info.n_heads = c.n_heads;
    info.n_kv_heads = c.n_kv_heads;
    info.vocab_size = c.vocab_size;
    info.seq_len = c.seq_len;
    info.shared_classifier = c.shared_classifier ? 1 : 0;
    info.parameters = s.model().total_floats();
    info.quantized_layers = s.quantized_layers();
    info.format = vqr::model::model_format_name(s.source().format);
    info.architecture = s.architecture().c_str();
    info.model_path = s.source().model_file.c_str();
    info.tokenizer_path = s.tokenizer() ? s.source().tokenizer_file.c_str() : nullptr;
    info.metadata_path = s.source().metadata_file.empty() ? nullptr : s.source().metadata_file.c_str();
    info.quantization = s.quantization().empty() ? nullptr : s.quantization().c_str();
    info.head_dim = c.head_size();
    info.rope_half_layout = c.rope_layout == vqr::model::RopeLayout::kHalf ? 1 : 0;
    info.rope_scaling = c.rope_scaling == vqr::model::RopeScaling::kLinear ? 1
                        : c.rope_scaling == vqr::model::RopeScaling::kLlama3 ? 2 : 0;
    info.rope_original_context = c.rope_original_context;
    info.rope_theta = c.rope_theta;
    info.rope_factor = c.rope_factor;
    info.rope_low_freq_factor = c.rope_low_freq_factor;
    info.rope_high_freq_factor = c.rope_high_freq_factor;
    info.norm_eps = c.norm_eps;
    info.qkv_bias = c.qkv_bias ? 1 : 0;
    info.qk_norm = c.qk_norm ? 1 : 0;
    info.sliding_window = c.sliding_window;
    info.file_bytes = s.file_bytes();
    vqr::capi::write_versioned(out, info);
  });
}

VQR_API vqr_status vqr_model_tokenize(const vqr_model *m, const char *text, int bos, int32_t *tokens,
                                      int64_t capacity, int64_t *count) {
  return guarded(__func__, [&] {
    require_arg(m != nullptr, "model is NULL");
    require_arg(text != nullptr, "text is NULL");
    require_arg(count != nullptr, "count is NULL");
    require_arg(capacity >= 0 && (capacity == 0 || tokens != nullptr), "tokens is NULL with a positive capacity");
    const std::vector<int32_t> ids = m->session.tokenize(text, bos != 0);
    *count = (int64_t)ids.size();
    vqr::require((int64_t)ids.size() <= capacity, vqr::Status::BufferTooSmall,
                 "capacity " + std::to_string(capacity) + " < " + std::to_string(ids.size()) + " tokens");
    if (!ids.empty()) std::memcpy(tokens, ids.data(), ids.size() * sizeof(int32_t));
  });
}

VQR_API vqr_status vqr_model_quantize(vqr_context *ctx, vqr_model *m, const vqr_config *config, const int32_t *tokens,
                                      const int64_t *lengths, int64_t sequences) {
  return guarded(__func__, [&] {
    require_arg(m != nullptr, "model is NULL");
    require_arg(config != nullptr, "config is NULL");
    const auto windows = vqr::model::split_sequences(tokens, lengths, sequences, m->session.seq_len());
    m->session.quantize(ctx, config->typed(), windows);
  });
}

VQR_API int64_t vqr_model_layer_count(const vqr_model *m) { return m ? (int64_t)m->session.layers().size() : 0; }

VQR_API vqr_status vqr_model_layer_report(const vqr_model *m, int64_t index, const char **name, vqr_report *out) {
  return guarded(__func__, [&] {
    require_arg(m != nullptr, "model is NULL");
    const vqr::pipeline::LayerRecord &rec = m->session.layer(index);
    if (name) *name = rec.name.c_str();
    if (out) {
      vqr::capi::write_versioned(out, vqr::capi::to_public(rec.report));
    }
  });
}

VQR_API vqr_status vqr_model_eval_nll(vqr_context *ctx, const vqr_model *m, const int32_t *tokens,
                                      const int64_t *lengths, int64_t sequences, double *sum_nll, int64_t *predicted) {
  return guarded(__func__, [&] {
    require_arg(m != nullptr, "model is NULL");
    require_arg(sum_nll != nullptr && predicted != nullptr, "sum_nll or predicted is NULL");
    const auto seqs = vqr::model::split_sequences(tokens, lengths, sequences, m->session.seq_len());
    const vqr::model::NllResult r = m->session.evaluate(ctx, seqs);
    *sum_nll = r.sum_nll;
    *predicted = r.predicted_tokens;
  });
}

VQR_API vqr_status vqr_model_logits(vqr_context *ctx, const vqr_model *m, const int32_t *tokens, int64_t n,
                                    float *logits, int64_t capacity) {
  return guarded(__func__, [&] {
    require_arg(m != nullptr, "model is NULL");
    require_arg(tokens != nullptr && logits != nullptr, "tokens or logits is NULL");
    const int64_t seq_len = m->session.seq_len(), vocab = m->session.model().config().vocab_size;
    vqr::require(n >= 1 && n <= seq_len, vqr::Status::InvalidArgument,
                 "n = " + std::to_string(n) + " is outside [1, seq_len " + std::to_string(seq_len) + "]");
    vqr::require(capacity >= n * vocab, vqr::Status::BufferTooSmall,
                 "logits: capacity " + std::to_string(capacity) + " < n x vocab_size = " + std::to_string(n * vocab));
    m->session.logits(ctx, tokens, n, logits);
  });
}

}  // extern "C"
