// vqr::exp_nonpositive (core/vector_exp.h) against exp in higher precision on dense grids of
// [cutoff, 0]: the error bound the header states (a few ulps), exp(0) = 1, 0 below the cutoff, NaN
// through, and the same bits from a vectorized loop as from scalar calls.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <vector>

#include "core/vector_exp.h"

namespace {

using vqr::exp_nonpositive;

// Error budget, in units of the format's unit roundoff u (2^-24 float, 2^-53 double): the
// reduction r = x - k ln2 in two steps errs by about u |r| <= 0.35 u (k ln2_head is exact); the
// Horner steps by about u (1 + |r| + r^2 + ...) <= 1.6 u; the truncated Taylor series by at most
// 0.12 u (degree 7 in float) and 0.05 u (degree 13 in double) at |r| = ln2 / 2; the product with 2^k
// is exact. 4 u leaves margin for the rounding of the result itself.
constexpr double kUlpBound = 4.0;

template <typename T>
std::vector<T> grid(T lo, int64_t points) {
  std::vector<T> x(static_cast<size_t>(points));
  for (int64_t i = 0; i < points; ++i) x[static_cast<size_t>(i)] = static_cast<T>(lo * (double)i / (double)(points - 1));
  return x;
}

// The same calls, kept scalar (GCC: a function attribute; clang: a loop pragma).
#if defined(__clang__)
#define SCALAR_FUNCTION __attribute__((noinline))
#define SCALAR_LOOP _Pragma("clang loop vectorize(disable) interleave(disable)")
#else
#define SCALAR_FUNCTION __attribute__((optimize("no-tree-vectorize")))
#define SCALAR_LOOP
#endif
SCALAR_FUNCTION void scalar_exps(const float *x, float *y, int64_t n) {
  SCALAR_LOOP
  for (int64_t i = 0; i < n; ++i) y[i] = exp_nonpositive(x[i]);
}
SCALAR_FUNCTION void scalar_exps(const double *x, double *y, int64_t n) {
  SCALAR_LOOP
  for (int64_t i = 0; i < n; ++i) y[i] = exp_nonpositive(x[i]);
}
template <typename T>
void vector_exps(const T *x, T *y, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) y[i] = exp_nonpositive(x[i]);
}

TEST(VectorExp, FloatWithinFourUlps) {
  const std::vector<float> x = grid(vqr::kExpCutoffF32, 2000001);
  std::vector<float> y(x.size());
  vector_exps(x.data(), y.data(), static_cast<int64_t>(x.size()));
  const double u = std::ldexp(1.0, -24);
  double worst = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double want = std::exp(static_cast<double>(x[i]));
    worst = std::max(worst, std::fabs(y[i] - want) / want / u);
  }
  std::printf("float: max relative error %.3f u over %zu points of [%g, 0]\n", worst, x.size(), vqr::kExpCutoffF32);
  EXPECT_LE(worst, kUlpBound);
}

TEST(VectorExp, DoubleWithinFourUlps) {
  const std::vector<double> x = grid(vqr::kExpCutoffF64, 2000001);
  std::vector<double> y(x.size());
  vector_exps(x.data(), y.data(), static_cast<int64_t>(x.size()));
  const long double u = std::ldexp(1.0L, -53);
  long double worst = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const long double want = std::exp(static_cast<long double>(x[i]));  // x87 extended: 11 more bits
    worst = std::max(worst, std::fabs(y[i] - want) / want / u);
  }
  std::printf("double: max relative error %.3f u over %zu points of [%g, 0]\n", (double)worst, x.size(),
              vqr::kExpCutoffF64);
  EXPECT_LE(worst, kUlpBound);
}

TEST(VectorExp, EdgesAndSpecialValues) {
  EXPECT_EQ(exp_nonpositive(0.0f), 1.0f);
  EXPECT_EQ(exp_nonpositive(-0.0f), 1.0f);
  EXPECT_EQ(exp_nonpositive(0.0), 1.0);
  EXPECT_EQ(exp_nonpositive(-0.0), 1.0);
  // Below the cutoff: exactly 0; at it: a positive normal number within the bound.
  for (float x : {std::nextafter(vqr::kExpCutoffF32, -1000.0f), -100.0f, -1e30f, -std::numeric_limits<float>::infinity()})
    EXPECT_EQ(exp_nonpositive(x), 0.0f) << x;
  for (double x : {std::nextafter(vqr::kExpCutoffF64, -1e4), -745.0, -1e300, -std::numeric_limits<double>::infinity()})
    EXPECT_EQ(exp_nonpositive(x), 0.0) << x;
  EXPECT_GE(exp_nonpositive(vqr::kExpCutoffF32), std::numeric_limits<float>::min());
  EXPECT_GE(exp_nonpositive(vqr::kExpCutoffF64), std::numeric_limits<double>::min());
  EXPECT_NEAR(exp_nonpositive(vqr::kExpCutoffF32) / std::exp((double)vqr::kExpCutoffF32), 1.0, 4 * std::ldexp(1.0, -24));
  EXPECT_TRUE(std::isnan(exp_nonpositive(std::numeric_limits<float>::quiet_NaN())));
  EXPECT_TRUE(std::isnan(exp_nonpositive(std::numeric_limits<double>::quiet_NaN())));
  // Values near multiples of ln2 / 2 (where k changes) stay monotone.
  float prev = 0.0f;
  for (float x = -10.0f; x <= 0.0f; x = std::nextafter(x, 1.0f) + 1e-4f) {
    const float y = exp_nonpositive(x);
    EXPECT_GE(y, prev) << x;
    prev = y;
  }
}

TEST(VectorExp, VectorizedEqualsScalarBits) {
  const std::vector<float> xf = grid(-90.0f, 100003);
  const std::vector<double> xd = grid(-710.0, 100003);
  std::vector<float> vf(xf.size()), sf(xf.size());
  std::vector<double> vd(xd.size()), sd(xd.size());
  vector_exps(xf.data(), vf.data(), static_cast<int64_t>(xf.size()));
  scalar_exps(xf.data(), sf.data(), static_cast<int64_t>(xf.size()));
  vector_exps(xd.data(), vd.data(), static_cast<int64_t>(xd.size()));
  scalar_exps(xd.data(), sd.data(), static_cast<int64_t>(xd.size()));
  EXPECT_EQ(0, std::memcmp(vf.data(), sf.data(), vf.size() * sizeof(float)));
  EXPECT_EQ(0, std::memcmp(vd.data(), sd.data(), vd.size() * sizeof(double)));
}

}  // namespace
