// Checks of a Backend's GEMM and SYRK against plain double loops, shared by the CPU backend's
// test and the OpenCL backend's parity test. Tolerances from the arithmetic (below): they hold for
// any summation order, so a tiled device kernel and OpenBLAS meet the same bound.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "backend/backend.h"
#include "core/splitmix64.h"

namespace backend_checks {

using vqr::backend::Op;
using vqr::backend::Triangle;

// Tolerances from the arithmetic: a sum of k products in precision u is within gamma_k = k u
// (any order, blocking included) of the exact sum, relative to the sum of the products' magnitudes;
// +2 covers the product's and alpha/beta's roundings.
template <typename T>
double unit_roundoff() {
  return sizeof(T) == 4 ? std::ldexp(1.0, -24) : std::ldexp(1.0, -53);
}

template <typename T>
std::vector<T> random_matrix(int64_t rows, int64_t ld, uint64_t seed) {
  vqr::SplitMix64 rng(seed);
  std::vector<T> a((size_t)(rows * ld));
  for (auto &v : a) v = (T)(2.0 * rng.uniform() - 1.0);
  return a;
}

// sum_p term(p) in double, and sum_p |term(p)|, the magnitude the error bounds scale with.
struct Dot {
  double sum = 0, mag = 0;
};
template <typename Term>
Dot dot(int64_t len, Term term) {
  Dot d;
  for (int64_t p = 0; p < len; ++p) {
    const double t = term(p);
    d.sum += t;
    d.mag += std::fabs(t);
  }
  return d;
}

struct Shape {
  int64_t m, n, k, pad;  // pad: extra columns of every leading dimension
};

// X[i][j] of op(X) for a row-major X with leading dimension ld.
template <typename T>
double at(const std::vector<T> &x, int64_t ld, Op op, int64_t i, int64_t j) {
  return op == Op::Trans ? (double)x[(size_t)(j * ld + i)] : (double)x[(size_t)(i * ld + j)];
}

template <typename T>
void check_gemm(vqr::backend::Backend &be, Op op_a, Op op_b, const Shape &s) {
  const int64_t m = s.m, n = s.n, k = s.k;
  const int64_t lda = (op_a == Op::None ? k : m) + s.pad, ldb = (op_b == Op::None ? n : k) + s.pad,
                ldc = n + s.pad;
  const auto a = random_matrix<T>(op_a == Op::None ? m : k, lda, 1);
  const auto b = random_matrix<T>(op_b == Op::None ? k : n, ldb, 2);
  auto c = random_matrix<T>(m, ldc, 3);
  const auto c0 = c;
  const T alpha = (T)0.75, beta = (T)-0.5;
  be.gemm(op_a, op_b, m, n, k, alpha, a.data(), lda, b.data(), ldb, beta, c.data(), ldc);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < ldc; ++j) {
      const size_t ij = (size_t)(i * ldc + j);
      if (j >= n) {
        ASSERT_EQ(c[ij], c0[ij]) << "padding column " << j << " written";
        continue;
      }
      const Dot d = dot(k, [&](int64_t p) { return at(a, lda, op_a, i, p) * at(b, ldb, op_b, p, j); });
      const double ref = alpha * d.sum + beta * (double)c0[ij];
      const double bound = (double)(k + 2) * unit_roundoff<T>() * (std::fabs(alpha) * d.mag + std::fabs(beta * c0[ij]));
      ASSERT_NEAR((double)c[ij], ref, bound) << "c[" << i << "][" << j << "], m n k " << m << " " << n << " " << k;
    }
}

template <typename T>
void check_syrk(vqr::backend::Backend &be, Triangle uplo, Op op, const Shape &s) {
  const int64_t n = s.n, k = s.k;
  const int64_t lda = (op == Op::None ? k : n) + s.pad, ldc = n + s.pad;
  const auto a = random_matrix<T>(op == Op::None ? n : k, lda, 4);
  auto c = random_matrix<T>(n, ldc, 5);
  const auto c0 = c;
  const T alpha = (T)1.25, beta = (T)0.5;
  be.syrk(uplo, op, n, k, alpha, a.data(), lda, beta, c.data(), ldc);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < ldc; ++j) {
      const size_t ij = (size_t)(i * ldc + j);
      const bool in = j < n && (uplo == Triangle::Upper ? j >= i : j <= i);
      if (!in) {
        ASSERT_EQ(c[ij], c0[ij]) << "c[" << i << "][" << j << "] is outside the triangle but was written";
        continue;
      }
      // op(A) is n x k: row i of op(A) times row j of op(A).
      const Dot d = dot(k, [&](int64_t p) { return at(a, lda, op, i, p) * at(a, lda, op, j, p); });
      const double ref = alpha * d.sum + beta * (double)c0[ij];
      const double bound = (double)(k + 2) * unit_roundoff<T>() * (std::fabs(alpha) * d.mag + std::fabs(beta * c0[ij]));
      ASSERT_NEAR((double)c[ij], ref, bound) << "c[" << i << "][" << j << "]";
    }
}

}  // namespace backend_checks
