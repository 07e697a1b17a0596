/*
 * test_capi_callbacks.c — contexts in use: the log callback and its level filter, the progress
 * callback during a GPTQ run (on the calling thread; returning non-zero cancels) and its loss
 * field during an AdaRound run, and vqr_context_cancel before a call, from another thread during
 * a call, and the request being cleared afterwards.
 */
#include "layer.h"

#ifndef __STDC_NO_THREADS__
#include <threads.h>
#endif

enum { M = 32, N = 128, T = 512 };

static float g_w[M * N];
static float g_x[T * N];
static vqr_hessian *g_hess;
static vqr_config *g_gptq;
static vqr_hessian *g_singular; /* H = 4 everywhere: Cholesky fails without damping */
static vqr_config *g_retry;     /* GPTQ with damp 0 and 3 attempts */

static vqr_status run_gptq(vqr_context *ctx, vqr_result **out) {
  vqr_tensor w = vqr_tensor_2d(g_w, VQR_DTYPE_F32, M, N, 0);
  return vqr_quantize_layer(ctx, g_gptq, &w, g_hess, out);
}

/* Runs GPTQ on ctx and expects `want`; frees the result. */
static int gptq_returns(vqr_context *ctx, vqr_status want, const char *what) {
  vqr_result *res = NULL, *sentinel = (vqr_result *)&res;
  vqr_status s;
  res = sentinel;
  s = run_gptq(ctx, &res);
  if (!CHECK(s == want)) {
    note("  %s: status %d (%s), expected %d (%s); last error \"%s\"\n", what, (int)s,
            vqr_status_string(s), (int)want, vqr_status_string(want), vqr_last_error());
  }
  if (s == VQR_OK) {
    CHECK(res != sentinel && res != NULL);
    vqr_result_free(res);
  } else {
    CHECK(res == sentinel); /* failed calls leave *out alone */
    CHECK(vqr_last_error()[0] != '\0');
  }
  return s == want;
}

#ifndef __STDC_NO_THREADS__
static thrd_t g_main_thread;
#endif

/* ------------------------------------------------------------------------------------------ */

typedef struct log_record {
  int magic;
  int count[5];
  int below_filter; /* messages under the installed level */
  int bad;          /* NULL message, unknown level, wrong thread */
  vqr_log_level filter;
} log_record;

static void on_log(void *user_data, vqr_log_level level, const char *message) {
  log_record *rec = (log_record *)user_data;
  if (rec->magic != 0x10c) {
    rec->bad++;
    return;
  }
  if (message == NULL || (int)level < VQR_LOG_DEBUG || (int)level > VQR_LOG_ERROR) {
    rec->bad++;
    return;
  }
#ifndef __STDC_NO_THREADS__
  if (!thrd_equal(thrd_current(), g_main_thread)) rec->bad++;
#endif
  rec->count[level]++;
  if (level < rec->filter) rec->below_filter++;
}

/* Runs the retry case: a singular Hessian (every feature identical, H = 4 everywhere) with
 * damp = 0, so the first Cholesky fails and the second (damp 0.01) succeeds. The library logs the
 * failed attempt (at WARN today); that message is what the filter checks below filter. */
static void run_retry(vqr_context *ctx) {
  vqr_tensor w = vqr_tensor_2d(g_w, VQR_DTYPE_F32, M, N, 0);
  vqr_result *res = NULL;
  CHECK_OK(vqr_quantize_layer(ctx, g_retry, &w, g_singular, &res));
  vqr_result_free(res);
}

static int log_total(const log_record *rec) { return rec->count[0] + rec->count[1] + rec->count[2] + rec->count[3]; }

static void test_log(void) {
  vqr_context *ctx = NULL;
  log_record rec, all;
  int level, lowest = VQR_LOG_NONE;
  if (!CHECK_OK(vqr_context_create(&ctx))) return;
  /* No callback installed: quiet, and nothing else happens. */
  run_retry(ctx);
  /* Everything from DEBUG up. */
  memset(&rec, 0, sizeof rec);
  rec.magic = 0x10c;
  rec.filter = VQR_LOG_DEBUG;
  CHECK_OK(vqr_context_set_log(ctx, on_log, &rec, VQR_LOG_DEBUG));
  run_retry(ctx);
  gptq_returns(ctx, VQR_OK, "GPTQ with a DEBUG log");
  CHECK(rec.bad == 0);
  if (!CHECK(log_total(&rec) >= 1))
    note("  a GPTQ run whose first Cholesky failed logged nothing; the filter checks below test nothing\n");
  for (level = VQR_LOG_ERROR; level >= VQR_LOG_DEBUG; --level)
    if (rec.count[level] > 0) lowest = level;
  all = rec;
  /* Each filter level: nothing below it; messages at the level itself still arrive. */
  for (level = VQR_LOG_DEBUG; level <= VQR_LOG_NONE; ++level) {
    int expected = 0, l;
    for (l = level; l <= VQR_LOG_ERROR; ++l) expected += all.count[l];
    memset(&rec, 0, sizeof rec);
    rec.magic = 0x10c;
    rec.filter = (vqr_log_level)level;
    CHECK_OK(vqr_context_set_log(ctx, on_log, &rec, (vqr_log_level)level));
    run_retry(ctx);
    gptq_returns(ctx, VQR_OK, "GPTQ with a filtered log");
    if (!CHECK(rec.below_filter == 0 && rec.bad == 0))
      note("  filter %d: %d messages below it, %d bad\n", level, rec.below_filter, rec.bad);
    /* Same calls, so the same messages at and above the filter. */
    if (!CHECK(log_total(&rec) == expected))
      note("  filter %d: %d messages, %d expected from the unfiltered run\n", level, log_total(&rec), expected);
    if (level == VQR_LOG_NONE) CHECK(log_total(&rec) == 0);
    if (level == lowest + 1) CHECK(rec.count[lowest] == 0);
  }
  /* Removing the callback: nothing more arrives. */
  memset(&rec, 0, sizeof rec);
  rec.magic = 0x10c;
  CHECK_OK(vqr_context_set_log(ctx, on_log, &rec, VQR_LOG_DEBUG));
  CHECK_OK(vqr_context_set_log(ctx, NULL, NULL, VQR_LOG_DEBUG));
  run_retry(ctx);
  CHECK(log_total(&rec) == 0 && rec.bad == 0);
  /* Another context's callback is not called for calls on this one. */
  {
    vqr_context *other = NULL;
    if (CHECK_OK(vqr_context_create(&other))) {
      memset(&rec, 0, sizeof rec);
      rec.magic = 0x10c;
      CHECK_OK(vqr_context_set_log(other, on_log, &rec, VQR_LOG_DEBUG));
      run_retry(ctx);
      run_retry(NULL);
      CHECK(log_total(&rec) == 0);
    }
    vqr_context_free(other);
  }
  vqr_context_free(ctx);
}

/* ------------------------------------------------------------------------------------------ */

typedef struct progress_record {
  int magic;
  int calls;
  int gptq_calls;
  int bad;           /* NULL progress/stage, struct_size too small, done/total inconsistent, thread */
  int completed;     /* a "gptq" call with done == total == n */
  int64_t last_done; /* within "gptq": must not decrease */
  int cancel_at;     /* return non-zero on this call (1-based); 0 = never */
  vqr_context *cancel_ctx; /* call vqr_context_cancel from another thread on the first call */
  int cancel_sent;
} progress_record;

#ifndef __STDC_NO_THREADS__
static int cancel_thread(void *arg) {
  vqr_context_cancel((vqr_context *)arg);
  return 0;
}
#endif

static int on_progress(void *user_data, const vqr_progress *p) {
  progress_record *rec = (progress_record *)user_data;
  if (rec->magic != 0x960) return 0;
  rec->calls++;
  if (p == NULL || p->struct_size < sizeof(vqr_progress) || p->stage == NULL || p->total < 0 || p->done < 0 ||
      p->done > p->total || !(p->elapsed_seconds >= 0.0)) {
    rec->bad++;
  } else if (strcmp(p->stage, "gptq") == 0) {
    rec->gptq_calls++;
    if (p->done < rec->last_done) rec->bad++;
    rec->last_done = p->done;
    if (p->total != N) rec->bad++;
    if (p->done == p->total) rec->completed = 1;
  }
#ifndef __STDC_NO_THREADS__
  if (!thrd_equal(thrd_current(), g_main_thread)) rec->bad++;
  if (rec->cancel_ctx && !rec->cancel_sent) {
    thrd_t t;
    if (thrd_create(&t, cancel_thread, rec->cancel_ctx) == thrd_success) {
      thrd_join(t, NULL);
      rec->cancel_sent = 1;
    }
  }
#endif
  return rec->cancel_at != 0 && rec->calls >= rec->cancel_at;
}

static void test_progress(void) {
  vqr_context *ctx = NULL;
  progress_record rec;
  if (!CHECK_OK(vqr_context_create(&ctx))) return;
  memset(&rec, 0, sizeof rec);
  rec.magic = 0x960;
  CHECK_OK(vqr_context_set_progress(ctx, on_progress, &rec));
  gptq_returns(ctx, VQR_OK, "GPTQ with progress");
  CHECK(rec.calls >= 1);
  CHECK(rec.gptq_calls >= 1);
  CHECK(rec.completed); /* once when the stage completes */
  if (!CHECK(rec.bad == 0)) note("  %d bad progress calls out of %d\n", rec.bad, rec.calls);

  /* Returning non-zero cancels; the next call runs normally. */
  memset(&rec, 0, sizeof rec);
  rec.magic = 0x960;
  rec.cancel_at = 1;
  gptq_returns(ctx, VQR_ERR_CANCELLED, "progress returning 1");
  CHECK(rec.calls == 1); /* no callbacks after the one that cancelled */
  rec.cancel_at = 0;
  gptq_returns(ctx, VQR_OK, "the call after a progress cancel");

  /* Removing the callback. */
  memset(&rec, 0, sizeof rec);
  rec.magic = 0x960;
  rec.cancel_at = 1;
  CHECK_OK(vqr_context_set_progress(ctx, NULL, NULL));
  gptq_returns(ctx, VQR_OK, "GPTQ after removing progress");
  CHECK(rec.calls == 0);
  vqr_context_free(ctx);
}

/* The loss field (since 0.3.0): NaN for "gptq", which has no objective; finite for a training
 * stage once a step is done. AdaRound from the GPTQ initialization runs both stages. */
typedef struct loss_record {
  int magic;
  int gptq_calls, gptq_nan;
  int train_calls, train_finite; /* "adaround" calls with done >= 1 */
  int bad_size;
} loss_record;

static int on_progress_loss(void *user_data, const vqr_progress *p) {
  loss_record *rec = (loss_record *)user_data;
  if (rec->magic != 0x1055 || p == NULL) return 0;
  if (p->struct_size != sizeof(vqr_progress)) rec->bad_size++;
  if (p->stage == NULL) return 0;
  if (strcmp(p->stage, "gptq") == 0) {
    rec->gptq_calls++;
    rec->gptq_nan += isnan(p->loss) ? 1 : 0;
  } else if (strcmp(p->stage, "adaround") == 0 && p->done >= 1) {
    rec->train_calls++;
    if (isfinite(p->loss)) {
      rec->train_finite++;
    } else {
      note("  adaround %lld/%lld: loss %g\n", (long long)p->done, (long long)p->total, p->loss);
    }
  }
  return 0;
}

static void test_progress_loss(void) {
  vqr_context *ctx = NULL;
  vqr_config *cfg = make_config(VQR_METHOD_ADAROUND, 3, 32);
  vqr_tensor w = vqr_tensor_2d(g_w, VQR_DTYPE_F32, M, N, 0);
  vqr_result *res = NULL;
  loss_record rec;
  if (!cfg || !CHECK_OK(vqr_context_create(&ctx))) goto done;
  CHECK_OK(vqr_config_set_int(cfg, VQR_PARAM_INIT, VQR_INIT_GPTQ));
  CHECK_OK(vqr_config_set_int(cfg, VQR_PARAM_STEPS, 20));
  memset(&rec, 0, sizeof rec);
  rec.magic = 0x1055;
  CHECK_OK(vqr_context_set_progress(ctx, on_progress_loss, &rec));
  if (CHECK_OK(vqr_quantize_layer(ctx, cfg, &w, g_hess, &res))) {
    vqr_report rep;
    memset(&rep, 0, sizeof rep);
    rep.struct_size = sizeof rep;
    if (CHECK_OK(vqr_result_report(res, &rep))) CHECK(rep.steps == 20);
  }
  vqr_result_free(res);
  if (!CHECK(rec.bad_size == 0)) note("  %d progress calls with struct_size != %zu\n", rec.bad_size, sizeof(vqr_progress));
  CHECK(rec.gptq_calls >= 1);
  if (!CHECK(rec.gptq_nan == rec.gptq_calls)) note("  %d of %d gptq calls had a non-NaN loss\n", rec.gptq_calls - rec.gptq_nan, rec.gptq_calls);
  CHECK(rec.train_calls >= 1); /* at least the forced call at completion */
  CHECK(rec.train_finite == rec.train_calls);
done:
  vqr_context_free(ctx);
  vqr_config_free(cfg);
}

static void test_cancel(void) {
  vqr_context *ctx = NULL, *other = NULL;
  if (!CHECK_OK(vqr_context_create(&ctx)) || !CHECK_OK(vqr_context_create(&other))) goto done;
  /* Before a call: the next call is cancelled, and the request is cleared by it. */
  vqr_context_cancel(ctx);
  gptq_returns(ctx, VQR_ERR_CANCELLED, "GPTQ after vqr_context_cancel");
  gptq_returns(ctx, VQR_OK, "the call after a cancelled one");
  /* Twice before one call is still one request. */
  vqr_context_cancel(ctx);
  vqr_context_cancel(ctx);
  gptq_returns(ctx, VQR_ERR_CANCELLED, "GPTQ after two cancels");
  gptq_returns(ctx, VQR_OK, "the call after two cancels");
  /* Cancelling one context leaves the others (and ctx = NULL calls) alone. */
  vqr_context_cancel(other);
  gptq_returns(ctx, VQR_OK, "GPTQ on a context that was not cancelled");
  gptq_returns(NULL, VQR_OK, "GPTQ with a NULL context");
  gptq_returns(other, VQR_ERR_CANCELLED, "GPTQ on the cancelled context");
#ifndef __STDC_NO_THREADS__
  /* From another thread during the call (inside the progress callback). If that callback came
   * after the last check point, the request cancels the next call instead. */
  {
    progress_record rec;
    vqr_result *res = NULL;
    vqr_status s;
    memset(&rec, 0, sizeof rec);
    rec.magic = 0x960;
    rec.cancel_ctx = ctx;
    CHECK_OK(vqr_context_set_progress(ctx, on_progress, &rec));
    s = run_gptq(ctx, &res);
    CHECK(rec.cancel_sent);
    if (s == VQR_OK) {
      vqr_result_free(res);
      rec.cancel_ctx = NULL;
      gptq_returns(ctx, VQR_ERR_CANCELLED, "GPTQ after a cancel that came too late for the previous call");
    } else if (!CHECK(s == VQR_ERR_CANCELLED)) {
      note("  cancel from another thread: status %d (%s)\n", (int)s, vqr_status_string(s));
    }
    rec.cancel_ctx = NULL;
    gptq_returns(ctx, VQR_OK, "the call after a cancel from another thread");
  }
#endif
done:
  vqr_context_free(ctx);
  vqr_context_free(other);
}

/* A context limited to one thread runs GPTQ, and twice gives the same result. */
static void test_threads_run(void) {
  vqr_context *ctx = NULL;
  vqr_result *a = NULL, *b = NULL;
  if (!CHECK_OK(vqr_context_create(&ctx))) return;
  CHECK_OK(vqr_context_set_threads(ctx, 1));
  CHECK_OK(run_gptq(ctx, &a));
  CHECK_OK(run_gptq(ctx, &b));
  if (a && b) CHECK(results_equal(a, b));
  vqr_result_free(a);
  vqr_result_free(b);
  vqr_context_free(ctx);
}

#ifndef __STDC_NO_THREADS__
typedef struct worker {
  vqr_context *ctx;
  vqr_result *res;
  vqr_status status;
  int failed_arg; /* status of a deliberately failing call, and its message kept per thread */
  char message[256];
} worker;

static int worker_run(void *arg) {
  worker *wk = (worker *)arg;
  int i;
  wk->status = VQR_OK;
  for (i = 0; i < 3 && wk->status == VQR_OK; ++i) {
    vqr_result_free(wk->res);
    wk->res = NULL;
    wk->status = run_gptq(wk->ctx, &wk->res);
  }
  wk->failed_arg = vqr_context_set_threads(wk->ctx, -5);
  strncpy(wk->message, vqr_last_error(), sizeof wk->message - 1);
  wk->message[sizeof wk->message - 1] = '\0';
  return 0;
}

/* Distinct objects from different threads at the same time: the results equal a serial run. */
static void test_concurrent(void) {
  worker wk[2];
  thrd_t th[2];
  vqr_result *serial = NULL;
  vqr_context *one = NULL;
  int i, started[2] = {0, 0};
  memset(wk, 0, sizeof wk);
  /* Determinism is promised for the same thread count: compare 1-thread runs. */
  if (!CHECK_OK(vqr_context_create(&one))) return;
  CHECK_OK(vqr_context_set_threads(one, 1));
  if (!CHECK_OK(run_gptq(one, &serial))) {
    vqr_context_free(one);
    return;
  }
  vqr_context_free(one);
  for (i = 0; i < 2; ++i) {
    if (!CHECK_OK(vqr_context_create(&wk[i].ctx))) continue;
    CHECK_OK(vqr_context_set_threads(wk[i].ctx, 1));
  }
  for (i = 0; i < 2; ++i) started[i] = wk[i].ctx && CHECK(thrd_create(&th[i], worker_run, &wk[i]) == thrd_success);
  for (i = 0; i < 2; ++i) {
    if (!started[i]) continue;
    thrd_join(th[i], NULL);
    CHECK(wk[i].status == VQR_OK);
    if (wk[i].res) CHECK(results_equal(wk[i].res, serial));
    CHECK(wk[i].failed_arg == VQR_ERR_OUT_OF_RANGE && wk[i].message[0] != '\0');
    vqr_result_free(wk[i].res);
  }
  for (i = 0; i < 2; ++i) vqr_context_free(wk[i].ctx);
  vqr_result_free(serial);
}
#endif

int main(void) {
#ifndef __STDC_NO_THREADS__
  g_main_thread = thrd_current();
#endif
  make_weights(g_w, M, N);
  make_inputs(g_x, T, N);
  g_hess = make_hessian(g_x, T, N);
  g_gptq = make_config(VQR_METHOD_GPTQ, 4, 32);
  {
    static float x[2 * N];
    int j;
    for (j = 0; j < N; ++j) x[j] = 2.0f; /* the second token is all zeros */
    g_singular = make_hessian(x, 2, N);
  }
  g_retry = make_config(VQR_METHOD_GPTQ, 4, -1);
  if (!g_hess || !g_gptq || !g_singular || !g_retry) CHECK_DONE();
  CHECK_OK(vqr_config_set_float(g_retry, VQR_PARAM_DAMP, 0.0));
  CHECK_OK(vqr_config_set_int(g_retry, VQR_PARAM_DAMP_ATTEMPTS, 3));
  /* Small blocks: more check points per call. */
  CHECK_OK(vqr_config_set_int(g_gptq, VQR_PARAM_BLOCK_SIZE, 16));
  test_log();
  test_progress();
  test_progress_loss();
  test_cancel();
  test_threads_run();
#ifndef __STDC_NO_THREADS__
  test_concurrent();
#endif
  vqr_hessian_free(g_hess);
  vqr_hessian_free(g_singular);
  vqr_config_free(g_gptq);
  vqr_config_free(g_retry);
  CHECK_DONE();
}
