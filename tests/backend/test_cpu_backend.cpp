// The CPU backend (src/backend): GEMM, SYRK, TRMM, POTRF and TRTRI on row-major operands against
// plain double loops, over an aligned shape and an awkward one (odd sizes, leading dimensions
// wider than the rows), in float and, where the library uses it, double; triangles the operations
// must not touch stay bit-identical; buffers round-trip; a context resolves its backend, and the
// GPTQ-family sweep and the Hessian accumulator compute through the backend they are given.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "backend/backend.h"
#include "backend/forwarding_backend.h"
#include "core/context.h"
#include "core/splitmix64.h"
#include "hessian/hessian.h"
#include "quant/gptq.h"
#include "backend_checks.h"

namespace {

using namespace backend_checks;
using vqr::backend::Diag;
using vqr::backend::Op;
using vqr::backend::Side;
using vqr::backend::Triangle;

const Shape kShapes[] = {{32, 32, 32, 0}, {13, 7, 5, 3}};

TEST(CpuBackend, GemmEveryTransposeFloatAndDouble) {
  for (const Shape &s : kShapes)
    for (Op op_a : {Op::None, Op::Trans})
      for (Op op_b : {Op::None, Op::Trans}) {
        check_gemm<float>(vqr::backend::cpu(), op_a, op_b, s);
        check_gemm<double>(vqr::backend::cpu(), op_a, op_b, s);
      }
}

TEST(CpuBackend, SyrkTouchesOnlyItsTriangle) {
  for (const Shape &s : kShapes)
    for (Triangle uplo : {Triangle::Upper, Triangle::Lower})
      for (Op op : {Op::None, Op::Trans}) {
        check_syrk<float>(vqr::backend::cpu(), uplo, op, s);
        check_syrk<double>(vqr::backend::cpu(), uplo, op, s);
      }
}

// Element (i, j) of the triangular matrix a as TRMM/TRTRI read it: zero outside the triangle, one
// on a unit diagonal.
double tri_at(const std::vector<float> &a, int64_t lda, Triangle uplo, Diag diag, int64_t i, int64_t j) {
  if (i == j) return diag == Diag::Unit ? 1.0 : (double)a[(size_t)(i * lda + j)];
  const bool in = uplo == Triangle::Upper ? j > i : j < i;
  return in ? (double)a[(size_t)(i * lda + j)] : 0.0;
}

void check_trmm(Side side, Triangle uplo, Op op_a, Diag diag, const Shape &s) {
  const int64_t m = s.m, n = s.n, na = side == Side::Left ? m : n;
  const int64_t lda = na + s.pad, ldb = n + s.pad;
  const auto a = random_matrix<float>(na, lda, 6);
  auto b = random_matrix<float>(m, ldb, 7);
  const auto b0 = b;
  const float alpha = 0.625f;
  vqr::backend::cpu().trmm(side, uplo, op_a, diag, m, n, alpha, a.data(), lda, b.data(), ldb);
  auto op_at = [&](int64_t i, int64_t j) {
    return op_a == Op::Trans ? tri_at(a, lda, uplo, diag, j, i) : tri_at(a, lda, uplo, diag, i, j);
  };
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      const Dot d = dot(na, [&](int64_t p) {
        return side == Side::Left ? op_at(i, p) * b0[(size_t)(p * ldb + j)]
                                  : (double)b0[(size_t)(i * ldb + p)] * op_at(p, j);
      });
      const double bound = (double)(na + 2) * unit_roundoff<float>() * std::fabs(alpha) * d.mag;
      ASSERT_NEAR((double)b[(size_t)(i * ldb + j)], alpha * d.sum, bound) << "b[" << i << "][" << j << "]";
    }
}

TEST(CpuBackend, TrmmEverySideTriangleTransposeAndDiagonal) {
  for (const Shape &s : kShapes)
    for (Side side : {Side::Left, Side::Right})
      for (Triangle uplo : {Triangle::Upper, Triangle::Lower})
        for (Op op : {Op::None, Op::Trans})
          for (Diag diag : {Diag::NonUnit, Diag::Unit}) check_trmm(side, uplo, op, diag, s);
}

// A well-conditioned SPD matrix: B B^T / k + I, row-major with leading dimension ld.
std::vector<float> spd(int64_t n, int64_t ld) {
  const auto b = random_matrix<double>(n, n, 8);
  std::vector<float> a((size_t)(n * ld), 7.0f);  // 7 marks the padding
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double s = i == j ? 1.0 : 0.0;
      for (int64_t p = 0; p < n; ++p) s += b[(size_t)(i * n + p)] * b[(size_t)(j * n + p)] / (double)n;
      a[(size_t)(i * ld + j)] = (float)s;
    }
  return a;
}

// POTRF in the caller's row-major triangle (the CPU backend names LAPACK's other one), then TRTRI
// of the factor: the product of the factor and the original, and of the inverse and the factor,
// reproduce A and I; the other triangle and the padding are untouched by both.
TEST(CpuBackend, PotrfAndTrtriWorkOnTheRowMajorTriangle) {
  for (const Shape &s : kShapes)
    for (Triangle uplo : {Triangle::Lower, Triangle::Upper}) {
      const int64_t n = s.m, ld = n + s.pad;
      const std::vector<float> a0 = spd(n, ld);
      std::vector<float> f = a0;
      ASSERT_EQ(vqr::backend::cpu().potrf(uplo, n, f.data(), ld), 0);
      auto in_tri = [&](int64_t i, int64_t j) { return j < n && (uplo == Triangle::Lower ? j <= i : j >= i); };
      for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < ld; ++j) {
          if (!in_tri(i, j)) {
            ASSERT_EQ(f[(size_t)(i * ld + j)], a0[(size_t)(i * ld + j)]) << "potrf wrote outside its triangle";
            continue;
          }
          // A = L L^T (Lower) or U^T U (Upper): entry (i, j) is sum_p F[i][p] F[j][p] or F[p][i] F[p][j].
          // Backward error of Cholesky (Higham, Accuracy and Stability, Thm 10.3): |A - F F^T| <=
          // gamma_{n+1} |F| |F^T| elementwise; 2x for the blocked factorization's ordering.
          auto fac = [&](int64_t r, int64_t c) { return tri_at(f, ld, uplo, Diag::NonUnit, r, c); };
          const Dot d = dot(n, [&](int64_t p) {
            return uplo == Triangle::Lower ? fac(i, p) * fac(j, p) : fac(p, i) * fac(p, j);
          });
          const double bound = 2.0 * (double)(n + 1) * unit_roundoff<float>() * d.mag;
          ASSERT_NEAR(d.sum, a0[(size_t)(i * ld + j)], bound) << "factor product at " << i << ", " << j;
        }
      std::vector<float> inv = f;
      ASSERT_EQ(vqr::backend::cpu().trtri(uplo, Diag::NonUnit, n, inv.data(), ld), 0);
      for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < ld; ++j) {
          if (!in_tri(i, j)) {
            ASSERT_EQ(inv[(size_t)(i * ld + j)], f[(size_t)(i * ld + j)]) << "trtri wrote outside its triangle";
            continue;
          }
          // Residual of a triangular inverse (Higham §14.2): |X F - I| <= c_n u |X| |F|, with
          // c_n = 4 n here to cover either residual side of the blocked method.
          const Dot d = dot(n, [&](int64_t p) {
            return tri_at(inv, ld, uplo, Diag::NonUnit, i, p) * tri_at(f, ld, uplo, Diag::NonUnit, p, j);
          });
          const double bound = 4.0 * (double)n * unit_roundoff<float>() * d.mag;
          ASSERT_NEAR(d.sum, i == j ? 1.0 : 0.0, bound) << "inverse times factor at " << i << ", " << j;
        }
    }
}

TEST(CpuBackend, PotrfReportsTheFailingMinor) {
  // Leading 2 x 2 minor [[1, 2], [2, 1]] is indefinite: LAPACK's info is 2.
  std::vector<float> a = {1, 2, 0, 2, 1, 0, 0, 0, 1};
  EXPECT_EQ(vqr::backend::cpu().potrf(Triangle::Lower, 3, a.data(), 3), 2);
}

TEST(CpuBackend, BuffersAreHostMemoryThatRoundTrips) {
  auto buf = vqr::backend::cpu().alloc(64);
  ASSERT_EQ(buf->bytes(), 64u);
  ASSERT_NE(buf->host(), nullptr);
  const char text[] = "the compute seam";
  buf->upload(8, text, sizeof(text));
  EXPECT_EQ(std::memcmp((const char *)buf->host() + 8, text, sizeof(text)), 0);
  char back[sizeof(text)] = {};
  buf->download(8, back, sizeof(text));
  EXPECT_STREQ(back, text);
}

// Forwards every operation to the CPU backend and counts it: the calls the library routes.
class CountingBackend final : public vqr::backend::ForwardingBackend {
 public:
  CountingBackend() : vqr::backend::ForwardingBackend(vqr::backend::cpu()) {}
  int gemm_calls = 0, syrk_calls = 0, trmm_calls = 0, potrf_calls = 0, trtri_calls = 0;

  std::string description() const override { return "counting " + to_.description(); }
  void gemm(Op op_a, Op op_b, int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda,
            const float *b, int64_t ldb, float beta, float *c, int64_t ldc) override {
    ++gemm_calls;
    ForwardingBackend::gemm(op_a, op_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  }
  void gemm(Op op_a, Op op_b, int64_t m, int64_t n, int64_t k, double alpha, const double *a, int64_t lda,
            const double *b, int64_t ldb, double beta, double *c, int64_t ldc) override {
    ++gemm_calls;
    ForwardingBackend::gemm(op_a, op_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  }
  void syrk(Triangle uplo, Op op, int64_t n, int64_t k, float alpha, const float *a, int64_t lda, float beta,
            float *c, int64_t ldc) override {
    ++syrk_calls;
    ForwardingBackend::syrk(uplo, op, n, k, alpha, a, lda, beta, c, ldc);
  }
  void syrk(Triangle uplo, Op op, int64_t n, int64_t k, double alpha, const double *a, int64_t lda, double beta,
            double *c, int64_t ldc) override {
    ++syrk_calls;
    ForwardingBackend::syrk(uplo, op, n, k, alpha, a, lda, beta, c, ldc);
  }
  void trmm(Side side, Triangle uplo, Op op_a, Diag diag, int64_t m, int64_t n, float alpha, const float *a,
            int64_t lda, float *b, int64_t ldb) override {
    ++trmm_calls;
    ForwardingBackend::trmm(side, uplo, op_a, diag, m, n, alpha, a, lda, b, ldb);
  }
  int potrf(Triangle uplo, int64_t n, float *a, int64_t lda) override {
    ++potrf_calls;
    return ForwardingBackend::potrf(uplo, n, a, lda);
  }
  int trtri(Triangle uplo, Diag diag, int64_t n, float *a, int64_t lda) override {
    ++trtri_calls;
    return ForwardingBackend::trtri(uplo, diag, n, a, lda);
  }
};

TEST(CpuBackend, ContextResolvesItsBackend) {
  EXPECT_EQ(&vqr::backend_of(nullptr), &vqr::backend::cpu());
  vqr::Context ctx;
  EXPECT_EQ(&vqr::backend_of(&ctx), &vqr::backend::cpu());
  CountingBackend counting;
  ctx.backend = &counting;
  EXPECT_EQ(&vqr::backend_of(&ctx), &counting);
  EXPECT_NE(vqr::backend::cpu().description().find("LAPACKE"), std::string::npos);
}

// An asymmetric GPTQ sweep (alpha > 0: POTRF, TRTRI, the TRMMs of the projection, the cross-block
// GEMMs) with a context that carries the counting backend gives the same codes and scales, bit for
// bit, as with the default CPU backend, and every one of its operations went through the backend.
TEST(CpuBackend, GptqSweepAndHessianComputeThroughTheContextsBackend) {
  const int64_t m = 24, n = 160, t = 400;  // n > the block width 128: one cross-block GEMM
  const auto xq = random_matrix<float>(t, n, 9), xf = random_matrix<float>(t, n, 10);
  const auto w = random_matrix<float>(m, n, 11);
  CountingBackend counting;
  vqr::hessian::Hessian h(n, /*f64=*/false, /*asymmetric=*/true, counting);
  h.add_pair(vqr::tensor_2d(xq.data(), vqr::DType::F32, t, n, 0), vqr::tensor_2d(xf.data(), vqr::DType::F32, t, n, 0));
  EXPECT_EQ(counting.syrk_calls, 1);
  EXPECT_EQ(counting.gemm_calls, 1);

  vqr::quant::QuantConfig qc;
  qc.method = vqr::quant::Method::Gptaq;
  qc.group_size = 32;
  qc.alpha = 0.25;
  qc.alpha2 = 0;
  qc.outer = vqr::quant::OuterMode::Quantized;
  auto sweep = [&](vqr::Context *ctx) { return vqr::quant::gptq_quantize(w.data(), m, n, h.view(), qc, ctx, 1, nullptr); };
  CountingBackend sweep_counter;
  vqr::Context plain, routed;
  routed.backend = &sweep_counter;
  const vqr::quant::QuantizedLayer a = sweep(&plain);
  const vqr::quant::QuantizedLayer b = sweep(&routed);
  EXPECT_EQ(sweep_counter.potrf_calls, 1);
  EXPECT_EQ(sweep_counter.trtri_calls, 1);
  EXPECT_EQ(sweep_counter.trmm_calls, 2);
  EXPECT_EQ(sweep_counter.gemm_calls, 2);  // the cross-block update and its asymmetric twin
  EXPECT_EQ(sweep_counter.syrk_calls, 0);
  ASSERT_EQ(a.codes.size(), b.codes.size());
  EXPECT_TRUE(a.codes == b.codes);
  ASSERT_EQ(a.scales.size(), b.scales.size());
  EXPECT_EQ(std::memcmp(a.scales.data(), b.scales.data(), a.scales.size() * sizeof(a.scales[0])), 0);
}

}  // namespace
