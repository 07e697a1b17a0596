// Text handling shared by evaluation and calibration: reading a text file, splitting it into
// paragraphs, and cutting tokenized paragraphs into calibration windows.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/tokenizer.h"

namespace vqr::model {

// Whole file as bytes. Throws vqr::Error(Status::Io) "<path>: <problem>; hint: <fix>".
std::string read_text_file(const std::string &path);

// Splits on every "\n\n" and drops empty pieces (the protocol of the reference NLL files; a
// piece may still start or end with a single '\n').
std::vector<std::string> split_paragraphs(const std::string &text);

// Calibration stream: paragraphs encoded with BOS (run.c encode, no EOS) and concatenated until
// max_tokens tokens are collected (the last paragraph is cut), then cut into consecutive windows
// of `window` tokens (the last one may be shorter). Each window is meant to be run with a fresh
// context. max_tokens >= 1, window >= 1.
std::vector<std::vector<int32_t>> calibration_windows(const Tokenizer &tokenizer,
                                                      const std::vector<std::string> &paragraphs,
                                                      int64_t max_tokens, int64_t window);

// The GPTQ calibration protocol (spec gptq_family §5): `count` windows of `length` tokens, each
// starting at a position drawn uniformly from [0, tokens.size() - length] by a seeded generator
// (windows may overlap). A stream no longer than `length` gives one window: the whole stream.
// Throws vqr::Error(Status::InvalidArgument) for an empty stream or count/length < 1.
std::vector<std::vector<int32_t>> random_windows(const std::vector<int32_t> &tokens, int64_t count, int64_t length,
                                                 uint64_t seed);

// The paragraph protocol's sequences: the first `count` paragraphs (0 = all), each encoded with
// BOS and without EOS and truncated to `length` tokens (length >= 1).
std::vector<std::vector<int32_t>> paragraph_sequences(const Tokenizer &tokenizer,
                                                      const std::vector<std::string> &paragraphs, int64_t count,
                                                      int64_t length);

// The GPTQ evaluation protocol's windows: floor(size / length) consecutive, non-overlapping
// windows of `length` tokens, the tail dropped; the first `count` of them (0 = all).
std::vector<std::vector<int32_t>> consecutive_windows(const std::vector<int32_t> &tokens, int64_t count,
                                                      int64_t length);

// The whole text as one stream: paragraphs encoded with BOS (run.c encode, no EOS), concatenated.
std::vector<int32_t> encode_paragraphs(const Tokenizer &tokenizer, const std::vector<std::string> &paragraphs);

}  // namespace vqr::model
