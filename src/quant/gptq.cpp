// The GPTQ sweep (gptq.h). Dimension letters: m rows (out_features), n columns (in_features),
// B block width, g group size. All work is in the processing order (act-order permutation).
//
// Per block [i1, i2): every row runs its own sequential column loop over the block — quantize
// column q, error e = (w_q - Q_q) / U_qq, w_j -= e U_qj for the remaining in-block j — which is
// independent across rows, so the loop is parallel over rows and each row's block stays in cache
// (spec §1.4). The cross-block ("lazy") update W[:, i2:] -= E U[i1:i2, i2:] is one SGEMM per
// block. Codes are the ones the sweep computes; they are never re-derived from floats.
#include "quant/gptq.h"

#include <algorithm>
#include <cstring>

#include <omp.h>

#include "core/error.h"
#include "linalg/blas.h"
#include "quant/grid.h"

namespace vqr::quant {

namespace {

struct SweepState {
  int64_t m, n, B, gs, groups;
  bool dynamic_groups;  // group params recomputed as the sweep reaches each group start
  bool stale_groups;    // reproduce the reference's stale in-block reads (spec §1.5)
  GridSpec spec;
  const float *U;              // n x n upper, processing order
  const int64_t *perm;         // processing position -> original column
  float *W;                    // m x n working weights, processing order (updated in place)
  uint8_t *codes;              // m x n codes, processing order
  float *scales, *zeros;       // G x m
  float *err;                  // m x B scaled errors of the current block
  float *scratch;              // per thread: 2 * max(B, gs) floats
  int64_t scratch_stride;
};

// Parameters for the dynamic group starting at processing position p (p in block [i1, i2)) of
// row r. "Fresh" reads the weights with every update from columns < p applied: the in-block part
// is current; columns beyond the block still miss the pending updates of columns i1..p-1, which
// are added here (so the result does not depend on the block size). "Stale" reads what the
// reference reads: block-start values in the block, pending-free values beyond it.
GroupParams dynamic_group_params(const SweepState &s, int64_t r, int64_t p, int64_t i1, int64_t i2,
                                 const float *block_start, float *tmp) {
  const float *w = s.W + r * s.n;
  const int64_t end = std::min(s.n, p + s.gs);
  const int64_t in_block_end = std::min(end, i2);
  int64_t k = 0;
  for (int64_t j = p; j < in_block_end; ++j) tmp[k++] = s.stale_groups ? block_start[j - i1] : w[j];
  for (int64_t j = i2; j < end; ++j) {
    float v = w[j];
    if (!s.stale_groups)
      for (int64_t c = i1; c < p; ++c) v -= s.err[r * s.B + (c - i1)] * s.U[c * s.n + j];
    tmp[k++] = v;
  }
  return find_group_params(tmp, k, s.spec);
}

// One row's sequential pass over block [i1, i2).
void sweep_row_block(const SweepState &s, int64_t r, int64_t i1, int64_t i2, float *scratch) {
  float *w = s.W + r * s.n;
  float *block_start = scratch;                          // B floats
  float *tmp = scratch + s.scratch_stride / 2;           // gs floats
  if (s.dynamic_groups && s.stale_groups) std::memcpy(block_start, w + i1, (size_t)(i2 - i1) * 4);
  GroupParams p{};
  bool have_params = false;
  for (int64_t q = i1; q < i2; ++q) {
    const int64_t k = s.dynamic_groups ? q / s.gs : (int64_t)(s.perm[q] / s.gs);
    if (s.dynamic_groups) {
      if (q % s.gs == 0) {
        p = dynamic_group_params(s, r, q, i1, i2, block_start, tmp);
        s.scales[k * s.m + r] = p.scale;
        s.zeros[k * s.m + r] = p.zero;
        have_params = true;
      } else if (!have_params) {  // block starts inside a group: reuse its stored params
        p = {s.scales[k * s.m + r], s.zeros[k * s.m + r]};
        have_params = true;
      }
    } else {
      p = {s.scales[k * s.m + r], s.zeros[k * s.m + r]};
    }
    const float x = w[q];
    const int code = quantize_code(x, p, s.spec.maxq);
    s.codes[r * s.n + q] = (uint8_t)code;
    const float Q = dequantize_code(code, p);
    const float *u = s.U + q * s.n;
    const float e = (x - Q) / u[q];
    s.err[r * s.B + (q - i1)] = e;
    w[q] = Q;
    for (int64_t j = q + 1; j < i2; ++j) w[j] -= e * u[j];
  }
}

}  // namespace

QuantizedLayer gptq_quantize(const float *W0, int64_t m, int64_t n, const float *H, const QuantConfig &config,
                             vqr_context *ctx, int threads, HessianFactor *factor_out) {
  QuantizedLayer q(m, n, config.group_size, config.bits);
  const GridSpec spec = grid_spec(config);
  const int64_t gs = q.group_size;
  const bool grouped = config.group_size > 0;
  const bool static_groups = grouped && config.static_groups;

  HessianFactor f = factor_hessian(H, n, config.act_order, config, /*need_inverse=*/true,
                                   /*keep_cholesky=*/factor_out != nullptr, ctx, threads);
  const bool permuted = config.act_order;

  // Working copy in processing order, dead columns zeroed (spec §1.3 step 2).
  std::vector<float> W((size_t)(m * n));
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t r = 0; r < m; ++r)
    for (int64_t c = 0; c < n; ++c) {
      const int64_t j = f.perm[(size_t)c];
      W[(size_t)(r * n + c)] = f.dead[(size_t)j] ? 0.0f : W0[r * n + j];
    }

  // Fixed parameters: per-channel from the whole (dead-zeroed) row; static groups from the
  // original column groups (spec §1.5). Both read the weights before any compensation.
  if (!grouped || static_groups) {
    std::vector<float> row_orig_order;
#pragma omp parallel for num_threads(threads) schedule(static) firstprivate(row_orig_order)
    for (int64_t r = 0; r < m; ++r) {
      row_orig_order.resize((size_t)n);
      for (int64_t c = 0; c < n; ++c) row_orig_order[(size_t)f.perm[(size_t)c]] = W[(size_t)(r * n + c)];
      for (int64_t k = 0; k < q.groups; ++k) {
        const int64_t j0 = k * gs, j1 = std::min(n, j0 + gs);
        const GroupParams p = find_group_params(row_orig_order.data() + j0, j1 - j0, spec);
        q.scales[(size_t)(k * m + r)] = p.scale;
        q.zeros[(size_t)(k * m + r)] = p.zero;
      }
    }
  }

  const int64_t B = std::min<int64_t>(config.block_size, n);
  std::vector<uint8_t> codes_p((size_t)(m * n));
  std::vector<float> err((size_t)(m * B));
  const int64_t scratch_stride = 2 * std::max(B, gs);
  std::vector<float> scratch((size_t)(scratch_stride * threads));

  SweepState s{};
  s.m = m;
  s.n = n;
  s.B = B;
  s.gs = gs;
  s.groups = q.groups;
  s.dynamic_groups = grouped && !static_groups;
  s.stale_groups = config.stale_groups;
  s.spec = spec;
  s.U = f.U.data();
  s.perm = f.perm.data();
  s.W = W.data();
  s.codes = codes_p.data();
  s.scales = q.scales.data();
  s.zeros = q.zeros.data();
  s.err = err.data();
  s.scratch = scratch.data();
  s.scratch_stride = scratch_stride;

  Progress progress(ctx, "gptq", n);
  for (int64_t i1 = 0; i1 < n; i1 += B) {
    const int64_t i2 = std::min(n, i1 + B);
#pragma omp parallel num_threads(threads)
    {
      float *mine = s.scratch + (int64_t)omp_get_thread_num() * scratch_stride;
#pragma omp for schedule(static)
      for (int64_t r = 0; r < m; ++r) sweep_row_block(s, r, i1, i2, mine);
    }
    // Lazy cross-block update: W[:, i2:] -= E[:, 0:i2-i1] U[i1:i2, i2:].
    if (i2 < n)
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)(n - i2), (int)(i2 - i1), -1.0f,
                  err.data(), (int)B, &f.U[(size_t)(i1 * n + i2)], (int)n, 1.0f, &W[(size_t)i2], (int)n);
    progress.checkpoint(i2, i2 == n);
  }

  // Back to the original column order (spec §1.7); g_idx per the group rule in use.
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t r = 0; r < m; ++r)
    for (int64_t c = 0; c < n; ++c) q.codes[(size_t)(r * n + f.perm[(size_t)c])] = codes_p[(size_t)(r * n + c)];
  if (permuted && s.dynamic_groups)
    for (int64_t c = 0; c < n; ++c) q.g_idx[(size_t)f.perm[(size_t)c]] = (int32_t)(c / gs);

  q.report.method = VQR_METHOD_GPTQ;
  q.report.damp = f.damp;
  q.report.damp_lambda = f.lambda;
  q.report.damp_attempts = f.attempts;
  q.report.dead_columns = f.dead_count;
  if (factor_out) {
    f.U.clear();
    f.U.shrink_to_fit();
    *factor_out = std::move(f);
  }
  return q;
}

}  // namespace vqr::quant
