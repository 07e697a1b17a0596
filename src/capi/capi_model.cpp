// C API: vqr_model — load, tokenize, quantize block by block, evaluate NLL, save.
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "capi/guard.h"
#include "core/context.h"
#include "model/evaluate.h"
#include "model/model_source.h"
#include "model/tokenizer.h"
#include "pipeline/model_folder.h"
#include "pipeline/sequential_quantizer.h"
#include "quant/config.h"

using vqr::capi::guarded;
using vqr::capi::require_arg;

struct vqr_model {
  vqr::model::Model model;
  std::optional<vqr::model::Tokenizer> tokenizer;  // absent: a Hugging Face folder without one we read
  vqr::model::ModelSource source;
  vqr::pipeline::PipelineOptions options;  // of the last vqr_model_quantize
  vqr::pipeline::QuantizedModel last;
  int64_t quantized_layers = 0;
};

namespace {

// Splits the flat token array into sequences, validating the lengths.
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

}  // namespace

extern "C" {

VQR_API vqr_status vqr_model_load(const char *path, const char *tokenizer_path, vqr_model **out) {
  return guarded(__func__, [&] {
    require_arg(path != nullptr, "path is NULL");
    require_arg(out != nullptr, "out is NULL");
    const vqr::model::ModelSource src = vqr::model::resolve_model_source(path, tokenizer_path ? tokenizer_path : "");
    vqr::model::Model m = vqr::model::load_model(src);
    std::optional<vqr::model::Tokenizer> t;
    if (!src.tokenizer_file.empty()) t = vqr::model::Tokenizer::load(src.tokenizer_file, m.config().vocab_size);
    *out = new vqr_model{std::move(m), std::move(t), src, {}, {}, 0};
  });
}

VQR_API void vqr_model_free(vqr_model *model) { delete model; }

VQR_API vqr_status vqr_model_get_info(const vqr_model *m, vqr_model_info *out) {
  return guarded(__func__, [&] {
    require_arg(m != nullptr, "model is NULL");
    require_arg(out != nullptr, "out is NULL");
    const vqr::model::ModelConfig &c = m->model.config();
    vqr_model_info info{};
    info.struct_size = sizeof info;
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
    *out = info;
  });
}

VQR_API vqr_status vqr_model_tokenize(const vqr_model *m, const char *text, int bos, int32_t *tokens,
                                      int64_t capacity, int64_t *count) {
  return guarded(__func__, [&] {
    require_arg(m != nullptr, "model is NULL");
    require_arg(text != nullptr, "text is NULL");
    require_arg(count != nullptr, "count is NULL");
    require_arg(capacity >= 0 && (capacity == 0 || tokens != nullptr), "tokens is NULL with a positive capacity");
    vqr::require(m->tokenizer.has_value(), VQR_ERR_UNSUPPORTED,
                 m->source.model_file + ": no tokenizer.model or tokenizer.bin; hint: pass tokenizer_path to "
                 "vqr_model_load, or tokenize elsewhere and pass ids");
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
    const auto windows = sequences_of(tokens, lengths, sequences, m->model.config().seq_len);
    vqr::pipeline::PipelineOptions options;
    options.config = config->typed();
    options.threads = vqr::thread_count(ctx);
    m->last = vqr::pipeline::quantize_sequential(m->model, windows, options, ctx);
    m->options = options;
    m->quantized_layers = 0;
    for (const auto &r : m->last.layers) m->quantized_layers += r.skipped ? 0 : 1;
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
      require_arg(out->struct_size >= sizeof(size_t), "out->struct_size is not set");
      const size_t n = std::min(out->struct_size, sizeof(vqr_report));
      vqr_report full = rec.report;
      full.struct_size = n;
      std::memcpy(out, &full, n);
    }
  });
}

VQR_API vqr_status vqr_model_eval_nll(vqr_context *ctx, const vqr_model *m, const int32_t *tokens,
                                      const int64_t *lengths, int64_t sequences, double *sum_nll, int64_t *predicted) {
  return guarded(__func__, [&] {
    require_arg(m != nullptr, "model is NULL");
    require_arg(sum_nll != nullptr && predicted != nullptr, "sum_nll or predicted is NULL");
    const auto seqs = sequences_of(tokens, lengths, sequences, m->model.config().seq_len);
    std::vector<vqr::model::TokenSpan> spans;
    for (const auto &seq : seqs) spans.push_back({seq.data(), (int64_t)seq.size()});
    vqr::Progress progress(ctx, "eval", sequences);
    const vqr::model::NllResult r = vqr::model::eval_spans(m->model, spans, vqr::thread_count(ctx), &progress);
    progress.checkpoint(sequences, true);
    *sum_nll = r.sum_nll;
    *predicted = r.predicted_tokens;
  });
}

VQR_API vqr_status vqr_model_save(const vqr_model *m, const char *dir) {
  return guarded(__func__, [&] {
    require_arg(m != nullptr, "model is NULL");
    require_arg(dir != nullptr && *dir, "dir is NULL or empty");
    vqr::pipeline::FolderMetadata meta;
    meta.source_model = m->source.model_file;
    vqr::pipeline::write_model_folder(m->model, m->source, m->options, m->last, meta, dir);
  });
}

}  // extern "C"
