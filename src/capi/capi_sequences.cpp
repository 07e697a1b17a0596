// C API: vqr_sequences — token sequences for calibration and evaluation, built from text, ids or a
// file by the protocols of spec gptq_family §5 (model/text_corpus.h holds the protocols).
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "capi/guard.h"
#include "capi/model_handle.h"
#include "model/evaluate.h"
#include "model/text_corpus.h"
#include "model/token_file.h"

using vqr::capi::guarded;
using vqr::capi::require_arg;

struct vqr_sequences {
  std::vector<int32_t> tokens;   // all sequences, concatenated
  std::vector<int64_t> lengths;  // one per sequence
};

namespace {

struct Request {
  vqr_sampling sampling;
  int64_t count, length;
  uint64_t seed;
};

// Checks the request against the model and resolves length 0 to min(2048, seq_len).
Request checked(const vqr_model *m, vqr_sampling sampling, int64_t count, int64_t length, uint64_t seed,
                vqr_sequences **out) {
  require_arg(m != nullptr, "model is NULL");
  require_arg(out != nullptr, "out is NULL");
  require_arg(sampling == VQR_SAMPLE_PARAGRAPHS || sampling == VQR_SAMPLE_WINDOWS ||
                  sampling == VQR_SAMPLE_RANDOM_WINDOWS,
              "sampling is not a vqr_sampling");
  const int64_t seq_len = m->model.config().seq_len;
  vqr::require(length >= 0 && length <= seq_len, VQR_ERR_OUT_OF_RANGE,
               "length " + std::to_string(length) + " is outside 0.." + std::to_string(seq_len) +
                   " (0 = min(2048, the model's context))");
  vqr::require(count >= (sampling == VQR_SAMPLE_RANDOM_WINDOWS ? 1 : 0), VQR_ERR_OUT_OF_RANGE,
               "count " + std::to_string(count) +
                   (sampling == VQR_SAMPLE_RANDOM_WINDOWS ? " must be >= 1 for random windows" : " must be >= 0"));
  return {sampling, count, length > 0 ? length : std::min<int64_t>(2048, seq_len), seed};
}

void emit(const std::vector<std::vector<int32_t>> &seqs, vqr_sequences **out) {
  auto s = std::make_unique<vqr_sequences>();
  for (const auto &q : seqs) {
    s->tokens.insert(s->tokens.end(), q.begin(), q.end());
    s->lengths.push_back((int64_t)q.size());
  }
  *out = s.release();
}

// Windows of a token stream (the ids, or the encoded text).
std::vector<std::vector<int32_t>> windows_of(const std::vector<int32_t> &stream, const Request &r) {
  if (r.sampling == VQR_SAMPLE_WINDOWS) return vqr::model::consecutive_windows(stream, r.count, r.length);
  if (stream.size() < 2) return {};  // nothing to predict
  return vqr::model::random_windows(stream, r.count, r.length, r.seed);
}

void from_text(const vqr_model *m, const std::string &text, const Request &r, vqr_sequences **out) {
  vqr::require(m->tokenizer.has_value(), VQR_ERR_UNSUPPORTED, m->tokenizer_problem);
  const vqr::model::Tokenizer &tok = *m->tokenizer;
  if (r.sampling == VQR_SAMPLE_PARAGRAPHS)
    return emit(vqr::model::paragraph_sequences(tok, vqr::model::split_paragraphs(text), r.count, r.length), out);
  // Evaluation encodes the document once (BOS at its start); calibration samples the paragraphs,
  // each with its BOS (spec gptq_family §5).
  const std::vector<int32_t> stream = r.sampling == VQR_SAMPLE_WINDOWS
                                          ? vqr::model::encode_document(tok, text)
                                          : vqr::model::encode_paragraphs(tok, vqr::model::split_paragraphs(text));
  emit(windows_of(stream, r), out);
}

void from_ids(const vqr_model *m, const std::vector<int32_t> &ids, const Request &r, vqr_sequences **out) {
  vqr::require(r.sampling != VQR_SAMPLE_PARAGRAPHS, VQR_ERR_INVALID_ARGUMENT,
               "ids carry no paragraph boundaries; use VQR_SAMPLE_WINDOWS or VQR_SAMPLE_RANDOM_WINDOWS");
  const int vocab = m->model.config().vocab_size;
  for (size_t i = 0; i < ids.size(); ++i)
    vqr::require(ids[i] >= 0 && ids[i] < vocab, VQR_ERR_INVALID_ARGUMENT,
                 "id " + std::to_string(ids[i]) + " at position " + std::to_string(i) + " is outside [0, " +
                     std::to_string(vocab) + ")");
  emit(windows_of(ids, r), out);
}

}  // namespace

extern "C" {

VQR_API vqr_status vqr_sequences_from_text(const vqr_model *m, const char *text, vqr_sampling sampling, int64_t count,
                                           int64_t length, uint64_t seed, vqr_sequences **out) {
  return guarded(__func__, [&] {
    const Request r = checked(m, sampling, count, length, seed, out);
    require_arg(text != nullptr, "text is NULL");
    from_text(m, text, r, out);
  });
}

VQR_API vqr_status vqr_sequences_from_ids(const vqr_model *m, const int32_t *ids, int64_t n, vqr_sampling sampling,
                                          int64_t count, int64_t length, uint64_t seed, vqr_sequences **out) {
  return guarded(__func__, [&] {
    const Request r = checked(m, sampling, count, length, seed, out);
    require_arg(n >= 0 && (n == 0 || ids != nullptr), "ids is NULL or n < 0");
    from_ids(m, std::vector<int32_t>(ids, ids + n), r, out);
  });
}

VQR_API vqr_status vqr_sequences_from_file(const vqr_model *m, const char *path, int is_ids, vqr_sampling sampling,
                                           int64_t count, int64_t length, uint64_t seed, vqr_sequences **out) {
  return guarded(__func__, [&] {
    const Request r = checked(m, sampling, count, length, seed, out);
    require_arg(path != nullptr && *path, "path is NULL or empty");
    if (is_ids) {
      vqr::require(r.sampling != VQR_SAMPLE_PARAGRAPHS, VQR_ERR_INVALID_ARGUMENT,
                   std::string(path) + ": ids carry no paragraph boundaries; use windows or random windows");
      from_ids(m, vqr::model::read_token_file(path, m->model.config().vocab_size), r, out);
    } else {
      from_text(m, vqr::model::read_text_file(path), r, out);
    }
  });
}

VQR_API void vqr_sequences_free(vqr_sequences *s) { delete s; }

VQR_API int64_t vqr_sequences_count(const vqr_sequences *s) { return s ? (int64_t)s->lengths.size() : 0; }

VQR_API const int32_t *vqr_sequences_tokens(const vqr_sequences *s) {
  return s && !s->tokens.empty() ? s->tokens.data() : nullptr;
}

VQR_API const int64_t *vqr_sequences_lengths(const vqr_sequences *s) {
  return s && !s->lengths.empty() ? s->lengths.data() : nullptr;
}

VQR_API int64_t vqr_sequences_total_tokens(const vqr_sequences *s) { return s ? (int64_t)s->tokens.size() : 0; }

}  // extern "C"
