// GPTQ's packed tensors of one quantized linear (spec gptq §1.7, spec api_formats §4.2), packing
// and unpacking side by side: qweight (codes along the input dimension), qzeros (zero-points along
// the output dimension; v1 stores zero - 1), fp16 scales, g_idx. The bit order is code_stream.h's.
// Dimension letters: m = out_features, n = in_features, G = groups, b = bits.
#pragma once

#include <cstdint>
#include <string>

#include "io/grid_codes.h"
#include "io/pack_format.h"

namespace vqr::io {

// True for 2, 3, 4 and 8 bits, the widths GPTQ packs.
bool gptq_supports_bits(int bits);

// Words of a GPTQ stream of `count` b-bit codes: ceil(count * b / 32) for b in {2, 4, 8},
// 3 ceil(count / 32) for b = 3 (32 codes per 3 words). Throws Error(Status::Unsupported) for other
// widths.
int64_t gptq_packed_words(int64_t count, int bits);

// format: VQR_PACK_GPTQ_V1 or _V2. Any output may be NULL. Validates everything before writing:
// Throws Error(Status::Unsupported) for an unknown format, a width gptq_packed_words refuses, or
// (v1) a zero-point of 0, which v1's zero - 1 cannot hold.
//   qweight:    gptq_packed_words(n, b) x m, row-major (written)
//   qzeros:     G x gptq_packed_words(m, b) (written)
//   scales_f16: G x m, fp16 rounded to nearest even (written)
//   g_idx:      n (written)
void pack_gptq(const GridCodes &q, PackFormat format, int32_t *qweight, int32_t *qzeros,
               uint16_t *scales_f16, int32_t *g_idx);

// The inverse of pack_gptq's qweight: [gptq_packed_words(n), m] -> codes m x n (written).
// Throws vqr::Error(Status::Format) "<subject>: column <o> has bits set past its n b-bit values;
// hint: ..." for a set padding bit, Status::Unsupported for a width GPTQ does not pack.
void unpack_gptq_qweight(uint8_t *codes, const int32_t *qweight, int64_t m, int64_t n, int bits,
                         const std::string &subject);
// The inverse of pack_gptq's qzeros: [G, gptq_packed_words(m)] -> zeros G x m (written). v1 stores
// zero - 1 (spec §4.2), so a stored 2^b - 1 would be zero 2^b: refused as out of range (the v1
// underflow of a zero-point 0, which loaders disagree on). Throws Status::Format for that and for a
// set padding bit.
void unpack_gptq_qzeros(float *zeros, const int32_t *qzeros, int64_t G, int64_t m, int bits, bool v1,
                        const std::string &subject);

}  // namespace vqr::io
