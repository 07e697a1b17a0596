// The GPTQ sweep (gptq.h). Dimension letters: m rows (out_features), n columns (in_features),
// B block width, g group size, R rows per tile. All work is in the processing order (act-order
// permutation).
//
// Per block [i1, i2) every row runs its own sequential column loop — quantize column q, error
// e = (w_q - Q_q) / U_qq, w_j -= e U_qj for the remaining in-block j (spec §1.4) — independent
// across rows. The loop runs on tiles of R = 16 rows held transposed (column-major, B x R, in L1),
// so every step is one 16-wide vector operation across rows with no remainder loops: quantize 16
// weights, then one broadcast FMA per remaining column. Tiles are distributed over threads. The
// cross-block ("lazy") update W[:, i2:] -= E U[i1:i2, i2:] is one SGEMM per block. Codes are the
// ones the sweep computes; they are never re-derived from floats. The block's own columns of W
// are not written back: nothing reads them after their block.
//
// Plain GPTQ never forms U beyond its diagonal blocks ("V form"; it saves the n^3/3 TRTRI). With
// Hp = V V^T (V = J L J upper, J Hp J = L L^T) and U = V^-1, W0 - Q = E U gives E = (W0 - Q) V, and
// the GPTQ value of block [i1, i2) when the sweep reaches it is
//   W0_blk - E[:, <i1] U[<i1, blk] = W0_blk + A_blk U_bb,   A = (W0 - Q)[:, <i1] V[<i1, :],
// because V[<i1, <i1] U[<i1, blk] = -V[<i1, blk] U_bb (block (<i1, blk) of V U = I). So the sweep
// accumulates A with the same m x B x (n - i2) SGEMMs, now against rows of L, maps the block
// through U_bb = (V_bb)^-1 (a B x B TRTRI and an m x B x B TRMM per block) and runs the in-block
// loop on U_bb exactly as before. A is kept in reversed column order, where V's rows are L's rows.
// This needs every dynamic group to end inside the block it starts in (group reads beyond the
// block would need U's off-diagonal blocks): other configurations, and the asymmetric sweeps
// (which need U for P) and GPTQ on an asymmetric statistic, take the U route.
//
// Each block's column loop is first offered to the context's backend (Backend::gptq_sweep_block,
// backend/gptq_block_job.h), which runs it fused on its device, bit-identical to sweep_tile below.
// The CPU backend declines, and so does any backend for a block whose job cannot be expressed
// (block_job): then the tile loop runs here, as it always did.
#include "quant/gptq.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <omp.h>

#include "backend/backend.h"
#include "core/buffer.h"
#include "core/dtype.h"
#include "core/error.h"
#include "core/sanitizer.h"
#include "quant/asymmetry.h"
#include "quant/grid.h"
#include "quant/method_traits.h"

namespace vqr::quant {

namespace {

constexpr int64_t kRowTile = 16;

struct SweepState {
  int64_t m, n, B, gs;
  bool dynamic_groups;  // group params recomputed as the sweep reaches each group start
  bool stale_groups;    // reproduce the reference's stale in-block reads (spec §1.5)
  GridSpec spec;
  const float *U;         // n x n upper, processing order (U route), or nullptr
  const float *Ublock;    // B x B: U[i1:i2, i1:i2] of the block being swept (V route), or nullptr
  const float *Ar;        // m x n: A in reversed column order, Ar[:, n-1-j] ~ column j (V route)
  const int64_t *perm;    // processing position -> original column
  const float *W;         // m x n working weights, processing order (columns >= i1 are current
                          // up to the pending updates of the block being swept)
  uint8_t *codes;         // m x n codes, processing order
  float *scales, *zeros;  // G x m
  float *err;             // m x B: E_out, the errors the cross-block update multiplies by U; on the
                          // V route (W0 - Q) of the block in reversed column order
  // Asymmetric calibration (spec §9); P == nullptr for plain GPTQ.
  const float *P;         // n x n Phat = triu1(D U^T) U, processing order
  const float *W0;        // m x n original weights, processing order (only when alpha2 != 0)
  float *verr;            // m x B: V_out, the weights the cross-block update multiplies by Phat
  float alpha, alpha2;
  OuterMode outer;
  // Rounding split (spec vqround §2.2), m x n processing order; nullptr when not requested.
  float *base, *residual;
  // Per row tile: sum of the tile's e^2 over the blocks swept so far (plain GPTQ only; the
  // damped proxy loss, gptq.h). One slot per tile, so the total does not depend on the threads.
  double *err_sq;
};

// Per-thread scratch of the tile kernel.
struct TileScratch {
  Buffer<float> tile;         // B x R: the tile's weights, column-major (tile[c * R + r])
  Buffer<float> block_start;  // B x R copy at block start (stale mode only)
  Buffer<float> tile0;        // B x R: the tile's original weights (alpha2 != 0 only)
  Buffer<float> slice;        // g floats: one row's group slice
  explicit TileScratch(int64_t B, int64_t gs)
      : tile((size_t)(B * kRowTile)), block_start((size_t)(B * kRowTile)), tile0((size_t)(B * kRowTile)),
        slice((size_t)gs) {}
};

// tile[c * R + r] = M[(r0 + r) * n + i1 + c] for the tile's rows, zeros for padding rows.
void load_tile(float *__restrict tile, const float *M, int64_t n, int64_t r0, int64_t rows, int64_t i1,
               int64_t i2) {
  for (int64_t c = 0; c < i2 - i1; ++c)
    for (int64_t r = 0; r < kRowTile; ++r) tile[c * kRowTile + r] = r < rows ? M[(r0 + r) * n + i1 + c] : 0.0f;
}

// Parameters of the dynamic group starting at processing position p (inside block [i1, i2)) for
// tile row r (global row `row`). "Fresh" reads the weights with every update from columns < p
// applied: the in-block part of the tile is current, and columns beyond the block get the pending
// updates of columns i1..p-1 added here, so the result does not depend on the block size.
// "Stale" reads what the reference reads: block-start values inside the block, W beyond it.
GroupParams dynamic_group_params(const SweepState &s, const TileScratch &t, int64_t r, int64_t row, int64_t p,
                                 int64_t i1, int64_t i2, float *slice) {
  const int64_t end = std::min(s.n, p + s.gs);
  const float *in_block = s.stale_groups ? t.block_start.data() : t.tile.data();
  int64_t k = 0;
  for (int64_t j = p; j < std::min(end, i2); ++j) slice[k++] = in_block[(j - i1) * kRowTile + r];
  for (int64_t j = i2; j < end; ++j) {  // never on the V route (gptq_quantize checks)
    float v = s.W[row * s.n + j];
    if (!s.stale_groups)
      for (int64_t c = i1; c < p; ++c) {
        v -= s.err[row * s.B + (c - i1)] * s.U[c * s.n + j];
        if (s.P) v += s.verr[row * s.B + (c - i1)] * s.P[c * s.n + j];
      }
    slice[k++] = v;
  }
  return find_group_params(slice, k, s.spec);
}

// The sequential column loop of block [i1, i2) for rows [r0, r0 + rows), rows <= R (spec §1.4,
// with the asymmetry terms of §9 when kAsym). For column q with current value w, original w0 and
// grid value Q: e = (w - Q) / U_qq, and the remaining in-block columns take
//   w_j -= e_in U_qj - v_in Phat_qj,  e_in = e + alpha2 (w0 - w) / U_qq,  v_in = alpha w + alpha2 (w0 - w)
// while the cross-block update uses E_out = e + alpha2 (w0 - y) / U_qq and V_out = alpha y +
// alpha2 (w0 - y) with y = Q, w or clamp(w) by the outer mode. ResComp's R matrix is folded in
// through R = (alpha2/alpha) P + alpha2 (I - diag(U)^-1 U) (spec §3.3). Compiled for AVX-512,
// AVX2 and baseline x86-64 and chosen at load time.
template <bool kAsym, bool kSplit>
VQR_TARGET_CLONES
void sweep_tile(const SweepState &s, TileScratch &t, int64_t r0, int64_t rows, int64_t i1, int64_t i2) {
  constexpr int64_t R = kRowTile;
  float *__restrict tile = t.tile.data();
  load_tile(tile, s.W, s.n, r0, rows, i1, i2);
  if (s.Ar && i1 > 0)  // V route: the block's GPTQ values W0 + A U_bb (A U_bb already in Ar)
    for (int64_t c = 0; c < i2 - i1; ++c)
      for (int64_t r = 0; r < rows; ++r) tile[c * kRowTile + r] += s.Ar[(r0 + r) * s.n + (s.n - 1 - i1 - c)];
  if (s.dynamic_groups && s.stale_groups) std::memcpy(t.block_start.data(), tile, (size_t)((i2 - i1) * R) * 4);
  const bool has_w0 = kAsym && s.W0;  // without it w0 = w: the compensation-aware term is 0
  const float *__restrict tile0 = t.tile0.data();
  if (has_w0) load_tile(t.tile0.data(), s.W0, s.n, r0, rows, i1, i2);

  // Padding rows quantize zeros with scale 1, zero 0: harmless, never stored (their e is 0).
  float scale[R], zero[R], e[R], code[R], e_in[R], v_in[R], v_out[R], base[R], resid[R];
  double e_sq[R] = {};
  for (int64_t r = 0; r < R; ++r) {
    scale[r] = 1.0f;
    zero[r] = 0.0f;
  }
  const float maxq = (float)s.spec.maxq;
  for (int64_t q = i1; q < i2; ++q) {
    const int64_t k = s.dynamic_groups ? q / s.gs : s.perm[q] / s.gs;
    if (!s.dynamic_groups || q % s.gs == 0 || q == i1) {
      // A group inside the block without the MSE search: its range for all the tile's rows at
      // once, one vector min and max per column (the same values and comparisons as
      // find_group_params, so the same parameters); otherwise row by row.
      const bool new_group = s.dynamic_groups && q % s.gs == 0;
      const int64_t g_end = std::min(s.n, q + s.gs);
      const bool tile_range = new_group && !s.spec.mse && g_end <= i2;
      float lo[R], hi[R];
      if (tile_range) {
        const float *__restrict src = (s.stale_groups ? t.block_start.data() : tile) + (q - i1) * R;
        for (int64_t r = 0; r < R; ++r) lo[r] = hi[r] = 0.0f;
        for (int64_t j = 0; j < g_end - q; ++j) {
#pragma omp simd
          for (int64_t r = 0; r < R; ++r) {
            const float v = src[j * R + r];
            lo[r] = v < lo[r] ? v : lo[r];
            hi[r] = hi[r] < v ? v : hi[r];
          }
        }
      }
      for (int64_t r = 0; r < rows; ++r) {
        if (new_group) {
          const GroupParams p = tile_range ? group_params_from_range(lo[r], hi[r], s.spec)
                                           : dynamic_group_params(s, t, r, r0 + r, q, i1, i2, t.slice.data());
          s.scales[k * s.m + r0 + r] = p.scale;
          s.zeros[k * s.m + r0 + r] = p.zero;
        }
        scale[r] = s.scales[k * s.m + r0 + r];
        zero[r] = s.zeros[k * s.m + r0 + r];
      }
    }
    // u[j - i1] = U_qj for j in [q, i2), from U or from the block's U_bb.
    const float *__restrict u = s.Ublock ? s.Ublock + (q - i1) * (i2 - i1) : s.U + q * s.n + i1;
    const float d = u[q - i1];
    float *__restrict x = tile + (q - i1) * R;
#pragma omp simd
    for (int64_t r = 0; r < R; ++r) {
      code[r] = quantize_code_f(x[r], scale[r], zero[r], maxq);
      const float Q = scale[r] * (code[r] - zero[r]);
      const float w = x[r];
      e[r] = (w - Q) / d;
      if (kSplit) {
        const float u = w / scale[r], b = floorf(u), res = u - b - e[r];
        base[r] = b;
        resid[r] = res < 0.0f ? 0.0f : (res > 1.0f ? 1.0f : res);
      }
      if (kAsym) {
        const float w0 = has_w0 ? tile0[(q - i1) * R + r] : w;
        e_in[r] = e[r] + s.alpha2 * (w0 - w) / d;
        v_in[r] = s.alpha * w + s.alpha2 * (w0 - w);
        float y = Q;
        if (s.outer == OuterMode::Prequant) y = w;
        if (s.outer == OuterMode::PrequantClamped) {
          const float lo = -scale[r] * zero[r], hi = scale[r] * (maxq - zero[r]);
          y = w < lo ? lo : (w > hi ? hi : w);
        }
        e[r] += s.alpha2 * (w0 - y) / d;  // E_out
        v_out[r] = s.alpha * y + s.alpha2 * (w0 - y);
      }
      x[r] = Q;
      if (!kAsym) e_sq[r] += (double)e[r] * (double)e[r];
    }
    for (int64_t r = 0; r < rows; ++r) {
      s.codes[(r0 + r) * s.n + q] = (uint8_t)code[r];
      if (s.Ar)
        s.err[(r0 + r) * s.B + (i2 - 1 - q)] = s.W[(r0 + r) * s.n + q] - scale[r] * (code[r] - zero[r]);
      else
        s.err[(r0 + r) * s.B + (q - i1)] = e[r];
      if (kAsym) s.verr[(r0 + r) * s.B + (q - i1)] = v_out[r];
      if (kSplit) {
        s.base[(r0 + r) * s.n + q] = base[r];
        s.residual[(r0 + r) * s.n + q] = resid[r];
      }
    }
    // One or two broadcast FMAs per remaining column. `omp simd` pins the vectorization to the
    // row axis: left alone, GCC vectorizes across j with permutes, several times slower.
    if (kAsym) {
      const float *__restrict pq = s.P + q * s.n;
      for (int64_t j = q + 1; j < i2; ++j) {
        const float uj = u[j - i1], pj = pq[j];
        float *__restrict col = tile + (j - i1) * R;
#pragma omp simd
        for (int64_t r = 0; r < R; ++r) col[r] += v_in[r] * pj - e_in[r] * uj;
      }
    } else {
      for (int64_t j = q + 1; j < i2; ++j) {
        const float uj = u[j - i1];
        float *__restrict col = tile + (j - i1) * R;
#pragma omp simd
        for (int64_t r = 0; r < R; ++r) col[r] -= e[r] * uj;
      }
    }
  }
  if (!kAsym && s.err_sq) {
    double sum = 0;
    for (int64_t r = 0; r < R; ++r) sum += e_sq[r];
    s.err_sq[r0 / R] += sum;
  }
}

// The backend job of block [i1, i2) (backend/gptq_block_job.h): the same inputs, outputs and
// arithmetic as the sweep_tile calls of the block. `group` and `start` (B entries each) receive the
// per-column group indices. Returns false when the block needs what a job cannot express: the MSE
// search of a dynamic group, or a dynamic group that reads columns beyond the block.
bool block_job(const SweepState &s, int64_t i1, int64_t i2, int32_t *group, int32_t *start, float *e_out,
               backend::GptqBlockJob &job) {
  const int64_t b = i2 - i1;
  bool starts = false;
  for (int64_t q = i1; q < i2; ++q) {
    group[q - i1] = (int32_t)(s.dynamic_groups ? q / s.gs : s.perm[q] / s.gs);
    start[q - i1] = 0;
    if (s.dynamic_groups && q % s.gs == 0) {
      const int64_t len = std::min(s.n, q + s.gs) - q;
      if (s.spec.mse || q + len > i2) return false;
      start[q - i1] = (int32_t)len;
      starts = true;
    }
  }
  job = backend::GptqBlockJob{};
  job.m = s.m;
  job.b = b;
  job.maxq = s.spec.maxq;
  job.sym = s.spec.sym;
  job.grid = (backend::SweepGrid)s.spec.grid;
  job.scale_dtype = s.spec.scale_dtype;
  job.w = s.W + i1;
  job.ldw = s.n;
  if (s.Ar && i1 > 0) {
    job.add = s.Ar + (s.n - i2);
    job.ld_add = s.n;
  }
  job.u = s.Ublock ? s.Ublock : s.U + i1 * s.n + i1;
  job.ldu = s.Ublock ? b : s.n;
  job.group = group;
  job.group_start = starts ? start : nullptr;
  job.stale = s.stale_groups;
  job.scales = s.scales;
  job.zeros = s.zeros;
  job.groups = (s.n + s.gs - 1) / s.gs;
  if (s.P) {
    job.p = s.P + i1 * s.n + i1;
    job.ldp = s.n;
    if (s.W0) {
      job.w0 = s.W0 + i1;
      job.ldw0 = s.n;
    }
    job.alpha = s.alpha;
    job.alpha2 = s.alpha2;
    job.outer = s.outer == OuterMode::Prequant          ? backend::SweepOuter::Prequant
                : s.outer == OuterMode::PrequantClamped ? backend::SweepOuter::PrequantClamped
                                                        : backend::SweepOuter::Quantized;
    job.verr = s.verr;
    job.ldv = s.B;
  }
  job.codes = s.codes + i1;
  job.ldc = s.n;
  job.err = s.err;
  job.lde = s.B;
  job.err_residual = s.Ar != nullptr;
  if (e_out) {
    job.e = e_out;
    job.ld_e = s.B;
  }
  if (s.base) {
    job.base = s.base + i1;
    job.residual = s.residual + i1;
    job.ld_split = s.n;
  }
  return true;
}

// sweep_tile's err_sq for a block the backend swept: per row tile, the rows' sums of e^2 over the
// block's columns in column order, added up in row order (padding rows add exact zeros there).
// e: m x b, ld B.
void add_block_err_sq(const SweepState &s, const float *e, int64_t b, int threads) {
  const int64_t tiles = (s.m + kRowTile - 1) / kRowTile;
#pragma omp parallel for num_threads(threads_for(threads, s.m * b)) schedule(static)
  for (int64_t tix = 0; tix < tiles; ++tix) {
    double sum = 0;
    for (int64_t r = tix * kRowTile; r < std::min(s.m, (tix + 1) * kRowTile); ++r) {
      double e_sq = 0;
      for (int64_t c = 0; c < b; ++c) e_sq += (double)e[r * s.B + c] * (double)e[r * s.B + c];
      sum += e_sq;
    }
    s.err_sq[tix] += sum;
  }
}

// Fails with Status::NonFinite when block [i1, i2)'s errors (and, for GPTAQ, its V_out) hold a
// NaN or Inf. Finite weights and a finite, factored Hessian can still overflow fp32 here (entries
// of D or H near 1e38 make Phat or U huge); left alone, the NaN would spread through the lazy
// update into every later column and come out as code 0 (quantize_code_f), a wrong model with
// VQR_OK. One pass over m x b values per block, against the block's m x b x n update.
void check_block_finite(const SweepState &s, const HessianFactor &f, const char *method, int64_t i1, int64_t i2) {
  const int64_t b = i2 - i1;
  for (const float *buf : {s.err, s.Ar || !s.P ? nullptr : s.verr}) {
    if (!buf) continue;
    for (int64_t r = 0; r < s.m; ++r) {
      const int64_t c = find_nonfinite(buf + r * s.B, b);
      if (c < 0) continue;
      const int64_t q = s.Ar ? i2 - 1 - c : i1 + c;  // the V route stores the block reversed
      throw Error(Status::NonFinite,
                  std::string(method) + " sweep: row " + std::to_string(r) + ", column " +
                      std::to_string(f.perm[(size_t)q]) + ": the propagated error overflowed fp32 (" +
                      (buf == s.err ? "E" : "V") +
                      " is NaN or Inf) although the weights and the Hessian are finite; hint: the "
                      "calibration statistics (H or D) are too large for fp32: scale the activations or "
                      "accumulate in fp64 (VQR_HESSIAN_F64)");
    }
  }
}

}  // namespace

bool sweep_gives_damped_loss(const QuantConfig &config) {
  return config.alpha == 0 && config.alpha2 == 0 && !config.exact_target;
}

QuantizedLayer gptq_quantize(const float *W_in, int64_t m, int64_t n, const hessian::HessianView &H,
                             const QuantConfig &config, Context *ctx, int threads, HessianFactor *factor_out,
                             RoundingSplit *split, double *damped_loss) {
  require(!damped_loss || sweep_gives_damped_loss(config), Status::Internal,
          "gptq_quantize: the damped loss needs plain GPTQ arithmetic");
  QuantizedLayer q(m, n, config.group_size, config.bits);
  const GridSpec spec = grid_spec(config);
  const int64_t gs = q.group_size;
  const bool grouped = config.group_size > 0;
  const bool static_groups = grouped && config.static_groups;
  backend::Backend &be = backend_of(ctx);

  // Phase timings go to the log at DEBUG level: where a layer's time goes, for tuning.
  const double t_start = omp_get_wtime();
  const int64_t B = std::min<int64_t>(config.block_size, n);
  const bool asym = config.alpha != 0 || config.alpha2 != 0;
  // The V route (file comment): plain GPTQ whose dynamic groups never cross a block boundary, on a
  // symmetric statistic. With D present GPTQ is the alpha = 0 member of the GPTAQ family and keeps
  // the family's U arithmetic, so that GPTAQ with D = 0 reproduces it bit for bit.
  const bool v_route =
      sweep_gives_damped_loss(config) && !H.has_d() && (!grouped || static_groups || B % gs == 0);
  HessianFactor f = factor_hessian(H, config.act_order, config, /*need_inverse=*/!v_route,
                                   /*keep_cholesky=*/v_route || factor_out != nullptr, ctx, threads);
  const bool permuted = config.act_order;
  const double t_factored = omp_get_wtime();

  // Working weights in processing order, dead columns zeroed (spec §1.3 step 2), in one parallel
  // pass from the caller's weights. The V route only reads them: without act-order and dead
  // columns it reads the caller's array itself, no copy.
  Buffer<float> W;
  const bool own_copy = permuted || !v_route || f.dead_count > 0;
  if (own_copy) {
    W = Buffer<float>((size_t)(m * n));
#pragma omp parallel for num_threads(threads_for(threads, m * n)) schedule(static)
    for (int64_t r = 0; r < m; ++r)
      for (int64_t c = 0; c < n; ++c) {
        const int64_t j = f.perm[(size_t)c];
        W[(size_t)(r * n + c)] = f.dead[(size_t)j] ? 0.0f : W_in[r * n + j];
      }
  }
  const float *Wr = own_copy ? W.data() : W_in;  // read-only view of the working weights

  // Asymmetric calibration (spec §9): Phat from D and U; W0 for the compensation-aware term.
  // The exact-target ablation (spec §3.3) instead moves the target once and runs plain GPTQ.
  Buffer<float> P, W0;
  if (asym || config.exact_target) {
    Buffer<float> Dp = permuted_d(H, f, threads);
    if (config.exact_target) apply_exact_target(be, W.data(), m, Dp, f);
    if (asym) P = asymmetry_projection(be, std::move(Dp), f);
    if (config.alpha2 != 0) W0 = W;
  }

  // Fixed parameters: per-channel from the whole (dead-zeroed) row; static groups from the
  // original column groups (spec §1.5). Both read the weights before any compensation.
  if (!grouped || static_groups) {
    std::vector<float> row_orig_order;
#pragma omp parallel for num_threads(threads_for(threads, m * n)) schedule(static) firstprivate(row_orig_order)
    for (int64_t r = 0; r < m; ++r) {
      const float *row = &Wr[(size_t)(r * n)];
      if (permuted) {
        row_orig_order.resize((size_t)n);
        for (int64_t c = 0; c < n; ++c) row_orig_order[(size_t)f.perm[(size_t)c]] = row[c];
        row = row_orig_order.data();
      }
      for (int64_t k = 0; k < q.groups; ++k) {
        const int64_t j0 = k * gs, j1 = std::min(n, j0 + gs);
        const GroupParams p = find_group_params(row + j0, j1 - j0, spec);
        q.scales[(size_t)(k * m + r)] = p.scale;
        q.zeros[(size_t)(k * m + r)] = p.zero;
      }
    }
  }

  Buffer<uint8_t> codes_p(permuted ? (size_t)(m * n) : 0);  // codes in processing order
  Buffer<float> err((size_t)(m * B)), verr(asym ? (size_t)(m * B) : 0);
  // V route: A in reversed column order (first written by block 0's SGEMM with beta = 0), and
  // per block the inverse of L's diagonal block and U's diagonal block, all computed up front so
  // that the sweep alternates between one OpenMP region and the BLAS calls of one block, as the U
  // route does (each hand-over between the two thread pools costs, bench/README.md).
  const int64_t nblocks = (n + B - 1) / B;
  Buffer<float> Ar(v_route && n > B ? (size_t)(m * n) : 0), Linv(v_route ? (size_t)(nblocks * B * B) : 0),
      Ublock(v_route ? (size_t)(nblocks * B * B) : 0);
  for (int64_t b = 0; v_route && b < nblocks; ++b)
    diagonal_block_inverse(be, f, b * B, std::min(n, b * B + B), &Linv[(size_t)(b * B * B)],
                           &Ublock[(size_t)(b * B * B)]);
  std::vector<TileScratch> scratch;
  for (int t = 0; t < threads; ++t) scratch.emplace_back(B, gs);

  SweepState s{};
  s.m = m;
  s.n = n;
  s.B = B;
  s.gs = gs;
  s.dynamic_groups = grouped && !static_groups;
  s.stale_groups = config.stale_groups;
  s.spec = spec;
  s.U = v_route ? nullptr : f.U.data();
  s.Ublock = nullptr;  // per block below
  s.Ar = v_route ? Ar.data() : nullptr;
  s.perm = f.perm.data();
  s.W = Wr;
  s.codes = permuted ? codes_p.data() : q.codes.data();
  s.scales = q.scales.data();
  s.zeros = q.zeros.data();
  s.err = err.data();
  s.P = asym ? P.data() : nullptr;
  s.W0 = W0.empty() ? nullptr : W0.data();
  s.verr = verr.data();
  s.alpha = (float)config.alpha;
  s.alpha2 = (float)config.alpha2;
  s.outer = config.outer;
  if (split) {
    split->base = Buffer<float>((size_t)(m * n));
    split->residual = Buffer<float>((size_t)(m * n));
  }
  s.base = split ? split->base.data() : nullptr;
  s.residual = split ? split->residual.data() : nullptr;
  const int64_t tiles = (m + kRowTile - 1) / kRowTile;
  std::vector<double> err_sq(damped_loss ? (size_t)tiles : 0, 0.0);
  s.err_sq = damped_loss ? err_sq.data() : nullptr;

  // The backend's fused block sweep: per-column group indices, and on the V route the errors e
  // that the damped loss sums (err holds W0 - Q there).
  std::vector<int32_t> job_group((size_t)B), job_start((size_t)B);
  Buffer<float> job_e(v_route && damped_loss ? (size_t)(m * B) : 0);
  int64_t device_blocks = 0;

  const double t_sweep = omp_get_wtime();
  double gemm_seconds = 0;
  Progress progress(ctx, method_traits(config.method).stage, n);
  for (int64_t i1 = 0; i1 < n; i1 += B) {
    const int64_t i2 = std::min(n, i1 + B);
    const int64_t lo = n - i2;  // V route: the block's first column in reversed order
    if (v_route) s.Ublock = &Ublock[(size_t)((i1 / B) * B * B)];
    // The block's column loop: the backend's fused sweep when it takes the job, else the tiles.
    backend::GptqBlockJob job;
    float *job_e_out = job_e.empty() ? nullptr : job_e.data();
    if (block_job(s, i1, i2, job_group.data(), job_start.data(), job_e_out, job) && be.gptq_sweep_block(job)) {
      ++device_blocks;
      if (s.err_sq) add_block_err_sq(s, job_e_out ? job_e_out : err.data(), i2 - i1, threads);
    } else {
#pragma omp parallel num_threads(threads_for(threads, m * (i2 - i1) * (i2 - i1) / 2))
      {
        TileScratch &mine = scratch[(size_t)omp_get_thread_num()];
#pragma omp for schedule(static)
        for (int64_t tix = 0; tix < tiles; ++tix) {
          const int64_t r0 = tix * kRowTile, rows = std::min(kRowTile, m - r0);
          if (asym)
            split ? sweep_tile<true, true>(s, mine, r0, rows, i1, i2)
                  : sweep_tile<true, false>(s, mine, r0, rows, i1, i2);
          else
            split ? sweep_tile<false, true>(s, mine, r0, rows, i1, i2)
                  : sweep_tile<false, false>(s, mine, r0, rows, i1, i2);
        }
      }
    }
    check_block_finite(s, f, method_name(config.method), i1, i2);
    // Lazy cross-block update: W[:, i2:] -= E_out U[i1:i2, i2:] - V_out Phat[i1:i2, i2:].
    // V route: Ar[:, :lo] += (W0 - Q)_blk reversed x L[lo:lo+b, :lo] (rows of V, reversed).
    const double t_gemm = omp_get_wtime();
    if (i2 < n && v_route) {
      be.gemm(backend::Op::None, backend::Op::None, m, lo, i2 - i1, 1.0f, err.data(), B, &f.L[(size_t)(lo * n)], n,
              i1 == 0 ? 0.0f : 1.0f, Ar.data(), n);
      // The next block [i2, i3) as GPTQ values: Ar_next := Ar_next Linv_next = (A_next U_next) reversed.
      const int64_t i3 = std::min(n, i2 + B);
      be.trmm(backend::Side::Right, backend::Triangle::Lower, backend::Op::None, backend::Diag::NonUnit, m, i3 - i2,
              1.0f, &Linv[(size_t)((i2 / B) * B * B)], i3 - i2, &Ar[(size_t)(n - i3)], n);
    } else if (i2 < n) {
      be.gemm(backend::Op::None, backend::Op::None, m, n - i2, i2 - i1, -1.0f, err.data(), B,
              &f.U[(size_t)(i1 * n + i2)], n, 1.0f, &W[(size_t)i2], n);
      if (asym)
        be.gemm(backend::Op::None, backend::Op::None, m, n - i2, i2 - i1, 1.0f, verr.data(), B,
                &P[(size_t)(i1 * n + i2)], n, 1.0f, &W[(size_t)i2], n);
    }
    gemm_seconds += omp_get_wtime() - t_gemm;
    progress.checkpoint(i2, i2 == n);
  }

  if (damped_loss) {
    *damped_loss = 0;
    for (double t : err_sq) *damped_loss += t;
  }

  const double t_end_sweep = omp_get_wtime();
  // Back to the original column order (spec §1.7); g_idx per the group rule in use.
  if (permuted) {
#pragma omp parallel for num_threads(threads_for(threads, m * n)) schedule(static)
    for (int64_t r = 0; r < m; ++r)
      for (int64_t c = 0; c < n; ++c) q.codes[(size_t)(r * n + f.perm[(size_t)c])] = codes_p[(size_t)(r * n + c)];
    if (s.dynamic_groups)
      for (int64_t c = 0; c < n; ++c) q.g_idx[(size_t)f.perm[(size_t)c]] = (int32_t)(c / gs);
    if (split)
      for (Buffer<float> *b : {&split->base, &split->residual}) {
        Buffer<float> orig((size_t)(m * n));
#pragma omp parallel for num_threads(threads_for(threads, m * n)) schedule(static)
        for (int64_t r = 0; r < m; ++r)
          for (int64_t c = 0; c < n; ++c) orig[(size_t)(r * n + f.perm[(size_t)c])] = (*b)[(size_t)(r * n + c)];
        *b = std::move(orig);
      }
  }

  if (ctx && ctx->log_fn && ctx->log_level <= LogLevel::Debug) {
    char line[256];
    std::snprintf(line, sizeof line,
                  "gptq %lld x %lld: factor %.3f s, setup %.3f s, in-block %.3f s (%lld of %lld blocks on the "
                  "backend's fused sweep), cross-block GEMM %.3f s, finish %.3f s",
                  (long long)m, (long long)n, t_factored - t_start, t_sweep - t_factored,
                  t_end_sweep - t_sweep - gemm_seconds, (long long)device_blocks, (long long)nblocks, gemm_seconds,
                  omp_get_wtime() - t_end_sweep);
    log_message(ctx, LogLevel::Debug, line);
  }
  q.report.method = config.method;
  q.report.alpha = config.alpha;
  q.report.alpha2 = config.alpha2;
  q.report.outer_mode = asym ? config.outer : OuterMode::Quantized;
  q.report.damp = f.damp;
  q.report.damp_lambda = f.lambda;
  q.report.damp_attempts = f.attempts;
  q.report.dead_columns = f.dead_count;
  if (factor_out) {
    f.U.reset();
    *factor_out = std::move(f);
  }
  return q;
}

}  // namespace vqr::quant
