// Element types of vqr_tensor views: fp16/bf16 <-> fp32 conversion (round to nearest even) and
// the validation + conversion of a borrowed view into a dense fp32 matrix.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "vqround/vqround.h"

namespace vqr {

// Inline: the conversions run per element inside widening loops that must vectorize.
inline float f16_to_f32(uint16_t h) {
  const uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  const uint32_t man = h & 0x3ffu;
  uint32_t bits;
  if (exp == 0x1f) {
    bits = sign | 0x7f800000u | (man << 13);  // Inf / NaN
  } else if (exp != 0) {
    bits = sign | ((exp + 112) << 23) | (man << 13);
  } else {
    // Subnormal half: value = man * 2^-24, exact in fp32.
    const float v = (float)man * 5.9604644775390625e-08f;
    std::memcpy(&bits, &v, 4);
    bits |= sign;
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}
uint16_t f32_to_f16(float f);  // round to nearest even; overflow -> Inf; NaN stays NaN
inline float bf16_to_f32(uint16_t h) {
  const uint32_t bits = (uint32_t)h << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}
uint16_t f32_to_bf16(float f);  // round to nearest even; NaN stays NaN

size_t dtype_size(vqr_dtype dtype);
// "F32", "F16" or "BF16": the spelling safetensors and GGUF headers use; nullptr for a value
// outside the enum.
const char *dtype_name(vqr_dtype dtype);

// Checks a view's pointer, dtype, shape and stride; `what` names the argument in the message.
// Throws Error(VQR_ERR_INVALID_ARGUMENT) when something is off. Returns the effective row stride.
int64_t validate_view(const vqr_tensor *view, const std::string &what);

// Converts rows [r0, r0 + rows) of a validated view into dst (rows x cols, dense fp32).
void view_rows_to_f32(float *dst, const vqr_tensor &view, int64_t stride, int64_t r0, int64_t rows);

// Index of the first non-finite value of a dense fp32 array, or -1.
int64_t find_nonfinite(const float *x, int64_t count);

// Writes a dense fp32 matrix (rows x cols) into `out` as `dtype` with row stride `stride`.
void f32_to_dtype_rows(void *out, vqr_dtype dtype, int64_t stride, const float *src, int64_t rows, int64_t cols);

}  // namespace vqr
