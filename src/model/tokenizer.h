// llama2.c tokenizer.bin reader and the encoder of run.c's encode(): BOS id 1, a dummy-prefix
// " " token, UTF-8 code points looked up whole with byte fallback (byte b -> id b + 3), then
// greedy merging of the adjacent pair whose merged piece has the highest score (ties: leftmost).
// Ids match run.c exactly; the merge loop uses a priority queue instead of run.c's O(n^2) scan.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace vqr::model {

class Tokenizer {
 public:
  static constexpr int32_t kBos = 1;  // llama2.c / SentencePiece convention
  static constexpr int32_t kEos = 2;

  // Reads tokenizer.bin: int32 max_token_length, then per token {float score, int32 len, bytes}.
  // The file does not store its vocabulary size, so it comes from the model; vocab_size <= 0
  // reads entries until the end of the file. Throws vqr::Error (VQR_ERR_IO, VQR_ERR_CORRUPT) with
  // "<path>: <problem>; hint: <fix>", e.g. when the file holds fewer or more entries than the
  // model's vocabulary (a tokenizer from another model).
  static Tokenizer load(const std::string &path, int vocab_size);

  int vocab_size() const { return static_cast<int>(pieces_.size()); }
  const std::string &piece(int32_t id) const { return pieces_.at(static_cast<size_t>(id)); }
  float score(int32_t id) const { return scores_.at(static_cast<size_t>(id)); }
  // Id of an exact piece, or -1. With duplicate pieces the lowest id wins.
  int32_t lookup(const std::string &piece) const;

  // run.c encode(text, bos, eos). The text ends at its first NUL byte, as in C.
  std::vector<int32_t> encode(const std::string &text, bool bos, bool eos) const;

  // run.c decode(prev, token): the piece, without its leading space after BOS, with "<0xXX>"
  // pieces turned into the raw byte.
  std::string decode(int32_t prev_token, int32_t token) const;

 private:
  std::vector<std::string> pieces_;
  std::vector<float> scores_;
  std::unordered_map<std::string, int32_t> index_;
  int max_token_length_ = 0;
};

}  // namespace vqr::model
