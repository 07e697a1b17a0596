// Sampling protocols over text and ids, and the flat sequence layout (sequences.h).
#include "model/sequences.h"

#include <algorithm>

#include "core/error.h"
#include "core/memory_budget.h"
#include "model/evaluate.h"
#include "model/text_corpus.h"

namespace vqr::model {

namespace {

// Windows of a token stream (the ids, or the encoded text).
Sequences windows_of(const std::vector<int32_t> &stream, const SamplingRequest &r) {
  if (r.sampling == Sampling::Windows) return consecutive_windows(stream, r.count, r.length);
  if (stream.size() < 2) return {};  // nothing to predict
  return random_windows(stream, r.count, r.length, r.seed);
}

}  // namespace

PackedSequences pack_sequences(const Sequences &seqs) {
  PackedSequences p;
  for (const auto &q : seqs) {
    p.tokens.insert(p.tokens.end(), q.begin(), q.end());
    p.lengths.push_back((int64_t)q.size());
  }
  return p;
}

Sequences split_sequences(const int32_t *tokens, const int64_t *lengths, int64_t count, int64_t seq_len) {
  require(count >= 1 && count <= kMaxSequenceCount, Status::InvalidArgument,
          "sequences = " + std::to_string(count) + " is outside 1..2^24");
  require(tokens != nullptr && lengths != nullptr, Status::InvalidArgument, "tokens or lengths is NULL");
  // Every length checked, and the total budgeted, before the first copy (a sum of at most 2^24
  // lengths of at most seq_len each cannot overflow).
  int64_t total = 0;
  for (int64_t i = 0; i < count; ++i) {
    require(lengths[i] >= 1 && lengths[i] <= seq_len, Status::InvalidArgument,
            "sequence " + std::to_string(i) + " has " + std::to_string(lengths[i]) + " tokens; each needs 1.." +
                std::to_string(seq_len) + " (the model's context)");
    total += lengths[i];
  }
  require_memory(nullptr, (double)total * sizeof(int32_t) + 32.0 * (double)count,
                 std::to_string(count) + " sequences of " + std::to_string(total) + " tokens");
  Sequences out;
  int64_t at = 0;
  for (int64_t i = 0; i < count; ++i) {
    out.emplace_back(tokens + at, tokens + at + lengths[i]);
    at += lengths[i];
  }
  return out;
}

SamplingRequest sampling_request(Sampling sampling, int64_t count, int64_t length, uint64_t seed,
                                 int64_t seq_len) {
  require(length >= 0 && length <= seq_len, Status::OutOfRange,
          "length " + std::to_string(length) + " is outside 0.." + std::to_string(seq_len) +
              " (0 = min(2048, the model's context))");
  const bool random = sampling == Sampling::RandomWindows;
  require(count >= (random ? 1 : 0) && count <= kMaxSequenceCount, Status::OutOfRange,
          "count " + std::to_string(count) +
              (random ? " is outside 1..2^24 for random windows" : " is outside 0..2^24"));
  const int64_t window = length > 0 ? length : std::min<int64_t>(2048, seq_len);
  // Random windows may overlap, so their tokens are not bounded by the text: count x length
  // int32 tokens (and a vector each) are checked before the first is cut.
  if (random)
    require_memory(nullptr, (double)count * ((double)window * sizeof(int32_t) + 32.0),
                   std::to_string(count) + " random windows of " + std::to_string(window) + " tokens");
  return {sampling, count, window, seed};
}

Sequences sample_text(const Tokenizer &tokenizer, const std::string &text, const SamplingRequest &r) {
  if (r.sampling == Sampling::Paragraphs) return paragraph_sequences(tokenizer, split_paragraphs(text), r.count, r.length);
  // Evaluation encodes the document once (BOS at its start); calibration samples the paragraphs,
  // each with its BOS (spec gptq_family §5).
  const std::vector<int32_t> stream = r.sampling == Sampling::Windows
                                          ? encode_document(tokenizer, text)
                                          : encode_paragraphs(tokenizer, split_paragraphs(text));
  return windows_of(stream, r);
}

Sequences sample_ids(const std::vector<int32_t> &ids, int vocab_size, const SamplingRequest &r) {
  require(r.sampling != Sampling::Paragraphs, Status::InvalidArgument,
          "ids carry no paragraph boundaries; use VQR_SAMPLE_WINDOWS or VQR_SAMPLE_RANDOM_WINDOWS");
  for (size_t i = 0; i < ids.size(); ++i)
    require(ids[i] >= 0 && ids[i] < vocab_size, Status::InvalidArgument,
            "id " + std::to_string(ids[i]) + " at position " + std::to_string(i) + " is outside [0, " +
                std::to_string(vocab_size) + ")");
  return windows_of(ids, r);
}

}  // namespace vqr::model
