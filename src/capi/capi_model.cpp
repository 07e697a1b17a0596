// C API: vqr_model — load, tokenize, quantize block by block, evaluate NLL, save.
#include <algorithm>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "capi/guard.h"
#include "capi/model_handle.h"
#include "core/context.h"
#include "model/evaluate.h"
#include "model/hf_checkpoint.h"
#include "model/model_source.h"
#include "model/tokenizer.h"
#include "pipeline/model_folder.h"
#include "pipeline/sequential_quantizer.h"
#include "quant/config.h"

using vqr::capi::guarded;
using vqr::capi::require_arg;

namespace {

bool is_file(const std::string &p) {
  std::error_code ec;
  return std::filesystem::is_regular_file(p, ec);
}

// resolve_model_source, except that a model without a tokenizer still loads: text then needs
// one, and vqr_model_tokenize reports why there is none (`problem`).
vqr::model::ModelSource resolve_allowing_no_tokenizer(const std::string &path, const char *tokenizer_path,
                                                      std::string *problem) {
  try {
    return vqr::model::resolve_model_source(path, tokenizer_path ? tokenizer_path : "");
  } catch (const vqr::Error &e) {
    if (tokenizer_path != nullptr || e.status() != VQR_ERR_IO) throw;
    vqr::model::ModelSource s;  // only the tokenizer beside a llama2.c checkpoint can be missing here
    std::error_code ec;
    if (is_file(path)) {
      s.model_file = path;
    } else if (std::filesystem::is_directory(path, ec) && is_file(path + "/" + vqr::model::kModelFileName)) {
      s.model_file = path + "/" + vqr::model::kModelFileName;
      if (is_file(path + "/" + vqr::model::kMetadataFileName))
        s.metadata_file = path + "/" + vqr::model::kMetadataFileName;
    } else {
      throw;
    }
    *problem = e.what();
    return s;
  }
}

// Bytes of the weight files: the checkpoint file, or a folder's safetensors.
int64_t weight_file_bytes(const vqr::model::ModelSource &s) {
  std::error_code ec;
  if (!std::filesystem::is_directory(s.model_file, ec)) return (int64_t)std::filesystem::file_size(s.model_file, ec);
  int64_t total = 0;
  for (const auto &e : std::filesystem::directory_iterator(s.model_file, ec))
    if (e.path().extension() == ".safetensors") total += (int64_t)e.file_size(ec);
  return total;
}

}  // namespace

namespace vqr::capi {

std::vector<std::vector<int32_t>> sequences_of(const int32_t *tokens, const int64_t *lengths, int64_t count,
                                               int64_t seq_len) {
  require_arg(count >= 1, "sequences must be >= 1");
  require_arg(tokens != nullptr && lengths != nullptr, "tokens or lengths is NULL");
  std::vector<std::vector<int32_t>> out;
  int64_t at = 0;
  for (int64_t i = 0; i < count; ++i) {
    vqr::require(lengths[i] >= 1 && lengths[i] <= seq_len, VQR_ERR_INVALID_ARGUMENT,
                 "sequence " + std::to_string(i) + " has " + std::to_string(lengths[i]) + " tokens; each needs 1.." +
                     std::to_string(seq_len) + " (the model's context)");
    out.emplace_back(tokens + at, tokens + at + lengths[i]);
    at += lengths[i];
  }
  return out;
}

}  // namespace vqr::capi

extern "C" {

VQR_API vqr_status vqr_model_load(const char *path, const char *tokenizer_path, vqr_model **out) {
  return guarded(__func__, [&] {
    require_arg(path != nullptr, "path is NULL");
    require_arg(out != nullptr, "out is NULL");
    std::string problem;
    const vqr::model::ModelSource src = resolve_allowing_no_tokenizer(path, tokenizer_path, &problem);
    vqr::model::Model m = vqr::model::load_model(src);
    std::optional<vqr::model::Tokenizer> t;
    if (!src.tokenizer_file.empty()) t = vqr::model::Tokenizer::load(src.tokenizer_file, m.config().vocab_size);
    else if (problem.empty())
      problem = src.model_file + ": no tokenizer.model or tokenizer.bin; hint: pass tokenizer_path to vqr_model_load, "
                "or tokenize elsewhere and pass ids";
    auto handle = std::make_unique<vqr_model>(std::move(m), std::move(t), problem, src);
    handle->architecture = handle->model.config().architecture.empty() ? "llama2.c" : handle->model.config().architecture;
    handle->file_bytes = weight_file_bytes(src);
    if (src.format == vqr::model::ModelFormat::kHuggingFace)
      handle->quantization = vqr::model::read_hf_quantization_info(src.model_file).method;
    for (int l = 0; l < handle->model.config().n_layers; ++l)
      for (vqr::model::LinearKind k : vqr::model::kAllLinearKinds)
        handle->linear_names.push_back(vqr::model::Model::linear_name(l, k));
    *out = handle.release();
  });
}

VQR_API void vqr_model_free(vqr_model *model) { delete model; }

VQR_API vqr_status vqr_model_get_info(const vqr_model *m, vqr_model_info *out) {
  return guarded(__func__, [&] {
    require_arg(m != nullptr, "model is NULL");
    require_arg(out != nullptr, "out is NULL");
    require_arg(out->struct_size >= sizeof(size_t), "out->struct_size is not set (set it to sizeof(vqr_model_info))");
    const vqr::model::ModelConfig &c = m->model.config();
    vqr_model_info info{};
    info.dim = c.dim;
    info.hidden_dim = c.hidden_dim;
    info.n_layers = c.n_layers;
    info.n_heads = c.n_heads;
    info.n_kv_heads = c.n_kv_heads;
    info.vocab_size = c.vocab_size;
    info.seq_len = c.seq_len;
    info.shared_classifier = c.shared_classifier ? 1 : 0;
    info.parameters = m->model.total_floats();
    info.quantized_layers = m->quantized_layers;
    info.format = vqr::model::model_format_name(m->source.format);
    info.architecture = m->architecture.c_str();
    info.model_path = m->source.model_file.c_str();
    info.tokenizer_path = m->tokenizer ? m->source.tokenizer_file.c_str() : nullptr;
    info.metadata_path = m->source.metadata_file.empty() ? nullptr : m->source.metadata_file.c_str();
    info.quantization = m->quantization.empty() ? nullptr : m->quantization.c_str();
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
    info.file_bytes = m->file_bytes;
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
    vqr::require(m->tokenizer.has_value(), VQR_ERR_UNSUPPORTED, m->tokenizer_problem);
    const std::vector<int32_t> ids = m->tokenizer->encode(text, bos != 0, false);
    *count = (int64_t)ids.size();
    vqr::require((int64_t)ids.size() <= capacity, VQR_ERR_BUFFER_TOO_SMALL,
                 "capacity " + std::to_string(capacity) + " < " + std::to_string(ids.size()) + " tokens");
    if (!ids.empty()) std::memcpy(tokens, ids.data(), ids.size() * sizeof(int32_t));
  });
}

VQR_API vqr_status vqr_model_quantize(vqr_context *ctx, vqr_model *m, const vqr_config *config, const int32_t *tokens,
                                      const int64_t *lengths, int64_t sequences) {
  return guarded(__func__, [&] {
    require_arg(m != nullptr, "model is NULL");
    require_arg(config != nullptr, "config is NULL");
    const auto windows = vqr::capi::sequences_of(tokens, lengths, sequences, m->model.config().seq_len);
    vqr::pipeline::PipelineOptions options;
    options.config = config->typed();
    options.overrides = m->overrides;
    options.threads = vqr::thread_count(ctx);
    // Records become visible as layers finish, so a progress callback can read them.
    m->last = {};
    options.on_layer = [m](const vqr::pipeline::LayerRecord &r, int64_t, int64_t) { m->last.layers.push_back(r); };
    m->options = options;
    m->options.on_layer = nullptr;
    vqr::pipeline::QuantizedModel done = vqr::pipeline::quantize_sequential(m->model, windows, options, ctx);
    m->last = std::move(done);
    m->quantized_layers = 0;
    for (const auto &r : m->last.layers) m->quantized_layers += r.skipped ? 0 : 1;
    m->calibration_samples = sequences;
    m->calibration_seqlen = 0;
    for (const auto &w : windows) m->calibration_seqlen = std::max<int64_t>(m->calibration_seqlen, (int64_t)w.size());
    m->seed = ctx ? ctx->seed : 0;
  });
}

VQR_API int64_t vqr_model_layer_count(const vqr_model *m) { return m ? (int64_t)m->last.layers.size() : 0; }

VQR_API vqr_status vqr_model_layer_report(const vqr_model *m, int64_t index, const char **name, vqr_report *out) {
  return guarded(__func__, [&] {
    require_arg(m != nullptr, "model is NULL");
    require_arg(index >= 0 && index < (int64_t)m->last.layers.size(), "index is out of range");
    const auto &rec = m->last.layers[(size_t)index];
    if (name) *name = rec.name.c_str();
    if (out) {
      vqr::capi::write_versioned(out, rec.report);
    }
  });
}

VQR_API vqr_status vqr_model_eval_nll(vqr_context *ctx, const vqr_model *m, const int32_t *tokens,
                                      const int64_t *lengths, int64_t sequences, double *sum_nll, int64_t *predicted) {
  return guarded(__func__, [&] {
    require_arg(m != nullptr, "model is NULL");
    require_arg(sum_nll != nullptr && predicted != nullptr, "sum_nll or predicted is NULL");
    const auto seqs = vqr::capi::sequences_of(tokens, lengths, sequences, m->model.config().seq_len);
    std::vector<vqr::model::TokenSpan> spans;
    for (const auto &seq : seqs) spans.push_back({seq.data(), (int64_t)seq.size()});
    vqr::Progress progress(ctx, "eval", sequences);
    const vqr::model::NllResult r = vqr::model::eval_spans(m->model, spans, vqr::thread_count(ctx), &progress);
    progress.checkpoint(sequences, true);
    *sum_nll = r.sum_nll;
    *predicted = r.predicted_tokens;
  });
}

}  // extern "C"
