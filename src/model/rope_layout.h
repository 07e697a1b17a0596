// Row permutations between the two RoPE layouts of q/k projections (model.h RopeLayout): per head
// of size HS, interleaved row 2j + p (p = 0, 1) is half-layout row p * HS/2 + j. transformers'
// convert_llama_weights_to_hf.py applies the forward direction to Meta/llama2.c weights.
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

namespace vqr::model {

// The row map of the reordering: destination row r (of heads * HS rows) takes source row
// map[r]. One map serves dense rows (permute_rope_rows), packed codes and GGUF blocks alike.
inline std::vector<int64_t> rope_row_sources(int64_t heads, int64_t HS, bool to_half) {
  std::vector<int64_t> map(static_cast<size_t>(heads * HS));
  for (int64_t h = 0; h < heads; ++h)
    for (int64_t j = 0; j < HS / 2; ++j)
      for (int64_t p = 0; p < 2; ++p) {
        const int64_t interleaved = h * HS + 2 * j + p, half = h * HS + p * (HS / 2) + j;
        map[static_cast<size_t>(to_half ? half : interleaved)] = to_half ? interleaved : half;
      }
  return map;
}

// Rows of w (heads * HS rows of `cols` floats) reordered from one layout to the other.
inline std::vector<float> permute_rope_rows(const float *w, int64_t heads, int64_t HS, int64_t cols, bool to_half) {
  const std::vector<int64_t> src = rope_row_sources(heads, HS, to_half);
  std::vector<float> out(static_cast<size_t>(heads * HS * cols));
  for (size_t r = 0; r < src.size(); ++r)
    std::memcpy(&out[r * static_cast<size_t>(cols)], w + src[r] * cols, static_cast<size_t>(cols) * sizeof(float));
  return out;
}

}  // namespace vqr::model
