// Row permutations between the two RoPE layouts of q/k projections (model.h RopeLayout): per head
// of size HS, interleaved row 2j + p (p = 0, 1) is half-layout row p * HS/2 + j. transformers'
// convert_llama_weights_to_hf.py applies the forward direction to Meta/llama2.c weights.
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

namespace vqr::model {

// Rows of w (heads * HS rows of `cols` floats) reordered from one layout to the other.
inline std::vector<float> permute_rope_rows(const float *w, int64_t heads, int64_t HS, int64_t cols, bool to_half) {
  std::vector<float> out(static_cast<size_t>(heads * HS * cols));
  for (int64_t h = 0; h < heads; ++h)
    for (int64_t j = 0; j < HS / 2; ++j)
      for (int64_t p = 0; p < 2; ++p) {
        const int64_t interleaved = h * HS + 2 * j + p, half = h * HS + p * (HS / 2) + j;
        const int64_t from = to_half ? interleaved : half, to = to_half ? half : interleaved;
        std::memcpy(&out[static_cast<size_t>(to * cols)], w + from * cols, static_cast<size_t>(cols) * sizeof(float));
      }
  return out;
}

}  // namespace vqr::model
