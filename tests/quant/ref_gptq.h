// Unblocked per-column OBS reference of GPTQ (spec gptq §1.3-§1.5, §8 check 1), in double:
// dead-column fix, static groups, act-order (stable sort of diag H, descending), damping
// lambda = damp * mean(diag H), then for each processing position q: Q_q = quant(w_q) and
// w_F += (w_q - Q_q) H_{q,F} (H_{F,F})^{-1} with F the columns not yet quantized. No U factor, no
// blocks: each step solves with the trailing block of H directly. Dynamic groups read the fully
// updated weights (VQR_PARAM_STALE_GROUPS = 0), or, with stale_block = B > 0, the reference quirk
// of spec §1.5 (STALE_GROUPS = 1): a group starting inside a lazy block of B columns reads the
// weights as they were at the start of that block (the global W lacks the in-block updates until
// the block ends). O(n^4 / 12) flops: keep n below ~200.
#pragma once

#include <algorithm>
#include <numeric>
#include <vector>

#include "common/ref_quant.h"
#include "common/test_util.h"

namespace vqrt {

struct GptqRefConfig {
  GridSpec grid;
  int64_t group = -1;  // -1: one group per row
  bool act_order = false;
  bool static_groups = false;
  double damp = 0.01;
  int64_t stale_block = 0;  // > 0: dynamic groups read the snapshot taken at each block start
  // Near-tie replay (ref_quant.h replayable_code): the library's codes, m x n in original column
  // order, taken where w / s lies within tie_eps scale units of a rounding boundary. nullptr: none.
  const std::vector<uint8_t> *hint = nullptr;
  double tie_eps = 1e-3;
};

struct GptqRefResult {
  std::vector<uint8_t> codes;  // m x n, original column order
  std::vector<double> deq;     // m x n, scale * (code - zero)
  std::vector<float> scales;   // G x m, rows in the order g_idx refers to
  std::vector<float> zeros;    // G x m
  std::vector<int32_t> g_idx;  // n
  std::vector<int64_t> perm;   // processing position -> original column
  int64_t dead = 0;
  double min_tie_margin = INFINITY;  // closest approach to a rounding boundary, scale units
  int64_t replayed = 0;              // near-tie decisions taken from the hint
  // sum over rows and positions of the OBS error (w_q - Q_q)^2 / U_qq^2, with 1 / U_qq^2 the Schur
  // complement Hd_qq - Hd_qF Hd_FF^-1 Hd_Fq of the damped, dead-fixed, permuted H (spec §1.3):
  // the loss the sweep reports before undamping (vqr_report_level).
  double obs_loss = 0;
  std::vector<double> hd;  // that damped, dead-fixed, permuted H (n x n, processing order)
};

// w: m x n fp32 weights; h: n x n Hessian as vqr_hessian_read returns it.
inline GptqRefResult gptq_reference(const std::vector<float> &w_in, const std::vector<float> &h_in, int64_t m,
                                    int64_t n, const GptqRefConfig &cfg) {
  const int bits = cfg.grid.bits;
  const int64_t gs = cfg.group > 0 ? cfg.group : n;
  const int64_t ngroups = (n + gs - 1) / gs;
  std::vector<double> w(w_in.begin(), w_in.end());
  std::vector<double> h(h_in.begin(), h_in.end());
  GptqRefResult out;

  // Dead columns (spec §1.3 step 2).
  for (int64_t j = 0; j < n; ++j)
    if (h[j * n + j] == 0.0) {
      h[j * n + j] = 1.0;
      for (int64_t r = 0; r < m; ++r) w[r * n + j] = 0.0;
      ++out.dead;
    }

  // Parameters fixed before the sweep: per row (g = -1) or static groups, from the weights after
  // the dead fix, in original column order.
  std::vector<QParams> fixed((size_t)(ngroups * m));
  if (cfg.group <= 0 || cfg.static_groups)
    for (int64_t k = 0; k < ngroups; ++k)
      for (int64_t r = 0; r < m; ++r) {
        const int64_t j0 = k * gs, len = std::min(gs, n - j0);
        fixed[(size_t)(k * m + r)] = grid_params(&w[r * n + j0], len, cfg.grid);
      }

  // Act-order: stable sort by diag(H) descending (spec §1.3 step 4).
  out.perm.resize((size_t)n);
  std::iota(out.perm.begin(), out.perm.end(), 0);
  if (cfg.act_order)
    std::stable_sort(out.perm.begin(), out.perm.end(),
                     [&](int64_t a, int64_t b) { return h[a * n + a] > h[b * n + b]; });
  const std::vector<int64_t> &perm = out.perm;
  std::vector<double> wp((size_t)(m * n)), hp((size_t)(n * n));
  for (int64_t r = 0; r < m; ++r)
    for (int64_t q = 0; q < n; ++q) wp[r * n + q] = w[r * n + perm[q]];
  for (int64_t a = 0; a < n; ++a)
    for (int64_t b = 0; b < n; ++b) hp[a * n + b] = h[perm[a] * n + perm[b]];

  // Damping (spec §1.3 step 5).
  double mean_diag = 0.0;
  for (int64_t j = 0; j < n; ++j) mean_diag += hp[j * n + j];
  mean_diag /= (double)n;
  for (int64_t j = 0; j < n; ++j) hp[j * n + j] += cfg.damp * mean_diag;

  std::vector<QParams> dynamic((size_t)(ngroups * m));
  std::vector<uint8_t> codes_p((size_t)(m * n));
  std::vector<QParams> col_params((size_t)m);
  std::vector<double> err((size_t)m), sub, v, snapshot;
  for (int64_t q = 0; q < n; ++q) {
    if (cfg.stale_block > 0 && q % cfg.stale_block == 0) snapshot = wp;
    const std::vector<double> &group_src = cfg.stale_block > 0 ? snapshot : wp;
    // Quantizer of column q (spec §1.5).
    for (int64_t r = 0; r < m; ++r) {
      if (cfg.group <= 0) {
        col_params[(size_t)r] = fixed[(size_t)r];
      } else if (cfg.static_groups) {
        col_params[(size_t)r] = fixed[(size_t)((perm[q] / gs) * m + r)];
      } else {
        if (q % gs == 0) {
          const int64_t len = std::min(gs, n - q);
          dynamic[(size_t)((q / gs) * m + r)] = grid_params(&group_src[r * n + q], len, cfg.grid);
        }
        col_params[(size_t)r] = dynamic[(size_t)((q / gs) * m + r)];
      }
    }
    for (int64_t r = 0; r < m; ++r) {
      const int hint = cfg.hint ? (*cfg.hint)[(size_t)(r * n + perm[(size_t)q])] : -1;
      const int c = replayable_code(wp[r * n + q], col_params[(size_t)r], bits, hint, cfg.tie_eps, out.min_tie_margin,
                                    out.replayed);
      codes_p[r * n + q] = (uint8_t)c;
      const double qv = (double)col_params[(size_t)r].scale * ((double)c - (double)col_params[(size_t)r].zero);
      err[(size_t)r] = wp[r * n + q] - qv;
    }
    // OBS update of the free columns F = q+1..n-1: v = H_FF^{-1} H_Fq.
    double err_sq = 0.0;
    for (int64_t r = 0; r < m; ++r) err_sq += err[(size_t)r] * err[(size_t)r];
    const int64_t f = n - q - 1;
    if (f == 0) {
      out.obs_loss += err_sq * hp[q * n + q];
      break;
    }
    sub.assign((size_t)(f * f), 0.0);
    v.assign((size_t)f, 0.0);
    for (int64_t a = 0; a < f; ++a) {
      v[(size_t)a] = hp[(q + 1 + a) * n + q];
      for (int64_t b = 0; b < f; ++b) sub[(size_t)(a * f + b)] = hp[(q + 1 + a) * n + (q + 1 + b)];
    }
    if (!cholesky(sub, f)) {
      ADD_FAILURE() << "gptq_reference: damped H_FF not SPD at q = " << q;
      return out;
    }
    cholesky_solve(sub, f, v.data());
    double schur = hp[q * n + q];
    for (int64_t a = 0; a < f; ++a) schur -= hp[(q + 1 + a) * n + q] * v[(size_t)a];
    out.obs_loss += err_sq * schur;
    for (int64_t r = 0; r < m; ++r)
      for (int64_t a = 0; a < f; ++a) wp[r * n + q + 1 + a] += err[(size_t)r] * v[(size_t)a];
  }

  out.hd = hp;
  // Outputs in original column order (spec §1.7).
  const bool gather = cfg.act_order && cfg.group > 0 && !cfg.static_groups;
  std::vector<int64_t> invperm((size_t)n);
  for (int64_t q = 0; q < n; ++q) invperm[(size_t)perm[q]] = q;
  out.g_idx.resize((size_t)n);
  for (int64_t j = 0; j < n; ++j) out.g_idx[(size_t)j] = (int32_t)((gather ? invperm[(size_t)j] : j) / gs);
  const std::vector<QParams> &table = (cfg.group > 0 && !cfg.static_groups) ? dynamic : fixed;
  out.scales.resize((size_t)(ngroups * m));
  out.zeros.resize((size_t)(ngroups * m));
  for (size_t i = 0; i < table.size(); ++i) {
    out.scales[i] = table[i].scale;
    out.zeros[i] = table[i].zero;
  }
  out.codes.resize((size_t)(m * n));
  out.deq.resize((size_t)(m * n));
  for (int64_t r = 0; r < m; ++r)
    for (int64_t j = 0; j < n; ++j) {
      const uint8_t c = codes_p[r * n + invperm[(size_t)j]];
      out.codes[r * n + j] = c;
      const int64_t k = out.g_idx[(size_t)j];
      out.deq[r * n + j] = (double)out.scales[k * m + r] * ((double)c - (double)out.zeros[k * m + r]);
    }
  return out;
}

}  // namespace vqrt
