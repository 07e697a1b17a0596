// ggml's tensor encodings that GGUF files carry and this library reads and writes exactly: the
// 32-weight blocks Q4_0, Q4_1 and Q8_0, and the plain F16, BF16 and F32 arrays (spec §4.4 "Block
// layouts"; ggml src/ggml-common.h, dequantize_row_* in src/ggml-quants.c). All little-endian.
//
// Decoding follows ggml's reference arithmetic operation for operation, so a block decodes to the
// same fp32 bits here and in llama.cpp:
//   Q4_0  w = (float)(q - 8) * d          q = 4-bit code
//   Q4_1  w = (float)q * d + m            two roundings (a product, then a sum), never one fma
//   Q8_0  w = (float)q * d                q = int8
// with d and m widened exactly from fp16. Nibble order (Q4_0, Q4_1): byte j of the 16 code bytes
// holds element j in its low nibble and element j + 16 in its high nibble.
//
// The writer's side also lives here: which block type reproduces a quantized layer's grid exactly
// (spec §4.4 "Exact mappings") and the encoding of that grid into blocks.
//
// Dimension letters: n = elements (a multiple of 32 for the block types).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "io/grid_codes.h"

#include "io/gguf.h"

namespace vqr::io {

inline constexpr int64_t kGgmlBlockWeights = 32;  // QK4_0 = QK4_1 = QK8_0
inline constexpr int64_t kQ4_0BlockBytes = 18;    // fp16 d + 16 code bytes
inline constexpr int64_t kQ4_1BlockBytes = 20;    // fp16 d, fp16 m + 16 code bytes
inline constexpr int64_t kQ8_0BlockBytes = 34;    // fp16 d + 32 int8

// One Q4_1 weight as ggml decodes it: q * d, rounded to fp32, then + m, rounded again. Exposed so
// that an encoder can check a block reproduces its target values bit for bit.
float q4_1_weight(float d, float m, int q);

// Decoders. out: n floats (overwritten); src: the encoded bytes (read; any alignment). For the
// block types n must be a multiple of 32 (the caller validated the tensor shape).
void decode_q4_0(float *out, const uint8_t *src, int64_t n);
void decode_q4_1(float *out, const uint8_t *src, int64_t n);
void decode_q8_0(float *out, const uint8_t *src, int64_t n);
void decode_f16(float *out, const uint8_t *src, int64_t n);
void decode_bf16(float *out, const uint8_t *src, int64_t n);
void decode_f32(float *out, const uint8_t *src, int64_t n);

// Block encoders. dst: one block (kQ*BlockBytes bytes, overwritten); d, m: fp16 bit patterns;
// q: 32 codes (read), 0..15 for Q4_0 / Q4_1 (higher bits are dropped), any int8 for Q8_0.
void encode_q4_0_block(uint8_t *dst, uint16_t d, const uint8_t *q);
void encode_q4_1_block(uint8_t *dst, uint16_t d, uint16_t m, const uint8_t *q);
void encode_q8_0_block(uint8_t *dst, uint16_t d, const int8_t *q);

// Array encoders (dst: 2n or 4n bytes, overwritten; src: n floats, read). F16 and BF16 round to
// nearest even (ggml's conversions do the same); F32 copies.
void encode_f16(uint8_t *dst, const float *src, int64_t n);
void encode_bf16(uint8_t *dst, const float *src, int64_t n);
void encode_f32(uint8_t *dst, const float *src, int64_t n);

// The ggml block type that stores `g` bit for bit under ggml's decoding:
//   Q4_0  bits 4, group 32, every zero == 8, every scale exact in fp16          (w = d (q - 8))
//   Q8_0  bits 8, group 32, every zero == 128, every scale exact in fp16        (int8 q - 128)
//   Q4_1  bits 4, group 32, any zeros, when d = fp16(s) and m = fp16(-s z) decode all 16 codes of
//         every block to exactly s (q - z) under q4_1_weight (checked per block)
// or GgmlType::kF32 with *why_not saying why none does. g must be valid (codes < 2^bits, finite
// scales and zeros).
GgmlType grid_block_type(const GridCodes &g, std::string *why_not);

// The blocks of `g` as `type` (what grid_block_type returned, not kF32): row r of the result is row
// row_map[r] of g (row r itself when row_map is empty), each row cols / 32 blocks with d = fp16(s)
// (and m = fp16(-s z) for Q4_1; int8 q - 128 for Q8_0).
std::vector<uint8_t> encode_grid_blocks(const GridCodes &g, GgmlType type, const std::vector<int64_t> &row_map);

}  // namespace vqr::io
