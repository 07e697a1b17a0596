// Internal: llama.cpp's SentencePiece-style ("llama" / SPM) tokenizer over a GGUF vocabulary, as
// llama_tokenize(..., add_special = false, parse_special = false) runs it (src/llama-vocab.cpp):
//  1. user-defined pieces are cut out of the text first, longest piece first, leftmost matches;
//  2. every remaining fragment gets a " " prefix when add_space_prefix is set and it is the first
//     fragment or follows a cut-out piece, and its spaces become U+2581;
//  3. the fragment is split into UTF-8 characters (a lead byte's length, cut at the end), and the
//     adjacent pair whose concatenation is a piece with the highest score is merged, repeatedly,
//     ties to the leftmost pair (a max-heap keyed by score, then position);
//  4. each final symbol is its piece's id; a symbol that is no piece (a character outside the
//     vocabulary; merged symbols always are pieces) becomes one "<0xXX>" piece per byte, else the
//     one-byte piece, else the unknown id.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace vqr::model::gguf_spm {

// Views of the tokenizer's vocabulary (owned by the caller, read only).
struct Vocab {
  const std::vector<std::string> &pieces;
  const std::vector<float> &scores;
  const std::unordered_map<std::string, int32_t> &index;  // piece -> id
  const std::vector<int32_t> &user_defined;               // ids of user-defined pieces, longest first
  bool add_space_prefix;
  int32_t unk_id;  // -1: a byte without a piece is dropped
};

// Appends the ids of `text` (read) to *out.
void encode(const Vocab &vocab, const std::string &text, std::vector<int32_t> *out);

}  // namespace vqr::model::gguf_spm
