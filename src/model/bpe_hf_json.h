// Hugging Face tokenizer.json (with tokenizer_config.json beside it) read as a byte-level BPE
// tokenizer (bpe_tokenizer.h). Accepted: model type "BPE"; normalizer none or NFC (alone or in a
// Sequence); pre-tokenizer ByteLevel, or a Sequence of Split steps (a Regex or String
// pattern, behavior "Isolated", not inverted) ending in ByteLevel; added tokens; any post-processor
// and decoder (only the BOS rule below is taken from them).
// The BOS a model puts before a text: tokenizer_config.json's add_bos_token with its bos_token when
// it says; otherwise the post-processor's TemplateProcessing, when its "single" template puts
// exactly one special token before $A; otherwise none. EOS: tokenizer_config.json's eos_token,
// else the template's one special token after $A, else none.
#pragma once

#include <cstdint>
#include <string>

#include "model/bpe_tokenizer.h"

namespace vqr::model::bpe {

struct HfBpe {
  Spec spec;
  int32_t bos_id = -1;  // the id put first (-1: the model puts none)
  int32_t eos_id = -1;
};

// Reads `json_text` (the content of `path`) and, when `config_text` is not empty, the content of
// its tokenizer_config.json. Throws vqr::Error "<path>: <problem>; hint: <fix>": Status::Format
// (not JSON, a missing or mistyped field, ids that collide or do not fit), Status::Unsupported (a
// valid tokenizer.json of another kind: WordPiece, Unigram, a Metaspace BPE such as Llama 2's,
// dropout, an unsupported normalizer or pre-tokenizer step).
// The tokenizer_config.json beside a tokenizer.json (its BOS/EOS rules live there).
std::string tokenizer_config_beside(const std::string &tokenizer_json_path);

HfBpe parse_hf_bpe(const std::string &json_text, const std::string &config_text, const std::string &path);

// Whether parse_hf_bpe reads `json_text` without an error (a byte-level BPE of a supported shape).
// Never throws for bad input (false).
bool is_byte_level_bpe(const std::string &json_text);

}  // namespace vqr::model::bpe
