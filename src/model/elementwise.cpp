// The forward's elementwise passes in run.c's order and as OpenMP row passes (elementwise.h).
#include "model/elementwise.h"

#include <cmath>

namespace vqr::model {

namespace {

// run.c's 1 / sqrt(ss / C + eps) from a sum of squares.
inline float rms_scale(float ss, int64_t C, float eps) {
  ss /= static_cast<float>(C);
  ss += eps;
  return 1.0f / std::sqrt(ss);
}

// Sum of x[j]^2 over n values: kNormLanes partial sums (lane k takes j = k mod kNormLanes, each in
// order), added lane by lane, then the tail in order. The order is fixed by n alone, not by the
// pointer's alignment or the thread, so every call on the same row gives the same bits.
inline float sum_squares(const float *x, int64_t n) {
  float lane[kNormLanes] = {};
  int64_t j = 0;
  for (; j + kNormLanes <= n; j += kNormLanes) {
    // Lanes are distinct sums: vectorizing them reorders nothing.
#pragma omp simd
    for (int64_t k = 0; k < kNormLanes; ++k) lane[k] += x[j + k] * x[j + k];
  }
  float ss = 0.0f;
  for (int64_t k = 0; k < kNormLanes; ++k) ss += lane[k];
  for (; j < n; ++j) ss += x[j] * x[j];
  return ss;
}

// o = weight * (scale * x) over n values (run.c's product order); o may alias x.
inline void scale_row(float *o, const float *x, const float *weight, float scale, int64_t n) {
#pragma omp simd
  for (int64_t j = 0; j < n; ++j) o[j] = weight[j] * (scale * x[j]);
}

}  // namespace

void rmsnorm_forward(float *out, const float *inp, const float *weight, int64_t T, int64_t C, float eps) {
  for (int64_t t = 0; t < T; ++t) {
    const float *x = inp + t * C;
    float ss = 0.0f;
    for (int64_t j = 0; j < C; ++j) ss += x[j] * x[j];
    scale_row(out + t * C, x, weight, rms_scale(ss, C, eps), C);
  }
}

void rope_forward(float *q, float *k, int64_t T, int64_t NH, int64_t NKV, int64_t HS, const float *inv_freq,
                  RopeLayout layout) {
  const int64_t half = HS / 2;
  const int64_t stride = layout == RopeLayout::kInterleaved ? 2 : 1;  // step between pairs' first index
  const int64_t partner = layout == RopeLayout::kInterleaved ? 1 : half;
  for (int64_t t = 0; t < T; ++t) {
    for (int64_t j = 0; j < half; ++j) {
      const float val = static_cast<float>(t) * inv_freq[j];
      const float fcr = std::cos(val);
      const float fci = std::sin(val);
      const int64_t a = j * stride, b = a + partner;
      for (int64_t h = 0; h < NH + NKV; ++h) {
        float *vec = h < NH ? q + (t * NH + h) * HS : k + (t * NKV + (h - NH)) * HS;
        const float v0 = vec[a];
        const float v1 = vec[b];
        vec[a] = v0 * fcr - v1 * fci;
        vec[b] = v0 * fci + v1 * fcr;
      }
    }
  }
}

void bias_forward(float *y, const float *bias, int64_t T, int64_t n) {
  for (int64_t t = 0; t < T; ++t)
    for (int64_t i = 0; i < n; ++i) y[t * n + i] += bias[i];
}

void swiglu_forward(float *hb, const float *hb2, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    float val = hb[i];
    val *= (1.0f / (1.0f + std::exp(-val)));
    val *= hb2[i];
    hb[i] = val;
  }
}

void residual_forward(float *x, const float *y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] += y[i];
}

std::vector<float> rope_table(const std::vector<float> &inv_freq, int64_t T) {
  const int64_t half = static_cast<int64_t>(inv_freq.size());
  std::vector<float> table(static_cast<size_t>(T * half * 2));
  for (int64_t t = 0; t < T; ++t)
    for (int64_t j = 0; j < half; ++j) {
      const float val = static_cast<float>(t) * inv_freq[static_cast<size_t>(j)];  // rope_forward's angle
      table[static_cast<size_t>((t * half + j) * 2)] = std::cos(val);
      table[static_cast<size_t>((t * half + j) * 2 + 1)] = std::sin(val);
    }
  return table;
}

void rmsnorm_rows(float *out, const float *inp, const float *weight, int64_t T, int64_t C, float eps, int threads) {
#pragma omp parallel for num_threads(threads) schedule(static) if (T * C >= kMinParallelValues)
  for (int64_t t = 0; t < T; ++t) {
    const float *x = inp + t * C;
    scale_row(out + t * C, x, weight, rms_scale(sum_squares(x, C), C, eps), C);
  }
}

namespace {

// One head's RoPE pairs of one token rotated by the angles cs (HS/2 {cos, sin}); sin negated when
// inverse (-(sin) is exact, so the forward's values are the reference's bits).
inline void rotate_pairs(float *vec, const float *cs, int64_t HS, RopeLayout layout, bool inverse) {
  const int64_t half = HS / 2;
  const int64_t stride = layout == RopeLayout::kInterleaved ? 2 : 1;
  const int64_t partner = layout == RopeLayout::kInterleaved ? 1 : half;
  for (int64_t j = 0; j < half; ++j) {
    const int64_t a = j * stride, b = a + partner;
    const float fcr = cs[2 * j], fci = inverse ? -cs[2 * j + 1] : cs[2 * j + 1];
    const float v0 = vec[a];
    const float v1 = vec[b];
    vec[a] = v0 * fcr - v1 * fci;
    vec[b] = v0 * fci + v1 * fcr;
  }
}

}  // namespace

void qk_norm_rope_rows(float *q, float *k, const float *table, const float *q_norm, const float *k_norm, float eps,
                       int64_t T, int64_t NH, int64_t NKV, int64_t HS, RopeLayout layout, int threads) {
#pragma omp parallel for num_threads(threads) schedule(static) if (T * (NH + NKV) * HS >= kMinParallelValues)
  for (int64_t t = 0; t < T; ++t) {
    const float *cs = table + t * (HS / 2) * 2;
    for (int64_t h = 0; h < NH + NKV; ++h) {
      float *vec = h < NH ? q + (t * NH + h) * HS : k + (t * NKV + (h - NH)) * HS;
      const float *norm = h < NH ? q_norm : k_norm;
      if (norm != nullptr) scale_row(vec, vec, norm, rms_scale(sum_squares(vec, HS), HS, eps), HS);
      rotate_pairs(vec, cs, HS, layout, false);
    }
  }
}

void rope_rotate_rows(float *q, float *k, const float *table, int64_t T, int64_t NH, int64_t NKV, int64_t HS,
                      RopeLayout layout, bool inverse, int threads) {
#pragma omp parallel for num_threads(threads) schedule(static) if (T * (NH + NKV) * HS >= kMinParallelValues)
  for (int64_t t = 0; t < T; ++t)
    for (int64_t h = 0; h < NH + NKV; ++h)
      rotate_pairs(h < NH ? q + (t * NH + h) * HS : k + (t * NKV + (h - NH)) * HS, table + t * (HS / 2) * 2, HS,
                   layout, inverse);
}

void fill_rows(float *y, const float *bias, int64_t T, int64_t n, int threads) {
#pragma omp parallel for num_threads(threads) schedule(static) if (T * n >= kMinParallelValues)
  for (int64_t t = 0; t < T; ++t)
    for (int64_t i = 0; i < n; ++i) y[t * n + i] = bias[i];
}

void swiglu_rows(float *hb, const float *hb2, int64_t T, int64_t H, int threads) {
#pragma omp parallel for num_threads(threads) schedule(static) if (T * H >= kMinParallelValues)
  for (int64_t t = 0; t < T; ++t) swiglu_forward(hb + t * H, hb2 + t * H, H);
}

}  // namespace vqr::model
