// GGUF vocabularies of model "gpt2" (llama.cpp's LLAMA_VOCAB_TYPE_BPE: byte-level BPE) as a
// bpe::Spec, and the other way round for writing. tokenizer.ggml.pre names the split regex, as in
// llama.cpp: "gpt-2" (also "gpt2"), "llama-bpe" (also "llama3", "llama-v3"; these take a word that
// is a token whole, as llama.cpp's ignore_merges does) and "qwen2"; other names are refused.
// Control and user-defined tokens are matched in the text as added tokens (what the Hugging Face
// tokenizer the vocabulary was converted from does). No normalizer: llama.cpp applies none, not
// even NFC for "qwen2" (whose tokenizer.json has one).
#pragma once

#include "io/gguf.h"
#include "model/bpe_tokenizer.h"
#include "model/gguf_vocab.h"

namespace vqr::model {

// The Spec of `file`'s vocabulary `v` (read_gguf_vocab's) with tokenizer.ggml.merges and .pre.
// Throws vqr::Error: Status::Format (merges missing or not "a b"), Status::Unsupported (a pre
// name with no known regex).
bpe::Spec gguf_bpe_spec(const io::GgufFile &file, const GgufVocab &v);

// Whether a GGUF file of this vocabulary puts BOS first: tokenizer.ggml.add_bos_token (default
// false, llama.cpp's for "gpt2" vocabularies other than Llama 3's).
bool gguf_bpe_adds_bos(const io::GgufFile &file);

// Adds tokenizer.ggml.{model = "gpt2", pre, tokens, token_type, merges, bos_token_id, eos_token_id,
// add_bos_token, add_eos_token = false} for a byte-level BPE `tok`. Throws
// vqr::Error(Status::Unsupported) when its split regexes are not one of llama.cpp's named ones.
void write_gguf_bpe_vocab(const Tokenizer &tok, const bpe::BpeTokenizer &bpe, io::GgufWriter *out);

}  // namespace vqr::model
