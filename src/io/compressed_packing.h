// compressed-tensors "pack-quantized" tensors of one quantized linear (spec api_formats §4.3, spec
// learned_rounding §2.4), the layout llm-compressor writes and vLLM's compressed-tensors path reads;
// packing and unpacking side by side. Only 4 and 8 bits: the compressor matches pack-quantized for
// those widths alone. The bit order is code_stream.h's: for 4 and 8 bits the codes of a row are
// weight_packed's words, lowest bits first, so weight_packed is the transpose of a symmetric GPTQ
// qweight. Dimension letters: m = out_features, n = in_features, G = groups, b = bits.
//
// Why the stored integers are our codes and zeros unchanged: compressed-tensors quantizes to a
// signed code q in [-2^(b-1), 2^(b-1)) with a signed zero-point zp, and its pack_to_int32 adds
// 2^(b-1) to every value it packs (weights and zero-points alike). Our grid code c and zero z are
// unsigned with c = q + 2^(b-1) and z = zp + 2^(b-1), so the packed fields hold c and z, and
// (q - zp) * s = (c - z) * s: the same dequantization. A symmetric grid (z = 2^(b-1)) has zp = 0
// and the zero-point tensor is omitted.
#pragma once

#include <cstdint>
#include <string>

#include "io/grid_codes.h"

namespace vqr::io {

// True for 4 and 8 bits, the widths pack-quantized supports.
bool compressed_supports_bits(int bits);

// Words holding `count` b-bit values, ceil(count / (32 / b)). Throws Error(Status::Unsupported)
// with a hint to use the GPTQ format for widths other than 4 and 8.
int64_t compressed_packed_words(int64_t count, int bits);

// Packs q (bits 4 or 8; every zero an integer in [0, 2^b)). Any output may be NULL.
//   weight_packed: m x compressed_packed_words(n): row o holds codes[o, :] along the input (written)
//   zero_point:    compressed_packed_words(m) x G: column k holds zeros[k, :] along the output (written)
//   scales:        m x G (output-major, the transpose of QuantizedLayer::scales), as bf16 when
//                  bf16_scales else fp16, rounded to nearest even (written)
//   g_idx:         n (written)
// Throws Error(Status::Unsupported) for other widths, Status::InvalidArgument for a zero outside
// [0, 2^b) (nothing is written then).
void pack_compressed(const GridCodes &q, bool bf16_scales, int32_t *weight_packed, int32_t *zero_point,
                     uint16_t *scales, int32_t *g_idx);

// The inverse of weight_packed: [m, compressed_packed_words(n)] -> codes m x n (written): the
// stored value is the signed code + 2^(b-1), i.e. our unsigned code. Throws
// vqr::Error(Status::Format) "<subject>: row <o> has bits set past ...; hint: ..." for a set
// padding bit.
void unpack_compressed_weight(uint8_t *codes, const int32_t *packed, int64_t m, int64_t n, int bits,
                              const std::string &subject);
// The inverse of zero_point: [compressed_packed_words(m), G] -> zeros G x m (written): the stored
// value is the signed zero-point + 2^(b-1) (pack_to_int32's offset), i.e. our zero.
void unpack_compressed_zero_point(float *zeros, const int32_t *zero_point, int64_t G, int64_t m, int bits,
                                  const std::string &subject);

}  // namespace vqr::io
