/*
 * test_capi_basics.c — the C API as a plain C11 program sees it: version, status codes, the
 * last-error message, contexts, configurations and parameter bounds, *_free(NULL).
 * Numerics are covered by test_capi_hessian.c and test_capi_quantize.c.
 */
#include "check.h"

#ifndef __STDC_NO_THREADS__
#include <threads.h>
#endif

/* ------------------------------------------------------------------------------------------ */

static void test_version(void) {
  const char *s = vqr_version_string();
  const char *info = vqr_build_info();
  CHECK(vqr_version_number() == VQR_VERSION_NUMBER);
  CHECK(vqr_version_number() / 10000 == VQR_VERSION_MAJOR);
  CHECK(VQR_VERSION_NUMBER == VQR_VERSION_MAJOR * 10000 + VQR_VERSION_MINOR * 100 + VQR_VERSION_PATCH);
  CHECK(s != NULL && strcmp(s, VQR_VERSION_STRING) == 0);
  CHECK(vqr_version_string() == s); /* static storage */
  CHECK(info != NULL && info[0] != '\0');
  /* The build line starts from the version. */
  CHECK(info != NULL && strstr(info, VQR_VERSION_STRING) != NULL);
}

static void test_status_strings(void) {
  static const vqr_status codes[] = {VQR_OK,
                                     VQR_ERR_INVALID_ARGUMENT,
                                     VQR_ERR_UNSUPPORTED,
                                     VQR_ERR_OUT_OF_RANGE,
                                     VQR_ERR_NONFINITE,
                                     VQR_ERR_NUMERICAL,
                                     VQR_ERR_CORRUPT,
                                     VQR_ERR_BUFFER_TOO_SMALL,
                                     VQR_ERR_OUT_OF_MEMORY,
                                     VQR_ERR_CANCELLED,
                                     VQR_ERR_IO,
                                     VQR_ERR_INTERNAL,
                                     VQR_ERR_FORMAT};
  const size_t count = sizeof codes / sizeof codes[0];
  size_t i, j;
  /* The numbers are part of the ABI. */
  CHECK(VQR_OK == 0 && VQR_ERR_INVALID_ARGUMENT == -1 && VQR_ERR_UNSUPPORTED == -2 &&
        VQR_ERR_OUT_OF_RANGE == -3 && VQR_ERR_NONFINITE == -4 && VQR_ERR_NUMERICAL == -5 &&
        VQR_ERR_CORRUPT == -6 && VQR_ERR_BUFFER_TOO_SMALL == -7 && VQR_ERR_OUT_OF_MEMORY == -8 &&
        VQR_ERR_CANCELLED == -9 && VQR_ERR_IO == -10 && VQR_ERR_INTERNAL == -11 &&
        VQR_ERR_FORMAT == -12);
  for (i = 0; i < count; ++i) {
    const char *s = vqr_status_string(codes[i]);
    if (!CHECK(s != NULL && s[0] != '\0')) continue;
    CHECK(strcmp(s, "unknown status") != 0);
    for (j = 0; j < i; ++j) CHECK(strcmp(s, vqr_status_string(codes[j])) != 0);
  }
  CHECK(strcmp(vqr_status_string(VQR_ERR_INVALID_ARGUMENT), "invalid argument") == 0);
  CHECK(strcmp(vqr_status_string((vqr_status)1), "unknown status") == 0);
  CHECK(strcmp(vqr_status_string((vqr_status)-13), "unknown status") == 0);
  CHECK(strcmp(vqr_status_string((vqr_status)-1000), "unknown status") == 0);
  CHECK(strcmp(vqr_status_string((vqr_status)INT32_MIN), "unknown status") == 0);
}

#ifndef __STDC_NO_THREADS__
static int thread_reads_last_error(void *arg) {
  const char **out = (const char **)arg;
  *out = vqr_last_error();
  return 0;
}
#endif

static void test_last_error(void) {
  vqr_context *ctx = NULL;
  const char *msg;
  /* A failure names something: here the NULL out pointer. */
  CHECK_FAIL(vqr_context_create(NULL), VQR_ERR_INVALID_ARGUMENT);
  msg = vqr_last_error();
  CHECK(msg != NULL && strlen(msg) > 3);
  /* Successful calls leave the message alone. */
  CHECK_OK(vqr_context_create(&ctx));
  CHECK(vqr_last_error() != NULL && vqr_last_error()[0] != '\0');
  vqr_context_free(ctx);
  /* The message is per thread: a fresh thread has "". */
#ifndef __STDC_NO_THREADS__
  {
    thrd_t t;
    const char *other = NULL;
    if (CHECK(thrd_create(&t, thread_reads_last_error, (void *)&other) == thrd_success)) {
      thrd_join(t, NULL);
      CHECK(other != NULL && other[0] == '\0');
    }
  }
#endif
}

static void test_free_null(void) {
  vqr_context_free(NULL);
  vqr_config_free(NULL);
  vqr_hessian_free(NULL);
  vqr_result_free(NULL);
  vqr_context_cancel(NULL);
  CHECK(1);
}

/* ------------------------------------------------------------------------------------------ */

static void test_context(void) {
  vqr_context *ctx = NULL;
  CHECK_FAIL(vqr_context_create(NULL), VQR_ERR_INVALID_ARGUMENT);
  if (!CHECK_OK(vqr_context_create(&ctx)) || !CHECK(ctx != NULL)) return;

  CHECK(vqr_context_get_threads(ctx) == 0); /* default: all cores */
  CHECK(vqr_context_get_threads(NULL) == 0); /* the NULL-handle rule: the default setting */
  CHECK_OK(vqr_context_set_threads(ctx, 3));
  CHECK(vqr_context_get_threads(ctx) == 3);
  CHECK_FAIL(vqr_context_set_threads(ctx, -1), VQR_ERR_OUT_OF_RANGE);
  CHECK(vqr_context_get_threads(ctx) == 3);
  CHECK_FAIL(vqr_context_set_threads(ctx, 4097), VQR_ERR_OUT_OF_RANGE);
  CHECK(vqr_context_get_threads(ctx) == 3);
  CHECK_FAIL(vqr_context_set_threads(ctx, INT32_MIN), VQR_ERR_OUT_OF_RANGE);
  CHECK(vqr_context_get_threads(ctx) == 3);
  CHECK_OK(vqr_context_set_threads(ctx, 4096));
  CHECK(vqr_context_get_threads(ctx) == 4096);
  CHECK_OK(vqr_context_set_threads(ctx, 1));
  CHECK(vqr_context_get_threads(ctx) == 1);
  CHECK_OK(vqr_context_set_threads(ctx, 0));
  CHECK(vqr_context_get_threads(ctx) == 0);
  CHECK_FAIL(vqr_context_set_threads(NULL, 1), VQR_ERR_INVALID_ARGUMENT);

  CHECK_OK(vqr_context_set_seed(ctx, 0));
  CHECK_OK(vqr_context_set_seed(ctx, UINT64_MAX));
  CHECK_FAIL(vqr_context_set_seed(NULL, 1), VQR_ERR_INVALID_ARGUMENT);

  /* Log and progress installation; the delivery is tested in test_capi_quantize.c. */
  CHECK_FAIL(vqr_context_set_log(NULL, NULL, NULL, VQR_LOG_INFO), VQR_ERR_INVALID_ARGUMENT);
  CHECK_FAIL(vqr_context_set_log(ctx, NULL, NULL, (vqr_log_level)5), VQR_ERR_INVALID_ARGUMENT);
  CHECK_FAIL(vqr_context_set_log(ctx, NULL, NULL, (vqr_log_level)-1), VQR_ERR_INVALID_ARGUMENT);
  CHECK_OK(vqr_context_set_log(ctx, NULL, NULL, VQR_LOG_DEBUG));
  CHECK_OK(vqr_context_set_log(ctx, NULL, NULL, VQR_LOG_NONE));
  CHECK_FAIL(vqr_context_set_progress(NULL, NULL, NULL), VQR_ERR_INVALID_ARGUMENT);
  CHECK_OK(vqr_context_set_progress(ctx, NULL, NULL));

  /* Cancelling with nothing running is allowed; the request waits for the next call. */
  vqr_context_cancel(ctx);
  vqr_context_free(ctx);
}

/* ------------------------------------------------------------------------------------------ */
/* Parameters: the table below is the header's documentation, checked against the library.     */
/* ------------------------------------------------------------------------------------------ */

typedef struct param_spec {
  vqr_param param;
  const char *name; /* vqr_param_name() */
  int is_float;
  double lower, upper, default_value;
} param_spec;

static const param_spec k_params[] = {
    {VQR_PARAM_METHOD, "method", 0, 0, VQR_METHOD_LORAROUND, VQR_METHOD_RTN},
    {VQR_PARAM_BITS, "bits", 0, 2, 8, 4},
    {VQR_PARAM_GROUP_SIZE, "group_size", 0, -1, 1073741824.0, -1},
    {VQR_PARAM_ALLOW_PARTIAL_GROUP, "allow_partial_group", 0, 0, 1, 0},
    {VQR_PARAM_SYM, "sym", 0, 0, 1, 0},
    {VQR_PARAM_GRID, "grid", 0, 0, VQR_GRID_FULL_RANGE, VQR_GRID_GPTQ},
    {VQR_PARAM_MSE, "mse", 0, 0, 1, 0},
    {VQR_PARAM_MSE_NORM, "mse_norm", 1, 1.0, 8.0, 2.4},
    {VQR_PARAM_MSE_GRID, "mse_grid", 0, 1, 10000, 100},
    {VQR_PARAM_MSE_MAXSHRINK, "mse_maxshrink", 1, 0.0, 1.0, 0.8},
    {VQR_PARAM_SCALE_DTYPE, "scale_dtype", 0, 0.0, 2.0, 0.0},
    {VQR_PARAM_ACT_ORDER, "act_order", 0, 0, 1, 0},
    {VQR_PARAM_STATIC_GROUPS, "static_groups", 0, 0, 1, 0},
    {VQR_PARAM_DAMP, "damp", 1, 0.0, 10.0, 0.01},
    {VQR_PARAM_DAMP_INCREMENT, "damp_increment", 1, 0.0, 10.0, 0.01},
    {VQR_PARAM_DAMP_ATTEMPTS, "damp_attempts", 0, 1, 64, 12},
    {VQR_PARAM_BLOCK_SIZE, "block_size", 0, 1, 4096, 128},
    {VQR_PARAM_STALE_GROUPS, "stale_groups", 0, 0, 1, 0},
    {VQR_PARAM_REPORT_LOSS, "report_loss", 0, 0, 2, 1},
    {VQR_PARAM_ALPHA, "alpha", 1, -1.0, 100.0, -1.0},
    {VQR_PARAM_ALPHA2, "alpha2", 1, -1.0, 100.0, -1.0},
    {VQR_PARAM_OUTER, "outer", 0, -1, 2, VQR_OUTER_PRESET},
    {VQR_PARAM_EXACT_TARGET, "exact_target", 0, 0, 1, 0},
    /* Since 0.3.0: learned rounding. */
    {VQR_PARAM_STEPS, "steps", 0, -1, 1e7, -1},
    {VQR_PARAM_LR, "lr", 1, -1.0, 100.0, -1.0},
    {VQR_PARAM_INIT, "init", 0, VQR_INIT_RTN, VQR_INIT_GPTQ, VQR_INIT_RTN},
    {VQR_PARAM_REG_WEIGHT, "reg_weight", 1, -1.0, 1e6, -1.0},
    {VQR_PARAM_REG_MEAN, "reg_mean", 0, 0, 1, 0},
    {VQR_PARAM_BETA_START, "beta_start", 1, 1.0, 1000.0, 20.0},
    {VQR_PARAM_BETA_END, "beta_end", 1, 1.0, 1000.0, 2.0},
    {VQR_PARAM_BETA_SCHEDULE, "beta_schedule", 0, VQR_BETA_PRESET, VQR_BETA_HOLD_LINEAR, VQR_BETA_PRESET},
    {VQR_PARAM_WARMUP, "warmup", 1, -1.0, 1.0, -1.0},
    {VQR_PARAM_BETA_HOLD, "beta_hold", 1, 0.0, 1.0, 0.1},
    {VQR_PARAM_BETA_FINAL_HOLD, "beta_final_hold", 1, -1.0, 0.9, -1.0},
    {VQR_PARAM_KEEP_BEST, "keep_best", 0, 0, 1, 1},
    {VQR_PARAM_REG_UNITS, "reg_units", 0, VQR_REG_OBJECTIVE, VQR_REG_GRID_STEP, VQR_REG_GRID_STEP},
    {VQR_PARAM_VQ_DIM, "vq_dim", 0, 1, 16, 8},
    {VQR_PARAM_CODEBOOK_SIZE, "codebook_size", 0, 1, 65536, 4096},
    {VQR_PARAM_KMEANS_ITERS, "kmeans_iters", 0, 0, 10000, 5},
    {VQR_PARAM_KMEANS_SAMPLE, "kmeans_sample", 0, 1, 1e6, 32},
    {VQR_PARAM_SIGN_CONSISTENT, "sign_consistent", 0, 0, 1, 0},
    {VQR_PARAM_KMEANS_TOL, "kmeans_tol", 1, 0.0, 1.0, 1e-3},
    {VQR_PARAM_RANK, "rank", 0, 1, 4096, 8},
    {VQR_PARAM_MINMAX_TUNING, "minmax_tuning", 0, 0, 1, 1},
    {VQR_PARAM_MINMAX_LR, "minmax_lr", 1, -1.0, 100.0, -1.0},
    {VQR_PARAM_BLOCKWISE, "blockwise", 0, 0, 1, 0},
    {VQR_PARAM_BLOCK_BATCH, "block_batch", 0, 1, 4096, 8},
    {VQR_PARAM_E2E, "e2e", 0, 0, 1, 0},
    {VQR_PARAM_TEACHER_TOPK, "teacher_topk", 0, 1, 1 << 24, 64},
    {VQR_PARAM_TEMPERATURE, "temperature", 1, 0.01, 100.0, 2.0},
    {VQR_PARAM_E2E_BATCH, "e2e_batch", 0, 1, 4096, 1},
    {VQR_PARAM_EVAL_EVERY, "eval_every", 0, 0, 1e7, 100},
    {VQR_PARAM_HOLDOUT, "holdout", 0, -1, 1e6, -1},
    {VQR_PARAM_KL_MEAN, "kl_mean", 0, 0, 1, 0},
    {VQR_PARAM_TEACHER_ONLINE, "teacher_online", 0, 0, 1, 0},
    {VQR_PARAM_TRUE_SEQUENTIAL, "true_sequential", 0, 0, 1, 1},
};
#define N_PARAMS (sizeof k_params / sizeof k_params[0])

/* Reads a parameter as a double through the getter of its type. */
static int get_param(const vqr_config *cfg, const param_spec *p, double *out) {
  if (p->is_float) return vqr_config_get_float(cfg, p->param, out) == VQR_OK;
  {
    int64_t v = 0;
    if (vqr_config_get_int(cfg, p->param, &v) != VQR_OK) return 0;
    *out = (double)v;
    return 1;
  }
}

static vqr_status set_param(vqr_config *cfg, const param_spec *p, double value) {
  return p->is_float ? vqr_config_set_float(cfg, p->param, value)
                     : vqr_config_set_int(cfg, p->param, (int64_t)value);
}

static void test_param_bounds_and_names(void) {
  size_t i, j;
  vqr_bounds b;
  CHECK_FAIL(vqr_param_bounds(VQR_PARAM_BITS, NULL), VQR_ERR_INVALID_ARGUMENT);
  for (i = 0; i < N_PARAMS; ++i) {
    const param_spec *p = &k_params[i];
    const char *name = vqr_param_name(p->param);
    memset(&b, 0, sizeof b);
    b.struct_size = sizeof b;
    if (!CHECK_OK(vqr_param_bounds(p->param, &b))) {
      note("  parameter %d\n", (int)p->param);
      continue;
    }
    if (!(CHECK(b.struct_size == sizeof(vqr_bounds)) && CHECK(b.is_float == p->is_float) &&
          CHECK(b.lower == p->lower) && CHECK(b.upper == p->upper) &&
          CHECK(fabs(b.default_value - p->default_value) <= 1e-12)))
      note("  parameter %d (%s): is_float %d lower %g upper %g default %g\n", (int)p->param,
              name ? name : "?", b.is_float, b.lower, b.upper, b.default_value);
    if (!CHECK(name != NULL && strcmp(name, p->name) == 0))
      note("  parameter %d: name \"%s\", expected \"%s\"\n", (int)p->param, name ? name : "(NULL)", p->name);
    for (j = 0; j < i && name != NULL; ++j) {
      const char *other = vqr_param_name(k_params[j].param);
      CHECK(other == NULL || strcmp(name, other) != 0);
    }
  }
  CHECK(vqr_param_name(VQR_PARAM_BITS) != NULL && strcmp(vqr_param_name(VQR_PARAM_BITS), "bits") == 0);
  CHECK(vqr_param_name(VQR_PARAM_GROUP_SIZE) != NULL &&
        strcmp(vqr_param_name(VQR_PARAM_GROUP_SIZE), "group_size") == 0);
  /* Unknown parameters. */
  {
    /* Gaps between and after the numbered ranges; none of these may ever become valid by
     * accident (a new parameter gets its own number and is added to k_params). */
    static const int unknown[] = {0,   1,   99,  101, 199, 210, 299, 307, 399, 401, 499, 504, 599,
                                  613, 619, 626, 629, 631, 639, 652, 700, -1,  100000};
    for (i = 0; i < sizeof unknown / sizeof unknown[0]; ++i) {
      vqr_param p = (vqr_param)unknown[i];
      b.struct_size = 12345;
      CHECK(vqr_param_name(p) == NULL);
      CHECK_FAIL(vqr_param_bounds(p, &b), VQR_ERR_UNSUPPORTED);
      CHECK(b.struct_size == 12345); /* failed calls leave outputs alone */
    }
  }
  /* The table above is complete: every id the library knows in -100..1000 is listed in it. */
  {
    int id, listed, extra = 0;
    for (id = -100; id <= 1000; ++id) {
      listed = 0;
      for (i = 0; i < N_PARAMS; ++i) listed |= (int)k_params[i].param == id;
      if (!listed && vqr_param_name((vqr_param)id) != NULL) {
        note("  parameter %d (\"%s\") is not in k_params\n", id, vqr_param_name((vqr_param)id));
        ++extra;
      }
    }
    CHECK(extra == 0);
  }
}

/* The struct_size rule for vqr_bounds (0.5.0): a caller with an older, shorter struct gets its
 * prefix only, with struct_size saying how much; bytes after it stay untouched; struct_size 0 (a
 * zero-initialized struct of a 0.4 caller) gets the 0.4 layout, which is the whole struct today;
 * a struct_size too small to hold struct_size itself is refused without writing. */
static void test_bounds_struct_size(void) {
  const size_t prefix = offsetof(vqr_bounds, lower); /* struct_size and is_float: an "old" struct */
  unsigned char buf[sizeof(vqr_bounds) + 16];
  vqr_bounds full = {.struct_size = sizeof(vqr_bounds)}, got;
  size_t n;
  if (!CHECK_OK(vqr_param_bounds(VQR_PARAM_DAMP, &full))) return;
  CHECK(full.struct_size == sizeof(vqr_bounds) && full.is_float == 1);

  guard_fill(buf, sizeof buf);
  n = prefix;
  memcpy(buf, &n, sizeof n);
  if (CHECK_OK(vqr_param_bounds(VQR_PARAM_DAMP, (vqr_bounds *)(void *)buf))) {
    memcpy(&got, buf, prefix);
    CHECK(got.struct_size == prefix && got.is_float == 1);
    CHECK(guard_intact(buf + prefix, sizeof buf - prefix)); /* nothing past the caller's size */
  }

  guard_fill(buf, sizeof buf);
  n = 0;
  memcpy(buf, &n, sizeof n);
  if (CHECK_OK(vqr_param_bounds(VQR_PARAM_DAMP, (vqr_bounds *)(void *)buf))) {
    memcpy(&got, buf, sizeof got);
    CHECK(got.struct_size == sizeof(vqr_bounds)); /* the 0.4 size: every field of this header */
    CHECK(got.is_float == full.is_float && got.lower == full.lower && got.upper == full.upper &&
          got.default_value == full.default_value);
    CHECK(guard_intact(buf + sizeof(vqr_bounds), sizeof buf - sizeof(vqr_bounds)));
  }

  guard_fill(buf, sizeof buf);
  n = sizeof buf; /* a newer, longer struct: the library writes what it has */
  memcpy(buf, &n, sizeof n);
  if (CHECK_OK(vqr_param_bounds(VQR_PARAM_DAMP, (vqr_bounds *)(void *)buf))) {
    memcpy(&got, buf, sizeof got);
    CHECK(got.struct_size == sizeof(vqr_bounds) && got.default_value == full.default_value);
    CHECK(guard_intact(buf + sizeof(vqr_bounds), sizeof buf - sizeof(vqr_bounds)));
  }

  guard_fill(buf, sizeof buf);
  n = sizeof(size_t) - 1;
  memcpy(buf, &n, sizeof n);
  CHECK_FAIL(vqr_param_bounds(VQR_PARAM_DAMP, (vqr_bounds *)(void *)buf), VQR_ERR_INVALID_ARGUMENT);
  CHECK(memcmp(buf, &n, sizeof n) == 0 && guard_intact(buf + sizeof n, sizeof buf - sizeof n));
}

/* The NULL-handle rule of the header: getters that cannot fail return what an empty object
 * would (0, NULL); functions returning a status refuse with VQR_ERR_INVALID_ARGUMENT; void
 * functions do nothing. */
static void test_null_handles(void) {
  int64_t count = -5, rows = -5;
  vqr_report rep = {.struct_size = sizeof(vqr_report)};
  vqr_bounds b = {.struct_size = sizeof(vqr_bounds)};
  size_t size = 7;
  CHECK(vqr_context_get_threads(NULL) == 0);
  CHECK(vqr_hessian_width(NULL) == 0);
  CHECK(vqr_hessian_token_count(NULL) == 0);
  CHECK(vqr_hessian_flags(NULL) == 0u);
  CHECK(vqr_result_codes(NULL) == NULL && vqr_result_scales(NULL) == NULL);
  CHECK(vqr_result_zeros(NULL) == NULL && vqr_result_g_idx(NULL) == NULL);
  CHECK(vqr_result_history(NULL, VQR_HISTORY_LOSS, &count) == NULL && count == 0);
  CHECK(vqr_model_layer_count(NULL) == 0);
  CHECK(vqr_model_linear_count(NULL) == 0);
  CHECK(vqr_sequences_count(NULL) == 0 && vqr_sequences_total_tokens(NULL) == 0);
  CHECK(vqr_sequences_tokens(NULL) == NULL && vqr_sequences_lengths(NULL) == NULL);
  vqr_model_clear_overrides(NULL);
  vqr_model_free(NULL);
  vqr_sequences_free(NULL);
  CHECK_FAIL(vqr_context_set_seed(NULL, 1), VQR_ERR_INVALID_ARGUMENT);
  CHECK_FAIL(vqr_context_set_threads(NULL, 1), VQR_ERR_INVALID_ARGUMENT);
  CHECK_FAIL(vqr_hessian_serialized_size(NULL, &size), VQR_ERR_INVALID_ARGUMENT);
  CHECK(size == 7);
  CHECK_FAIL(vqr_result_shape(NULL, &rows, NULL, NULL, NULL), VQR_ERR_INVALID_ARGUMENT);
  CHECK(rows == -5);
  CHECK_FAIL(vqr_result_report(NULL, &rep), VQR_ERR_INVALID_ARGUMENT);
  CHECK_FAIL(vqr_config_get_int(NULL, VQR_PARAM_BITS, &count), VQR_ERR_INVALID_ARGUMENT);
  CHECK_FAIL(vqr_model_layer_report(NULL, 0, NULL, &rep), VQR_ERR_INVALID_ARGUMENT);
  CHECK_FAIL(vqr_model_skip_layers(NULL, "*"), VQR_ERR_INVALID_ARGUMENT);
  CHECK_FAIL(vqr_model_set_metadata(NULL, "k", "v"), VQR_ERR_INVALID_ARGUMENT);
  CHECK_FAIL(vqr_model_linear(NULL, 0, NULL, NULL, NULL), VQR_ERR_INVALID_ARGUMENT);
  CHECK_FAIL(vqr_param_bounds(VQR_PARAM_BITS, NULL), VQR_ERR_INVALID_ARGUMENT);
  CHECK(b.struct_size == sizeof(vqr_bounds));
}

static void test_config(void) {
  vqr_config *cfg = NULL, *clone = NULL, *sentinel = (vqr_config *)&clone;
  size_t i;
  CHECK_FAIL(vqr_config_create(NULL), VQR_ERR_INVALID_ARGUMENT);
  if (!CHECK_OK(vqr_config_create(&cfg)) || !CHECK(cfg != NULL)) return;

  for (i = 0; i < N_PARAMS; ++i) {
    const param_spec *p = &k_params[i];
    double v = -12345.0, probe;
    vqr_bounds b = {.struct_size = sizeof(vqr_bounds)};
    int64_t iv = -777;
    double fv = -777.0;
    if (!CHECK_OK(vqr_param_bounds(p->param, &b))) continue;
    /* Defaults equal the bounds' default. */
    if (!CHECK(get_param(cfg, p, &v) && v == b.default_value))
      note("  parameter %s: default %g, bounds say %g\n", vqr_param_name(p->param), v,
              b.default_value);
    /* Both ends are accepted (inclusive) and read back. */
    CHECK_OK(set_param(cfg, p, b.lower));
    CHECK(get_param(cfg, p, &v) && v == b.lower);
    CHECK_OK(set_param(cfg, p, b.upper));
    CHECK(get_param(cfg, p, &v) && v == b.upper);
    /* Out of range: refused, value unchanged. */
    if (p->is_float) {
      CHECK_FAIL(vqr_config_set_float(cfg, p->param, nextafter(b.lower, -INFINITY)), VQR_ERR_OUT_OF_RANGE);
      CHECK_FAIL(vqr_config_set_float(cfg, p->param, nextafter(b.upper, INFINITY)), VQR_ERR_OUT_OF_RANGE);
      CHECK_FAIL(vqr_config_set_float(cfg, p->param, NAN), VQR_ERR_OUT_OF_RANGE);
      CHECK_FAIL(vqr_config_set_float(cfg, p->param, INFINITY), VQR_ERR_OUT_OF_RANGE);
      CHECK_FAIL(vqr_config_set_float(cfg, p->param, -INFINITY), VQR_ERR_OUT_OF_RANGE);
      /* Wrong setter/getter type. */
      CHECK_FAIL(vqr_config_set_int(cfg, p->param, (int64_t)b.default_value), VQR_ERR_INVALID_ARGUMENT);
      CHECK_FAIL(vqr_config_get_int(cfg, p->param, &iv), VQR_ERR_INVALID_ARGUMENT);
      CHECK(iv == -777);
    } else {
      CHECK_FAIL(vqr_config_set_int(cfg, p->param, (int64_t)b.lower - 1), VQR_ERR_OUT_OF_RANGE);
      CHECK_FAIL(vqr_config_set_int(cfg, p->param, (int64_t)b.upper + 1), VQR_ERR_OUT_OF_RANGE);
      CHECK_FAIL(vqr_config_set_int(cfg, p->param, INT64_MAX), VQR_ERR_OUT_OF_RANGE);
      CHECK_FAIL(vqr_config_set_int(cfg, p->param, INT64_MIN), VQR_ERR_OUT_OF_RANGE);
      CHECK_FAIL(vqr_config_set_float(cfg, p->param, b.default_value), VQR_ERR_INVALID_ARGUMENT);
      CHECK_FAIL(vqr_config_get_float(cfg, p->param, &fv), VQR_ERR_INVALID_ARGUMENT);
      CHECK(fv == -777.0);
    }
    CHECK(get_param(cfg, p, &v) && v == b.upper);
    /* NULL config and NULL out. */
    CHECK_FAIL(set_param(NULL, p, b.default_value), VQR_ERR_INVALID_ARGUMENT);
    if (p->is_float)
      CHECK_FAIL(vqr_config_get_float(cfg, p->param, NULL), VQR_ERR_INVALID_ARGUMENT);
    else
      CHECK_FAIL(vqr_config_get_int(cfg, p->param, NULL), VQR_ERR_INVALID_ARGUMENT);
    if (p->is_float)
      CHECK_FAIL(vqr_config_get_float(NULL, p->param, &probe), VQR_ERR_INVALID_ARGUMENT);
    else
      CHECK_FAIL(vqr_config_get_int(NULL, p->param, &iv), VQR_ERR_INVALID_ARGUMENT);
    /* Back to the default. */
    CHECK_OK(set_param(cfg, p, b.default_value));
  }

  /* Group size: 0 and values below -1 are out of range, -1 and 1..2^30 are fine. */
  {
    int64_t g = 0;
    CHECK_OK(vqr_config_set_int(cfg, VQR_PARAM_GROUP_SIZE, 128));
    CHECK_FAIL(vqr_config_set_int(cfg, VQR_PARAM_GROUP_SIZE, 0), VQR_ERR_OUT_OF_RANGE);
    CHECK_FAIL(vqr_config_set_int(cfg, VQR_PARAM_GROUP_SIZE, -2), VQR_ERR_OUT_OF_RANGE);
    CHECK_FAIL(vqr_config_set_int(cfg, VQR_PARAM_GROUP_SIZE, ((int64_t)1 << 30) + 1), VQR_ERR_OUT_OF_RANGE);
    CHECK(vqr_config_get_int(cfg, VQR_PARAM_GROUP_SIZE, &g) == VQR_OK && g == 128);
    CHECK_OK(vqr_config_set_int(cfg, VQR_PARAM_GROUP_SIZE, 1));
    CHECK_OK(vqr_config_set_int(cfg, VQR_PARAM_GROUP_SIZE, -1));
  }
  /* Bits out of range. */
  CHECK_FAIL(vqr_config_set_int(cfg, VQR_PARAM_BITS, 1), VQR_ERR_OUT_OF_RANGE);
  CHECK_FAIL(vqr_config_set_int(cfg, VQR_PARAM_BITS, 9), VQR_ERR_OUT_OF_RANGE);
  CHECK_FAIL(vqr_config_set_int(cfg, VQR_PARAM_BITS, 32), VQR_ERR_OUT_OF_RANGE);

  /* Unknown parameters: UNSUPPORTED, outputs untouched. */
  {
    int64_t iv = 5;
    double fv = 5.0;
    CHECK_FAIL(vqr_config_set_int(cfg, (vqr_param)999, 1), VQR_ERR_UNSUPPORTED);
    CHECK_FAIL(vqr_config_set_float(cfg, (vqr_param)999, 1.0), VQR_ERR_UNSUPPORTED);
    CHECK_FAIL(vqr_config_get_int(cfg, (vqr_param)999, &iv), VQR_ERR_UNSUPPORTED);
    CHECK_FAIL(vqr_config_get_float(cfg, (vqr_param)999, &fv), VQR_ERR_UNSUPPORTED);
    CHECK_FAIL(vqr_config_set_int(cfg, (vqr_param)0, 1), VQR_ERR_UNSUPPORTED);
    CHECK(iv == 5 && fv == 5.0);
  }

  /* Clone: independent copies. */
  CHECK_OK(vqr_config_set_int(cfg, VQR_PARAM_BITS, 3));
  CHECK_OK(vqr_config_set_float(cfg, VQR_PARAM_DAMP, 0.25));
  CHECK_FAIL(vqr_config_clone(NULL, &clone), VQR_ERR_INVALID_ARGUMENT);
  CHECK(clone == NULL);
  CHECK_FAIL(vqr_config_clone(cfg, NULL), VQR_ERR_INVALID_ARGUMENT);
  clone = sentinel;
  CHECK_FAIL(vqr_config_clone(NULL, &clone), VQR_ERR_INVALID_ARGUMENT);
  CHECK(clone == sentinel);
  clone = NULL;
  if (CHECK_OK(vqr_config_clone(cfg, &clone)) && CHECK(clone != NULL && clone != cfg)) {
    int64_t bits = 0;
    double damp = 0.0;
    CHECK(vqr_config_get_int(clone, VQR_PARAM_BITS, &bits) == VQR_OK && bits == 3);
    CHECK(vqr_config_get_float(clone, VQR_PARAM_DAMP, &damp) == VQR_OK && damp == 0.25);
    CHECK_OK(vqr_config_set_int(clone, VQR_PARAM_BITS, 8));
    CHECK(vqr_config_get_int(cfg, VQR_PARAM_BITS, &bits) == VQR_OK && bits == 3);
    vqr_config_free(cfg); /* the clone outlives its source */
    cfg = NULL;
    CHECK(vqr_config_get_int(clone, VQR_PARAM_BITS, &bits) == VQR_OK && bits == 8);
  }
  vqr_config_free(clone);
  vqr_config_free(cfg);
}

int main(void) {
  /* Before anything failed, the message is "". */
  CHECK(vqr_last_error() != NULL && vqr_last_error()[0] == '\0');
  test_version();
  test_status_strings();
  test_last_error();
  test_free_null();
  test_context();
  test_param_bounds_and_names();
  test_bounds_struct_size();
  test_null_handles();
  test_config();
  CHECK_DONE();
}
