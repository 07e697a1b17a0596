// Byte-level BPE encoding as Hugging Face tokenizers runs it for GPT-2, Llama 3 and Qwen2 style
// tokenizer.json files (and llama.cpp for GGUF vocabularies of model "gpt2"):
//  1. added tokens are cut out of the text first, leftmost-longest, and become their own ids
//     (lstrip / rstrip absorb the white space beside a match; single_word needs no letter or digit
//     beside it);
//  2. each remaining segment is normalized to NFC when the tokenizer says so (bpe_nfc.h), then
//     split by the pre-tokenizer's regexes in turn (pretokenize_regex.h); then, for a ByteLevel
//     pre-tokenizer with add_prefix_space, each piece not starting with " " gets one, and with
//     use_regex the GPT-2 pattern splits again;
//  3. each piece ("word") is looked up whole when ignore_merges is set, else starts as one symbol
//     per byte (the byte's single-character piece) and goes through the merge loop (bpe_merge.h).
// Everything works on raw bytes; byte_level.h's spelling only matters when reading vocabularies.
// Not supported (the loaders refuse them): dropout, continuing_subword_prefix, end_of_word_suffix,
// byte_fallback, Split behaviors other than Isolated, inverted splits, normalizers other than NFC.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "model/bpe_merge.h"
#include "model/pretokenize_regex.h"

namespace vqr::model::bpe {

struct AddedToken {
  int32_t id = -1;
  std::string content;
  bool special = false;  // a control token (decoded as spelled; GGUF type control)
  bool lstrip = false, rstrip = false, single_word = false;
};

// A tokenizer's definition as plain data, what the loaders (bpe_hf_json.h, gguf_vocab_bpe.h) fill.
struct Spec {
  std::vector<std::string> pieces;  // by id, byte-level spelled ("Ġthe"); "" where no piece has the id
  std::vector<std::pair<std::string, std::string>> merges;  // spelled, by rank
  std::vector<AddedToken> added;
  std::vector<std::string> split_patterns;  // tokenizers' Split steps before ByteLevel, in order
  std::vector<bool> split_literal;          // per pattern: a {"String": ...} pattern
  bool add_prefix_space = false;            // ByteLevel's
  bool byte_level_regex = false;            // ByteLevel's use_regex: the GPT-2 pattern splits last
  bool ignore_merges = false;               // a word that is a piece is taken whole (Llama 3)
  bool nfc = false;                         // the NFC normalizer (Qwen2)
  int32_t unk_id = -1;                      // a byte without a piece: this id, or dropped when -1
};

class BpeTokenizer {
 public:
  // Checks and indexes `spec`: every merge's parts and result must be pieces (Status::Format
  // naming the merge's line, as tokenizers refuses such files), added ids inside the id range.
  // `subject` names the file in messages.
  BpeTokenizer(Spec spec, const std::string &subject);

  const Spec &spec() const { return spec_; }
  int32_t id_count() const { return static_cast<int32_t>(spec_.pieces.size()); }

  // Appends the ids of `text` (read; any bytes, invalid UTF-8 included) to *out.
  void encode(const std::string &text, std::vector<int32_t> *out) const;
  // Appends the ids of one pre-tokenized word (steps 3 above).
  void encode_word(const char *word, size_t n, std::vector<int32_t> *out) const;
  // The bytes id `id` stands for: tokenizers' ByteLevel decoder per token (the spelled piece
  // turned back into bytes when every character is in the byte alphabet, else the piece's own
  // UTF-8, which is how added tokens such as "<|im_start|>" come back). "" outside the range.
  const std::string &bytes_of(int32_t id) const;

 private:
  void split_added(const std::string &text, std::vector<Span> *segments, std::vector<int32_t> *added_ids) const;
  void encode_segment(const std::string &text, Span seg, std::vector<int32_t> *out) const;
  void encode_normalized(const std::string &text, Span seg, std::vector<int32_t> *out) const;

  Spec spec_;
  MergeTable merges_;
  int32_t byte_ids_[256];                                  // the single-byte pieces
  std::unordered_map<std::string, int32_t> word_ids_;      // raw bytes -> id (ignore_merges)
  std::vector<std::string> bytes_;                         // per id, for decoding
  std::vector<std::vector<size_t>> added_by_first_byte_;   // indices into spec_.added, longest first
  std::vector<std::unique_ptr<SplitRegex>> splits_;        // compiled split_patterns (+ GPT-2's)
  size_t prefix_space_at_ = 0;                             // splits_[0, this) run before the prefix space
  std::unique_ptr<SplitRegex> word_char_;                  // [\p{L}\p{N}], for single_word added tokens
};

}  // namespace vqr::model::bpe
