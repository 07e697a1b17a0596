// GGUF tokenizer metadata (gguf_vocab.h).
#include "model/gguf_vocab.h"

#include <cstdio>

#include "core/error.h"
#include "model/gguf_vocab_bpe.h"

namespace vqr::model {

namespace {

const char *const kVocabHint = "the file's tokenizer.ggml.* metadata is inconsistent; re-convert the model";
const char *const kSpace = "\xe2\x96\x81";  // U+2581, SentencePiece's word-start mark

// An optional special id: llama.cpp stores them as u32; -1 when absent.
int32_t special_id(const io::GgufFile &file, const char *key, int32_t fallback, size_t n_tokens) {
  if (!file.has(key)) return fallback;
  const uint32_t id = file.get_u32(key);
  if (id >= n_tokens)
    fail(Status::Format, file.path(), std::string(key) + " = " + std::to_string(id) + " is outside the vocabulary of " +
                                         std::to_string(n_tokens) + " tokens", kVocabHint);
  return static_cast<int32_t>(id);
}

std::string byte_piece(int b) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "<0x%02X>", b);
  return buf;
}

}  // namespace

GgufVocab read_gguf_vocab(const io::GgufFile &file) {
  GgufVocab v;
  v.model = file.get_string("tokenizer.ggml.model");
  v.tokens = file.get_strings("tokenizer.ggml.tokens");
  const size_t n = v.tokens.size();
  if (n == 0) fail(Status::Format, file.path(), "tokenizer.ggml.tokens is empty", kVocabHint);
  v.scores.assign(n, 0.0f);
  if (file.has("tokenizer.ggml.scores")) {
    v.scores = file.get_f32s("tokenizer.ggml.scores");
    if (v.scores.size() != n)
      fail(Status::Format, file.path(),
           "tokenizer.ggml.scores has " + std::to_string(v.scores.size()) + " entries for " + std::to_string(n) + " tokens",
           kVocabHint);
  }
  v.types.assign(n, TokenType::kNormal);
  if (file.has("tokenizer.ggml.token_type")) {
    const std::vector<int32_t> types = file.get_i32s("tokenizer.ggml.token_type");
    if (types.size() != n)
      fail(Status::Format, file.path(),
           "tokenizer.ggml.token_type has " + std::to_string(types.size()) + " entries for " + std::to_string(n) + " tokens",
           kVocabHint);
    for (size_t i = 0; i < n; ++i) {
      if (types[i] < 0 || types[i] > static_cast<int32_t>(TokenType::kByte))
        fail(Status::Format, file.path(),
             "token " + std::to_string(i) + " has type " + std::to_string(types[i]) + ", outside 0..6", kVocabHint);
      v.types[i] = static_cast<TokenType>(types[i]);
    }
  }
  // llama.cpp's defaults for an SPM vocabulary (llama-vocab.cpp, LLAMA_VOCAB_TYPE_SPM).
  const bool spm = v.model == "llama";
  v.bos_id = special_id(file, "tokenizer.ggml.bos_token_id", spm ? 1 : -1, n);
  v.eos_id = special_id(file, "tokenizer.ggml.eos_token_id", spm ? 2 : -1, n);
  v.unk_id = special_id(file, "tokenizer.ggml.unknown_token_id", spm ? 0 : -1, n);
  if (static_cast<size_t>(v.bos_id + 1) > n) v.bos_id = -1;  // defaults beyond a tiny vocabulary
  if (static_cast<size_t>(v.eos_id + 1) > n) v.eos_id = -1;
  v.add_space_prefix = file.get_bool("tokenizer.ggml.add_space_prefix", spm);
  return v;
}

void write_gguf_vocab(const Tokenizer &tok, io::GgufWriter *out) {
  if (tok.bpe()) return write_gguf_bpe_vocab(tok, *tok.bpe(), out);
  const int n = tok.vocab_size();
  std::vector<std::string> tokens(static_cast<size_t>(n));
  std::vector<float> scores(static_cast<size_t>(n));
  std::vector<int32_t> types(static_cast<size_t>(n));
  const bool llama2c = tok.kind() == Tokenizer::Kind::kLlama2c;
  if (llama2c) {
    // llama2.c's exporter (tokenizer.py) writes SentencePiece's pieces with U+2581 turned into " "
    // and BOS / EOS as "\n<s>\n" / "\n</s>\n"; its encoder maps byte b to id b + 3.
    bool layout = n >= 3 + 256 && tok.piece(0) == "<unk>";
    for (int b = 0; b < 256 && layout; ++b) layout = tok.piece(3 + b) == byte_piece(b);
    if (!layout)
      fail(Status::Unsupported, "tokenizer", "this llama2.c vocabulary does not have <unk>, <s>, </s> and the 256 byte pieces at ids 0..258",
           "write GGUF from the model's SentencePiece tokenizer.model instead");
  }
  for (int i = 0; i < n; ++i) {
    std::string p = tok.piece(i);
    if (llama2c) {
      if (i == 1) p = "<s>";
      else if (i == 2) p = "</s>";
      for (size_t at = p.find(' '); at != std::string::npos; at = p.find(' ', at + 3)) p.replace(at, 1, kSpace);
    }
    tokens[static_cast<size_t>(i)] = std::move(p);
    scores[static_cast<size_t>(i)] = tok.score(i);
    types[static_cast<size_t>(i)] = static_cast<int32_t>(tok.token_type(i));
  }
  out->set_string("tokenizer.ggml.model", "llama");
  out->set_string("tokenizer.ggml.pre", "default");
  out->set_strings("tokenizer.ggml.tokens", tokens);
  out->set_f32s("tokenizer.ggml.scores", scores);
  out->set_i32s("tokenizer.ggml.token_type", types);
  if (tok.bos_id() >= 0) out->set_u32("tokenizer.ggml.bos_token_id", static_cast<uint32_t>(tok.bos_id()));
  if (tok.eos_id() >= 0) out->set_u32("tokenizer.ggml.eos_token_id", static_cast<uint32_t>(tok.eos_id()));
  if (tok.unk_id() >= 0) out->set_u32("tokenizer.ggml.unknown_token_id", static_cast<uint32_t>(tok.unk_id()));
  out->set_bool("tokenizer.ggml.add_space_prefix", tok.add_space_prefix());
  out->set_bool("tokenizer.ggml.add_bos_token", true);
  out->set_bool("tokenizer.ggml.add_eos_token", false);
}

}  // namespace vqr::model
