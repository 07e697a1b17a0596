// NLL evaluation under the paragraph and GPTQ protocols (evaluate.h). Sequences run through one
// Forward, each with a fresh context: one after the other (resident model), or a batch at a time
// block by block (streamed model); the per-sequence sums (double) are added in sequence order, so
// the result depends neither on the thread count nor on the order the blocks were visited in.
#include "model/evaluate.h"

#include <algorithm>
#include <cmath>
#include <cstring>
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

namespace {

// Adds the NLL of a span whose logits are in `logits` to `result` (sums in double, in span order).
void score_span(NllResult &result, const float *logits, const TokenSpan &s, int64_t vocab, int threads) {
  int64_t predicted = 0;
  result.sum_nll += sequence_nll(logits, s.tokens, s.count, vocab, &predicted, threads);
  result.predicted_tokens += predicted;
}

// Sequence-major: each span through every block, then the head (a resident model: its blocks
// cost nothing to revisit).
void eval_sequence_major(NllResult &result, Forward &fwd, float *logits, const std::vector<TokenSpan> &spans,
                         int64_t vocab, Progress *progress) {
  for (const TokenSpan &s : spans) {
    if (s.count >= 2) {  // a lone token predicts nothing: skip its forward pass
      fwd.run(s.tokens, s.count, logits);
      score_span(result, logits, s, vocab, fwd.threads());
    }
    ++result.sequences;
    if (progress) progress->checkpoint(result.sequences, false);
  }
}

// Block-major (a streamed model, whose block l is widened from its source whenever it is not in the
// block cache): the spans are taken in batches whose hidden states fit hidden_budget bytes (at least
// one span per batch); a batch goes through block 0 span by span, then block 1, ..., so each block
// is widened at most once per batch, and then through the head. Every span meets the same
// Forward calls on the same values as in eval_sequence_major (hidden() is saved and restored
// exactly between them), so the sums are bit-identical.
void eval_block_major(NllResult &result, Forward &fwd, float *logits, const std::vector<TokenSpan> &spans,
                      int64_t vocab, int64_t hidden_budget, Progress *progress) {
  const int64_t C = fwd.model().config().dim, L = fwd.model().config().n_layers;
  // Floats of a span's hidden states (0 for a lone token: it has no forward pass).
  auto floats = [&](const TokenSpan &s) { return s.count >= 2 ? s.count * C : 0; };
  const int64_t budget_floats = hidden_budget / static_cast<int64_t>(sizeof(float));
  std::vector<float> store;
  std::vector<int64_t> offset;  // per span of the batch: its rows' start in store
  for (size_t i = 0; i < spans.size();) {
    size_t j = i;
    int64_t used = 0;
    offset.clear();
    while (j < spans.size() && (j == i || used + floats(spans[j]) <= budget_floats)) {
      offset.push_back(used);
      used += floats(spans[j++]);
    }
    try {
      store.resize(static_cast<size_t>(used));
    } catch (const std::bad_alloc &) {
      throw Error(Status::OutOfMemory,
                  "evaluate: cannot allocate " + std::to_string(used * 4) + " bytes of hidden states");
    }
    // hidden() <-> store for span k of the batch.
    auto save = [&](size_t k) {
      std::memcpy(store.data() + offset[k - i], fwd.hidden(), static_cast<size_t>(floats(spans[k])) * sizeof(float));
    };
    auto load = [&](size_t k) {
      std::memcpy(fwd.hidden(), store.data() + offset[k - i], static_cast<size_t>(floats(spans[k])) * sizeof(float));
    };
    for (size_t k = i; k < j; ++k) {
      if (spans[k].count < 2) continue;
      fwd.embed(spans[k].tokens, spans[k].count);
      save(k);
    }
    for (int l = 0; l < L; ++l) {
      for (size_t k = i; k < j; ++k) {
        if (spans[k].count < 2) continue;
        load(k);
        fwd.block(l, spans[k].count);
        save(k);
      }
      if (progress) progress->checkpoint(result.sequences, false);  // lets a long batch be cancelled
    }
    for (size_t k = i; k < j; ++k) {  // the heads in span order (the order of the sums)
      if (spans[k].count >= 2) {
        load(k);
        fwd.head(spans[k].count, logits);
        score_span(result, logits, spans[k], vocab, fwd.threads());
      }
      ++result.sequences;
      if (progress) progress->checkpoint(result.sequences, false);
    }
    i = j;
  }
}

}  // namespace

NllResult eval_spans(const Model &model, const std::vector<TokenSpan> &spans, int threads, Progress *progress,
                     MatmulPath path, int64_t hidden_budget) {
  require(threads >= 0, Status::InvalidArgument, "evaluate: threads must be >= 0");
  require(hidden_budget >= 1, Status::InvalidArgument, "evaluate: the hidden-state budget must be positive");
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
  if (model.streamed()) {
    eval_block_major(result, fwd, logits.data(), spans, V, hidden_budget, progress);
  } else {
    eval_sequence_major(result, fwd, logits.data(), spans, V, progress);
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
