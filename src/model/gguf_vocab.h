// GGUF tokenizer metadata (tokenizer.ggml.*; llama.cpp's llama-vocab.cpp load() and gguf-py's
// add_tokenizer_* writers): reading a file's vocabulary, and writing a Tokenizer's vocabulary in
// the SentencePiece form llama.cpp calls model "llama" (byte-level BPE: "gpt2", gguf_vocab_bpe.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "io/gguf.h"
#include "model/tokenizer.h"

namespace vqr::model {

// A file's vocabulary as stored.
struct GgufVocab {
  std::string model;                // tokenizer.ggml.model: "llama", "gpt2", ...
  std::vector<std::string> tokens;  // tokenizer.ggml.tokens
  std::vector<float> scores;        // tokenizer.ggml.scores; 0 for every token when absent
  std::vector<TokenType> types;     // tokenizer.ggml.token_type; normal when absent
  // Special ids; when absent, llama.cpp's defaults for model "llama" (bos 1, eos 2, unk 0), else -1.
  int32_t bos_id = -1, eos_id = -1, unk_id = -1;
  bool add_space_prefix = true;     // tokenizer.ggml.add_space_prefix (default true for "llama")
};

// Reads tokenizer.ggml.* of `file`. Throws vqr::Error(Status::Format) "<path>: <problem>; hint: ..."
// when tokenizer.ggml.model or .tokens is missing, a key has the wrong type, scores or token types
// do not have one entry per token, a token type is outside 0..6, or a special id is outside the
// vocabulary.
GgufVocab read_gguf_vocab(const io::GgufFile &file);

// Adds tokenizer.ggml.{model = "llama", pre = "default", tokens, scores, token_type, bos_token_id,
// eos_token_id, unknown_token_id, add_space_prefix, add_bos_token = true, add_eos_token = false} for `tok` to `out`.
// Pieces are spelled as SentencePiece does ("\u2581" for a space). A llama2.c vocabulary must have
// the layout of its exporter: ids 0, 1, 2 = <unk>, <s>, </s> and 3..258 = the byte pieces
// <0x00>..<0xFF> (throws Status::Unsupported otherwise). A byte-level BPE tokenizer is written as
// model "gpt2" instead (gguf_vocab_bpe.h). `out` is not written to disk here.
void write_gguf_vocab(const Tokenizer &tok, io::GgufWriter *out);

}  // namespace vqr::model
