/*
 * test_capi_quantize.c — vqr_quantize_layer and the result object through the C API: argument
 * errors, RTN and GPTQ results, dtypes and strides of the weights, dequantization into strided
 * f32/f16/bf16 buffers, the report and its struct_size rule. Packing is in test_capi_pack.c,
 * callbacks and cancellation in test_capi_callbacks.c.
 */
#include "layer.h"

#include <stddef.h>

enum { M = 16, N = 64, T = 256 };

static float g_w[M * N];
static float g_x[T * N];
static float g_h[N * N]; /* H as vqr_hessian_read gives it */
static vqr_hessian *g_hess;

/* ------------------------------------------------------------------------------------------ */

static void test_argument_errors(void) {
  vqr_config *rtn = make_config(VQR_METHOD_RTN, 4, -1);
  vqr_config *gptq = make_config(VQR_METHOD_GPTQ, 4, -1);
  vqr_result *res = NULL, *sentinel = (vqr_result *)&res;
  vqr_hessian *empty = NULL, *narrow = NULL;
  vqr_tensor w = vqr_tensor_2d(g_w, VQR_DTYPE_F32, M, N, 0), bad;
  float *wnan = (float *)malloc(sizeof g_w);
  if (!rtn || !gptq || !CHECK(wnan != NULL)) goto done;
  CHECK_OK(vqr_hessian_create(N, 0, &empty));
  CHECK_OK(vqr_hessian_create(N - 1, 0, &narrow));
  {
    vqr_tensor x = vqr_tensor_2d(g_x, VQR_DTYPE_F32, 4, N - 1, N);
    CHECK_OK(vqr_hessian_add(narrow, &x));
  }

  res = sentinel;
  /* NULL pointers. */
  CHECK_FAIL(vqr_quantize_layer(NULL, NULL, &w, NULL, &res), VQR_ERR_INVALID_ARGUMENT);
  CHECK_FAIL(vqr_quantize_layer(NULL, rtn, NULL, NULL, &res), VQR_ERR_INVALID_ARGUMENT);
  CHECK_FAIL(vqr_quantize_layer(NULL, rtn, &w, NULL, NULL), VQR_ERR_INVALID_ARGUMENT);
  bad = vqr_tensor_2d(NULL, VQR_DTYPE_F32, M, N, 0);
  CHECK_FAIL(vqr_quantize_layer(NULL, rtn, &bad, NULL, &res), VQR_ERR_INVALID_ARGUMENT);
  /* Shapes, strides, dtype. */
  bad = vqr_tensor_2d(g_w, VQR_DTYPE_F32, 0, N, 0);
  CHECK_FAIL(vqr_quantize_layer(NULL, rtn, &bad, NULL, &res), VQR_ERR_INVALID_ARGUMENT);
  bad = vqr_tensor_2d(g_w, VQR_DTYPE_F32, M, 0, 0);
  CHECK_FAIL(vqr_quantize_layer(NULL, rtn, &bad, NULL, &res), VQR_ERR_INVALID_ARGUMENT);
  bad = vqr_tensor_2d(g_w, VQR_DTYPE_F32, -M, N, 0);
  CHECK_FAIL(vqr_quantize_layer(NULL, rtn, &bad, NULL, &res), VQR_ERR_INVALID_ARGUMENT);
  bad = vqr_tensor_2d(g_w, VQR_DTYPE_F32, M, -N, 0);
  CHECK_FAIL(vqr_quantize_layer(NULL, rtn, &bad, NULL, &res), VQR_ERR_INVALID_ARGUMENT);
  bad = vqr_tensor_2d(g_w, VQR_DTYPE_F32, M, N, N - 1);
  CHECK_FAIL(vqr_quantize_layer(NULL, rtn, &bad, NULL, &res), VQR_ERR_INVALID_ARGUMENT);
  bad = vqr_tensor_2d(g_w, VQR_DTYPE_F32, M, N, -1);
  CHECK_FAIL(vqr_quantize_layer(NULL, rtn, &bad, NULL, &res), VQR_ERR_INVALID_ARGUMENT);
  bad = vqr_tensor_2d(g_w, (vqr_dtype)3, M, N, 0);
  CHECK_FAIL(vqr_quantize_layer(NULL, rtn, &bad, NULL, &res), VQR_ERR_INVALID_ARGUMENT);
  /* Hessian: missing or empty for GPTQ, wrong width for either. */
  CHECK_FAIL(vqr_quantize_layer(NULL, gptq, &w, NULL, &res), VQR_ERR_INVALID_ARGUMENT);
  CHECK_FAIL(vqr_quantize_layer(NULL, gptq, &w, empty, &res), VQR_ERR_INVALID_ARGUMENT);
  CHECK_FAIL(vqr_quantize_layer(NULL, gptq, &w, narrow, &res), VQR_ERR_INVALID_ARGUMENT);
  CHECK_FAIL(vqr_quantize_layer(NULL, rtn, &w, narrow, &res), VQR_ERR_INVALID_ARGUMENT);
  /* Non-finite weights, f32 and half types, first and last element. */
  memcpy(wnan, g_w, sizeof g_w);
  wnan[M * N - 1] = NAN;
  bad = vqr_tensor_2d(wnan, VQR_DTYPE_F32, M, N, 0);
  CHECK_FAIL(vqr_quantize_layer(NULL, rtn, &bad, NULL, &res), VQR_ERR_NONFINITE);
  CHECK_FAIL(vqr_quantize_layer(NULL, gptq, &bad, g_hess, &res), VQR_ERR_NONFINITE);
  wnan[M * N - 1] = g_w[M * N - 1];
  wnan[0] = INFINITY;
  CHECK_FAIL(vqr_quantize_layer(NULL, rtn, &bad, NULL, &res), VQR_ERR_NONFINITE);
  CHECK_FAIL(vqr_quantize_layer(NULL, gptq, &bad, g_hess, &res), VQR_ERR_NONFINITE);
  {
    uint16_t w16[M * N];
    int i;
    for (i = 0; i < M * N; ++i) w16[i] = f32_to_f16(g_w[i]);
    w16[5 * N + 7] = 0x7e00u;
    bad = vqr_tensor_2d(w16, VQR_DTYPE_F16, M, N, 0);
    CHECK_FAIL(vqr_quantize_layer(NULL, rtn, &bad, NULL, &res), VQR_ERR_NONFINITE);
    for (i = 0; i < M * N; ++i) w16[i] = f32_to_bf16(g_w[i]);
    w16[M * N - 1] = 0xff80u; /* -Inf */
    bad = vqr_tensor_2d(w16, VQR_DTYPE_BF16, M, N, 0);
    CHECK_FAIL(vqr_quantize_layer(NULL, gptq, &bad, g_hess, &res), VQR_ERR_NONFINITE);
  }
  /* Group size that does not divide n: refused unless partial groups are allowed. */
  CHECK_OK(vqr_config_set_int(rtn, VQR_PARAM_GROUP_SIZE, 24));
  CHECK_OK(vqr_config_set_int(gptq, VQR_PARAM_GROUP_SIZE, 24));
  CHECK_FAIL(vqr_quantize_layer(NULL, rtn, &w, NULL, &res), VQR_ERR_INVALID_ARGUMENT);
  CHECK_FAIL(vqr_quantize_layer(NULL, gptq, &w, g_hess, &res), VQR_ERR_INVALID_ARGUMENT);
  /* A group larger than n is the same case (n = 64 is not a multiple of 100). */
  CHECK_OK(vqr_config_set_int(rtn, VQR_PARAM_GROUP_SIZE, 100));
  CHECK_FAIL(vqr_quantize_layer(NULL, rtn, &w, NULL, &res), VQR_ERR_INVALID_ARGUMENT);
  CHECK(res == sentinel); /* no failed call wrote *out */
  res = NULL;

  CHECK_OK(vqr_config_set_int(rtn, VQR_PARAM_GROUP_SIZE, 24));
  CHECK_OK(vqr_config_set_int(rtn, VQR_PARAM_ALLOW_PARTIAL_GROUP, 1));
  CHECK_OK(vqr_config_set_int(gptq, VQR_PARAM_ALLOW_PARTIAL_GROUP, 1));
  if (CHECK_OK(vqr_quantize_layer(NULL, rtn, &w, NULL, &res))) {
    const int32_t *g_idx = vqr_result_g_idx(res);
    int j, ok = 1;
    check_result_invariants(res, M, N, 3, 4); /* groups 0..23, 24..47, 48..63 */
    for (j = 0; g_idx && j < N; ++j) ok &= g_idx[j] == j / 24;
    CHECK(g_idx && ok);
  }
  vqr_result_free(res);
  res = NULL;
  if (CHECK_OK(vqr_quantize_layer(NULL, gptq, &w, g_hess, &res))) check_result_invariants(res, M, N, 3, 4);
  vqr_result_free(res);
done:
  free(wnan);
  vqr_hessian_free(empty);
  vqr_hessian_free(narrow);
  vqr_config_free(rtn);
  vqr_config_free(gptq);
}

/* ------------------------------------------------------------------------------------------ */

static void test_rtn(void) {
  static const int bits_list[] = {2, 3, 4, 5, 8};
  size_t b;
  vqr_tensor w = vqr_tensor_2d(g_w, VQR_DTYPE_F32, M, N, 0);
  for (b = 0; b < sizeof bits_list / sizeof bits_list[0]; ++b) {
    int bits = bits_list[b];
    int64_t gs;
    for (gs = -1; gs <= 32; gs += (gs == -1 ? 17 : 16)) { /* -1, 16, 32 */
      vqr_config *cfg = make_config(VQR_METHOD_RTN, bits, gs);
      vqr_result *res = NULL;
      int64_t groups = gs == -1 ? 1 : N / gs;
      if (cfg && CHECK_OK(vqr_quantize_layer(NULL, cfg, &w, NULL, &res)) &&
          check_result_invariants(res, M, N, groups, bits)) {
        const int32_t *g_idx = vqr_result_g_idx(res);
        const float *scales = vqr_result_scales(res);
        float deq[M * N];
        int j, r, ok = 1;
        for (j = 0; j < N; ++j) ok &= g_idx[j] == (gs == -1 ? 0 : j / gs);
        CHECK(ok);
        /* Min-max asymmetric grid: every weight lies inside its group's range, so the error is at
         * most half a step. */
        CHECK_OK(vqr_result_dequantize(res, VQR_DTYPE_F32, deq, 0));
        for (r = 0; r < M; ++r)
          for (j = 0; j < N; ++j) {
            float s = scales[g_idx[j] * M + r];
            ok &= fabsf(deq[r * N + j] - g_w[r * N + j]) <= 0.5f * s * (1.0f + 1e-5f);
          }
        if (!CHECK(ok)) note("  RTN %d bits, group size %lld: error above half a step\n", bits, (long long)gs);
      }
      vqr_result_free(res);
      vqr_config_free(cfg);
    }
  }
  /* Symmetric grids: GPTQ's (zero = 2^(b-1)) and QuaRot's (codes offset by 2^(b-1)). */
  {
    int grid;
    for (grid = VQR_GRID_GPTQ; grid <= VQR_GRID_QUAROT; ++grid) {
      vqr_config *cfg = make_config(VQR_METHOD_RTN, 4, 32);
      vqr_result *res = NULL;
      if (!cfg) continue;
      CHECK_OK(vqr_config_set_int(cfg, VQR_PARAM_SYM, 1));
      CHECK_OK(vqr_config_set_int(cfg, VQR_PARAM_GRID, grid));
      if (CHECK_OK(vqr_quantize_layer(NULL, cfg, &w, NULL, &res)) && check_result_invariants(res, M, N, 2, 4)) {
        const float *zeros = vqr_result_zeros(res);
        int i, ok = 1;
        for (i = 0; i < 2 * M; ++i) ok &= zeros[i] == 8.0f;
        if (!CHECK(ok)) note("  symmetric grid %d: zero-point not 8\n", grid);
      }
      vqr_result_free(res);
      vqr_config_free(cfg);
    }
  }
}

/* f16, bf16 and strided weights holding the same values give the same result as f32. */
static void test_weight_dtypes(void) {
  enum { S = N + 3 };
  static float w32[M * N], ws[M * S];
  static uint16_t w16[M * N], ws16[M * S];
  int method, i, r, c;
  for (method = VQR_METHOD_RTN; method <= VQR_METHOD_GPTQ; ++method) {
    vqr_config *cfg = make_config((vqr_method)method, 4, 16);
    int half;
    if (!cfg) continue;
    for (half = 0; half < 2; ++half) {
      vqr_dtype dt = half == 0 ? VQR_DTYPE_F16 : VQR_DTYPE_BF16;
      vqr_result *ref = NULL, *got = NULL, *strided = NULL, *strided16 = NULL;
      vqr_tensor t;
      const vqr_hessian *h = method == VQR_METHOD_GPTQ ? g_hess : NULL;
      for (i = 0; i < M * N; ++i) {
        w16[i] = half == 0 ? f32_to_f16(g_w[i]) : f32_to_bf16(g_w[i]);
        w32[i] = half == 0 ? f16_to_f32(w16[i]) : bf16_to_f32(w16[i]);
      }
      for (r = 0; r < M; ++r)
        for (c = 0; c < S; ++c) {
          ws[r * S + c] = c < N ? w32[r * N + c] : NAN; /* padding must never be read */
          ws16[r * S + c] = c < N ? w16[r * N + c] : (uint16_t)0x7fc0u;
        }
      t = vqr_tensor_2d(w32, VQR_DTYPE_F32, M, N, 0);
      CHECK_OK(vqr_quantize_layer(NULL, cfg, &t, h, &ref));
      t = vqr_tensor_2d(w16, dt, M, N, 0);
      CHECK_OK(vqr_quantize_layer(NULL, cfg, &t, h, &got));
      t = vqr_tensor_2d(ws, VQR_DTYPE_F32, M, N, S);
      CHECK_OK(vqr_quantize_layer(NULL, cfg, &t, h, &strided));
      t = vqr_tensor_2d(ws16, dt, M, N, S);
      CHECK_OK(vqr_quantize_layer(NULL, cfg, &t, h, &strided16));
      if (ref && got && strided && strided16) {
        if (!CHECK(results_equal(ref, got))) note("  method %d, dtype %d\n", method, (int)dt);
        if (!CHECK(results_equal(ref, strided))) note("  method %d, f32 strided\n", method);
        if (!CHECK(results_equal(ref, strided16))) note("  method %d, dtype %d strided\n", method, (int)dt);
      }
      vqr_result_free(ref);
      vqr_result_free(got);
      vqr_result_free(strided);
      vqr_result_free(strided16);
    }
    vqr_config_free(cfg);
  }
}

/* ------------------------------------------------------------------------------------------ */

static void test_gptq_and_report(void) {
  vqr_config *gptq = make_config(VQR_METHOD_GPTQ, 3, 16);
  vqr_config *rtn = make_config(VQR_METHOD_RTN, 3, 16);
  vqr_result *g = NULL, *g2 = NULL, *r = NULL, *r_noh = NULL;
  vqr_report rep1;
  /* The RTN reference of a GPTQ report is computed on request only (vqr_report_level). */
  if (gptq) CHECK_OK(vqr_config_set_int(gptq, VQR_PARAM_REPORT_LOSS, VQR_REPORT_PROXY_AND_RTN));
  vqr_tensor w = vqr_tensor_2d(g_w, VQR_DTYPE_F32, M, N, 0);
  vqr_report rep;
  if (!gptq || !rtn) goto done;
  if (!CHECK_OK(vqr_quantize_layer(NULL, gptq, &w, g_hess, &g)) || !check_result_invariants(g, M, N, N / 16, 3))
    goto done;
  /* Deterministic: the same inputs and settings give the same result. */
  if (CHECK_OK(vqr_quantize_layer(NULL, gptq, &w, g_hess, &g2))) CHECK(results_equal(g, g2));
  CHECK_OK(vqr_quantize_layer(NULL, rtn, &w, g_hess, &r));
  CHECK_OK(vqr_quantize_layer(NULL, rtn, &w, NULL, &r_noh));
  if (!r || !r_noh) goto done;
  CHECK(results_equal(r, r_noh)); /* the Hessian only feeds RTN's report */

  memset(&rep, 0, sizeof rep);
  rep.struct_size = sizeof rep;
  if (CHECK_OK(vqr_result_report(g, &rep))) {
    double mine = proxy_loss(g, g_w, g_h, M, N), mine_rtn = proxy_loss(r, g_w, g_h, M, N);
    CHECK(rep.method == VQR_METHOD_GPTQ);
    CHECK(fabs(rep.damp - 0.01) < 1e-12);
    CHECK(rep.damp_attempts == 1);
    {
      double mean_diag = 0.0;
      int j;
      for (j = 0; j < N; ++j) mean_diag += g_h[j * N + j] / N;
      if (!CHECK(close_rel(rep.damp_lambda, 0.01 * mean_diag, 1e-4)))
        note("  damp_lambda %.9g, 0.01 * mean(diag H) = %.9g\n", rep.damp_lambda, 0.01 * mean_diag);
    }
    CHECK(rep.dead_columns == 0);
    CHECK(rep.seconds >= 0.0 && rep.seconds < 60.0);
    if (!CHECK(close_rel(rep.proxy_loss, mine, 1e-3)))
      note("  GPTQ proxy loss %.9g, tr(dW H dW^T) = %.9g\n", rep.proxy_loss, mine);
    if (!CHECK(close_rel(rep.rtn_proxy_loss, mine_rtn, 1e-3)))
      note("  GPTQ's rtn_proxy_loss %.9g, RTN's tr(dW H dW^T) = %.9g\n", rep.rtn_proxy_loss, mine_rtn);
    /* Not a theorem, but GPTQ beats RTN by far on correlated inputs like these. */
    if (!CHECK(rep.proxy_loss < rep.rtn_proxy_loss))
      note("  GPTQ %.9g vs RTN %.9g\n", rep.proxy_loss, rep.rtn_proxy_loss);
  }
  memset(&rep, 0, sizeof rep);
  rep.struct_size = sizeof rep;
  if (CHECK_OK(vqr_result_report(r, &rep))) {
    double mine = proxy_loss(r, g_w, g_h, M, N);
    CHECK(rep.method == VQR_METHOD_RTN);
    CHECK(rep.damp == 0.0);
    CHECK(close_rel(rep.proxy_loss, mine, 1e-3));
    CHECK(close_rel(rep.rtn_proxy_loss, rep.proxy_loss, 1e-6));
  }
  memset(&rep, 0, sizeof rep);
  rep.struct_size = sizeof rep;
  if (CHECK_OK(vqr_result_report(r_noh, &rep))) {
    CHECK(rep.method == VQR_METHOD_RTN);
    CHECK(isnan(rep.proxy_loss) && isnan(rep.rtn_proxy_loss));
  }
  /* REPORT_LOSS = 1 (the default): the same codes and proxy loss (both from the sweep), no RTN. */
  vqr_result_free(g2);
  g2 = NULL;
  CHECK_OK(vqr_config_set_int(gptq, VQR_PARAM_REPORT_LOSS, VQR_REPORT_PROXY));
  if (CHECK_OK(vqr_quantize_layer(NULL, gptq, &w, g_hess, &g2))) {
    CHECK(results_equal(g, g2));
    memset(&rep1, 0, sizeof rep1);
    rep1.struct_size = sizeof rep1;
    rep.struct_size = sizeof rep;
    if (CHECK_OK(vqr_result_report(g2, &rep1)) && CHECK_OK(vqr_result_report(g, &rep)))
      CHECK(rep1.proxy_loss == rep.proxy_loss && isnan(rep1.rtn_proxy_loss));
  }
  /* REPORT_LOSS = 0: no losses. */
  vqr_result_free(g2);
  g2 = NULL;
  CHECK_OK(vqr_config_set_int(gptq, VQR_PARAM_REPORT_LOSS, 0));
  if (CHECK_OK(vqr_quantize_layer(NULL, gptq, &w, g_hess, &g2))) {
    CHECK(results_equal(g, g2));
    rep.struct_size = sizeof rep;
    if (CHECK_OK(vqr_result_report(g2, &rep))) CHECK(isnan(rep.proxy_loss) && isnan(rep.rtn_proxy_loss));
  }
  /* Report argument errors. */
  CHECK_FAIL(vqr_result_report(NULL, &rep), VQR_ERR_INVALID_ARGUMENT);
  CHECK_FAIL(vqr_result_report(g, NULL), VQR_ERR_INVALID_ARGUMENT);
  rep.struct_size = sizeof(size_t) - 1;
  CHECK_FAIL(vqr_result_report(g, &rep), VQR_ERR_INVALID_ARGUMENT);
  rep.struct_size = 0;
  CHECK_FAIL(vqr_result_report(g, &rep), VQR_ERR_INVALID_ARGUMENT);
done:
  vqr_result_free(g);
  vqr_result_free(g2);
  vqr_result_free(r);
  vqr_result_free(r_noh);
  vqr_config_free(gptq);
  vqr_config_free(rtn);
}

/* The library writes no byte at or past struct_size, for older and newer callers alike. */
static void test_report_struct_size(void) {
  union {
    vqr_report r;
    unsigned char bytes[sizeof(vqr_report) + 32];
  } u;
  const size_t sizes[] = {sizeof(size_t), offsetof(vqr_report, method) + sizeof(int),
                          offsetof(vqr_report, proxy_loss), offsetof(vqr_report, proxy_loss) + 4,
                          offsetof(vqr_report, damp_attempts), offsetof(vqr_report, seconds),
                          sizeof(vqr_report) - 1, sizeof(vqr_report), sizeof(vqr_report) + 32};
  vqr_config *cfg = make_config(VQR_METHOD_GPTQ, 4, -1);
  vqr_result *res = NULL;
  vqr_tensor w = vqr_tensor_2d(g_w, VQR_DTYPE_F32, M, N, 0);
  size_t i;
  if (!cfg || !CHECK_OK(vqr_quantize_layer(NULL, cfg, &w, g_hess, &res))) goto done;
  for (i = 0; i < sizeof sizes / sizeof sizes[0]; ++i) {
    size_t k = sizes[i];
    guard_fill(u.bytes, sizeof u.bytes);
    u.r.struct_size = k;
    if (!CHECK_OK(vqr_result_report(res, &u.r))) continue;
    /* Bytes at and past k: untouched. Past our own sizeof, a newer caller's fields are unknown to the
     * library, which must stop at its own sizeof(vqr_report). */
    if (k < sizeof(vqr_report)) {
      if (!CHECK(guard_intact(u.bytes + k, sizeof u.bytes - k)))
        note("  struct_size %zu: the library wrote past it\n", k);
    } else {
      if (!CHECK(guard_intact(u.bytes + sizeof(vqr_report), sizeof u.bytes - sizeof(vqr_report))))
        note("  struct_size %zu: the library wrote past its own sizeof(vqr_report)\n", k);
    }
    if (k >= offsetof(vqr_report, method) + sizeof(int)) CHECK(u.r.method == VQR_METHOD_GPTQ);
    if (k >= offsetof(vqr_report, damp_attempts) + sizeof(int)) CHECK(u.r.damp_attempts == 1);
  }
done:
  vqr_result_free(res);
  vqr_config_free(cfg);
}

/* ------------------------------------------------------------------------------------------ */

static void test_accessors_null(void) {
  int64_t rows = 7;
  CHECK(vqr_result_codes(NULL) == NULL);
  CHECK(vqr_result_scales(NULL) == NULL);
  CHECK(vqr_result_zeros(NULL) == NULL);
  CHECK(vqr_result_g_idx(NULL) == NULL);
  CHECK_FAIL(vqr_result_shape(NULL, &rows, NULL, NULL, NULL), VQR_ERR_INVALID_ARGUMENT);
  CHECK(rows == 7);
}

static void test_dequantize(void) {
  enum { STRIDE = N + 5 };
  vqr_config *cfg = make_config(VQR_METHOD_GPTQ, 4, 32);
  vqr_result *res = NULL;
  vqr_tensor w = vqr_tensor_2d(g_w, VQR_DTYPE_F32, M, N, 0);
  static float ref[M * N], out32[M * STRIDE + 8];
  static uint16_t out16[M * STRIDE + 8];
  int r, c, ok, kind;
  int64_t m = 0, n = 0, groups = 0;
  int bits = 0;
  if (!cfg || !CHECK_OK(vqr_quantize_layer(NULL, cfg, &w, g_hess, &res))) goto done;
  /* Shape with any NULL out pointer. */
  CHECK_OK(vqr_result_shape(res, NULL, NULL, NULL, NULL));
  CHECK_OK(vqr_result_shape(res, &m, NULL, NULL, NULL));
  CHECK_OK(vqr_result_shape(res, NULL, &n, &groups, NULL));
  CHECK_OK(vqr_result_shape(res, NULL, NULL, NULL, &bits));
  CHECK(m == M && n == N && groups == 2 && bits == 4);
  CHECK(vqr_result_codes(res) == vqr_result_codes(res)); /* borrowed, stable */

  CHECK_OK(vqr_result_dequantize(res, VQR_DTYPE_F32, ref, 0));
  /* f32 with a row stride: guard values after each row stay. */
  for (r = 0; r < M * STRIDE + 8; ++r) out32[r] = -9999.0f;
  CHECK_OK(vqr_result_dequantize(res, VQR_DTYPE_F32, out32, STRIDE));
  ok = 1;
  for (r = 0; r < M; ++r)
    for (c = 0; c < STRIDE; ++c) ok &= c < N ? out32[r * STRIDE + c] == ref[r * N + c] : out32[r * STRIDE + c] == -9999.0f;
  for (r = M * STRIDE; r < M * STRIDE + 8; ++r) ok &= out32[r] == -9999.0f;
  CHECK(ok);
  /* Stride equal to n is the same as 0. */
  CHECK_OK(vqr_result_dequantize(res, VQR_DTYPE_F32, out32, N));
  CHECK(memcmp(out32, ref, sizeof ref) == 0);
  /* f16 and bf16: the f32 values rounded to nearest even, with strides and guards. */
  for (kind = 0; kind < 2; ++kind) {
    vqr_dtype dt = kind == 0 ? VQR_DTYPE_F16 : VQR_DTYPE_BF16;
    int first_bad = -1;
    for (r = 0; r < M * STRIDE + 8; ++r) out16[r] = 0xA5A5u;
    if (!CHECK_OK(vqr_result_dequantize(res, dt, out16, STRIDE))) continue;
    ok = 1;
    for (r = 0; r < M; ++r)
      for (c = 0; c < STRIDE; ++c) {
        uint16_t want = c < N ? (kind == 0 ? f32_to_f16(ref[r * N + c]) : f32_to_bf16(ref[r * N + c])) : (uint16_t)0xA5A5u;
        if (out16[r * STRIDE + c] != want && first_bad < 0) first_bad = r * STRIDE + c;
      }
    for (r = M * STRIDE; r < M * STRIDE + 8; ++r) ok &= out16[r] == 0xA5A5u;
    if (!CHECK(ok && first_bad < 0) && first_bad >= 0)
      note("  dtype %d: element %d is 0x%04x, expected from %.9g\n", (int)dt, first_bad,
              out16[first_bad], (first_bad % STRIDE) < N ? ref[(first_bad / STRIDE) * N + first_bad % STRIDE] : 0.0f);
  }
  /* Errors: nothing written. */
  for (r = 0; r < M * STRIDE + 8; ++r) out32[r] = -9999.0f;
  CHECK_FAIL(vqr_result_dequantize(res, VQR_DTYPE_F32, out32, N - 1), VQR_ERR_INVALID_ARGUMENT);
  CHECK_FAIL(vqr_result_dequantize(res, VQR_DTYPE_F32, out32, -1), VQR_ERR_INVALID_ARGUMENT);
  CHECK_FAIL(vqr_result_dequantize(res, (vqr_dtype)9, out32, 0), VQR_ERR_INVALID_ARGUMENT);
  CHECK_FAIL(vqr_result_dequantize(res, VQR_DTYPE_F32, NULL, 0), VQR_ERR_INVALID_ARGUMENT);
  CHECK_FAIL(vqr_result_dequantize(NULL, VQR_DTYPE_F32, out32, 0), VQR_ERR_INVALID_ARGUMENT);
  ok = 1;
  for (r = 0; r < M * STRIDE + 8; ++r) ok &= out32[r] == -9999.0f;
  CHECK(ok);
done:
  vqr_result_free(res);
  vqr_config_free(cfg);
}

/* ------------------------------------------------------------------------------------------ */
/* GPTQ special cases: act-order g_idx, dead columns, damping and Cholesky failure.             */
/* ------------------------------------------------------------------------------------------ */

static void test_act_order(void) {
  vqr_config *cfg = make_config(VQR_METHOD_GPTQ, 4, 16);
  vqr_result *res = NULL;
  vqr_tensor w = vqr_tensor_2d(g_w, VQR_DTYPE_F32, M, N, 0);
  int order[N], pos[N], i, j, ok = 1;
  if (!cfg) return;
  CHECK_OK(vqr_config_set_int(cfg, VQR_PARAM_ACT_ORDER, 1));
  /* Processing order: descending diag(H), stable. */
  for (i = 0; i < N; ++i) order[i] = i;
  for (i = 1; i < N; ++i)
    for (j = i; j > 0 && g_h[order[j] * N + order[j]] > g_h[order[j - 1] * N + order[j - 1]]; --j) {
      int t = order[j];
      order[j] = order[j - 1];
      order[j - 1] = t;
    }
  for (i = 0; i < N; ++i) pos[order[i]] = i;
  if (CHECK_OK(vqr_quantize_layer(NULL, cfg, &w, g_hess, &res)) && check_result_invariants(res, M, N, N / 16, 4)) {
    const int32_t *g_idx = vqr_result_g_idx(res);
    for (j = 0; j < N; ++j) ok &= g_idx[j] == pos[j] / 16;
    CHECK(ok);
  }
  vqr_result_free(res);
  res = NULL;
  /* Static groups: g_idx is j / g again. */
  CHECK_OK(vqr_config_set_int(cfg, VQR_PARAM_STATIC_GROUPS, 1));
  if (CHECK_OK(vqr_quantize_layer(NULL, cfg, &w, g_hess, &res)) && check_result_invariants(res, M, N, N / 16, 4)) {
    const int32_t *g_idx = vqr_result_g_idx(res);
    ok = 1;
    for (j = 0; j < N; ++j) ok &= g_idx[j] == j / 16;
    CHECK(ok);
  }
  vqr_result_free(res);
  vqr_config_free(cfg);
}

static void test_dead_columns(void) {
  static float x[T * N];
  vqr_hessian *h;
  vqr_config *cfg = make_config(VQR_METHOD_GPTQ, 4, -1);
  vqr_result *res = NULL;
  vqr_tensor w = vqr_tensor_2d(g_w, VQR_DTYPE_F32, M, N, 0);
  vqr_report rep;
  int k;
  memcpy(x, g_x, sizeof x);
  for (k = 0; k < T; ++k) x[k * N + 5] = x[k * N + 40] = 0.0f; /* columns 5 and 40 never see input */
  h = make_hessian(x, T, N);
  if (h && cfg && CHECK_OK(vqr_quantize_layer(NULL, cfg, &w, h, &res))) {
    check_result_invariants(res, M, N, 1, 4);
    rep.struct_size = sizeof rep;
    if (CHECK_OK(vqr_result_report(res, &rep))) CHECK(rep.dead_columns == 2);
  }
  vqr_result_free(res);
  vqr_hessian_free(h);
  vqr_config_free(cfg);
}

/* All inputs identical across features: H = 4 everywhere, exactly singular (the second Cholesky
 * pivot is 4 - 2 * 2 = 0 in exact arithmetic). Without damping the factorization must fail. */
static void test_damping(void) {
  static float x[2 * N];
  vqr_hessian *h;
  vqr_config *cfg = make_config(VQR_METHOD_GPTQ, 4, -1);
  vqr_result *res = NULL, *sentinel = (vqr_result *)&res;
  vqr_tensor w = vqr_tensor_2d(g_w, VQR_DTYPE_F32, M, N, 0);
  vqr_report rep;
  int j;
  for (j = 0; j < N; ++j) {
    x[j] = 2.0f;
    x[N + j] = 0.0f;
  }
  h = make_hessian(x, 2, N);
  if (!h || !cfg) goto done;
  CHECK_OK(vqr_config_set_float(cfg, VQR_PARAM_DAMP, 0.0));
  CHECK_OK(vqr_config_set_int(cfg, VQR_PARAM_DAMP_ATTEMPTS, 1));
  res = sentinel;
  CHECK_FAIL(vqr_quantize_layer(NULL, cfg, &w, h, &res), VQR_ERR_NUMERICAL);
  CHECK(res == sentinel);
  res = NULL;
  /* With retries: damp 0 fails, damp 0 + 0.01 succeeds. */
  CHECK_OK(vqr_config_set_int(cfg, VQR_PARAM_DAMP_ATTEMPTS, 3));
  if (CHECK_OK(vqr_quantize_layer(NULL, cfg, &w, h, &res))) {
    rep.struct_size = sizeof rep;
    if (CHECK_OK(vqr_result_report(res, &rep))) {
      CHECK(rep.damp_attempts == 2);
      CHECK(fabs(rep.damp - 0.01) < 1e-9);
      if (!CHECK(close_rel(rep.damp_lambda, 0.04, 1e-5))) note("  damp_lambda %.9g\n", rep.damp_lambda);
    }
  }
done:
  vqr_result_free(res);
  vqr_hessian_free(h);
  vqr_config_free(cfg);
}

int main(void) {
  make_weights(g_w, M, N);
  make_inputs(g_x, T, N);
  g_hess = make_hessian(g_x, T, N);
  if (!g_hess || !CHECK_OK(vqr_hessian_read(g_hess, g_h, 0))) CHECK_DONE();
  test_accessors_null();
  test_argument_errors();
  test_rtn();
  test_weight_dtypes();
  test_gptq_and_report();
  test_report_struct_size();
  test_dequantize();
  test_act_order();
  test_dead_columns();
  test_damping();
  vqr_hessian_free(g_hess);
  CHECK_DONE();
}
