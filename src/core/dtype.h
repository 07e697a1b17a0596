// Element types and borrowed 2-D views (the internal form of the public vqr_tensor): fp16/bf16 <->
// fp32 conversion (round to nearest even) and the validation + conversion of a view into a dense
// fp32 matrix.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace vqr {

// Element type of a view; the numbers equal the public vqr_dtype ones (capi/enum_mirror.cpp).
enum class DType : int {
  F32 = 0,   // IEEE binary32
  F16 = 1,   // IEEE binary16, stored as uint16_t
  BF16 = 2,  // bfloat16 (upper half of a binary32), stored as uint16_t
};

// A borrowed row-major matrix: `rows` x `cols` elements of `dtype`, rows `row_stride` elements
// apart (0 = contiguous). Read only during the call it is passed to.
struct TensorView {
  const void *data = nullptr;
  DType dtype = DType::F32;
  int64_t rows = 0;
  int64_t cols = 0;
  int64_t row_stride = 0;
};

inline TensorView tensor_2d(const void *data, DType dtype, int64_t rows, int64_t cols, int64_t row_stride) {
  return TensorView{data, dtype, rows, cols, row_stride};
}

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

size_t dtype_size(DType dtype);
// "F32", "F16" or "BF16": the spelling safetensors and GGUF headers use; nullptr for a value
// outside the enum.
const char *dtype_name(DType dtype);

// The largest extent a tensor view may span: 2^47 bytes, an x86-64 / AArch64 user address space.
constexpr int64_t kMaxViewBytes = int64_t(1) << 47;

// Throws Error(Status::InvalidArgument) naming `what` unless a buffer of `rows` rows of `cols`
// elements, `stride` apart, spans at most kMaxViewBytes (checked arithmetic; empty shapes pass).
void require_extent(int64_t rows, int64_t stride, int64_t cols, size_t element_bytes, const std::string &what);

// Checks a view's pointer, dtype, shape and stride, and that its extent fits kMaxViewBytes (in
// checked arithmetic); `what` names the argument in the message. Throws
// Error(Status::InvalidArgument) when something is off. Returns the effective row stride.
int64_t validate_view(const TensorView *view, const std::string &what);

// Converts rows [r0, r0 + rows) of a validated view into dst (rows x cols, dense fp32).
void view_rows_to_f32(float *dst, const TensorView &view, int64_t stride, int64_t r0, int64_t rows);

// Index of the first non-finite value of a dense fp32 array, or -1.
int64_t find_nonfinite(const float *x, int64_t count);

// Writes a dense fp32 matrix (rows x cols) into `out` as `dtype` with row stride `stride`.
void f32_to_dtype_rows(void *out, DType dtype, int64_t stride, const float *src, int64_t rows, int64_t cols);

}  // namespace vqr
