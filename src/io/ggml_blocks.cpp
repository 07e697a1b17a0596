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

}  // namespace vqr::io
