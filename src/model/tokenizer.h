// Tokenizers behind one copyable value type. llama2.c tokenizer.bin: the file reader and the
// encoder of run.c's encode() (BOS id 1, a dummy-prefix " " token, UTF-8 code points looked up
// whole with byte fallback (byte b -> id b + 3), then greedy merging of the adjacent pair whose
// merged piece has the highest score, ties leftmost); ids match run.c exactly, the merge loop uses
// a priority queue instead of run.c's O(n^2) scan. SentencePiece tokenizer.model: libsentencepiece
// encodes; the vocabulary, BOS and EOS come from the model. GGUF (a .gguf model or vocabulary
// file, recognized by its magic): the tokenizer.ggml.* vocabulary of model "llama", encoded as
// llama.cpp's SPM tokenizer does (gguf_vocab_spm.h), or of model "gpt2", encoded as byte-level BPE
// (gguf_vocab_bpe.h). Hugging Face tokenizer.json: byte-level BPE (GPT-2, Llama 3, Qwen2 style;
// bpe_tokenizer.h, bpe_hf_json.h), encoded as the tokenizers library does.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace vqr::model {

namespace bpe {
class BpeTokenizer;
}

// Token types as GGUF's tokenizer.ggml.token_type stores them (llama.cpp's llama_token_type).
enum class TokenType : uint8_t {
  kUndefined = 0,
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,
  kUserDefined = 4,
  kUnused = 5,
  kByte = 6,
};

class Tokenizer {
 public:
  // llama2.c's BOS and EOS ids (also those of most SentencePiece models). A loaded tokenizer's own
  // ids are bos_id() and eos_id(); encode() uses those.
  static constexpr int32_t kBos = 1;
  static constexpr int32_t kEos = 2;

  enum class Kind { kLlama2c, kSentencePiece, kGguf, kBpe };

  // Reads a tokenizer file. A file starting with the GGUF magic is read as GGUF (its metadata
  // only, memory-mapped, so a whole model file is fine): tokenizer.ggml.model must be "llama" or
  // "gpt2" with a known tokenizer.ggml.pre (Status::Unsupported otherwise), and its vocabulary
  // must be consistent (Status::Format). A name ending in ".json", or a file whose first non-blank
  // byte is '{' and whose name ends in neither ".bin" nor ".model", is read as a Hugging Face tokenizer.json of a byte-level BPE model, with the
  // tokenizer_config.json beside it when there is one (bpe_hf_json.h: Status::Format for broken
  // files, Status::Unsupported for other tokenizer kinds); vocab_size > 0 must then be at least its
  // id count (Hugging Face models pad their embeddings), and the vocabulary is padded to it with
  // unused "[PAD<id>]" pieces. Otherwise two layouts:
  //  - llama2.c tokenizer.bin: int32 max_token_length, then per token {float score, int32 len,
  //    bytes}. It does not store its vocabulary size; vocab_size <= 0 reads entries to the end.
  //  - SentencePiece tokenizer.model: a serialized ModelProto (protobuf).
  // Which one, by a fixed rule: a name ending in ".bin" is tried as llama2.c first, any other
  // name as SentencePiece first; when the first reading fails the other is tried. A successful
  // SentencePiece parse settles the kind. (Real files are not ambiguous: a ModelProto's first
  // four bytes, read as max_token_length, exceed the 65536 limit, and a tokenizer.bin does not
  // parse as a protobuf.) When both fail, the error is the first reading's (".bin": the llama2.c
  // problem; ".model": the SentencePiece one; other names: both).
  // vocab_size > 0 must equal the file's vocabulary (a tokenizer of another model is refused).
  // Throws vqr::Error with "<path>: <problem>; hint: <fix>": Status::Io (cannot open or read),
  // Status::Format (neither format, truncated, wrong vocabulary size, over 256 MiB).
  static Tokenizer load(const std::string &path, int vocab_size);

  Kind kind() const { return kind_; }
  int vocab_size() const { return static_cast<int>(pieces_.size()); }
  // BOS / EOS ids: 1 and 2 for llama2.c; the model's for SentencePiece and GGUF (-1 when it has none).
  // Byte-level BPE: bos_id() is the token the model puts before a text (tokenizer_config.json's
  // add_bos_token and bos_token, else the post-processor's template; GGUF: add_bos_token with
  // bos_token_id), -1 when it puts none (GPT-2, Qwen2), so that encode(text, true, ...) does what
  // the model's own tokenizer does.
  int32_t bos_id() const { return bos_id_; }
  int32_t eos_id() const { return eos_id_; }
  // The unknown-piece id: 0 for llama2.c; the model's for SentencePiece and GGUF (-1 when none).
  int32_t unk_id() const { return unk_id_; }
  // Whether encoding puts a " " before the text (SentencePiece's add_dummy_prefix): true for
  // llama2.c; the model's normalizer setting; GGUF's tokenizer.ggml.add_space_prefix; false for
  // byte-level BPE.
  bool add_space_prefix() const { return add_space_prefix_; }

  // The piece as the file spells it: llama2.c has " " for a word start, SentencePiece and GGUF
  // "\u2581" (IdToPiece; tokenizer.ggml.tokens). Throws std::out_of_range for an id outside
  // [0, vocab_size).
  const std::string &piece(int32_t id) const { return pieces_.at(static_cast<size_t>(id)); }
  float score(int32_t id) const { return scores_.at(static_cast<size_t>(id)); }
  // The piece's type: llama2.c by position (0 unknown, 1 and 2 control, 3..258 byte when spelled
  // "<0xXX>", the rest normal); SentencePiece from the model (IsUnknown, IsControl, ...); GGUF from
  // tokenizer.ggml.token_type. Throws std::out_of_range as piece().
  TokenType token_type(int32_t id) const { return types_.at(static_cast<size_t>(id)); }
  // Id of an exact piece (spelled as piece() gives it), or -1. Duplicates: the lowest id wins,
  // except for GGUF where the highest does (llama.cpp's token_to_id map).
  int32_t lookup(const std::string &piece) const;

  // Token ids of `text`, with bos_id() first and eos_id() last when asked (and, for SentencePiece,
  // when the model defines them). The text ends at its first NUL byte, as in C. llama2.c: run.c's
  // encode(). SentencePiece: SentencePieceProcessor::Encode. GGUF: llama.cpp's SPM tokenizer
  // (llama_tokenize with parse_special = false: user-defined pieces are matched first, control
  // pieces are not). Byte-level BPE: added and special tokens written in the text are matched as
  // tokens (tokenizers' encode), invalid UTF-8 bytes are encoded as bytes (pretokenize_regex.h).
  std::vector<int32_t> encode(const std::string &text, bool bos, bool eos) const;

  // run.c decode(prev, token) for every kind: the piece with "\u2581" as " ", without its leading
  // space when prev_token is BOS, and a "<0xXX>" piece turned into the raw byte (byte 0 gives "",
  // as run.c's C string does). Control pieces come back as spelled ("<s>"; llama2.c: "\n<s>\n").
  // Byte-level BPE: the bytes the token stands for (prev_token unused), so that the decoded tokens
  // of a text concatenate to the text's bytes; added tokens come back as their content.
  std::string decode(int32_t prev_token, int32_t token) const;

  // The byte-level BPE behind a kBpe tokenizer or a GGUF "gpt2" vocabulary; null for the others.
  const bpe::BpeTokenizer *bpe() const { return bpe_.get(); }

 private:
  // Each fills *this from the file bytes, or returns false with the problem in *problem.
  bool read_llama2c(const std::string &bytes, int vocab_size, std::string *problem);
  bool read_sentencepiece(const std::string &bytes, std::string *problem);
  void read_gguf(const std::string &path, int vocab_size);
  void read_hf_json(const std::string &path, const std::string &bytes, int vocab_size);
  // Takes the pieces and types of a BPE tokenizer (padded to vocab_size with unused pieces).
  void adopt_bpe(std::shared_ptr<const bpe::BpeTokenizer> bpe, int vocab_size);

  Kind kind_ = Kind::kLlama2c;
  std::vector<std::string> pieces_;
  std::vector<float> scores_;
  std::vector<TokenType> types_;
  std::unordered_map<std::string, int32_t> index_;
  int max_token_length_ = 0;
  int32_t bos_id_ = kBos;
  int32_t eos_id_ = kEos;
  int32_t unk_id_ = 0;
  bool add_space_prefix_ = true;
  // GGUF only: the user-defined pieces, longest first (matched before the merge loop).
  std::vector<int32_t> user_defined_;
  // Null for llama2.c. Shared between copies; SentencePieceProcessor's Encode is const and safe
  // to call from several threads.
  std::shared_ptr<const sentencepiece::SentencePieceProcessor> sp_;
  // Null except for byte-level BPE; shared between copies, read only (encode is thread-safe).
  std::shared_ptr<const bpe::BpeTokenizer> bpe_;
};

}  // namespace vqr::model
