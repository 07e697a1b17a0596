// LayerNorm, ReLU and learned positions (layer_norm.h).
#include "model/layer_norm.h"

#include <cmath>

#include "model/elementwise.h"

namespace vqr::model {

namespace {

// The row's mean and 1 / sqrt(biased variance + eps), from sums in double.
inline void row_moments(const float *x, int64_t C, float eps, double *mean, double *r) {
  double s = 0;
  for (int64_t j = 0; j < C; ++j) s += x[j];
  const double mu = s / (double)C;
  double v = 0;
  for (int64_t j = 0; j < C; ++j) v += ((double)x[j] - mu) * ((double)x[j] - mu);
  *mean = mu;
  *r = 1.0 / std::sqrt(v / (double)C + (double)eps);
}

}  // namespace

void layernorm_rows(float *out, const float *inp, const float *weight, const float *bias, int64_t T, int64_t C,
                    float eps, int threads) {
#pragma omp parallel for num_threads(threads) schedule(static) if (T * C >= kMinParallelValues)
  for (int64_t t = 0; t < T; ++t) {
    const float *x = inp + t * C;
    float *o = out + t * C;
    double mu, r;
    row_moments(x, C, eps, &mu, &r);
    for (int64_t j = 0; j < C; ++j) o[j] = (float)(((double)x[j] - mu) * r) * weight[j] + bias[j];
  }
}

void layernorm_backward(float *dx, bool accumulate, const float *dy, const float *x, const float *weight, int64_t T,
                        int64_t C, float eps, int threads) {
#pragma omp parallel for num_threads(threads) schedule(static) if (T * C >= kMinParallelValues)
  for (int64_t t = 0; t < T; ++t) {
    const float *xr = x + t * C, *dyr = dy + t * C;
    float *dxr = dx + t * C;
    double mu, r;
    row_moments(xr, C, eps, &mu, &r);
    double se = 0, sex = 0;
    for (int64_t j = 0; j < C; ++j) {
      const double e = (double)dyr[j] * weight[j];
      se += e;
      sex += e * ((double)xr[j] - mu) * r;
    }
    se /= (double)C;
    sex /= (double)C;
    for (int64_t j = 0; j < C; ++j) {
      const double xhat = ((double)xr[j] - mu) * r;
      const float v = (float)(r * ((double)dyr[j] * weight[j] - se - xhat * sex));
      dxr[j] = accumulate ? dxr[j] + v : v;
    }
  }
}

void relu_forward(float *h, int64_t n, int threads) {
#pragma omp parallel for num_threads(threads) schedule(static) if (n >= kMinParallelValues)
  for (int64_t i = 0; i < n; ++i) h[i] = h[i] > 0.0f ? h[i] : 0.0f;
}

void relu_backward(float *dh, const float *dy, const float *z, int64_t n, int threads) {
#pragma omp parallel for num_threads(threads) schedule(static) if (n >= kMinParallelValues)
  for (int64_t i = 0; i < n; ++i) dh[i] = z[i] > 0.0f ? dy[i] : 0.0f;
}

void add_position_rows(float *x, const float *positions, int64_t T, int64_t C, int64_t offset) {
  for (int64_t t = 0; t < T; ++t)
    for (int64_t j = 0; j < C; ++j) x[t * C + j] += positions[(t + offset) * C + j];
}

}  // namespace vqr::model
