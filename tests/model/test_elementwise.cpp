// The BLAS path's elementwise passes (model/elementwise.h) against their run.c-order twins: RoPE
// from the table and SwiGLU bit for bit, RMSNorm (another order for the sum of squares) within its
// derived bound, and every pass bit for bit across thread counts and the row's alignment.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "model/elementwise.h"
#include "model/forward.h"

using vqr::model::RopeLayout;

namespace {

constexpr double kU = 1.0 / (1 << 24);  // fp32 unit roundoff

std::vector<float> randn(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, scale);
  std::vector<float> v(n);
  for (float &x : v) x = nd(rng);
  return v;
}

// T = 1100 tokens: every pass below but the 16-wide norm has more than kMinParallelValues values,
// so it runs in parallel; awkward widths: 1 + 16k and prime.
constexpr int64_t kT = 1100;

}  // namespace

TEST(Elementwise, RopeTableMatchesReferenceBitForBit) {
  const int64_t NH = 12, NKV = 4, HS = 22;
  ASSERT_GE(kT * (NH + NKV) * HS, vqr::model::kMinParallelValues);
  vqr::model::ModelConfig c;
  c.dim = static_cast<int>(NH * HS);
  c.n_heads = static_cast<int>(NH);
  c.rope_theta = 5e5f;
  const std::vector<float> inv = vqr::model::rope_inverse_frequencies(c);
  const std::vector<float> table = vqr::model::rope_table(inv, kT);
  for (RopeLayout layout : {RopeLayout::kInterleaved, RopeLayout::kHalf}) {
    const std::vector<float> q0 = randn(kT * NH * HS, 1), k0 = randn(kT * NKV * HS, 2);
    std::vector<float> qr = q0, kr = k0;
    vqr::model::rope_forward(qr.data(), kr.data(), kT, NH, NKV, HS, inv.data(), layout);
    for (int threads : {1, 2, 3}) {
      std::vector<float> q = q0, k = k0;
      vqr::model::qk_norm_rope_rows(q.data(), k.data(), table.data(), nullptr, nullptr, 1e-6f, kT, NH, NKV, HS, layout,
                                    threads);
      EXPECT_EQ(q, qr) << "threads " << threads;
      EXPECT_EQ(k, kr) << "threads " << threads;
    }
  }
}

TEST(Elementwise, SwigluRowsMatchesReferenceBitForBit) {
  const int64_t H = 257;
  ASSERT_GE(kT * H, vqr::model::kMinParallelValues);
  const std::vector<float> a0 = randn(kT * H, 3, 3.0f), b = randn(kT * H, 4);
  std::vector<float> ref = a0;
  vqr::model::swiglu_forward(ref.data(), b.data(), kT * H);
  for (int threads : {1, 2}) {
    std::vector<float> a = a0;
    vqr::model::swiglu_rows(a.data(), b.data(), kT, H, threads);
    EXPECT_EQ(a, ref);
  }
}

// |rows - reference| <= (C u + 4 u) |reference| per value: the sums of squares of the two orders
// differ by at most 2 C u relative (each within C u of the exact sum, all terms >= 0), the scale
// 1/sqrt(ss / C + eps) by half of that, and the division, sqrt and two products round the same
// expressions in both (a few u, bounded by 4 u once they differ by the scale's perturbation).
TEST(Elementwise, RmsNormRowsWithinOrderBoundAndDeterministic) {
  for (int64_t C : {int64_t{16}, int64_t{257}, int64_t{2048}}) {
    const std::vector<float> x = randn(kT * C + 1, 5, 2.0f), w = randn(C, 6);
    std::vector<float> ref(static_cast<size_t>(kT * C));
    vqr::model::rmsnorm_forward(ref.data(), x.data(), w.data(), kT, C, 1e-5f);
    std::vector<float> one(ref.size()), two(ref.size());
    vqr::model::rmsnorm_rows(one.data(), x.data(), w.data(), kT, C, 1e-5f, 1);
    vqr::model::rmsnorm_rows(two.data(), x.data(), w.data(), kT, C, 1e-5f, 2);
    EXPECT_EQ(one, two) << "C " << C << ": the thread count changed the bits";
    double worst = 0;
    for (size_t i = 0; i < ref.size(); ++i) {
      const double bound = (static_cast<double>(C) + 4.0) * kU * std::fabs(ref[i]);
      const double d = std::fabs(static_cast<double>(one[i]) - ref[i]);
      worst = std::max(worst, bound > 0 ? d / bound : d);
      ASSERT_LE(d, bound) << "C " << C << " at " << i;
    }
    std::printf("rmsnorm C %lld: worst difference %.3g of the bound\n", static_cast<long long>(C), worst);
    // The same row at another alignment (one float further, copied): the same bits.
    std::vector<float> shifted(x.size() + 1);
    std::copy(x.begin(), x.begin() + kT * C, shifted.begin() + 1);
    std::vector<float> moved(ref.size());
    vqr::model::rmsnorm_rows(moved.data(), shifted.data() + 1, w.data(), kT, C, 1e-5f, 2);
    EXPECT_EQ(moved, one) << "C " << C << ": the alignment changed the bits";
  }
}

// Qwen3's per-head norm fused with RoPE equals the two reference passes within the norm's bound
// (RoPE's rotation has norm 1 and adds its own rounding identically on both sides).
TEST(Elementwise, QkNormFusedWithRopeWithinBound) {
  const int64_t NH = 8, NKV = 4, HS = 32;
  vqr::model::ModelConfig c;
  c.dim = static_cast<int>(NH * HS);
  c.n_heads = static_cast<int>(NH);
  const std::vector<float> inv = vqr::model::rope_inverse_frequencies(c);
  const std::vector<float> table = vqr::model::rope_table(inv, kT);
  const std::vector<float> qn = randn(HS, 7), kn = randn(HS, 8);
  const std::vector<float> q0 = randn(kT * NH * HS, 9), k0 = randn(kT * NKV * HS, 10);
  std::vector<float> qr = q0, kr = k0;
  vqr::model::rmsnorm_forward(qr.data(), qr.data(), qn.data(), kT * NH, HS, 1e-6f);
  vqr::model::rmsnorm_forward(kr.data(), kr.data(), kn.data(), kT * NKV, HS, 1e-6f);
  vqr::model::rope_forward(qr.data(), kr.data(), kT, NH, NKV, HS, inv.data(), RopeLayout::kHalf);
  std::vector<float> q = q0, k = k0;
  vqr::model::qk_norm_rope_rows(q.data(), k.data(), table.data(), qn.data(), kn.data(), 1e-6f, kT, NH, NKV, HS,
                                RopeLayout::kHalf, 2);
  // Per pair: |v0 c - v1 s| <= |v0| + |v1|, each input within (HS + 4) u relative, and the
  // rotation's own rounding (the same on both sides up to those inputs) adds 4 u of that magnitude.
  auto check = [&](const std::vector<float> &got, const std::vector<float> &want, const std::vector<float> &in,
                   const std::vector<float> &gain, int64_t heads) {
    for (int64_t row = 0; row < kT * heads; ++row) {
      double ss = 0;
      for (int64_t j = 0; j < HS; ++j) ss += static_cast<double>(in[row * HS + j]) * in[row * HS + j];
      const double scale = 1.0 / std::sqrt(ss / HS + 1e-6);
      double mag = 0;  // max |normed value| in the row: bounds every rotated value's pair sum / 2
      for (int64_t j = 0; j < HS; ++j) mag = std::max(mag, std::fabs(gain[j] * scale * in[row * HS + j]));
      const double bound = 2.0 * mag * (HS + 8.0) * kU;
      for (int64_t j = 0; j < HS; ++j)
        ASSERT_LE(std::fabs(static_cast<double>(got[row * HS + j]) - want[row * HS + j]), bound) << row << "," << j;
    }
  };
  check(q, qr, q0, qn, NH);
  check(k, kr, k0, kn, NKV);
}

TEST(Elementwise, FillRowsRepeatsTheBias) {
  const int64_t n = 131;
  const std::vector<float> bias = randn(n, 11);
  std::vector<float> y(static_cast<size_t>(kT * n), -1.0f);
  vqr::model::fill_rows(y.data(), bias.data(), kT, n, 2);
  for (int64_t t = 0; t < kT; ++t)
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(y[t * n + i], bias[i]);
}
