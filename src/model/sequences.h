// Token sequences for calibration and evaluation (vqr_sequences, vqr_model_quantize's and
// vqr_model_eval_nll's input): the three sampling protocols of spec gptq_family §5 over text or
// ids, and the flat tokens + lengths layout the C API passes sequences in. The window cutting
// itself is text_corpus.h's; this file chooses among the protocols and checks their arguments.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/sampling.h"
#include "model/tokenizer.h"

namespace vqr::model {

using Sequences = std::vector<std::vector<int32_t>>;

// Sequences laid out flat: all tokens concatenated, one length per sequence.
struct PackedSequences {
  std::vector<int32_t> tokens;
  std::vector<int64_t> lengths;
};

PackedSequences pack_sequences(const Sequences &seqs);

// Splits a flat token array into `count` sequences of lengths[i] tokens, each 1..seq_len (the
// model's context). Throws Error(Status::InvalidArgument): count < 1, a NULL array, a length
// outside 1..seq_len (the message names the sequence).
Sequences split_sequences(const int32_t *tokens, const int64_t *lengths, int64_t count, int64_t seq_len);

// One sampling request, checked against the model's context by sampling_request().
struct SamplingRequest {
  Sampling sampling = Sampling::Paragraphs;
  int64_t count = 0;   // sequences to keep (0 = all; >= 1 for random windows)
  int64_t length = 0;  // tokens per sequence, resolved (never 0)
  uint64_t seed = 0;   // random windows only
};

// Checks count and length (0..seq_len; 0 = min(2048, seq_len)) and resolves the length.
// `sampling` must already be one of the three protocols. Throws Error(Status::OutOfRange).
// The most sequences one request may ask for (2^24, vqr_sequences_from_text's documented bound).
constexpr int64_t kMaxSequenceCount = int64_t(1) << 24;

SamplingRequest sampling_request(Sampling sampling, int64_t count, int64_t length, uint64_t seed,
                                 int64_t seq_len);

// Sequences of a text. Paragraphs: each paragraph with its BOS, truncated. Windows (evaluation):
// the document encoded once, BOS at its start, cut into consecutive windows. Random windows
// (calibration): the paragraphs encoded each with its BOS, concatenated, sampled by seed.
Sequences sample_text(const Tokenizer &tokenizer, const std::string &text, const SamplingRequest &r);

// Sequences of pre-tokenized ids (windows or random windows; ids carry no paragraph boundaries).
// Throws Error(Status::InvalidArgument): paragraphs requested, an id outside [0, vocab_size).
Sequences sample_ids(const std::vector<int32_t> &ids, int vocab_size, const SamplingRequest &r);

}  // namespace vqr::model
