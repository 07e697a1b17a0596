// fp16/bf16 conversions and tensor-view handling (see dtype.h).
#include "core/dtype.h"

#include <cmath>
#include <cstring>

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif

#include "core/error.h"

namespace vqr {

static uint32_t bits_of(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
static float float_of(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

uint16_t f32_to_f16(float f) {
  const uint32_t u = bits_of(f);
  const uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
  const uint32_t au = u & 0x7fffffffu;
  if (au >= 0x7f800000u) return (uint16_t)(sign | 0x7c00u | (au > 0x7f800000u ? 0x200u : 0u));
  if (au >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u);  // rounds to >= 65520: Inf
  if (au < 0x38800000u) {
    // Result is subnormal (or zero) in fp16: scale so that the fp32 adder rounds half-to-even
    // at the fp16 subnormal quantum 2^-24.
    const float a = float_of(au);
    const float r = a * 16777216.0f;  // exact: multiply by 2^24
    const float rounded = std::nearbyint(r);
    return (uint16_t)(sign | (uint16_t)rounded);
  }
  // Normal: drop 13 mantissa bits with round-half-to-even.
  uint32_t v = au - 0x38000000u;  // rebias exponent 127 -> 15
  const uint32_t lsb = (v >> 13) & 1u;
  v += 0xfffu + lsb;
  return (uint16_t)(sign | (uint16_t)(v >> 13));
}

uint16_t f32_to_bf16(float f) {
  const uint32_t u = bits_of(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u);  // quiet NaN
  const uint32_t lsb = (u >> 16) & 1u;
  return (uint16_t)((u + 0x7fffu + lsb) >> 16);
}

size_t dtype_size(DType dtype) { return dtype == DType::F32 ? 4 : 2; }

const char *dtype_name(DType dtype) {
  switch (dtype) {
    case DType::F32: return "F32";
    case DType::F16: return "F16";
    case DType::BF16: return "BF16";
  }
  return nullptr;
}

void require_extent(int64_t rows, int64_t stride, int64_t cols, size_t element_bytes, const std::string &what) {
  if (rows <= 0 || cols <= 0) return;
  // ((rows - 1) * stride + cols) * element_bytes in checked arithmetic: a shape whose product
  // overflows int64, or whose bytes pass the 2^47 of an x86-64 (or AArch64) user address space,
  // describes no buffer, and pointer arithmetic over it would overflow.
  int64_t elements = 0, bytes = 0;
  const bool overflow = __builtin_mul_overflow(rows - 1, stride, &elements) ||
                        __builtin_add_overflow(elements, cols, &elements) ||
                        __builtin_mul_overflow(elements, (int64_t)element_bytes, &bytes);
  require(!overflow && bytes <= kMaxViewBytes, Status::InvalidArgument,
          what + ": " + std::to_string(rows) + " rows of stride " + std::to_string(stride) +
              " span more than 2^47 bytes, more than any address space holds");
}

int64_t validate_view(const TensorView *view, const std::string &what) {
  require(view != nullptr, Status::InvalidArgument, what + " is NULL");
  require(view->dtype == DType::F32 || view->dtype == DType::F16 || view->dtype == DType::BF16,
          Status::InvalidArgument, what + ": unknown dtype " + std::to_string((int)view->dtype));
  require(view->rows >= 0 && view->cols >= 0, Status::InvalidArgument,
          what + ": negative shape " + std::to_string(view->rows) + " x " + std::to_string(view->cols));
  const int64_t stride = view->row_stride == 0 ? view->cols : view->row_stride;
  require(stride >= view->cols, Status::InvalidArgument,
          what + ": row_stride " + std::to_string(view->row_stride) + " is smaller than cols " +
              std::to_string(view->cols));
  require(view->rows == 0 || view->cols == 0 || view->data != nullptr, Status::InvalidArgument,
          what + ": data is NULL");
  require_extent(view->rows, stride, view->cols, dtype_size(view->dtype), what);
  return stride;
}

// fp16 -> fp32 for one row. With F16C (every x86 CPU since 2012) eight values per instruction,
// exact like the scalar path; the scalar inline function elsewhere.
#if defined(__x86_64__)
__attribute__((target("avx,f16c"))) static void f16_row_f16c(float *d, const uint16_t *s, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(d + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(s + i))));
  for (; i < n; ++i) d[i] = f16_to_f32(s[i]);
}
#endif

#if defined(__x86_64__)
// F16C and AVX from CPUID leaf 1 (ECX bits 29 and 28), with the OS saving the YMM state (OSXSAVE,
// bit 27, and XCR0 bits 1-2). Asked of the CPU directly: clang 14's __builtin_cpu_supports does
// not know "f16c".
static bool cpu_has_f16c() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return false;
  const bool f16c = c & (1u << 29), avx = c & (1u << 28), osxsave = c & (1u << 27);
  if (!(f16c && avx && osxsave)) return false;
  unsigned lo = 0, hi = 0;
  __asm__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (lo & 6u) == 6u;
}
#endif

static void f16_row_to_f32(float *d, const uint16_t *s, int64_t n) {
#if defined(__x86_64__)
  static const bool has_f16c = cpu_has_f16c();
  if (has_f16c) return f16_row_f16c(d, s, n);
#endif
  for (int64_t i = 0; i < n; ++i) d[i] = f16_to_f32(s[i]);
}

void view_rows_to_f32(float *dst, const TensorView &view, int64_t stride, int64_t r0, int64_t rows) {
  const int64_t cols = view.cols;
  for (int64_t r = 0; r < rows; ++r) {
    float *d = dst + r * cols;
    if (view.dtype == DType::F32) {
      std::memcpy(d, (const float *)view.data + (r0 + r) * stride, (size_t)cols * 4);
    } else {
      const uint16_t *s = (const uint16_t *)view.data + (r0 + r) * stride;
      if (view.dtype == DType::F16)
        f16_row_to_f32(d, s, cols);
      else
        for (int64_t c = 0; c < cols; ++c) d[c] = bf16_to_f32(s[c]);
    }
  }
}

int64_t find_nonfinite(const float *x, int64_t count) {
  // Branch-free scan first (vectorizes), then locate the culprit only when one exists.
  int bad = 0;
  for (int64_t i = 0; i < count; ++i) bad |= !std::isfinite(x[i]);
  if (!bad) return -1;
  for (int64_t i = 0; i < count; ++i)
    if (!std::isfinite(x[i])) return i;
  return -1;
}

void f32_to_dtype_rows(void *out, DType dtype, int64_t stride, const float *src, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r) {
    const float *s = src + r * cols;
    if (dtype == DType::F32) {
      std::memcpy((float *)out + r * stride, s, (size_t)cols * 4);
    } else {
      uint16_t *d = (uint16_t *)out + r * stride;
      if (dtype == DType::F16)
        for (int64_t c = 0; c < cols; ++c) d[c] = f32_to_f16(s[c]);
      else
        for (int64_t c = 0; c < cols; ++c) d[c] = f32_to_bf16(s[c]);
    }
  }
}

}  // namespace vqr
