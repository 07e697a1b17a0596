// GGUF "gpt2" vocabularies as byte-level BPE (gguf_vocab_bpe.h).
#include "model/gguf_vocab_bpe.h"

#include "core/error.h"

namespace vqr::model {

namespace {

struct PreName {
  const char *name;
  const char *const *pattern;
  bool ignore_merges;
};
// The first name of each pattern is the one written.
const PreName kPreNames[] = {
    {"gpt-2", &bpe::kGpt2Pattern, false},       {"gpt2", &bpe::kGpt2Pattern, false},
    {"llama-bpe", &bpe::kLlama3Pattern, true},  {"llama3", &bpe::kLlama3Pattern, true},
    {"llama-v3", &bpe::kLlama3Pattern, true},   {"qwen2", &bpe::kQwen2Pattern, false},
};

}  // namespace

bpe::Spec gguf_bpe_spec(const io::GgufFile &file, const GgufVocab &v) {
  bpe::Spec spec;
  const std::string pre = file.get_string("tokenizer.ggml.pre", "default");
  const PreName *known = nullptr;
  for (const PreName &p : kPreNames)
    if (pre == p.name) known = &p;
  if (!known)
    fail(Status::Unsupported, file.path(),
         "tokenizer.ggml.pre is \"" + pre + "\"; the BPE split regexes known here are \"gpt-2\", \"llama-bpe\" and \"qwen2\"",
         "pass the model's Hugging Face tokenizer.json with --tokenizer, or pre-tokenized ids");
  spec.split_patterns.push_back(*known->pattern);
  spec.split_literal.push_back(false);
  spec.ignore_merges = known->ignore_merges;
  spec.pieces = v.tokens;
  for (size_t i = 0; i < v.tokens.size(); ++i)
    if (v.types[i] == TokenType::kControl || v.types[i] == TokenType::kUserDefined) {
      bpe::AddedToken a;
      a.id = static_cast<int32_t>(i);
      a.content = v.tokens[i];
      a.special = v.types[i] == TokenType::kControl;
      if (!a.content.empty()) spec.added.push_back(std::move(a));
    }
  spec.unk_id = v.unk_id;
  const std::vector<std::string> merges = file.get_strings("tokenizer.ggml.merges");
  spec.merges.reserve(merges.size());
  for (size_t r = 0; r < merges.size(); ++r) {
    const std::string &s = merges[r];
    const size_t sp = s.find(' ', 1);  // llama.cpp splits at the first space after the first byte
    if (sp == std::string::npos || sp + 1 >= s.size())
      fail(Status::Format, file.path(), "tokenizer.ggml.merges[" + std::to_string(r) + "] \"" + s + "\" is not two pieces separated by a space",
           "the file's tokenizer.ggml.* metadata is inconsistent; re-convert the model");
    spec.merges.emplace_back(s.substr(0, sp), s.substr(sp + 1));
  }
  return spec;
}

bool gguf_bpe_adds_bos(const io::GgufFile &file) { return file.get_bool("tokenizer.ggml.add_bos_token", false); }

void write_gguf_bpe_vocab(const Tokenizer &tok, const bpe::BpeTokenizer &bpe, io::GgufWriter *out) {
  const bpe::Spec &spec = bpe.spec();
  const char *pre = nullptr;
  if (spec.split_patterns.size() == 1 && !spec.split_literal[0] && !spec.byte_level_regex)
    for (const PreName &p : kPreNames)
      if (!pre && spec.split_patterns[0] == *p.pattern) pre = p.name;
  if (spec.split_patterns.empty() && spec.byte_level_regex) pre = "gpt-2";
  if (!pre || spec.add_prefix_space)
    fail(Status::Unsupported, "tokenizer",
         "this BPE tokenizer's pre-tokenizer has no llama.cpp name (GPT-2, Llama 3 and Qwen2's split regexes do)",
         "export to a Hugging Face folder instead, which keeps tokenizer.json");
  const int n = tok.vocab_size();
  std::vector<std::string> tokens(static_cast<size_t>(n));
  std::vector<int32_t> types(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    tokens[static_cast<size_t>(i)] = tok.piece(i);
    types[static_cast<size_t>(i)] = static_cast<int32_t>(tok.token_type(i));
  }
  std::vector<std::string> merges;
  merges.reserve(spec.merges.size());
  for (const auto &[a, b] : spec.merges) merges.push_back(a + " " + b);
  out->set_string("tokenizer.ggml.model", "gpt2");
  out->set_string("tokenizer.ggml.pre", pre);
  out->set_strings("tokenizer.ggml.tokens", tokens);
  out->set_i32s("tokenizer.ggml.token_type", types);
  out->set_strings("tokenizer.ggml.merges", merges);
  if (tok.bos_id() >= 0) out->set_u32("tokenizer.ggml.bos_token_id", static_cast<uint32_t>(tok.bos_id()));
  if (tok.eos_id() >= 0) out->set_u32("tokenizer.ggml.eos_token_id", static_cast<uint32_t>(tok.eos_id()));
  out->set_bool("tokenizer.ggml.add_bos_token", tok.bos_id() >= 0);
  out->set_bool("tokenizer.ggml.add_eos_token", false);
}

}  // namespace vqr::model
