// ggml block and array encodings (ggml_blocks.h). The decoders mirror ggml's dequantize_row_q4_0,
// _q4_1 and _q8_0 reference loops (src/ggml-quants.c) operation for operation.
//
// No fused multiply-add may reach the Q4_1 decode: ggml computes x*d + m with two roundings, and a
// contracted fma would give different bits for some (q, d, m). The library is compiled with
// -ffp-contract=off (top-level CMakeLists.txt); in addition the product and the sum are separate
// statements here, and clang is told explicitly, so this file stays exact on its own.
#include "io/ggml_blocks.h"

#include <cstring>

#include "core/dtype.h"

#if defined(__clang__)
#pragma clang fp contract(off)
#endif

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "GGUF data is little-endian; add byte swapping");

namespace vqr::io {

namespace {

uint16_t load_u16(const uint8_t *p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

void store_u16(uint8_t *p, uint16_t v) { std::memcpy(p, &v, 2); }

bool same_bits(float a, float b) { return std::memcmp(&a, &b, sizeof(float)) == 0; }

bool f16_exact(float x) { return same_bits(f16_to_f32(f32_to_f16(x)), x); }

}  // namespace

float q4_1_weight(float d, float m, int q) {
  const float product = static_cast<float>(q) * d;  // first rounding
  return product + m;                                // second rounding
}

void decode_q4_0(float *out, const uint8_t *src, int64_t n) {
  for (int64_t b = 0; b < n / kGgmlBlockWeights; ++b) {
    const uint8_t *block = src + b * kQ4_0BlockBytes;
    const float d = f16_to_f32(load_u16(block));
    const uint8_t *qs = block + 2;
    float *y = out + b * kGgmlBlockWeights;
    for (int j = 0; j < 16; ++j) {
      const int x0 = (qs[j] & 0x0F) - 8;
      const int x1 = (qs[j] >> 4) - 8;
      y[j] = static_cast<float>(x0) * d;
      y[j + 16] = static_cast<float>(x1) * d;
    }
  }
}

void decode_q4_1(float *out, const uint8_t *src, int64_t n) {
  for (int64_t b = 0; b < n / kGgmlBlockWeights; ++b) {
    const uint8_t *block = src + b * kQ4_1BlockBytes;
    const float d = f16_to_f32(load_u16(block));
    const float m = f16_to_f32(load_u16(block + 2));
    const uint8_t *qs = block + 4;
    float *y = out + b * kGgmlBlockWeights;
    for (int j = 0; j < 16; ++j) {
      y[j] = q4_1_weight(d, m, qs[j] & 0x0F);
      y[j + 16] = q4_1_weight(d, m, qs[j] >> 4);
    }
  }
}

void decode_q8_0(float *out, const uint8_t *src, int64_t n) {
  for (int64_t b = 0; b < n / kGgmlBlockWeights; ++b) {
    const uint8_t *block = src + b * kQ8_0BlockBytes;
    const float d = f16_to_f32(load_u16(block));
    float *y = out + b * kGgmlBlockWeights;
    for (int j = 0; j < 32; ++j) y[j] = static_cast<float>(static_cast<int8_t>(block[2 + j])) * d;
  }
}

void decode_f16(float *out, const uint8_t *src, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = f16_to_f32(load_u16(src + 2 * i));
}

void decode_bf16(float *out, const uint8_t *src, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = bf16_to_f32(load_u16(src + 2 * i));
}

void decode_f32(float *out, const uint8_t *src, int64_t n) {
  if (n > 0) std::memcpy(out, src, static_cast<size_t>(n) * sizeof(float));
}

void encode_q4_0_block(uint8_t *dst, uint16_t d, const uint8_t *q) {
  store_u16(dst, d);
  for (int j = 0; j < 16; ++j) dst[2 + j] = static_cast<uint8_t>((q[j] & 0x0F) | ((q[j + 16] & 0x0F) << 4));
}

void encode_q4_1_block(uint8_t *dst, uint16_t d, uint16_t m, const uint8_t *q) {
  store_u16(dst, d);
  store_u16(dst + 2, m);
  for (int j = 0; j < 16; ++j) dst[4 + j] = static_cast<uint8_t>((q[j] & 0x0F) | ((q[j + 16] & 0x0F) << 4));
}

void encode_q8_0_block(uint8_t *dst, uint16_t d, const int8_t *q) {
  store_u16(dst, d);
  std::memcpy(dst + 2, q, 32);
}

void encode_f16(uint8_t *dst, const float *src, int64_t n) {
  for (int64_t i = 0; i < n; ++i) store_u16(dst + 2 * i, f32_to_f16(src[i]));
}

void encode_bf16(uint8_t *dst, const float *src, int64_t n) {
  for (int64_t i = 0; i < n; ++i) store_u16(dst + 2 * i, f32_to_bf16(src[i]));
}

void encode_f32(uint8_t *dst, const float *src, int64_t n) {
  if (n > 0) std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
}

GgmlType grid_block_type(const GridCodes &g, std::string *why_not) {
  const int64_t n = (g.cols / 32) * g.rows;  // scales / zeros entries when group_size == 32
  if (g.group_size != kGgmlBlockWeights || g.cols % kGgmlBlockWeights != 0) {
    *why_not = "group size " + std::to_string(g.group_size) + " has no GGUF block type (Q4_0, Q4_1 and Q8_0 need 32)";
    return GgmlType::kF32;
  }
  if (g.bits != 4 && g.bits != 8) {
    *why_not = std::to_string(g.bits) + "-bit codes have no GGUF block type (Q4_0, Q4_1: 4 bits; Q8_0: 8)";
    return GgmlType::kF32;
  }
  bool fp16_scales = true, symmetric = true;
  const float mid = g.bits == 4 ? 8.0f : 128.0f;
  for (int64_t i = 0; i < n; ++i) {
    fp16_scales = fp16_scales && f16_exact(g.scales[i]);
    symmetric = symmetric && g.zeros[i] == mid;
  }
  if (fp16_scales && symmetric) return g.bits == 4 ? GgmlType::kQ4_0 : GgmlType::kQ8_0;
  if (g.bits == 8) {
    *why_not = symmetric ? "a scale is not exact in fp16 (Q8_0 stores fp16 scales)"
                         : "Q8_0 needs every zero point at 128 (symmetric 8-bit grid)";
    return GgmlType::kF32;
  }
  // Q4_1: w = q d + m with d = fp16(s), m = fp16(-s z) must give s (q - z) for all 16 codes.
  for (int64_t i = 0; i < n; ++i) {
    const float s = g.scales[i], z = g.zeros[i];
    const float d = f16_to_f32(f32_to_f16(s)), m = f16_to_f32(f32_to_f16(-(s * z)));
    for (int q = 0; q < 16; ++q)
      if (!same_bits(q4_1_weight(d, m, q), s * (static_cast<float>(q) - z))) {
        *why_not = "its scales and zero points are not exact as Q4_1's fp16 d and m (block " + std::to_string(i) + ")";
        return GgmlType::kF32;
      }
  }
  return GgmlType::kQ4_1;
}

std::vector<uint8_t> encode_grid_blocks(const GridCodes &g, GgmlType type, const std::vector<int64_t> &row_map) {
  const int64_t per_row = g.cols / 32;
  const int64_t bytes = type == GgmlType::kQ4_0 ? kQ4_0BlockBytes : type == GgmlType::kQ4_1 ? kQ4_1BlockBytes : kQ8_0BlockBytes;
  std::vector<uint8_t> out(static_cast<size_t>(g.rows * per_row * bytes));
  for (int64_t r = 0; r < g.rows; ++r) {
    const int64_t o = row_map.empty() ? r : row_map[static_cast<size_t>(r)];
    for (int64_t b = 0; b < per_row; ++b) {
      uint8_t *dst = out.data() + (r * per_row + b) * bytes;
      const uint8_t *q = g.codes + o * g.cols + b * 32;
      const float s = g.scales[b * g.rows + o], z = g.zeros[b * g.rows + o];
      if (type == GgmlType::kQ4_0) {
        encode_q4_0_block(dst, f32_to_f16(s), q);
      } else if (type == GgmlType::kQ4_1) {
        encode_q4_1_block(dst, f32_to_f16(s), f32_to_f16(-(s * z)), q);
      } else {
        int8_t q8[32];
        for (int j = 0; j < 32; ++j) q8[j] = static_cast<int8_t>(static_cast<int>(q[j]) - 128);
        encode_q8_0_block(dst, f32_to_f16(s), q8);
      }
    }
  }
  return out;
}

}  // namespace vqr::io
