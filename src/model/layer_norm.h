// OPT's elementwise passes (ModelConfig::family kOpt): LayerNorm with weight and bias, ReLU and the
// learned position rows, forward and backward side by side. One arithmetic serves both MatmulPaths
// (the rows are independent, so the OpenMP split changes no bit): LayerNorm's mean and variance
// are row sums in double, rounded once to float, so its output is within a few float roundings of
// the exact value (|err| <= ~4 u |y| + u |b|, u = 2^-24), which tests/model/test_opt_forward.cpp
// uses. Dimension letters: T tokens (rows), C width.
#pragma once

#include <cstdint>

namespace vqr::model {

// out = (inp - mean) / sqrt(var + eps) * weight + bias per row (var the biased variance, as
// torch.nn.LayerNorm). out: T x C (overwrite; may alias inp), inp: T x C, weight, bias: C.
void layernorm_rows(float *out, const float *inp, const float *weight, const float *bias, int64_t T, int64_t C,
                    float eps, int threads);
// LayerNorm's backward for T rows of width C: with xhat = (x - mean) r, r = 1 / sqrt(var + eps) and
// e = dy * weight, dx = r (e - mean(e) - xhat mean(e xhat)) (the row sums in double); dx = that,
// or dx += that with accumulate. dx must not alias x or dy. The weight and bias get no gradient.
void layernorm_backward(float *dx, bool accumulate, const float *dy, const float *x, const float *weight, int64_t T,
                        int64_t C, float eps, int threads);

// h = max(h, 0) over n values, in place.
void relu_forward(float *h, int64_t n, int threads);
// dh = dy where the forward's input z was > 0, else 0 (n values; dh may alias dy).
void relu_backward(float *dh, const float *dy, const float *z, int64_t n, int threads);

// x[t, :] += positions[(t + offset), :] for T rows of width C: OPT's learned positions of one
// sequence starting at position 0 (offset = kOptPositionOffset).
void add_position_rows(float *x, const float *positions, int64_t T, int64_t C, int64_t offset);

}  // namespace vqr::model
