// NLL evaluation under the paragraph and GPTQ protocols (evaluate.h). Sequences run one after
// the other through one Forward, each with a fresh context; the per-sequence sums (double) are
// added in sequence order, so the result does not depend on the thread count.
#include "model/evaluate.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <new>

#include "core/error.h"
#include "model/forward.h"
#include "model/nll.h"
#include "model/text_corpus.h"

namespace vqr::model {

double NllResult::mean_nll() const {
  if (predicted_tokens <= 0) return std::numeric_limits<double>::quiet_NaN();
  return sum_nll / static_cast<double>(predicted_tokens);
}

double NllResult::perplexity() const { return std::exp(mean_nll()); }

namespace {

// Logits buffer for sequences of up to max_tokens tokens (max_tokens x vocab floats).
std::vector<float> logits_buffer(int64_t max_tokens, int64_t vocab) {
  try {
    return std::vector<float>(static_cast<size_t>(max_tokens * vocab));
  } catch (const std::bad_alloc &) {
    throw Error(Status::OutOfMemory, "evaluate: cannot allocate " + std::to_string(max_tokens * vocab * 4) +
                                           " bytes of logits (" + std::to_string(max_tokens) + " tokens x vocab " +
                                           std::to_string(vocab) + ")");
  }
}

}  // namespace

NllResult eval_spans(const Model &model, const std::vector<TokenSpan> &spans, int threads, Progress *progress,
                     MatmulPath path) {
  require(threads >= 0, Status::InvalidArgument, "evaluate: threads must be >= 0");
  const int64_t L = model.config().seq_len, V = model.config().vocab_size;
  int64_t longest = 1;
  for (const TokenSpan &s : spans) {
    require(s.tokens != nullptr && s.count >= 1 && s.count <= L, Status::InvalidArgument,
            "evaluate: a sequence has " + std::to_string(s.count) + " tokens; each needs 1.." + std::to_string(L) +
                " (the model's context)");
    longest = std::max(longest, s.count);
  }
  NllResult result;
  if (spans.empty()) return result;
  Forward fwd(model, longest, threads, path);
  std::vector<float> logits = logits_buffer(longest, V);
  for (const TokenSpan &s : spans) {
    if (s.count >= 2) {  // a lone token predicts nothing: skip its forward pass
      fwd.run(s.tokens, s.count, logits.data());
      int64_t predicted = 0;
      result.sum_nll += sequence_nll(logits.data(), s.tokens, s.count, V, &predicted);
      result.predicted_tokens += predicted;
    }
    ++result.sequences;
    if (progress) progress->checkpoint(result.sequences, false);
  }
  return result;
}

NllResult eval_paragraphs(const Model &model, const Tokenizer &tokenizer, const std::vector<std::string> &paragraphs,
                          int64_t limit, int threads, Progress *progress, MatmulPath path) {
  require(limit >= 0, Status::InvalidArgument, "eval_paragraphs: limit " + std::to_string(limit) + " is negative");
  require(threads >= 0, Status::InvalidArgument, "eval_paragraphs: threads must be >= 0");
  const int64_t count = limit == 0 ? static_cast<int64_t>(paragraphs.size())
                                   : std::min<int64_t>(limit, static_cast<int64_t>(paragraphs.size()));
  const int64_t L = model.config().seq_len;

  // Encode first, so the forward scratch and logits are sized by the longest paragraph rather
  // than by seq_len (which is large for big models while paragraphs are often short).
  const std::vector<std::vector<int32_t>> ids = paragraph_sequences(tokenizer, paragraphs, count, L);

  std::vector<TokenSpan> spans;
  for (const auto &seq : ids) spans.push_back({seq.data(), static_cast<int64_t>(seq.size())});
  return eval_spans(model, spans, threads, progress, path);
}

std::vector<int32_t> encode_document(const Tokenizer &tokenizer, const std::string &text) {
  return tokenizer.encode(text, /*bos=*/true, /*eos=*/false);
}

NllResult eval_gptq_protocol(const Model &model, const std::vector<int32_t> &tokens, int64_t seqlen, int threads,
                             Progress *progress, MatmulPath path) {
  const int64_t L = model.config().seq_len;
  require(seqlen >= 2 && seqlen <= L, Status::InvalidArgument,
          "eval_gptq_protocol: seqlen " + std::to_string(seqlen) + " is outside [2, seq_len " + std::to_string(L) +
              "]");
  require(threads >= 0, Status::InvalidArgument, "eval_gptq_protocol: threads must be >= 0");
  const std::vector<std::vector<int32_t>> windows = consecutive_windows(tokens, 0, seqlen);  // the tail is dropped
  std::vector<TokenSpan> spans;
  for (const auto &w : windows) spans.push_back({w.data(), static_cast<int64_t>(w.size())});
  return eval_spans(model, spans, threads, progress, path);
}

}  // namespace vqr::model
