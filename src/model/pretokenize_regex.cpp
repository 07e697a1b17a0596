// The regex split of BPE pre-tokenization through PCRE2 (pretokenize_regex.h).
#include "model/pretokenize_regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <memory>
#include <new>

#include "core/error.h"

namespace vqr::model::bpe {

// Written from the pre_tokenizer entries of the models' tokenizer.json files.
const char *const kGpt2Pattern = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
const char *const kLlama3Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const char *const kQwen2Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

std::string oniguruma_compatible(const std::string &pattern) {
  std::string out;
  out.reserve(pattern.size() + 16);
  bool in_class = false;
  for (size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '\\' && i + 1 < pattern.size()) {
      const char e = pattern[++i];
      if (e == 's') out += in_class ? "\\s\\x{85}" : "[\\s\\x{85}]";
      else if (e == 'S' && !in_class) out += "[^\\s\\x{85}]";
      else (out += '\\') += e;  // any other escape (\S inside a class stays: rare, and PCRE2's)
      continue;
    }
    // A ']' right after '[' or '[^' is a literal member, not the class's end.
    if (!in_class && c == '[') {
      in_class = true;
      out += c;
      if (i + 1 < pattern.size() && pattern[i + 1] == '^') out += pattern[++i];
      if (i + 1 < pattern.size() && pattern[i + 1] == ']') out += pattern[++i];
      continue;
    }
    if (in_class && c == ']') in_class = false;
    out += c;
  }
  return out;
}

SplitRegex::SplitRegex(const std::string &pattern, bool literal, const std::string &subject) : pattern_(pattern) {
  const std::string compiled = literal ? pattern : oniguruma_compatible(pattern);
  uint32_t options = PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF;
  if (literal) options = PCRE2_LITERAL | PCRE2_UTF | PCRE2_MATCH_INVALID_UTF;
  int err = 0;
  PCRE2_SIZE err_at = 0;
  pcre2_code *code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(compiled.data()), compiled.size(), options, &err,
                                   &err_at, nullptr);
  if (!code) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(err, msg, sizeof msg);
    fail(Status::Format, subject,
         "cannot compile the split pattern \"" + pattern + "\" at offset " + std::to_string(err_at) + ": " +
             reinterpret_cast<const char *>(msg),
         "the pre-tokenizer's regex must be one PCRE2 accepts (Oniguruma syntax mostly is)");
  }
  // JIT makes matching several times faster; without it (no JIT on this CPU) the interpreter runs.
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
  code_ = code;
}

SplitRegex::~SplitRegex() { pcre2_code_free(static_cast<pcre2_code *>(code_)); }

void SplitRegex::split(const std::string &text, Span span, std::vector<Span> *out) const {
  pcre2_code *code = static_cast<pcre2_code *>(code_);
  // Match data per call: one object may be used by several threads at once.
  std::unique_ptr<pcre2_match_data, void (*)(pcre2_match_data *)> owned(
      pcre2_match_data_create_from_pattern(code, nullptr), pcre2_match_data_free);
  pcre2_match_data *md = owned.get();
  if (!md) throw std::bad_alloc();
  const auto *subject = reinterpret_cast<PCRE2_SPTR>(text.data() + span.begin);
  const size_t n = span.end - span.begin;
  size_t at = 0, gap = 0;  // next search offset; start of the unmatched text before it
  while (at < n) {
    const int rc = pcre2_match(code, subject, n, at, 0, md, nullptr);
    if (rc < 0) break;  // PCRE2_ERROR_NOMATCH (or a resource limit: the rest is one piece)
    const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
    const size_t mb = ov[0], me = ov[1];
    if (me == mb) {  // an empty match cuts nothing; step over one character (or invalid byte)
      at = mb + 1;
      while (at < n && (static_cast<unsigned char>(subject[at]) & 0xC0) == 0x80) ++at;
      continue;
    }
    if (mb > gap) out->push_back({span.begin + gap, span.begin + mb});
    out->push_back({span.begin + mb, span.begin + me});
    gap = at = me;
  }
  if (n > gap) out->push_back({span.begin + gap, span.end});
}

bool SplitRegex::matches_at(const std::string &text, size_t at, size_t end) const {
  pcre2_code *code = static_cast<pcre2_code *>(code_);
  std::unique_ptr<pcre2_match_data, void (*)(pcre2_match_data *)> md(pcre2_match_data_create_from_pattern(code, nullptr),
                                                                     pcre2_match_data_free);
  if (!md) throw std::bad_alloc();
  return pcre2_match(code, reinterpret_cast<PCRE2_SPTR>(text.data()), end, at, PCRE2_ANCHORED, md.get(), nullptr) >= 0;
}

}  // namespace vqr::model::bpe
