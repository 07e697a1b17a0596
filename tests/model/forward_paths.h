// How far two forwards that differ only in the summation order of their linear layers and
// attention sums (the BLAS and reference MatmulPaths, model/matmul.h, model/attention.h) may
// disagree, derived from fp32 arithmetic, and the check that applies it to two logit tables.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <vector>

#include "model/model.h"

namespace vqr_test {

// Bound on max|a - b| / max|logit| between the two paths' logits (linear layers as SGEMMs and
// attention as per-tile GEMMs, or both in run.c's order).
// - One linear output is a dot product of length n; any fp32 summation order gives
//   |fl(s) - s| <= n u sum|w||x| (u = 2^-24, Higham Thm 3.1 to first order), so two orders differ
//   by at most 2 n u sum|w||x| per output.
// - sum|w||x| stays within a small factor of the layer's output scale on these well-scaled
//   models (RMS-normed inputs, rows of norm ~1), and RMSNorm, RoPE, softmax, SwiGLU and the
//   residual adds pass a perturbation on with gain ~1, so the relative perturbations of the
//   sequential linears add: D = 4 per block (q/k/v, wo, w1/w3, w2) plus the classifier.
// - Attention adds two sums per block. A score q.k is a dot product of length HS: two orders
//   differ by 2 HS u sum|q||k| / sqrt(HS), an absolute perturbation of O(1)-sized scores that the
//   softmax turns into a relative one of the weights of at most twice that (d p_s / p_s =
//   d s_s - sum p d s), so 2 x 2 HS u. The output sum_s p_s v_s has at most T terms (T <= seq_len)
//   of weights summing to 1: 2 T u max|v|. Per block: 2 u (2 HS + seq_len).
// - The BLAS path's elementwise passes (model/elementwise.h): RoPE, SwiGLU and the gather are the
//   reference's bits; a bias or residual folded into the SGEMM is one more addend of the dot
//   product (n + 1 terms above); each RMSNorm sums its width's squares in another order, which moves
//   the norm's scale by at most width u relative: 2 per block plus the final one over dim, and
//   with qk_norm 2 per block over head_size (same gain argument).
// - kGain = 4 covers that small factor (sum|w||x| / |y| and the gains above), measured on the
//   test models at well under 1 (the observed differences are ~1e-3 of this bound).
// n is the widest input (dim, q_dim or hidden_dim).
inline double forward_order_tolerance(const vqr::model::ModelConfig &c) {
  constexpr double u = 1.0 / (1 << 24), kGain = 4.0;
  const double n = static_cast<double>(std::max({c.dim, c.q_dim(), c.hidden_dim}));
  const double D = 4.0 * c.n_layers + 1.0;
  const double attention = c.n_layers * (2.0 * static_cast<double>(c.head_size()) + c.seq_len);
  const double norms = (2.0 * c.n_layers + 1.0) * c.dim + (c.qk_norm ? 2.0 * c.n_layers * c.head_size() : 0.0);
  return kGain * 2.0 * u * (D * (n + 1.0) + attention + norms);
}

// Expects max|got - want| <= tol_rel * max|want| (same sizes); prints the largest difference.
inline void expect_logits_near(const std::vector<float> &got, const std::vector<float> &want, double tol_rel) {
  ASSERT_EQ(got.size(), want.size());
  double scale = 0, worst = 0;
  size_t at = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    scale = std::max(scale, (double)std::fabs(want[i]));
    const double d = std::fabs((double)got[i] - (double)want[i]);
    if (!(d <= worst)) worst = d, at = i;  // NaN counts as the worst
  }
  std::printf("logits: max |diff| %.3g at %zu, %.3g of the bound %.3g x max|logit| %.3g\n", worst, at,
              worst / (tol_rel * scale), tol_rel, scale);
  EXPECT_LE(worst, tol_rel * scale) << "at " << at << ": " << got[at] << " vs " << want[at];
}

}  // namespace vqr_test
