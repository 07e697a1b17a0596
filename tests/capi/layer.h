/*
 * layer.h — a small synthetic linear layer for the C API tests: weights W (m x n), calibration
 * inputs with correlated features, their Hessian, and checks on a vqr_result that hold for any
 * method (shape, code range, the documented dequantization formula).
 */
#ifndef VQR_TESTS_CAPI_LAYER_H
#define VQR_TESTS_CAPI_LAYER_H

#include "check.h"

#include <float.h>

/* Fills x (t x n) with inputs whose features share a common component, so H is far from diagonal
 * and GPTQ has something to compensate. */
static inline void make_inputs(float *x, int64_t t, int64_t n) {
  int64_t k, j;
  for (k = 0; k < t; ++k) {
    float common = rng_float();
    for (j = 0; j < n; ++j) x[k * n + j] = 0.7f * common + 0.5f * rng_float() + 0.02f * (float)(j % 5);
  }
}

static inline void make_weights(float *w, int64_t m, int64_t n) {
  int64_t i;
  for (i = 0; i < m * n; ++i) w[i] = 0.1f * rng_float();
}

/* A Hessian of t tokens of x (t x n); NULL on failure (already reported). */
static inline vqr_hessian *make_hessian(const float *x, int64_t t, int64_t n) {
  vqr_hessian *h = NULL;
  vqr_tensor tx = vqr_tensor_2d(x, VQR_DTYPE_F32, t, n, 0);
  if (!CHECK_OK(vqr_hessian_create(n, 0, &h))) return NULL;
  if (!CHECK_OK(vqr_hessian_add(h, &tx))) {
    vqr_hessian_free(h);
    return NULL;
  }
  return h;
}

/* A config with the given method, bits and group size (other parameters default). */
static inline vqr_config *make_config(vqr_method method, int bits, int64_t group_size) {
  vqr_config *c = NULL;
  if (!CHECK_OK(vqr_config_create(&c))) return NULL;
  CHECK_OK(vqr_config_set_int(c, VQR_PARAM_METHOD, method));
  CHECK_OK(vqr_config_set_int(c, VQR_PARAM_BITS, bits));
  CHECK_OK(vqr_config_set_int(c, VQR_PARAM_GROUP_SIZE, group_size));
  return c;
}

/* Same shape, codes, scales, zeros and g_idx, bit for bit. */
static inline int results_equal(const vqr_result *a, const vqr_result *b) {
  int64_t ma = 0, na = 0, ga = 0, mb = 0, nb = 0, gb = 0;
  int ba = 0, bb = 0;
  if (vqr_result_shape(a, &ma, &na, &ga, &ba) != VQR_OK || vqr_result_shape(b, &mb, &nb, &gb, &bb) != VQR_OK)
    return 0;
  if (ma != mb || na != nb || ga != gb || ba != bb) return 0;
  return memcmp(vqr_result_codes(a), vqr_result_codes(b), (size_t)(ma * na)) == 0 &&
         memcmp(vqr_result_scales(a), vqr_result_scales(b), sizeof(float) * (size_t)(ga * ma)) == 0 &&
         memcmp(vqr_result_zeros(a), vqr_result_zeros(b), sizeof(float) * (size_t)(ga * ma)) == 0 &&
         memcmp(vqr_result_g_idx(a), vqr_result_g_idx(b), sizeof(int32_t) * (size_t)na) == 0;
}

/* Checks what every result must satisfy: the shape asked for, codes in [0, 2^bits - 1], integer
 * zero-points, g_idx in [0, G), finite positive scales, and the f32 dequantization equal to
 * scales[g_idx[j] * m + r] * (codes[r * n + j] - zeros[g_idx[j] * m + r]). Returns 1 if all hold. */
static inline int check_result_invariants(const vqr_result *res, int64_t m, int64_t n, int64_t groups, int bits) {
  int64_t rm = -1, rn = -1, rg = -1, r, j;
  int rb = -1, ok = 1;
  const uint8_t *codes = vqr_result_codes(res);
  const float *scales = vqr_result_scales(res);
  const float *zeros = vqr_result_zeros(res);
  const int32_t *g_idx = vqr_result_g_idx(res);
  float *deq;
  if (!CHECK_OK(vqr_result_shape(res, &rm, &rn, &rg, &rb))) return 0;
  ok &= CHECK(rm == m && rn == n && rb == bits);
  ok &= CHECK(rg == groups);
  if (!CHECK(codes != NULL && scales != NULL && zeros != NULL && g_idx != NULL) || !ok) {
    note("  shape %lld x %lld, %lld groups, %d bits; wanted %lld x %lld, %lld, %d\n", (long long)rm,
            (long long)rn, (long long)rg, rb, (long long)m, (long long)n, (long long)groups, bits);
    return 0;
  }
  for (r = 0; r < m * n; ++r) ok &= codes[r] <= (1u << bits) - 1u;
  ok &= CHECK(ok);
  for (r = 0; r < groups * m; ++r) {
    ok &= isfinite(scales[r]) && scales[r] > 0.0f;
    ok &= zeros[r] == nearbyintf(zeros[r]) && zeros[r] >= 0.0f && zeros[r] <= (float)((1 << bits) - 1);
  }
  ok &= CHECK(ok);
  for (j = 0; j < n; ++j) ok &= g_idx[j] >= 0 && g_idx[j] < groups;
  ok &= CHECK(ok);
  if (!ok) return 0;
  deq = (float *)malloc(sizeof(float) * (size_t)(m * n));
  if (!CHECK(deq != NULL)) return 0;
  if (CHECK_OK(vqr_result_dequantize(res, VQR_DTYPE_F32, deq, 0))) {
    int bad = 0;
    for (r = 0; r < m && !bad; ++r)
      for (j = 0; j < n; ++j) {
        float s = scales[(int64_t)g_idx[j] * m + r], z = zeros[(int64_t)g_idx[j] * m + r];
        float q = (float)codes[r * n + j] - z;
        float want = s * q;
        float tol = 2.0f * FLT_EPSILON * fabsf(s) * (fabsf(q) > 1.0f ? fabsf(q) : 1.0f);
        if (!(fabsf(deq[r * n + j] - want) <= tol)) {
          note("  dequantized (%lld, %lld) = %.9g, scale * (code - zero) = %.9g\n", (long long)r,
                  (long long)j, deq[r * n + j], want);
          bad = 1;
          break;
        }
      }
    ok &= CHECK(!bad);
  } else {
    ok = 0;
  }
  free(deq);
  return ok;
}

/* tr(dW H dW^T) in double with dW = Q - W; h_full is the n x n matrix from vqr_hessian_read. */
static inline double proxy_loss(const vqr_result *res, const float *w, const float *h_full, int64_t m, int64_t n) {
  float *q = (float *)malloc(sizeof(float) * (size_t)(m * n));
  double *d = (double *)malloc(sizeof(double) * (size_t)n);
  double loss = 0.0;
  int64_t r, i, j;
  if (!q || !d || vqr_result_dequantize(res, VQR_DTYPE_F32, q, 0) != VQR_OK) {
    free(q);
    free(d);
    return NAN;
  }
  for (r = 0; r < m; ++r) {
    for (j = 0; j < n; ++j) d[j] = (double)q[r * n + j] - (double)w[r * n + j];
    for (i = 0; i < n; ++i)
      for (j = 0; j < n; ++j) loss += d[i] * (double)h_full[i * n + j] * d[j];
  }
  free(q);
  free(d);
  return loss;
}

static inline int close_rel(double a, double b, double rel) {
  return fabs(a - b) <= rel * (fabs(a) > fabs(b) ? fabs(a) : fabs(b)) + 1e-30;
}

#endif /* VQR_TESTS_CAPI_LAYER_H */
