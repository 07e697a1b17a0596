// The split step of byte-level BPE pre-tokenization (tokenizers' Split pre-tokenizer with behavior
// "Isolated"): a regex cuts a text into its matches and the gaps between them, both kept as pieces,
// empty pieces dropped. Matching is PCRE2's, in UTF mode with Unicode properties (\p{L}, \p{N},
// and \s as Unicode white space), on Oniguruma-compatible patterns such as those of GPT-2, Llama 3
// and Qwen2 below. Two deviations of PCRE2 from Oniguruma (the engine behind tokenizers) are
// corrected when compiling: \s there also matches U+0085 (NEL), so \s becomes [\s\x{85}] outside
// a class and \s\x{85} inside one (\S outside a class becomes [^\s\x{85}]).
// Invalid UTF-8 is not an error: PCRE2_MATCH_INVALID_UTF makes invalid sequences match nothing,
// so they land in the gaps and become pieces of their own (byte-level BPE encodes any bytes).
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace vqr::model::bpe {

// The patterns of the tokenizer.json files of these model families (and llama.cpp's
// tokenizer.ggml.pre names "gpt-2", "llama-bpe", "qwen2").
extern const char *const kGpt2Pattern;
extern const char *const kLlama3Pattern;
extern const char *const kQwen2Pattern;

// A half-open byte range [begin, end) of the text being split.
struct Span {
  size_t begin, end;
};

class SplitRegex {
 public:
  // Compiles `pattern` (a literal string when `literal`). Throws vqr::Error(Status::Format)
  // "<subject>: cannot compile the split pattern ..." when PCRE2 refuses it.
  SplitRegex(const std::string &pattern, bool literal, const std::string &subject);
  ~SplitRegex();
  SplitRegex(const SplitRegex &) = delete;
  SplitRegex &operator=(const SplitRegex &) = delete;

  const std::string &pattern() const { return pattern_; }

  // Appends the pieces of text[span.begin, span.end) to *out, in order, as ranges of `text`.
  // The span is the whole subject: lookarounds do not see past its ends (as in tokenizers, where
  // each earlier piece is split on its own). Safe to call from several threads at once.
  void split(const std::string &text, Span span, std::vector<Span> *out) const;
  // Whether the pattern matches text[at, end) at its start (anchored; lookarounds see text[0, end)).
  bool matches_at(const std::string &text, size_t at, size_t end) const;

 private:
  std::string pattern_;
  void *code_ = nullptr;  // pcre2_code_8; kept opaque so that users need not include pcre2.h
};

// The Oniguruma-compatible rewrite described above (exposed for the tests).
std::string oniguruma_compatible(const std::string &pattern);

}  // namespace vqr::model::bpe
