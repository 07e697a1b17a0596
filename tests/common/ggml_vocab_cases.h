// llama.cpp's tokenizer test vectors (models/ggml-vocab-*.gguf.inp and .out): the .inp file holds
// the texts, each followed by "\n__ggml_vocab_test__\n"; the .out file one line of token ids per text.
#pragma once

#include <cstdint>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace vqr_test {

struct GgmlVocabCases {
  std::vector<std::string> texts;          // the texts of .inp, in order
  std::vector<std::vector<int32_t>> ids;   // the token ids of each line of .out, in order
  size_t parsed = 0;                       // bytes of .inp read: the end of the last separator
};

// Splits the contents of a .inp file (inp) and its .out file (out). Text after the last separator
// is not a case (parsed < inp.size() then); the caller compares the two counts.
inline GgmlVocabCases parse_ggml_vocab_cases(const std::string &inp, const std::string &out) {
  const std::string sep = "\n__ggml_vocab_test__\n";
  GgmlVocabCases v;
  for (;;) {
    const size_t next = inp.find(sep, v.parsed);
    if (next == std::string::npos) break;
    v.texts.push_back(inp.substr(v.parsed, next - v.parsed));
    v.parsed = next + sep.size();
  }
  std::istringstream ls(out);
  for (std::string line; std::getline(ls, line);) {
    std::vector<int32_t> want;
    std::istringstream ids(line);
    for (int32_t id; ids >> id;) want.push_back(id);
    v.ids.push_back(std::move(want));
  }
  return v;
}

}  // namespace vqr_test
