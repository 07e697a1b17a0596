// Causal multi-head attention with grouped KV heads (GQA) and an optional sliding window, in the
// two arithmetics of the Forward's MatmulPath (matmul.h):
// - kReference: run.c's loops, position by position and head by head (scores, softmax, weighted
//   sum of values), whose sums are run.c's bit for bit.
// - kBlas: per (head, tile of query rows) two GEMMs through the compute seam, scores = Q K^T and
//   out = P V, with the causal mask and the window applied between them and the softmax per row in
//   fp32 as run.c computes it. Only one tile of scores per head of a group (about 1 MB in all) is
//   kept, so the attention's memory is linear in T (issue 16 item 3), and its flops run at GEMM
//   speed (spec gptq_family.md §7: the forward is most of the flops of calibration and evaluation).
// Layout: q, out: T x (NH HS) row-major, head h at columns h HS; k, v: T x (NKV HS). Query head h
// reads KV head h / (NH / NKV). window > 0: position t sees only t - window + 1 .. t (Mistral).
#pragma once

#include <cstdint>

#include "model/matmul.h"

namespace vqr::backend {
class Backend;
}

namespace vqr::model {

// Query rows per tile on the BLAS path: large enough that the GEMMs reach most of the SGEMM rate,
// small enough that the tile's wasted upper triangle (half of kAttentionTile^2 scores per tile on
// the diagonal) stays a small part of the work at T >= 256.
constexpr int64_t kAttentionTile = 128;

// The first position query t sees: 0, or t - window + 1 under a sliding window (window > 0).
inline int64_t first_visible(int64_t t, int64_t window) { return window > 0 && t >= window ? t - window + 1 : 0; }

// The BLAS path's softmax of one visible score row, a[0..n) = softmax(a[0..n) / scale) in place
// (n >= 1), bit for bit as attention_forward_blas computes it; the backward pass recomputes its
// probabilities with it.
void scaled_softmax_row(float *a, int64_t n, float scale);

// Floats of scratch attention_forward / attention_forward_blas need for any sequence of up to T
// tokens (non-decreasing in T), NH query heads and `threads` OpenMP threads (the BLAS path: one
// tile of scores for each head of a group that fits about 1 MB, at least one: linear in T).
int64_t attention_scratch_floats(MatmulPath path, int64_t T, int64_t NH, int threads);

// Reference order. out: T x NH HS (overwrite); scratch: attention_scratch_floats(kReference, T,
// NH, threads) floats.
void attention_forward(float *out, float *scratch, const float *q, const float *k, const float *v, int64_t T,
                       int64_t HS, int64_t NH, int64_t NKV, int64_t window, int threads);

// BLAS path, the same contract with the GEMMs on `backend` (host memory) and scratch of
// attention_scratch_floats(kBlas, T, NH, threads) floats. The result depends on T and the inputs only,
// not on threads (the row loops are per row; the GEMMs use the BLAS library's threads).
void attention_forward_blas(backend::Backend &backend, float *out, float *scratch, const float *q, const float *k,
                            const float *v, int64_t T, int64_t HS, int64_t NH, int64_t NKV, int64_t window,
                            int threads);

}  // namespace vqr::model
