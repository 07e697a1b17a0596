// Double-precision references of GPTAQ and ResComp (spec gptq §2, §3, §9), written for the tests
// from the spec, independent of the library:
//  - asym_reference_unblocked: the exact per-column least-squares meaning of GPTAQ (spec §2.4):
//    for q in processing order, Q_q = quant(w_q) and
//      w_F += (w_q - Q_q) H_{q,F} (H_{F,F})^-1 + alpha w_q D_{q,F} (H_{F,F})^-1,  F = {q+1..n-1},
//    solving with the trailing block of the damped H directly (no U, no P, no blocks).
//  - asym_reference_blocked: the blocked code path of the official GPTAQ / ResComp repositories
//    (spec §2.4, §3.2) with the explicit matrices U (H_damped^-1 = U^T U, from an explicit inverse),
//    P = alpha triu1(D U^T) U and R = alpha2 triu1((D + H) U^T) U (H undamped, as the ResComp code
//    builds xhat_x), in-block rank-1 updates and the cross-block update with the outer weights
//    Y = Q (quantized / "org"), w (prequant) or clamp(w) (prequant_clamped / "allw"; the inner update
//    then skips column i). The clamp range is the representable range of the quantizer of the
//    LAST column of the block, as in the ResComp code (the library uses each column's own one; they
//    agree per channel and with dynamic groups of g = block size).
// Preprocessing (spec §1.3, §9 steps 1-4): dead columns (H_jj == 0: H_jj := 1, W[:, j] := 0,
// D[:, j] := 0, W0 likewise), fixed quantizer parameters (per row or static groups) from the
// dead-zeroed weights in original order, act-order (stable sort of diag H descending), damping
// lambda = damp * mean(diag H) after the dead fix. Dynamic groups read the fully updated weights
// (VQR_PARAM_STALE_GROUPS = 0).
#pragma once

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "common/ref_quant.h"
#include "common/test_util.h"

namespace vqrt {

struct AsymRefConfig {
  GridSpec grid;
  int64_t group = -1;  // -1: one group per row
  bool act_order = false;
  bool static_groups = false;
  double damp = 0.01;
  double alpha = 0.0;   // weight of the asymmetry term
  double alpha2 = 0.0;  // weight of the compensation-aware term (blocked reference only)
  int outer = VQR_OUTER_QUANTIZED;  // blocked reference only
  int64_t block = 128;              // blocked reference only (min(block, n) is used)
  // Near-tie replay: when w / s lies within tie_eps scale units of a rounding boundary, take the
  // code the library chose (hint, m x n in original column order) if it is one of the two
  // neighbouring codes. fp32 (library) and double (here) may legitimately round such a value
  // differently, and one flip changes every later column; replaying it keeps the comparison exact
  // everywhere else. nullptr: no replay.
  const std::vector<uint8_t> *hint = nullptr;
  double tie_eps = 1e-3;
};

struct AsymRefResult {
  std::vector<uint8_t> codes;  // m x n, original column order
  std::vector<double> deq;     // m x n
  std::vector<float> scales;   // G x m
  std::vector<float> zeros;    // G x m
  std::vector<int32_t> g_idx;  // n
  std::vector<int64_t> perm;   // processing position -> original column
  int64_t dead = 0;
  double lambda = 0.0;
  // Smallest distance of w / s to a rounding boundary (a half-integer), in units of the scale,
  // over all quantized entries whose two neighbouring codes are both on the grid: how close the
  // run came to a tie that fp32 rounding could flip. Printed when codes differ.
  double min_tie_margin = INFINITY;
  int64_t replayed = 0;  // near-tie decisions taken from the hint that differ from double rounding
  bool ok = true;
};

// Preprocessed problem in processing order.
struct AsymPrep {
  int64_t m = 0, n = 0, gs = 0, ngroups = 0;
  std::vector<double> wp, w0p;  // m x n: working and original weights (dead columns zero)
  std::vector<double> hp;       // n x n: dead-fixed, damped H
  std::vector<double> hraw;     // n x n: H as given (no dead fix, no damping)
  std::vector<double> dp;       // n x n: D with dead columns zeroed
  std::vector<double> draw;     // n x n: D as given
  std::vector<int64_t> perm;
  std::vector<QParams> fixed;   // G x m: per-row or static-group parameters
  int64_t dead = 0;
  double lambda = 0.0;
};

// w: m x n; h, d: n x n as vqr_hessian_read / vqr_hessian_read_d return them.
inline AsymPrep asym_prepare(const std::vector<float> &w_in, const std::vector<float> &h_in,
                             const std::vector<float> &d_in, int64_t m, int64_t n, const AsymRefConfig &cfg) {
  AsymPrep p;
  p.m = m;
  p.n = n;
  p.gs = cfg.group > 0 ? cfg.group : n;
  p.ngroups = (n + p.gs - 1) / p.gs;
  std::vector<double> w(w_in.begin(), w_in.end()), h(h_in.begin(), h_in.end()), d(d_in.begin(), d_in.end());
  std::vector<double> hraw = h, draw = d;
  for (int64_t j = 0; j < n; ++j)
    if (h[j * n + j] == 0.0) {
      h[j * n + j] = 1.0;
      for (int64_t r = 0; r < m; ++r) w[r * n + j] = 0.0;
      for (int64_t i = 0; i < n; ++i) d[i * n + j] = 0.0;
      ++p.dead;
    }
  p.fixed.resize((size_t)(p.ngroups * m));
  if (cfg.group <= 0 || cfg.static_groups)
    for (int64_t k = 0; k < p.ngroups; ++k)
      for (int64_t r = 0; r < m; ++r) {
        const int64_t j0 = k * p.gs, len = std::min(p.gs, n - j0);
        p.fixed[(size_t)(k * m + r)] = grid_params(&w[r * n + j0], len, cfg.grid);
      }
  p.perm.resize((size_t)n);
  std::iota(p.perm.begin(), p.perm.end(), 0);
  if (cfg.act_order)
    std::stable_sort(p.perm.begin(), p.perm.end(), [&](int64_t a, int64_t b) { return h[a * n + a] > h[b * n + b]; });
  p.wp.resize((size_t)(m * n));
  for (int64_t r = 0; r < m; ++r)
    for (int64_t q = 0; q < n; ++q) p.wp[r * n + q] = w[r * n + p.perm[q]];
  p.w0p = p.wp;
  auto permute = [&](const std::vector<double> &a) {
    std::vector<double> b((size_t)(n * n));
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j) b[i * n + j] = a[p.perm[i] * n + p.perm[j]];
    return b;
  };
  p.hp = permute(h);
  p.hraw = permute(hraw);
  p.dp = permute(d);
  p.draw = permute(draw);
  double mean_diag = 0.0;
  for (int64_t j = 0; j < n; ++j) mean_diag += p.hp[j * n + j];
  mean_diag /= (double)n;
  p.lambda = cfg.damp * mean_diag;
  for (int64_t j = 0; j < n; ++j) p.hp[j * n + j] += p.lambda;
  return p;
}

namespace detail {

// The code of w, with the margin bookkeeping and the near-tie replay of AsymRefConfig::hint
// (ref_quant.h replayable_code). r, j: row and ORIGINAL column of the entry.
inline int ref_code(AsymRefResult &out, const AsymRefConfig &cfg, double w, const QParams &qp, int64_t r, int64_t j,
                    int64_t n) {
  const int hint = cfg.hint ? (*cfg.hint)[(size_t)(r * n + j)] : -1;
  return replayable_code(w, qp, cfg.grid.bits, hint, cfg.tie_eps, out.min_tie_margin, out.replayed);
}

// Parameters of column q for every row; dynamic groups call `dyn_slice(r, q, len, buf)` at group
// starts to obtain the current weights of the group.
template <class SliceFn>
inline void column_params(const AsymPrep &p, const AsymRefConfig &cfg, int64_t q, std::vector<QParams> &dynamic,
                          std::vector<QParams> &col, SliceFn dyn_slice) {
  const int64_t m = p.m, n = p.n, gs = p.gs;
  std::vector<double> buf;
  for (int64_t r = 0; r < m; ++r) {
    if (cfg.group <= 0) {
      col[(size_t)r] = p.fixed[(size_t)r];
    } else if (cfg.static_groups) {
      col[(size_t)r] = p.fixed[(size_t)((p.perm[(size_t)q] / gs) * m + r)];
    } else {
      if (q % gs == 0) {
        const int64_t len = std::min(gs, n - q);
        buf.assign((size_t)len, 0.0);
        dyn_slice(r, q, len, buf.data());
        dynamic[(size_t)((q / gs) * m + r)] = grid_params(buf.data(), len, cfg.grid);
      }
      col[(size_t)r] = dynamic[(size_t)((q / gs) * m + r)];
    }
  }
}

inline AsymRefResult finish(const AsymPrep &p, const AsymRefConfig &cfg, const std::vector<uint8_t> &codes_p,
                            const std::vector<QParams> &dynamic, AsymRefResult out) {
  const int64_t m = p.m, n = p.n, gs = p.gs;
  out.perm = p.perm;
  out.dead = p.dead;
  out.lambda = p.lambda;
  const bool gather = cfg.act_order && cfg.group > 0 && !cfg.static_groups;
  std::vector<int64_t> invperm((size_t)n);
  for (int64_t q = 0; q < n; ++q) invperm[(size_t)p.perm[(size_t)q]] = q;
  out.g_idx.resize((size_t)n);
  for (int64_t j = 0; j < n; ++j) out.g_idx[(size_t)j] = (int32_t)((gather ? invperm[(size_t)j] : j) / gs);
  const std::vector<QParams> &table = (cfg.group > 0 && !cfg.static_groups) ? dynamic : p.fixed;
  out.scales.resize(table.size());
  out.zeros.resize(table.size());
  for (size_t i = 0; i < table.size(); ++i) {
    out.scales[i] = table[i].scale;
    out.zeros[i] = table[i].zero;
  }
  out.codes.resize((size_t)(m * n));
  out.deq.resize((size_t)(m * n));
  for (int64_t r = 0; r < m; ++r)
    for (int64_t j = 0; j < n; ++j) {
      const uint8_t c = codes_p[(size_t)(r * n + invperm[(size_t)j])];
      out.codes[(size_t)(r * n + j)] = c;
      const int64_t k = out.g_idx[(size_t)j];
      out.deq[(size_t)(r * n + j)] = (double)out.scales[(size_t)(k * m + r)] * ((double)c - (double)out.zeros[(size_t)(k * m + r)]);
    }
  return out;
}

}  // namespace detail

// Exact per-column least squares (spec §2.4 "Exact per-column meaning"); cfg.alpha2, outer and
// block are ignored. O(n^4 / 12) flops.
inline AsymRefResult asym_reference_unblocked(const std::vector<float> &w, const std::vector<float> &h,
                                              const std::vector<float> &d, int64_t m, int64_t n,
                                              const AsymRefConfig &cfg) {
  AsymPrep p = asym_prepare(w, h, d, m, n, cfg);
  AsymRefResult out;
  std::vector<double> &wp = p.wp;
  std::vector<QParams> dynamic((size_t)(p.ngroups * m)), col((size_t)m);
  std::vector<uint8_t> codes_p((size_t)(m * n));
  std::vector<double> err((size_t)m), wq((size_t)m), sub, v, u;
  for (int64_t q = 0; q < n; ++q) {
    detail::column_params(p, cfg, q, dynamic, col, [&](int64_t r, int64_t q0, int64_t len, double *buf) {
      for (int64_t k = 0; k < len; ++k) buf[k] = wp[(size_t)(r * n + q0 + k)];
    });
    for (int64_t r = 0; r < m; ++r) {
      const double x = wp[(size_t)(r * n + q)];
      const int c = detail::ref_code(out, cfg, x, col[(size_t)r], r, p.perm[(size_t)q], n);
      codes_p[(size_t)(r * n + q)] = (uint8_t)c;
      const double qv = (double)col[(size_t)r].scale * ((double)c - (double)col[(size_t)r].zero);
      err[(size_t)r] = x - qv;
      wq[(size_t)r] = x;
    }
    const int64_t f = n - q - 1;
    if (f == 0) break;
    sub.assign((size_t)(f * f), 0.0);
    v.assign((size_t)f, 0.0);
    u.assign((size_t)f, 0.0);
    for (int64_t a = 0; a < f; ++a) {
      v[(size_t)a] = p.hp[(size_t)((q + 1 + a) * n + q)];  // H_{F,q} = H_{q,F}^T
      u[(size_t)a] = p.dp[(size_t)(q * n + q + 1 + a)];    // D_{q,F}^T
      for (int64_t b = 0; b < f; ++b) sub[(size_t)(a * f + b)] = p.hp[(size_t)((q + 1 + a) * n + (q + 1 + b))];
    }
    if (!cholesky(sub, f)) {
      ADD_FAILURE() << "asym_reference_unblocked: damped H_FF not SPD at q = " << q;
      out.ok = false;
      return out;
    }
    cholesky_solve(sub, f, v.data());  // (H_FF)^-1 H_Fq   = (H_qF H_FF^-1)^T
    cholesky_solve(sub, f, u.data());  // (H_FF)^-1 D_qF^T = (D_qF H_FF^-1)^T
    for (int64_t r = 0; r < m; ++r)
      for (int64_t a = 0; a < f; ++a)
        wp[(size_t)(r * n + q + 1 + a)] += err[(size_t)r] * v[(size_t)a] + cfg.alpha * wq[(size_t)r] * u[(size_t)a];
  }
  return detail::finish(p, cfg, codes_p, dynamic, std::move(out));
}

// The explicit matrices of the blocked code path, in processing order.
struct AsymMatrices {
  std::vector<double> U;     // upper, H_damped^-1 = U^T U
  std::vector<double> Phat;  // triu1(D U^T) U (unscaled)
  std::vector<double> Rhat;  // triu1((D + H) U^T) U (unscaled; R = alpha2 Rhat)
};

// U from an explicit inverse: H^-1 = L L^T (lower Cholesky of the inverse), U = L^T.
inline bool upper_inverse_factor(const std::vector<double> &hp, int64_t n, std::vector<double> &U) {
  std::vector<double> hinv;
  if (!spd_inverse(hp, n, hinv)) return false;
  if (!cholesky(hinv, n)) return false;
  U.assign((size_t)(n * n), 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = i; j < n; ++j) U[(size_t)(i * n + j)] = hinv[(size_t)(j * n + i)];
  return true;
}

// triu1(A U^T) U for U upper triangular.
inline std::vector<double> triu1_project(const std::vector<double> &A, const std::vector<double> &U, int64_t n) {
  std::vector<double> T((size_t)(n * n), 0.0), out((size_t)(n * n), 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = i + 1; j < n; ++j) {
      double s = 0.0;
      for (int64_t k = j; k < n; ++k) s += A[(size_t)(i * n + k)] * U[(size_t)(j * n + k)];
      T[(size_t)(i * n + j)] = s;
    }
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = i + 1; j < n; ++j) {
      double s = 0.0;
      for (int64_t k = i + 1; k <= j; ++k) s += T[(size_t)(i * n + k)] * U[(size_t)(k * n + j)];
      out[(size_t)(i * n + j)] = s;
    }
  return out;
}

inline bool asym_matrices(const AsymPrep &p, AsymMatrices &mat) {
  const int64_t n = p.n;
  if (!upper_inverse_factor(p.hp, n, mat.U)) return false;
  mat.Phat = triu1_project(p.dp, mat.U, n);
  std::vector<double> c((size_t)(n * n));
  for (size_t i = 0; i < c.size(); ++i) c[i] = p.draw[i] + p.hraw[i];  // xhat_x = D + H (raw)
  mat.Rhat = triu1_project(c, mat.U, n);
  return true;
}

// The blocked sweep of the reference code (spec §2.4, §3.2), explicit P and R.
inline AsymRefResult asym_reference_blocked(const std::vector<float> &w, const std::vector<float> &h,
                                            const std::vector<float> &d, int64_t m, int64_t n,
                                            const AsymRefConfig &cfg) {
  AsymPrep p = asym_prepare(w, h, d, m, n, cfg);
  AsymRefResult out;
  AsymMatrices mat;
  if (!asym_matrices(p, mat)) {
    ADD_FAILURE() << "asym_reference_blocked: damped H not SPD";
    out.ok = false;
    return out;
  }
  const std::vector<double> &U = mat.U;
  auto P = [&](int64_t a, int64_t b) { return cfg.alpha * mat.Phat[(size_t)(a * n + b)]; };
  auto R = [&](int64_t a, int64_t b) { return cfg.alpha2 * mat.Rhat[(size_t)(a * n + b)]; };
  const int bits = cfg.grid.bits;
  const double maxq = (double)maxq_unsigned(bits);
  const bool allw = cfg.outer == VQR_OUTER_PREQUANT_CLAMPED;
  const int64_t B = std::min<int64_t>(cfg.block, n);
  std::vector<double> &W = p.wp;
  const std::vector<double> &W0 = p.w0p;
  std::vector<QParams> dynamic((size_t)(p.ngroups * m)), col((size_t)m), last((size_t)m);
  std::vector<uint8_t> codes_p((size_t)(m * n));
  std::vector<double> W1, Err1, Pre1, Y1;
  auto clamp_to = [&](double x, const QParams &qp) {
    const double lo = (double)qp.scale * (0.0 - (double)qp.zero), hi = (double)qp.scale * (maxq - (double)qp.zero);
    return std::min(std::max(x, lo), hi);
  };
  for (int64_t i1 = 0; i1 < n; i1 += B) {
    const int64_t i2 = std::min(n, i1 + B), nb = i2 - i1;
    W1.assign((size_t)(m * nb), 0.0);
    Err1.assign((size_t)(m * nb), 0.0);
    Pre1.assign((size_t)(m * nb), 0.0);
    Y1.assign((size_t)(m * nb), 0.0);
    for (int64_t r = 0; r < m; ++r)
      for (int64_t i = 0; i < nb; ++i) W1[(size_t)(r * nb + i)] = W[(size_t)(r * n + i1 + i)];
    for (int64_t i = 0; i < nb; ++i) {
      const int64_t q = i1 + i;
      // Dynamic groups read the current weights: in-block from W1, beyond the block W plus the
      // pending cross-block contributions of columns i1..q-1 (what W will hold after the block).
      detail::column_params(p, cfg, q, dynamic, col, [&](int64_t r, int64_t q0, int64_t len, double *buf) {
        for (int64_t k = 0; k < len; ++k) {
          const int64_t j = q0 + k;
          if (j < i2) {
            buf[k] = W1[(size_t)(r * nb + (j - i1))];
            continue;
          }
          double v = W[(size_t)(r * n + j)];
          for (int64_t c = i1; c < q0; ++c) {
            const double y = Y1[(size_t)(r * nb + (c - i1))];
            v -= Err1[(size_t)(r * nb + (c - i1))] * U[(size_t)(c * n + j)] - y * P(c, j) -
                 (W0[(size_t)(r * n + c)] - y) * R(c, j);
          }
          buf[k] = v;
        }
      });
      if (i == nb - 1) last = col;
      const double uqq = U[(size_t)(q * n + q)];
      for (int64_t r = 0; r < m; ++r) {
        const double x = W1[(size_t)(r * nb + i)];
        const QParams &qp = col[(size_t)r];
        const int c = detail::ref_code(out, cfg, x, qp, r, p.perm[(size_t)q], n);
        codes_p[(size_t)(r * n + q)] = (uint8_t)c;
        const double Q = (double)qp.scale * ((double)c - (double)qp.zero);
        const double e = (x - Q) / uqq;
        const double w0 = W0[(size_t)(r * n + q)];
        Err1[(size_t)(r * nb + i)] = e;
        Pre1[(size_t)(r * nb + i)] = x;
        // Outer weight (the clamp is redone with the last column's range after the block).
        Y1[(size_t)(r * nb + i)] = cfg.outer == VQR_OUTER_QUANTIZED ? Q : (allw ? clamp_to(x, qp) : x);
        // In-block update: W1[:, j] -= e U_qj - w P_qj - (w0 - w) R_qj; "allw" skips column i.
        for (int64_t j = allw ? i + 1 : i; j < nb; ++j)
          W1[(size_t)(r * nb + j)] -= e * U[(size_t)(q * n + i1 + j)] - x * P(q, i1 + j) - (w0 - x) * R(q, i1 + j);
      }
    }
    if (allw)
      for (int64_t r = 0; r < m; ++r)
        for (int64_t i = 0; i < nb; ++i)
          Y1[(size_t)(r * nb + i)] = clamp_to(Pre1[(size_t)(r * nb + i)], last[(size_t)r]);
    // Cross-block update: W[:, i2:] -= Err1 U[blk, i2:] - Y1 P[blk, i2:] - (W0blk - Y1) R[blk, i2:].
    for (int64_t r = 0; r < m; ++r)
      for (int64_t j = i2; j < n; ++j) {
        double s = 0.0;
        for (int64_t i = 0; i < nb; ++i) {
          const int64_t q = i1 + i;
          const double y = Y1[(size_t)(r * nb + i)];
          s += Err1[(size_t)(r * nb + i)] * U[(size_t)(q * n + j)] - y * P(q, j) -
               (W0[(size_t)(r * n + q)] - y) * R(q, j);
        }
        W[(size_t)(r * n + j)] -= s;
      }
  }
  return detail::finish(p, cfg, codes_p, dynamic, std::move(out));
}

// W* = W (I + D H_damped^-1) in double (spec §3.3), in ORIGINAL column order, with the dead fix
// of spec §9 step 1 (dead columns of W and D zeroed, H_jj := 1) and lambda = damp * mean(diag H)
// after the dead fix. m x n.
inline std::vector<double> exact_target_weights(const std::vector<float> &w_in, const std::vector<float> &h_in,
                                                const std::vector<float> &d_in, int64_t m, int64_t n,
                                                double damp) {
  std::vector<double> w(w_in.begin(), w_in.end()), h(h_in.begin(), h_in.end()), d(d_in.begin(), d_in.end());
  for (int64_t j = 0; j < n; ++j)
    if (h[(size_t)(j * n + j)] == 0.0) {
      h[(size_t)(j * n + j)] = 1.0;
      for (int64_t r = 0; r < m; ++r) w[(size_t)(r * n + j)] = 0.0;
      for (int64_t i = 0; i < n; ++i) d[(size_t)(i * n + j)] = 0.0;
    }
  double mean_diag = 0.0;
  for (int64_t j = 0; j < n; ++j) mean_diag += h[(size_t)(j * n + j)];
  mean_diag /= (double)n;
  for (int64_t j = 0; j < n; ++j) h[(size_t)(j * n + j)] += damp * mean_diag;
  std::vector<double> l = h;
  std::vector<double> out = w;
  if (!cholesky(l, n)) {
    ADD_FAILURE() << "exact_target_weights: damped H not SPD";
    return out;
  }
  std::vector<double> y((size_t)n);
  for (int64_t r = 0; r < m; ++r) {
    // Row r of W D H^-1: solve H z = (W_r D)^T (H symmetric).
    for (int64_t j = 0; j < n; ++j) {
      double s = 0.0;
      for (int64_t k = 0; k < n; ++k) s += w[(size_t)(r * n + k)] * d[(size_t)(k * n + j)];
      y[(size_t)j] = s;
    }
    cholesky_solve(l, n, y.data());
    for (int64_t j = 0; j < n; ++j) out[(size_t)(r * n + j)] += y[(size_t)j];
  }
  return out;
}

}  // namespace vqrt
