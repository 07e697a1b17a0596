// Packing (pack_gptq.h). Every width uses the same rule (pack_code_stream): code k of a sequence
// sits at bit b*k of a little-endian stream of 32-bit words. For b = 3 that reproduces AutoGPTQ's
// three-word layout (code 10 straddles words 0 and 1, code 21 words 1 and 2).
#include "quant/pack_gptq.h"

#include <string>

#include "core/dtype.h"
#include "core/error.h"

namespace vqr::quant {

int64_t packed_words(int64_t count, int bits) {
  require(bits == 2 || bits == 3 || bits == 4 || bits == 8, VQR_ERR_UNSUPPORTED,
          "GPTQ packing supports 2, 3, 4 and 8 bits, not " + std::to_string(bits));
  if (bits == 3) return 3 * ((count + 31) / 32);
  const int64_t per_word = 32 / bits;
  return (count + per_word - 1) / per_word;
}

void pack_gptq(const QuantizedLayer &q, vqr_pack_format format, int32_t *qweight, int32_t *qzeros,
               uint16_t *scales_f16, int32_t *g_idx) {
  require(format == VQR_PACK_GPTQ_V1 || format == VQR_PACK_GPTQ_V2, VQR_ERR_UNSUPPORTED,
          "unknown pack format " + std::to_string((int)format));
  const int b = q.bits;
  const int64_t m = q.rows, n = q.cols, G = q.groups;
  const int64_t wrows = packed_words(n, b), zcols = packed_words(m, b);
  const int offset = format == VQR_PACK_GPTQ_V1 ? 1 : 0;  // v1 stores zero - 1
  if (offset)
    for (int64_t i = 0; i < G * m; ++i)
      require(q.zeros[(size_t)i] >= 1.0f, VQR_ERR_UNSUPPORTED,
              "zero-point 0 (group " + std::to_string(i / m) + ", row " + std::to_string(i % m) +
                  ") cannot be stored in GPTQ v1, which stores zero - 1; use VQR_PACK_GPTQ_V2");
  const uint32_t mask = (1u << b) - 1u;

  if (qweight) {
#pragma omp parallel for schedule(static)
    for (int64_t o = 0; o < m; ++o)
      pack_code_stream(
          n, b, wrows, [&](int64_t j) { return (uint32_t)q.codes[(size_t)(o * n + j)]; },
          [&](int64_t w, uint32_t word) { qweight[w * m + o] = (int32_t)word; });
  }
  if (qzeros) {
    for (int64_t k = 0; k < G; ++k)
      pack_code_stream(
          m, b, zcols, [&](int64_t o) { return ((uint32_t)q.zeros[(size_t)(k * m + o)] - (uint32_t)offset) & mask; },
          [&](int64_t w, uint32_t word) { qzeros[k * zcols + w] = (int32_t)word; });
  }
  if (scales_f16)
    for (int64_t i = 0; i < G * m; ++i) scales_f16[i] = f32_to_f16(q.scales[(size_t)i]);
  if (g_idx)
    for (int64_t j = 0; j < n; ++j) g_idx[j] = q.g_idx[(size_t)j];
}

}  // namespace vqr::quant
