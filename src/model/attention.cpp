// Causal attention with grouped KV heads in run.c's order and as per-tile GEMMs (attention.h).
// Dimension letters: T tokens, NH query heads and NKV KV heads of size HS, C = NH HS, KV = NKV HS.
#include "model/attention.h"

#include <omp.h>

#include <algorithm>
#include <cmath>

#include "backend/backend.h"
#include "core/sanitizer.h"
#include "core/vector_exp.h"

namespace vqr::model {

namespace {

// Below this many multiply-adds a parallel region costs more than it saves: forking a team takes
// microseconds, and far longer when the machine is oversubscribed and workers are descheduled.
constexpr int64_t kMinParallelWork = int64_t{1} << 18;


// a[s] = exp(a[s] - max_val) / (their sum) over a[0..n): run.c softmax()'s exp and sum in order,
// then one division per value.
inline void exp_normalize(float *a, int64_t n, float max_val) {
  float sum = 0.0f;
  for (int64_t s = 0; s < n; ++s) {
    a[s] = std::exp(a[s] - max_val);
    sum += a[s];
  }
  for (int64_t s = 0; s < n; ++s) a[s] /= sum;
}

// a[0..n) = softmax(a[0..n)) in place, n >= 1, as run.c softmax().
inline void softmax_in_place(float *a, int64_t n) {
  float max_val = a[0];
  for (int64_t s = 1; s < n; ++s)
    if (a[s] > max_val) max_val = a[s];
  exp_normalize(a, n, max_val);
}

// The BLAS path's softmax of one score row: a[0..n) = softmax(a[0..n) / scale) in place, n >= 1.
// Each a[s] / scale rounded once, as run.c's softmax of the divided scores, and the maximum (exact in
// any order); exp by vqr::exp_nonpositive (a few ulps, vectorized) and its sum in kSoftmaxLanes strided
// partial sums added pairwise, then one division per value. The weights differ from run.c's by a
// few ulps and the sum's order, within the attention term of the paths' bound
// (tests/model/forward_paths.h: a relative change of the weights of O(T u)). Fixed lanes, so the
// same bits on every x86-64 (compiled for AVX-512, AVX2 and baseline, chosen at load time).
constexpr int64_t kSoftmaxLanes = 16;
VQR_TARGET_CLONES
void scaled_softmax_lanes(float *a, int64_t n, float scale) {
  a[0] /= scale;
  float max_val = a[0];
#pragma omp simd reduction(max : max_val)
  for (int64_t s = 1; s < n; ++s) {
    a[s] /= scale;
    max_val = a[s] > max_val ? a[s] : max_val;
  }
#pragma omp simd
  for (int64_t s = 0; s < n; ++s) a[s] = exp_nonpositive(a[s] - max_val);
  float lane[kSoftmaxLanes] = {};
  const int64_t body = n - n % kSoftmaxLanes;
  for (int64_t s = 0; s < body; s += kSoftmaxLanes)
    for (int64_t l = 0; l < kSoftmaxLanes; ++l) lane[l] += a[s + l];
  for (int64_t w = kSoftmaxLanes / 2; w >= 1; w /= 2)  // pairwise: lane l += lane l + w
    for (int64_t l = 0; l < w; ++l) lane[l] += lane[l + w];
  float sum = lane[0];
  for (int64_t s = body; s < n; ++s) sum += a[s];
#pragma omp simd
  for (int64_t s = 0; s < n; ++s) a[s] /= sum;
}

}  // namespace

namespace {

// Heads whose score tiles (kAttentionTile x T floats each) are computed together on the BLAS path:
// as many as fit kScoreGroupBytes, so the scores written by the GEMM are still in cache (L2) when
// the row pass and the P V GEMM read them, and at least one.
constexpr int64_t kScoreGroupBytes = int64_t{1} << 20;
int64_t head_group(int64_t T, int64_t NH) {
  const int64_t tile_bytes = std::min(T, kAttentionTile) * T * static_cast<int64_t>(sizeof(float));
  return std::clamp<int64_t>(kScoreGroupBytes / tile_bytes, 1, NH);
}

}  // namespace

void scaled_softmax_row(float *a, int64_t n, float scale) { scaled_softmax_lanes(a, n, scale); }

int64_t attention_scratch_floats(MatmulPath path, int64_t T, int64_t NH, int threads) {
  // Reference: one row of weights per thread. BLAS: one tile of scores per head of a group, for
  // every sequence of t <= T tokens: a call on t uses head_group(t) x tile(t) floats, which is
  // tile(t) <= tile(T) when the group is one head, and at most kScoreGroupBytes / 4 otherwise (the
  // group is sized to fit it), and at most NH x tile(T) either way. head_group(T) x tile(T) alone is
  // not a bound: with the group size floored, T = 129 gives 15 x 128 x 129 floats where t = 128
  // needs 16 x 128 x 128.
  if (path == MatmulPath::kReference) return int64_t{threads} * T;
  const int64_t tile = std::min(T, kAttentionTile) * T;
  return std::min(NH * tile, std::max(kScoreGroupBytes / static_cast<int64_t>(sizeof(float)), tile));
}

// Unchecked under the sanitizers (core/sanitizer.h): the extents it reaches are checked first.
VQR_UNCHECKED_KERNEL void attention_forward(float *out, float *att, const float *q, const float *k, const float *v,
                                            int64_t T, int64_t HS, int64_t NH, int64_t NKV, int64_t window,
                                            int threads) {
  const int64_t C = NH * HS, KV = NKV * HS;
  check_addressable(out, (size_t)(T * C));
  check_addressable(att, (size_t)(threads * T));
  check_addressable(q, (size_t)(T * C));
  check_addressable(k, (size_t)(T * KV));
  check_addressable(v, (size_t)(T * KV));
  const int64_t kv_mul = NH / NKV;
  const float scale = std::sqrt(static_cast<float>(HS));
#pragma omp parallel for collapse(2) num_threads(threads) schedule(static) if (T * T * C >= kMinParallelWork)
  for (int64_t t = 0; t < T; ++t) {
    for (int64_t h = 0; h < NH; ++h) {
      float *a = att + static_cast<int64_t>(omp_get_thread_num()) * T;
      const float *qh = q + t * C + h * HS;
      const int64_t kv_off = (h / kv_mul) * HS;
      const int64_t first = first_visible(t, window);
      for (int64_t s = first; s <= t; ++s) {
        const float *kh = k + s * KV + kv_off;
        float score = 0.0f;
        for (int64_t i = 0; i < HS; ++i) score += qh[i] * kh[i];
        a[s] = score / scale;
      }
      softmax_in_place(a + first, t - first + 1);
      float *oh = out + t * C + h * HS;
      for (int64_t i = 0; i < HS; ++i) oh[i] = 0.0f;
      for (int64_t s = first; s <= t; ++s) {
        const float *vh = v + s * KV + kv_off;
        const float w = a[s];
        for (int64_t i = 0; i < HS; ++i) oh[i] += w * vh[i];
      }
    }
  }
}

// Per query tile [t0, t1): the keys any of its rows sees are [k0, t1), k0 the tile's first row's first
// visible position. For each group of G = head_group(T, NH) heads [h0, h1): for every head h,
// S_h (rows x nk, ld nk, at scores + (h - h0) rows nk) = Q_h[t0..t1) K_g[k0..t1)^T; then one row
// pass over the group's rows: row r (position t) keeps [first_visible(t), t], divided by sqrt(HS)
// as run.c does, softmaxed (scaled_softmax_lanes), and the rest set to 0 (exact zeros: they add nothing to P V); then for
// every head out_h[t0..t1) = P_h V_g[k0..t1). Taking heads together puts the GEMMs back to back and
// makes one OpenMP team per group instead of one per head, so the BLAS pool and the OpenMP team
// hand over the cores G times less often; the group's scores stay within kScoreGroupBytes (in
// cache). Each value is computed by the same calls as head by head.
VQR_UNCHECKED_KERNEL void attention_forward_blas(backend::Backend &backend, float *out, float *scores, const float *q,
                                                 const float *k, const float *v, int64_t T, int64_t HS, int64_t NH,
                                                 int64_t NKV, int64_t window, int threads) {
  const int64_t C = NH * HS, KV = NKV * HS;
  check_addressable(out, (size_t)(T * C));
  check_addressable(scores, (size_t)attention_scratch_floats(MatmulPath::kBlas, T, NH, threads));
  check_addressable(q, (size_t)(T * C));
  check_addressable(k, (size_t)(T * KV));
  check_addressable(v, (size_t)(T * KV));
  const int64_t kv_mul = NH / NKV, G = head_group(T, NH);
  const float scale = std::sqrt(static_cast<float>(HS));
  for (int64_t t0 = 0; t0 < T; t0 += kAttentionTile) {
    const int64_t t1 = std::min(T, t0 + kAttentionTile), rows = t1 - t0;
    const int64_t k0 = first_visible(t0, window), nk = t1 - k0;
    for (int64_t h0 = 0; h0 < NH; h0 += G) {
      const int64_t h1 = std::min(NH, h0 + G);
      for (int64_t h = h0; h < h1; ++h)
        backend.gemm(backend::Op::None, backend::Op::Trans, rows, nk, HS, 1.0f, q + t0 * C + h * HS, C,
                     k + k0 * KV + (h / kv_mul) * HS, KV, 0.0f, scores + (h - h0) * rows * nk, nk);
#pragma omp parallel for num_threads(threads) schedule(static) if ((h1 - h0) * rows * nk * HS >= kMinParallelWork)
      for (int64_t hr = 0; hr < (h1 - h0) * rows; ++hr) {
        const int64_t t = t0 + hr % rows, first = first_visible(t, window) - k0, last = t - k0;
        float *a = scores + hr * nk;
        for (int64_t s = 0; s < first; ++s) a[s] = 0.0f;
        scaled_softmax_lanes(a + first, last - first + 1, scale);
        for (int64_t s = last + 1; s < nk; ++s) a[s] = 0.0f;
      }
      for (int64_t h = h0; h < h1; ++h)
        backend.gemm(backend::Op::None, backend::Op::None, rows, HS, nk, 1.0f, scores + (h - h0) * rows * nk, nk,
                     v + k0 * KV + (h / kv_mul) * HS, KV, 0.0f, out + t0 * C + h * HS, C);
    }
  }
}

}  // namespace vqr::model
