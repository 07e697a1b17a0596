// NLL evaluation under the paragraph and GPTQ protocols (evaluate.h). Sequences run through one
// Forward, each with a fresh context, packed several to a pass: one pack after the other (resident
// model), or a batch of packs at a time block by block (streamed model); the per-sequence sums
// (double) are added in sequence order, so the result depends neither on the thread count nor on
// the order the blocks were visited in.
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

// Spans packed into one Forward pass (Forward::set_segments): consecutive spans with a forward pass
// (>= 2 tokens) while their tokens fit `rows` (a span longer than that gets a pass of its own); a
// lone token rides along without rows. Both evaluation orders use the same packs, so they meet the
// same arithmetic.
struct Pack {
  size_t first = 0, last = 0;    // spans [first, last)
  std::vector<int64_t> lengths;  // of the spans with a forward pass
  std::vector<int32_t> tokens;   // theirs, concatenated
  int64_t rows = 0;              // sum of lengths
};

std::vector<Pack> pack_spans(const std::vector<TokenSpan> &spans, int64_t rows) {
  std::vector<Pack> packs;
  for (size_t i = 0; i < spans.size();) {
    Pack p;
    p.first = i;
    while (i < spans.size() && (p.rows == 0 || spans[i].count < 2 || p.rows + spans[i].count <= rows)) {
      if (spans[i].count >= 2) {
        p.lengths.push_back(spans[i].count);
        p.tokens.insert(p.tokens.end(), spans[i].tokens, spans[i].tokens + spans[i].count);
        p.rows += spans[i].count;
      }
      ++i;
    }
    p.last = i;
    packs.push_back(std::move(p));
  }
  return packs;
}

// Scores a pack whose logits (p.rows x vocab) are in `logits`, span by span in order, and counts
// its sequences.
void score_pack(NllResult &result, const float *logits, const Pack &p, const std::vector<TokenSpan> &spans,
                int64_t vocab, int threads, Progress *progress) {
  int64_t row = 0;
  for (size_t k = p.first; k < p.last; ++k) {
    if (spans[k].count >= 2) {
      score_span(result, logits + row * vocab, spans[k], vocab, threads);
      row += spans[k].count;
    }
    ++result.sequences;
    if (progress) progress->checkpoint(result.sequences, false);
  }
}

// Sequence-major (a resident model: its blocks cost nothing to revisit): each pack through every
// block, then the head.
void eval_sequence_major(NllResult &result, Forward &fwd, float *logits, const std::vector<Pack> &packs,
                         const std::vector<TokenSpan> &spans, int64_t vocab, Progress *progress) {
  for (const Pack &p : packs) {
    if (p.rows > 0) {
      fwd.set_segments(p.lengths);
      fwd.run(p.tokens.data(), p.rows, logits);
    }
    score_pack(result, logits, p, spans, vocab, fwd.threads(), progress);
  }
}

// Block-major (a streamed model, whose block l is widened from its source whenever it is not in the
// block cache): the packs are taken in batches whose hidden states fit hidden_budget bytes (at least
// one pack per batch); a batch goes through block 0 pack by pack, then block 1, ..., so each block
// is widened at most once per batch, and then through the head. Every pack meets the same Forward
// calls on the same values as in eval_sequence_major (hidden() is saved and restored exactly
// between them), so the sums are bit-identical.
void eval_block_major(NllResult &result, Forward &fwd, float *logits, const std::vector<Pack> &packs,
                      const std::vector<TokenSpan> &spans, int64_t vocab, int64_t hidden_budget, Progress *progress) {
  const int64_t C = fwd.model().config().dim, L = fwd.model().config().n_layers;
  const int64_t budget_floats = hidden_budget / static_cast<int64_t>(sizeof(float));
  std::vector<float> store;
  std::vector<int64_t> offset;  // per pack of the batch: its rows' start in store
  for (size_t i = 0; i < packs.size();) {
    size_t j = i;
    int64_t used = 0;
    offset.clear();
    while (j < packs.size() && (j == i || used + packs[j].rows * C <= budget_floats)) {
      offset.push_back(used);
      used += packs[j++].rows * C;
    }
    try {
      store.resize(static_cast<size_t>(used));
    } catch (const std::bad_alloc &) {
      throw Error(Status::OutOfMemory,
                  "evaluate: cannot allocate " + std::to_string(used * 4) + " bytes of hidden states");
    }
    // hidden() <-> store for pack k of the batch, after selecting its sequences.
    auto save = [&](size_t k) {
      std::memcpy(store.data() + offset[k - i], fwd.read_hidden(), static_cast<size_t>(packs[k].rows * C) * sizeof(float));
    };
    auto load = [&](size_t k) {
      fwd.set_segments(packs[k].lengths);
      std::memcpy(fwd.load_hidden(), store.data() + offset[k - i], static_cast<size_t>(packs[k].rows * C) * sizeof(float));
    };
    for (size_t k = i; k < j; ++k) {
      if (packs[k].rows == 0) continue;
      fwd.set_segments(packs[k].lengths);
      fwd.embed(packs[k].tokens.data(), packs[k].rows);
      save(k);
    }
    for (int l = 0; l < L; ++l) {
      for (size_t k = i; k < j; ++k) {
        if (packs[k].rows == 0) continue;
        load(k);
        fwd.block(l, packs[k].rows);
        save(k);
      }
      if (progress) progress->checkpoint(result.sequences, false);  // lets a long batch be cancelled
    }
    for (size_t k = i; k < j; ++k) {  // the heads in pack order (the order of the sums)
      if (packs[k].rows > 0) {
        load(k);
        fwd.head(packs[k].rows, logits);
      }
      score_pack(result, logits, packs[k], spans, vocab, fwd.threads(), progress);
    }
    i = j;
  }
}

}  // namespace

int64_t eval_pack_rows(const ModelConfig &config, int64_t hidden_budget) {
  const int64_t by_logits = kEvalPackLogitsBytes / (config.vocab_size * static_cast<int64_t>(sizeof(float)));
  const int64_t by_hidden = hidden_budget / (config.dim * static_cast<int64_t>(sizeof(float)));
  return std::max<int64_t>(1, std::min({kEvalPackTokens, by_logits, by_hidden}));
}

NllResult eval_spans(const Model &model, const std::vector<TokenSpan> &spans, int threads, Progress *progress,
                     MatmulPath path, int64_t hidden_budget, backend::Backend *backend) {
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
  const int64_t pack_rows = eval_pack_rows(model.config(), hidden_budget);
  const std::vector<Pack> packs = pack_spans(spans, pack_rows);
  // Buffers for the largest pack that occurs (a lone span may be longer than pack_rows), not for
  // pack_rows itself: scoring a few tokens then zeroes a few rows of logits, not 2048 x vocab.
  int64_t rows = longest;
  for (const Pack &p : packs) rows = std::max(rows, p.rows);
  Forward fwd(model, longest, threads, path, rows);
  if (backend) fwd.set_backend(*backend);
  std::vector<float> logits = logits_buffer(rows, V);
  if (model.streamed()) {
    eval_block_major(result, fwd, logits.data(), packs, spans, V, hidden_budget, progress);
  } else {
    eval_sequence_major(result, fwd, logits.data(), packs, spans, V, progress);
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
