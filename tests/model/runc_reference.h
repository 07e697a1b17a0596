// Test oracles transcribed from llama2.c run.c (karpathy/llama2.c @ 350e04fe): the O(n^2) encode()
// and the safe_printf() filter. The library's encoder uses a heap; these stay literal on purpose.
#pragma once

#include <cctype>
#include <cstdint>
#include <string>
#include <vector>

#include "model/tokenizer.h"

namespace vqr_test {

inline std::vector<int32_t> runc_encode(const vqr::model::Tokenizer &t, const std::string &input, bool bos,
                                        bool eos) {
  const std::string text(input.c_str());
  std::vector<int32_t> tokens;
  if (bos) tokens.push_back(1);
  if (!text.empty()) tokens.push_back(t.lookup(" "));
  std::string buf;
  for (size_t c = 0; c < text.size(); ++c) {
    if ((static_cast<unsigned char>(text[c]) & 0xC0) != 0x80) buf.clear();
    buf.push_back(text[c]);
    const unsigned char next = c + 1 < text.size() ? static_cast<unsigned char>(text[c + 1]) : 0;
    if ((next & 0xC0) == 0x80 && buf.size() < 4) continue;
    const int32_t id = t.lookup(buf);
    if (id != -1) {
      tokens.push_back(id);
    } else {
      for (unsigned char b : buf) tokens.push_back(b + 3);
    }
    buf.clear();
  }
  while (true) {
    float best_score = -1e10f;
    int best_id = -1, best_idx = -1;
    for (size_t i = 0; i + 1 < tokens.size(); ++i) {
      const int id = t.lookup(t.piece(tokens[i]) + t.piece(tokens[i + 1]));
      if (id != -1 && t.score(id) > best_score) {
        best_score = t.score(id);
        best_id = id;
        best_idx = static_cast<int>(i);
      }
    }
    if (best_idx == -1) break;
    tokens[static_cast<size_t>(best_idx)] = best_id;
    tokens.erase(tokens.begin() + best_idx + 1);
  }
  if (eos) tokens.push_back(2);
  return tokens;
}

// What run.c's safe_printf prints for a decoded piece.
inline std::string runc_printable(const std::string &piece) {
  if (piece.empty()) return "";
  if (piece.size() == 1) {
    const unsigned char b = static_cast<unsigned char>(piece[0]);
    if (!(std::isprint(b) || std::isspace(b))) return "";
  }
  return piece;
}

}  // namespace vqr_test
