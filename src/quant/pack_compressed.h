// compressed-tensors "pack-quantized" packing of one quantized linear (spec api_formats §4.3,
// spec learned_rounding §2.4), the layout llm-compressor writes and vLLM's compressed-tensors path
// reads. Only 4 and 8 bits: the compressor matches pack-quantized for those widths alone.
//
// Why the stored integers are our codes and zeros unchanged: compressed-tensors quantizes to a
// signed code q in [-2^(b-1), 2^(b-1)) with a signed zero-point zp, and its pack_to_int32 adds
// 2^(b-1) to every value it packs (weights and zero-points alike). Our grid code c and zero z are
// unsigned with c = q + 2^(b-1) and z = zp + 2^(b-1), so the packed fields hold c and z, and
// (q - zp) * s = (c - z) * s: the same dequantization. A symmetric grid (z = 2^(b-1)) has zp = 0
// and the zero-point tensor is omitted.
#pragma once

#include <cstdint>

#include "quant/quantized_layer.h"

namespace vqr::quant {

// True for 4 and 8 bits, the widths pack-quantized supports.
bool compressed_supports_bits(int bits);

// Words holding `count` b-bit values, ceil(count / (32 / b)). Throws Error(VQR_ERR_UNSUPPORTED)
// with a hint to use the GPTQ format for widths other than 4 and 8.
int64_t compressed_words(int64_t count, int bits);

// Packs q (bits 4 or 8; every zero an integer in [0, 2^b)). Any output may be NULL.
//   weight_packed: m x compressed_words(n): row o holds codes[o, :] along the input (written)
//   zero_point:    compressed_words(m) x G: column k holds zeros[k, :] along the output (written)
//   scales:        m x G (output-major, the transpose of QuantizedLayer::scales), as bf16 when
//                  bf16_scales else fp16, rounded to nearest even (written)
//   g_idx:         n (written)
// Throws Error(VQR_ERR_UNSUPPORTED) for other widths, VQR_ERR_INVALID_ARGUMENT for a zero outside
// [0, 2^b) (nothing is written then).
void pack_compressed(const QuantizedLayer &q, bool bf16_scales, int32_t *weight_packed, int32_t *zero_point,
                     uint16_t *scales, int32_t *g_idx);

}  // namespace vqr::quant
