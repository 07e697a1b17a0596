// The forward pass's elementwise passes (RMSNorm, RoPE, bias, SwiGLU, residual add) in the two
// arithmetics of the Forward's MatmulPath (matmul.h):
// - kReference: run.c's loops in run.c's float order, serial, so logits match run.c bit for bit;
// - kBlas: one OpenMP team over the tokens per pass (each token's row is independent, so the
//   result does not depend on the thread count), the sum of squares of RMSNorm in kNormLanes
//   interleaved partial sums (SIMD, fixed order), RoPE from a cos/sin table built once per
//   Forward, Qwen3's per-head q/k norm fused with RoPE in one pass over each token's q and k row,
//   and the bias and residual adds folded into the linear layers' SGEMMs (matmul.h,
//   matmul_accumulate_blas), which saves their passes over memory.
// Rounding of the kBlas passes against the reference ones: RoPE (same table values, same
// expressions), SwiGLU and the gather are bit-identical; RMSNorm's sum of squares of C terms is
// summed in another order, |fl(ss) - ss| <= C u ss for either order (u = 2^-24, all terms >= 0),
// so the scale 1/sqrt(ss / C + eps) of the two differs by at most C u relative (to first order);
// the folded bias or residual is one more addend of the layer's dot product (n + 1 terms, the
// bound of matmul.h with n + 1). tests/model/forward_paths.h sums these bounds over the model.
// Dimension letters: T tokens, C width, NH / NKV query / KV heads of size HS, H hidden width.
#pragma once

#include <cstdint>
#include <vector>

#include "model/model.h"

namespace vqr::model {

// ---- reference order (run.c) ----

// out = rmsnorm(inp) * weight, per row. out: T x C (overwrite; may alias inp), inp: T x C,
// weight: C. run.c rmsnorm()'s float order.
void rmsnorm_forward(float *out, const float *inp, const float *weight, int64_t T, int64_t C, float eps);
// Rotates each head of q (T x NH heads) and k (T x NKV heads) in place. Pair j of a head (frequency
// inv_freq[j]) is (2j, 2j+1) in the interleaved layout, (j, j + HS/2) in the half layout; the
// arithmetic per pair is run.c's (float angle t * freq, cosf/sinf).
void rope_forward(float *q, float *k, int64_t T, int64_t NH, int64_t NKV, int64_t HS, const float *inv_freq,
                  RopeLayout layout);
// y[t, :] += bias over T rows of width n.
void bias_forward(float *y, const float *bias, int64_t T, int64_t n);
// hb = silu(hb) * hb2, elementwise over n values, as run.c.
void swiglu_forward(float *hb, const float *hb2, int64_t n);
// x += y over n values (the residual connection).
void residual_forward(float *x, const float *y, int64_t n);

// ---- BLAS path (OpenMP over tokens) ----

// Interleaved partial sums of RMSNorm's sum of squares (two AVX2 registers).
constexpr int64_t kNormLanes = 16;
// Below this many values a pass runs on the calling thread: waking a team and joining it costs
// microseconds on a quiet machine and up to a scheduler time slice on an oversubscribed one, while
// a pass over 256K floats takes about 100 us (a 256-token window of a 256-wide model stays serial).
constexpr int64_t kMinParallelValues = int64_t{1} << 18;

// RoPE's cos and sin for positions 0..T-1: T x (HS/2) pairs {cos, sin} of the float angle
// t * inv_freq[j], computed with the reference's expressions (so the values are the reference's).
std::vector<float> rope_table(const std::vector<float> &inv_freq, int64_t T);

// As rmsnorm_forward (out may alias inp), the sum of squares in kNormLanes partial sums.
void rmsnorm_rows(float *out, const float *inp, const float *weight, int64_t T, int64_t C, float eps, int threads);
// Per token: Qwen3's RMSNorm of each q and k head (q_norm, k_norm: HS, both NULL to skip), then RoPE
// from `table` (rope_table of at least T positions), in one pass over the token's q and k rows.
void qk_norm_rope_rows(float *q, float *k, const float *table, const float *q_norm, const float *k_norm, float eps,
                       int64_t T, int64_t NH, int64_t NKV, int64_t HS, RopeLayout layout, int threads);
// RoPE's rotation of every (a, b) pair of the q (NH heads) and k (NKV heads) rows of T tokens by the
// table's angles, in place: [a, b] <- [a cos - b s, a s + b cos] with s = sin (forward) or -sin
// (inverse = true: the transpose, which carries gradients back through RoPE). No q/k norms.
void rope_rotate_rows(float *q, float *k, const float *table, int64_t T, int64_t NH, int64_t NKV, int64_t HS,
                      RopeLayout layout, bool inverse, int threads);
// y[t, :] = bias (overwrite), T rows of width n: the start value of a bias-folded SGEMM.
void fill_rows(float *y, const float *bias, int64_t T, int64_t n, int threads);
// As swiglu_forward on T rows of width H.
void swiglu_rows(float *hb, const float *hb2, int64_t T, int64_t H, int threads);

}  // namespace vqr::model
