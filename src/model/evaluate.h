// Evaluation of a model's negative log-likelihood on text under the two protocols of issue 5:
// the paragraph protocol of the stories260K reference file (one fresh context per paragraph) and
// the GPTQ protocol (spec/gptq_family.md §5: one token stream cut into non-overlapping windows).
// fp32 forward (forward.h), scores accumulated in double (nll.h); consecutive sequences are packed
// into one forward pass of up to kEvalPackTokens rows, each still with its own fresh context (a
// streamed model's packs in batches, block by block: eval_spans).
// path: the forward's linear-layer arithmetic (matmul.h); the default is BLAS, kReference
// reproduces run.c-order references (the stories260K reference NLL file) to rounding.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "core/context.h"
#include "model/matmul.h"
#include "model/model.h"
#include "model/tokenizer.h"

namespace vqr::model {

struct NllResult {
  double sum_nll = 0;            // sum over predicted tokens of -log p(token | prefix), natural log
  int64_t predicted_tokens = 0;  // number of scored tokens
  int64_t sequences = 0;         // paragraphs or windows evaluated (including ones that predict nothing)

  // sum_nll / predicted_tokens; NaN when nothing was predicted.
  double mean_nll() const;
  // exp(mean_nll()); NaN when nothing was predicted.
  double perplexity() const;
};

// A token sequence to score (borrowed).
struct TokenSpan {
  const int32_t *tokens;
  int64_t count;
};

// Bytes of hidden states eval_spans keeps for a streamed model's batch of sequences (below).
constexpr int64_t kEvalHiddenBudgetBytes = int64_t{256} << 20;
// Consecutive sequences are evaluated packed into one forward pass (Forward::set_segments) of up to
// kEvalPackTokens rows, as long as the pass's logits stay within kEvalPackLogitsBytes (a large
// vocabulary packs fewer) and its hidden states within the hidden-state budget; a sequence longer
// than that runs alone (its pass then needs what it needed before packing).
constexpr int64_t kEvalPackTokens = 2048;
constexpr int64_t kEvalPackLogitsBytes = int64_t{64} << 20;
// Rows a pass of two or more packed sequences may hold: min(kEvalPackTokens, kEvalPackLogitsBytes /
// (vocab x 4), hidden_budget / (dim x 4)), at least 1.
int64_t eval_pack_rows(const ModelConfig &config, int64_t hidden_budget);

// The loop both protocols share: each span (1..seq_len tokens) runs with a fresh context and its
// tokens 1..n-1 are scored from positions 0..n-2; sums in double, in span order. progress: may be
// NULL; checkpoint(done_spans) after each (and between blocks, below). Throws
// Status::InvalidArgument (a span's length or tokens, hidden_budget < 1), Status::OutOfMemory,
// Status::Cancelled.
// A resident model runs span by span. A streamed model (model.streamed()) runs block-major: as many
// spans as their hidden states (count x dim floats each) fit in hidden_budget bytes (at least one)
// go through block 0, then block 1, ..., then the head one by one, so each block is widened from
// its source once per batch rather than once per span. Both orders give bit-identical sums on the
// same MatmulPath (each pack's arithmetic is the same). Spans are packed (eval_pack_rows) the same
// way in both orders; on kReference packing changes no bit, on kBlas a span's logits differ from
// its lone pass by the SGEMMs' summation order only (forward.h set_segments). `backend` (nullptr =
// the CPU) runs the kBlas path's SGEMMs (a context's backend_of).
NllResult eval_spans(const Model &model, const std::vector<TokenSpan> &spans, int threads, Progress *progress,
                     MatmulPath path = MatmulPath::kBlas, int64_t hidden_budget = kEvalHiddenBudgetBytes,
                     backend::Backend *backend = nullptr);

// Paragraph protocol (data/models/stories260K/reference_nll_tinystories_val.txt): each paragraph
// (from split_paragraphs(), done by the caller) is encoded with BOS and without EOS, truncated to
// the model's seq_len, run with a fresh context, and tokens 1..n-1 are scored from positions
// 0..n-2. A paragraph of fewer than 2 tokens predicts nothing but still counts in `sequences`.
// mean NLL = sum / predicted tokens (a token-weighted mean, as the reference file computes it).
//   paragraphs: read during the call.
//   limit:      evaluate the first `limit` paragraphs only; 0 = all. Must be >= 0.
//   threads:    OpenMP threads of the forward pass; 0 = all cores. The result does not depend on it.
//   progress:   may be NULL; checkpoint(done_paragraphs) after each paragraph. Its total should be
//               the number of paragraphs evaluated.
// Throws vqr::Error: Status::InvalidArgument (limit < 0, threads < 0, a token outside the
// model's vocabulary: a tokenizer from another model), Status::OutOfMemory, and
// Status::Cancelled from the progress checkpoint (propagated unchanged).
NllResult eval_paragraphs(const Model &model, const Tokenizer &tokenizer, const std::vector<std::string> &paragraphs,
                          int64_t limit, int threads, Progress *progress, MatmulPath path = MatmulPath::kBlas);

// Token stream of the GPTQ protocol for one text file. The reference joins the dataset's texts
// with "\n\n" and tokenizes the result once with the slow Llama tokenizer, which adds BOS at
// position 0 of the whole document and no EOS (gptq_family.md §5). A text file given to the tool
// already is that joined document, so it is encoded once, as is (no paragraph splitting, no
// per-paragraph BOS): tokenizer.encode(text, bos=true, eos=false). As in C, the text ends at its
// first NUL byte. An empty text gives {BOS}.
std::vector<int32_t> encode_document(const Tokenizer &tokenizer, const std::string &text);

// GPTQ protocol (gptq_family.md §5): tokens are cut into n_win = floor(size / seqlen)
// non-overlapping windows [k*seqlen, (k+1)*seqlen); the tail (size mod seqlen tokens) is dropped;
// each window runs with a fresh context; in each window positions 0..seqlen-2 predict tokens
// 1..seqlen-1, so position 0's token is context only and every window contributes seqlen - 1
// predicted tokens. The reference's ppl = exp(mean over windows of the window's mean loss); as
// every window has the same count, that equals exp(sum_nll / predicted_tokens) = perplexity().
// Fewer than seqlen tokens (an empty or 1-token text included) give zero windows: a result with
// predicted_tokens = 0 (mean NaN), not an error; callers that need a number must check.
// To evaluate only the first N windows, pass the first N * seqlen tokens.
//   tokens:   read during the call (usually encode_document()).
//   seqlen:   window length, in [2, model seq_len].
//   threads:  as for eval_paragraphs. progress: may be NULL; checkpoint(done_windows) per window.
// Throws vqr::Error: Status::InvalidArgument (seqlen out of range, threads < 0, a token outside
// the vocabulary), Status::OutOfMemory, Status::Cancelled (from the progress checkpoint).
NllResult eval_gptq_protocol(const Model &model, const std::vector<int32_t> &tokens, int64_t seqlen, int threads,
                             Progress *progress, MatmulPath path = MatmulPath::kBlas);

}  // namespace vqr::model
