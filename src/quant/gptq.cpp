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
#include "quant/gptq.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include <omp.h>

#include "core/buffer.h"
#include "core/error.h"
#include "linalg/blas.h"
#include "quant/grid.h"

namespace vqr::quant {

namespace {

constexpr int64_t kRowTile = 16;

struct SweepState {
  int64_t m, n, B, gs;
  bool dynamic_groups;  // group params recomputed as the sweep reaches each group start
  bool stale_groups;    // reproduce the reference's stale in-block reads (spec §1.5)
  GridSpec spec;
  const float *U;         // n x n upper, processing order
  const int64_t *perm;    // processing position -> original column
  const float *W;         // m x n working weights, processing order (columns >= i1 are current
                          // up to the pending updates of the block being swept)
  uint8_t *codes;         // m x n codes, processing order
  float *scales, *zeros;  // G x m
  float *err;             // m x B scaled errors of the current block
};

// Per-thread scratch of the tile kernel.
struct TileScratch {
  Buffer<float> tile;         // B x R: the tile's weights, column-major (tile[c * R + r])
  Buffer<float> block_start;  // B x R copy at block start (stale mode only)
  Buffer<float> slice;        // g floats: one row's group slice
  explicit TileScratch(int64_t B, int64_t gs) : tile((size_t)(B * kRowTile)), block_start((size_t)(B * kRowTile)),
                                                slice((size_t)gs) {}
};

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
  for (int64_t j = i2; j < end; ++j) {
    float v = s.W[row * s.n + j];
    if (!s.stale_groups)
      for (int64_t c = i1; c < p; ++c) v -= s.err[row * s.B + (c - i1)] * s.U[c * s.n + j];
    slice[k++] = v;
  }
  return find_group_params(slice, k, s.spec);
}

// The sequential column loop of block [i1, i2) for rows [r0, r0 + rows), rows <= R. Compiled for
// AVX-512, AVX2 and baseline x86-64 and chosen at load time.
#if defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__)
__attribute__((target_clones("avx512f", "avx2", "default")))
#endif
void sweep_tile(const SweepState &s, TileScratch &t, int64_t r0, int64_t rows, int64_t i1, int64_t i2) {
  constexpr int64_t R = kRowTile;
  float *__restrict tile = t.tile.data();
  for (int64_t c = 0; c < i2 - i1; ++c)
    for (int64_t r = 0; r < R; ++r) tile[c * R + r] = r < rows ? s.W[(r0 + r) * s.n + i1 + c] : 0.0f;
  if (s.dynamic_groups && s.stale_groups) std::memcpy(t.block_start.data(), tile, (size_t)((i2 - i1) * R) * 4);

  // Padding rows quantize zeros with scale 1, zero 0: harmless, never stored.
  float scale[R], zero[R], e[R], code[R];
  for (int64_t r = 0; r < R; ++r) {
    scale[r] = 1.0f;
    zero[r] = 0.0f;
  }
  const float maxq = (float)s.spec.maxq;
  for (int64_t q = i1; q < i2; ++q) {
    const int64_t k = s.dynamic_groups ? q / s.gs : s.perm[q] / s.gs;
    if (!s.dynamic_groups || q % s.gs == 0 || q == i1) {
      for (int64_t r = 0; r < rows; ++r) {
        if (s.dynamic_groups && q % s.gs == 0) {
          const GroupParams p = dynamic_group_params(s, t, r, r0 + r, q, i1, i2, t.slice.data());
          s.scales[k * s.m + r0 + r] = p.scale;
          s.zeros[k * s.m + r0 + r] = p.zero;
        }
        scale[r] = s.scales[k * s.m + r0 + r];
        zero[r] = s.zeros[k * s.m + r0 + r];
      }
    }
    const float *__restrict u = s.U + q * s.n;
    const float d = u[q];
    float *__restrict x = tile + (q - i1) * R;
#pragma omp simd
    for (int64_t r = 0; r < R; ++r) {
      code[r] = quantize_code_f(x[r], scale[r], zero[r], maxq);
      const float Q = scale[r] * (code[r] - zero[r]);
      e[r] = (x[r] - Q) / d;
    }
    for (int64_t r = 0; r < rows; ++r) {
      s.codes[(r0 + r) * s.n + q] = (uint8_t)code[r];
      s.err[(r0 + r) * s.B + (q - i1)] = e[r];
    }
    // One broadcast FMA per remaining column. `omp simd` pins the vectorization to the row axis:
    // left alone, GCC vectorizes across j with permutes, several times slower.
    for (int64_t j = q + 1; j < i2; ++j) {
      const float uj = u[j];
      float *__restrict col = tile + (j - i1) * R;
#pragma omp simd
      for (int64_t r = 0; r < R; ++r) col[r] -= e[r] * uj;
    }
  }
}

}  // namespace

QuantizedLayer gptq_quantize(Buffer<float> W, int64_t m, int64_t n, const hessian::HessianView &H,
                             const QuantConfig &config,
                             vqr_context *ctx, int threads, HessianFactor *factor_out) {
  QuantizedLayer q(m, n, config.group_size, config.bits);
  const GridSpec spec = grid_spec(config);
  const int64_t gs = q.group_size;
  const bool grouped = config.group_size > 0;
  const bool static_groups = grouped && config.static_groups;

  // Phase timings go to the log at DEBUG level: where a layer's time goes, for tuning.
  const double t_start = omp_get_wtime();
  HessianFactor f = factor_hessian(H, config.act_order, config, /*need_inverse=*/true,
                                   /*keep_cholesky=*/factor_out != nullptr, ctx, threads);
  const bool permuted = config.act_order;

  // Working weights in processing order, dead columns zeroed (spec §1.3 step 2): in place
  // without act-order, through one permuted copy with it.
  if (permuted) {
    Buffer<float> Wp((size_t)(m * n));
#pragma omp parallel for num_threads(threads_for(threads, m * n)) schedule(static)
    for (int64_t r = 0; r < m; ++r)
      for (int64_t c = 0; c < n; ++c) {
        const int64_t j = f.perm[(size_t)c];
        Wp[(size_t)(r * n + c)] = f.dead[(size_t)j] ? 0.0f : W[(size_t)(r * n + j)];
      }
    W = std::move(Wp);
  } else if (f.dead_count > 0) {
    for (int64_t r = 0; r < m; ++r)
      for (int64_t j = 0; j < n; ++j)
        if (f.dead[(size_t)j]) W[(size_t)(r * n + j)] = 0.0f;
  }

  // Fixed parameters: per-channel from the whole (dead-zeroed) row; static groups from the
  // original column groups (spec §1.5). Both read the weights before any compensation.
  if (!grouped || static_groups) {
    std::vector<float> row_orig_order;
#pragma omp parallel for num_threads(threads_for(threads, m * n)) schedule(static) firstprivate(row_orig_order)
    for (int64_t r = 0; r < m; ++r) {
      const float *row = &W[(size_t)(r * n)];
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

  const int64_t B = std::min<int64_t>(config.block_size, n);
  Buffer<uint8_t> codes_p(permuted ? (size_t)(m * n) : 0);  // codes in processing order
  Buffer<float> err((size_t)(m * B));
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
  s.U = f.U.data();
  s.perm = f.perm.data();
  s.W = W.data();
  s.codes = permuted ? codes_p.data() : q.codes.data();
  s.scales = q.scales.data();
  s.zeros = q.zeros.data();
  s.err = err.data();

  const double t_sweep = omp_get_wtime();
  double gemm_seconds = 0;
  Progress progress(ctx, "gptq", n);
  for (int64_t i1 = 0; i1 < n; i1 += B) {
    const int64_t i2 = std::min(n, i1 + B);
    const int64_t tiles = (m + kRowTile - 1) / kRowTile;
#pragma omp parallel num_threads(threads_for(threads, m * (i2 - i1) * (i2 - i1) / 2))
    {
      TileScratch &mine = scratch[(size_t)omp_get_thread_num()];
#pragma omp for schedule(static)
      for (int64_t tix = 0; tix < tiles; ++tix)
        sweep_tile(s, mine, tix * kRowTile, std::min(kRowTile, m - tix * kRowTile), i1, i2);
    }
    // Lazy cross-block update: W[:, i2:] -= E[:, 0:i2-i1] U[i1:i2, i2:].
    const double t_gemm = omp_get_wtime();
    if (i2 < n)
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)(n - i2), (int)(i2 - i1), -1.0f,
                  err.data(), (int)B, &f.U[(size_t)(i1 * n + i2)], (int)n, 1.0f, &W[(size_t)i2], (int)n);
    gemm_seconds += omp_get_wtime() - t_gemm;
    progress.checkpoint(i2, i2 == n);
  }

  const double t_end_sweep = omp_get_wtime();
  // Back to the original column order (spec §1.7); g_idx per the group rule in use.
  if (permuted) {
#pragma omp parallel for num_threads(threads_for(threads, m * n)) schedule(static)
    for (int64_t r = 0; r < m; ++r)
      for (int64_t c = 0; c < n; ++c) q.codes[(size_t)(r * n + f.perm[(size_t)c])] = codes_p[(size_t)(r * n + c)];
    if (s.dynamic_groups)
      for (int64_t c = 0; c < n; ++c) q.g_idx[(size_t)f.perm[(size_t)c]] = (int32_t)(c / gs);
  }

  if (ctx && ctx->log_fn && ctx->log_level <= VQR_LOG_DEBUG) {
    char line[256];
    std::snprintf(line, sizeof line,
                  "gptq %lld x %lld: factor+setup %.3f s, in-block %.3f s, cross-block GEMM %.3f s, finish %.3f s",
                  (long long)m, (long long)n, t_sweep - t_start, t_end_sweep - t_sweep - gemm_seconds, gemm_seconds,
                  omp_get_wtime() - t_end_sweep);
    log_message(ctx, VQR_LOG_DEBUG, line);
  }
  q.report.method = VQR_METHOD_GPTQ;
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
