// compressed-tensors pack-quantized packing (pack_compressed.h). The bit order is the one GPTQ
// uses (pack_code_stream): for 4 and 8 bits the codes of a row are weight_packed's words, lowest
// bits first, so weight_packed is the transpose of a symmetric GPTQ qweight.
#include "quant/pack_compressed.h"

#include <string>

#include "core/dtype.h"
#include "core/error.h"
#include "quant/pack_gptq.h"

namespace vqr::quant {

bool compressed_supports_bits(int bits) { return bits == 4 || bits == 8; }

int64_t compressed_words(int64_t count, int bits) {
  require(compressed_supports_bits(bits), VQR_ERR_UNSUPPORTED,
          "compressed-tensors pack-quantized holds 4- and 8-bit codes, not " + std::to_string(bits) +
              "-bit; hint: write the gptq format for 2- and 3-bit layers");
  const int64_t per_word = 32 / bits;
  return (count + per_word - 1) / per_word;
}

void pack_compressed(const QuantizedLayer &q, bool bf16_scales, int32_t *weight_packed, int32_t *zero_point,
                     uint16_t *scales, int32_t *g_idx) {
  const int b = q.bits;
  const int64_t m = q.rows, n = q.cols, G = q.groups;
  const int64_t wcols = compressed_words(n, b), zrows = compressed_words(m, b);
  const float maxq = (float)((1 << b) - 1);
  for (int64_t i = 0; i < G * m; ++i) {
    const float z = q.zeros[(size_t)i];
    require(z >= 0.0f && z <= maxq && z == (float)(int)z, VQR_ERR_INVALID_ARGUMENT,
            "zero-point " + std::to_string(z) + " (group " + std::to_string(i / m) + ", row " + std::to_string(i % m) +
                ") is not an integer in [0, " + std::to_string((int)maxq) + "]");
  }
  if (weight_packed)
    for (int64_t o = 0; o < m; ++o)
      pack_code_stream(
          n, b, wcols, [&](int64_t j) { return (uint32_t)q.codes[(size_t)(o * n + j)]; },
          [&](int64_t w, uint32_t word) { weight_packed[o * wcols + w] = (int32_t)word; });
  if (zero_point)
    for (int64_t k = 0; k < G; ++k)
      pack_code_stream(
          m, b, zrows, [&](int64_t o) { return (uint32_t)q.zeros[(size_t)(k * m + o)]; },
          [&](int64_t w, uint32_t word) { zero_point[w * G + k] = (int32_t)word; });
  if (scales)
    for (int64_t o = 0; o < m; ++o)
      for (int64_t k = 0; k < G; ++k) {
        const float s = q.scales[(size_t)(k * m + o)];
        scales[o * G + k] = bf16_scales ? f32_to_bf16(s) : f32_to_f16(s);
      }
  if (g_idx)
    for (int64_t j = 0; j < n; ++j) g_idx[j] = q.g_idx[(size_t)j];
}

}  // namespace vqr::quant
