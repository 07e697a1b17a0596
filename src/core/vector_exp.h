// exp(x) for x <= 0 as branch-free polynomials that compilers vectorize (glibc's exp and expf are
// scalar calls), for the two places that take an exponential per score: the BLAS path's attention
// softmax (float) and the NLL's log-sum-exp over the vocabulary (double).
//
// Method (Cody and Waite): x = k ln2 + r with k = round(x / ln2) and |r| <= ln2 / 2, r computed in
// two steps with ln2 split into a head whose product with k is exact and a tail; exp(r) by its
// Taylor polynomial in Horner form (degree 7 in float, 13 in double: truncation at most 7e-9 and
// 6e-18 relative, 0.12 and 0.05 ulp), times 2^k assembled in the exponent bits. Error: a few ulps (tests/core/test_vector_exp
// measures it against std::exp on dense grids). exp(0) = 1 exactly. Below the cutoff (exp under
// 2^-125 in float, 2^-1021 in double) the result is 0 instead of a tiny or subnormal value: for the
// sums of terms <= 1 that include exp(0) = 1 these are built for, it is below half an ulp of the sum.
// NaN gives NaN. Every step is a plain IEEE operation without contraction (the library compiles
// with -ffp-contract=off) and the integer parts use unsigned arithmetic, so the bits are the same
// on every x86-64, scalar or vectorized, with or without AVX.
#pragma once

#include <cstdint>
#include <cstring>

namespace vqr {

namespace vector_exp_detail {

inline uint32_t bits_of(float x) {
  uint32_t u;
  std::memcpy(&u, &x, sizeof u);
  return u;
}
inline float float_of(uint32_t u) {
  float x;
  std::memcpy(&x, &u, sizeof x);
  return x;
}
inline uint64_t bits_of(double x) {
  uint64_t u;
  std::memcpy(&u, &x, sizeof u);
  return u;
}
inline double double_of(uint64_t u) {
  double x;
  std::memcpy(&x, &u, sizeof x);
  return x;
}

}  // namespace vector_exp_detail

// Cutoffs: below them the result is 0 (2^k stays a normal number above them).
constexpr float kExpCutoffF32 = -87.0f;
constexpr double kExpCutoffF64 = -708.0;

// exp(x) for x <= 0 in float (x > 0 is outside the contract: exactness is not promised there).
inline float exp_nonpositive(float x) {
  using namespace vector_exp_detail;
  const float xc = x < kExpCutoffF32 ? kExpCutoffF32 : x;  // NaN passes (the comparison is false)
  // k = round-half-even(xc / ln2): adding 1.5 * 2^23 leaves k in the low mantissa bits.
  const float shifter = 12582912.0f;
  const float big = xc * 1.44269504088896341f + shifter;
  const float k = big - shifter;
  const float r = (xc - k * 0.693145751953125f) - k * 1.428606765330187e-06f;  // ln2 = head + tail
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  // 2^k: the exponent field k + 127, k from big's bits (big = 1.5 * 2^23 + k exactly).
  const uint32_t k_biased = bits_of(big) - bits_of(shifter) + 127u;
  const float y = p * float_of(k_biased << 23);
  return x < kExpCutoffF32 ? 0.0f : y;
}

// exp(x) for x <= 0 in double.
inline double exp_nonpositive(double x) {
  using namespace vector_exp_detail;
  const double xc = x < kExpCutoffF64 ? kExpCutoffF64 : x;
  const double shifter = 6755399441055744.0;  // 1.5 * 2^52
  const double big = xc * 1.4426950408889634 + shifter;
  const double k = big - shifter;
  const double r = (xc - k * 0.6931471803691238) - k * 1.9082149292705877e-10;
  double p = 1.0 / 6227020800.0;  // 1/13!
  p = p * r + 1.0 / 479001600.0;
  p = p * r + 1.0 / 39916800.0;
  p = p * r + 1.0 / 3628800.0;
  p = p * r + 1.0 / 362880.0;
  p = p * r + 1.0 / 40320.0;
  p = p * r + 1.0 / 5040.0;
  p = p * r + 1.0 / 720.0;
  p = p * r + 1.0 / 120.0;
  p = p * r + 1.0 / 24.0;
  p = p * r + 1.0 / 6.0;
  p = p * r + 0.5;
  p = p * r + 1.0;
  p = p * r + 1.0;
  const uint64_t k_biased = bits_of(big) - bits_of(shifter) + 1023u;
  const double y = p * double_of(k_biased << 52);
  return x < kExpCutoffF64 ? 0.0 : y;
}

}  // namespace vqr
