// GPTQ checkpoint packing (spec gptq §1.7, spec api_formats §4.2): qweight (codes along the input
// dimension), qzeros (zero-points along the output dimension; v1 stores zero - 1), fp16 scales,
// g_idx. The bit-stream rule is shared with compressed-tensors (pack_compressed.h).
#pragma once

#include <cstdint>

#include "quant/quantized_layer.h"

namespace vqr::quant {

// Words needed for `count` b-bit codes: ceil(count * b / 32) for b in {2, 4, 8}, 3 ceil(count / 32)
// for b = 3 (32 codes per 3 words). Throws Error(VQR_ERR_UNSUPPORTED) for other widths.
int64_t packed_words(int64_t count, int bits);

// The one packing rule of both formats: code i of a sequence sits at bit b*i of a little-endian
// stream of 32-bit words (lowest bits first; for b = 3 a code may straddle two words, which is
// AutoGPTQ's three-word layout). code(i) for i < count must be < 2^bits; put(w, word) receives
// words 0 .. words-1 in order, the tail zero-padded.
template <class CodeAt, class Put>
void pack_code_stream(int64_t count, int bits, int64_t words, CodeAt code, Put put) {
  uint64_t acc = 0;
  int filled = 0;
  int64_t w = 0;
  for (int64_t i = 0; i < count; ++i) {
    acc |= (uint64_t)code(i) << filled;
    filled += bits;
    if (filled >= 32) {
      put(w++, (uint32_t)acc);
      acc >>= 32;
      filled -= 32;
    }
  }
  if (filled > 0) put(w++, (uint32_t)acc);
  while (w < words) put(w++, 0u);
}

// format: VQR_PACK_GPTQ_V1 or _V2. Any output may be NULL. Validates everything before writing:
// Throws Error(VQR_ERR_UNSUPPORTED) for an unknown format, a width packed_words refuses, or (v1)
// a zero-point of 0, which v1's zero - 1 cannot hold.
//   qweight:    packed_words(n, b) x m, row-major (written)
//   qzeros:     G x packed_words(m, b) (written)
//   scales_f16: G x m, fp16 rounded to nearest even (written)
//   g_idx:      n (written)
void pack_gptq(const QuantizedLayer &q, vqr_pack_format format, int32_t *qweight, int32_t *qzeros,
               uint16_t *scales_f16, int32_t *g_idx);

}  // namespace vqr::quant
