/*
 * test_capi_distill.c — end-to-end distillation through the C API (VQR_PARAM_E2E, since 0.5.0):
 * vqr_model_set_distill_files' argument checks; a short VQRound run on stories260K with a
 * checkpoint file reports its steps, held-out evaluations (the first at step 0) and per-step
 * losses through vqr_model_distill_stats / _eval / _loss, and the progress callback sees stage
 * "distill" with a growing token count; a resume from the checkpoint gives the same model; the
 * per-layer entry refuses VQR_PARAM_E2E. Without the data folder the model part prints a note and
 * is skipped, unless VQR_REQUIRE_DATA=1.
 */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */

#include <stddef.h>

#include "layer.h"
#include "model_files.h"

enum { SEQUENCES = 5, LENGTH = 64, THREADS = 1, STEPS = 6, EVERY = 3 };

typedef struct {
  int distill_reports, bad;
  int64_t last_tokens;
} Seen;

static int on_progress(void *user, const vqr_progress *p) {
  Seen *s = (Seen *)user;
  if (p->struct_size < offsetof(vqr_progress, tokens) + sizeof p->tokens) {
    ++s->bad;
    return 0;
  }
  if (strcmp(p->stage, "distill") == 0) {
    ++s->distill_reports;
    if (p->total != STEPS || p->tokens < s->last_tokens || p->tokens > (int64_t)p->done * LENGTH) ++s->bad;
    s->last_tokens = p->tokens;
  } else if (p->tokens != 0) {
    ++s->bad; /* 0 for every other stage */
  }
  return 0;
}

static vqr_config *e2e_config(void) {
  vqr_config *cfg = make_config(VQR_METHOD_VQROUND, 3, -1);
  if (!cfg) return NULL;
  CHECK_OK(vqr_config_set_int(cfg, VQR_PARAM_E2E, 1));
  CHECK_OK(vqr_config_set_int(cfg, VQR_PARAM_STEPS, STEPS));
  CHECK_OK(vqr_config_set_int(cfg, VQR_PARAM_EVAL_EVERY, EVERY));
  CHECK_OK(vqr_config_set_int(cfg, VQR_PARAM_HOLDOUT, 1));
  CHECK_OK(vqr_config_set_int(cfg, VQR_PARAM_CODEBOOK_SIZE, 64));
  CHECK_OK(vqr_config_set_int(cfg, VQR_PARAM_KMEANS_ITERS, 5));
  CHECK_OK(vqr_config_set_int(cfg, VQR_PARAM_TEACHER_TOPK, 16));
  return cfg;
}

static void test_errors(vqr_model *m) {
  vqr_distill_stats st;
  float w[8 * 16];
  vqr_result *res = NULL;
  vqr_config *cfg = e2e_config();
  int i;
  CHECK_FAIL(vqr_model_set_distill_files(NULL, NULL, NULL, 0), VQR_ERR_INVALID_ARGUMENT);
  CHECK_FAIL(vqr_model_set_distill_files(m, NULL, NULL, 1), VQR_ERR_INVALID_ARGUMENT);
  CHECK(strstr(vqr_last_error(), "checkpoint") != NULL);
  memset(&st, 0x5a, sizeof st);
  st.struct_size = sizeof st;
  CHECK_OK(vqr_model_distill_stats(m, &st));
  CHECK(st.struct_size == sizeof st && st.ran == 0 && st.steps == 0 && st.evaluations == 0);
  CHECK_FAIL(vqr_model_distill_stats(NULL, &st), VQR_ERR_INVALID_ARGUMENT);
  CHECK_FAIL(vqr_model_distill_stats(m, NULL), VQR_ERR_INVALID_ARGUMENT);
  CHECK_FAIL(vqr_model_distill_eval(m, 0, NULL, NULL, NULL), VQR_ERR_INVALID_ARGUMENT);
  CHECK_FAIL(vqr_model_distill_loss(m, 0, NULL, NULL), VQR_ERR_INVALID_ARGUMENT);
  CHECK_FAIL(vqr_config_set_int(cfg, VQR_PARAM_TEACHER_TOPK, 0), VQR_ERR_OUT_OF_RANGE);
  CHECK_FAIL(vqr_config_set_float(cfg, VQR_PARAM_TEMPERATURE, 0.0), VQR_ERR_OUT_OF_RANGE);
  /* One layer has no model to distill through. */
  for (i = 0; i < 8 * 16; ++i) w[i] = (float)((i * 37) % 11) - 5.0f;
  CHECK_OK(vqr_config_set_int(cfg, VQR_PARAM_STEPS, 0));
  CHECK_FAIL(vqr_quantize_layer(NULL, cfg, &(vqr_tensor){w, VQR_DTYPE_F32, 8, 16, 0}, NULL, &res),
             VQR_ERR_UNSUPPORTED);
  vqr_result_free(res);
  vqr_config_free(cfg);
}

/* Quantizes m with the e2e configuration; returns the status. */
static vqr_status run(vqr_model *m, Seen *seen) {
  vqr_model_info info = {.struct_size = sizeof info};
  vqr_context *ctx = NULL;
  vqr_config *cfg = e2e_config();
  int32_t tokens[SEQUENCES * LENGTH];
  int64_t lengths[SEQUENCES];
  vqr_status st = VQR_ERR_INTERNAL;
  int i;
  if (!cfg || !CHECK_OK(vqr_model_get_info(m, &info)) || !CHECK_OK(vqr_context_create(&ctx))) goto done;
  CHECK_OK(vqr_context_set_threads(ctx, THREADS));
  if (seen) CHECK_OK(vqr_context_set_progress(ctx, on_progress, seen));
  for (i = 0; i < SEQUENCES * LENGTH; ++i)
    tokens[i] = i % LENGTH == 0 ? 1 : (int32_t)(2 + (i * 7919) % (info.vocab_size - 2));
  for (i = 0; i < SEQUENCES; ++i) lengths[i] = LENGTH;
  st = vqr_model_quantize(ctx, m, cfg, tokens, lengths, SEQUENCES);
done:
  vqr_context_free(ctx);
  vqr_config_free(cfg);
  return st;
}

static void test_run(const char *model_file, const char *dir) {
  char ckpt[2048];
  vqr_model *m = NULL, *again = NULL;
  vqr_distill_stats st = {.struct_size = sizeof st}, st2 = {.struct_size = sizeof st2};
  Seen seen;
  int64_t i, step = -1;
  double kl = 0, nll = 0, loss = 0, reg = 0, kl2 = 0, nll2 = 0;
  snprintf(ckpt, sizeof ckpt, "%s/run.ckpt", dir);
  memset(&seen, 0, sizeof seen);
  if (!CHECK_OK(vqr_model_load(model_file, NULL, &m))) return;
  CHECK_OK(vqr_model_set_distill_files(m, NULL, ckpt, 0));
  if (!CHECK_OK(run(m, &seen))) goto done;
  CHECK(seen.bad == 0 && seen.distill_reports >= 2);
  CHECK(exists(ckpt));
  if (!CHECK_OK(vqr_model_distill_stats(m, &st))) goto done;
  CHECK(st.ran == 1 && st.steps == STEPS && st.resumed_from == -1);
  CHECK(st.train_sequences == SEQUENCES - 1 && st.holdout_sequences == 1);
  CHECK(st.tokens == (int64_t)STEPS * LENGTH && st.teacher_k == 16 && st.teacher_online == 0);
  CHECK(st.trainable_params > 0 && st.trainable_params < st.quantized_weights);
  CHECK(st.evaluations == STEPS / EVERY + 1);
  CHECK(st.best_step >= -1 && st.best_step <= STEPS);
  for (i = 0; i < st.evaluations; ++i) {
    CHECK_OK(vqr_model_distill_eval(m, i, &step, &kl, &nll));
    CHECK(step == i * EVERY && kl > 0 && isfinite(kl) && nll > 0 && isfinite(nll));
  }
  CHECK_FAIL(vqr_model_distill_eval(m, st.evaluations, &step, &kl, &nll), VQR_ERR_INVALID_ARGUMENT);
  for (i = 0; i < STEPS; ++i) {
    CHECK_OK(vqr_model_distill_loss(m, i, &loss, &reg));
    CHECK(loss > 0 && isfinite(loss) && reg >= 0);
  }
  CHECK_FAIL(vqr_model_distill_loss(m, STEPS, &loss, &reg), VQR_ERR_INVALID_ARGUMENT);
  note("e2e: %lld steps, best step %lld, held-out KL at the end %.4f per token, NLL %.4f\n", (long long)st.steps,
       (long long)st.best_step, kl, nll);

  /* Resumed from the checkpoint (written at step EVERY): the same final scores. */
  if (!CHECK_OK(vqr_model_load(model_file, NULL, &again))) goto done;
  CHECK_OK(vqr_model_set_distill_files(again, NULL, ckpt, 1));
  if (!CHECK_OK(run(again, NULL))) goto done;
  if (CHECK_OK(vqr_model_distill_stats(again, &st2))) {
    CHECK(st2.resumed_from == EVERY && st2.steps == STEPS && st2.best_step == st.best_step);
    CHECK_OK(vqr_model_distill_eval(again, st2.evaluations - 1, &step, &kl2, &nll2));
    CHECK(kl2 == kl && nll2 == nll);
  }
done:
  vqr_model_free(again);
  vqr_model_free(m);
}

int main(void) {
  const char *data = data_dir();
  char model_file[2048] = "";
  char dir[] = "/tmp/vqr_capi_distill_XXXXXX";
  vqr_model *m = NULL;

  if (data) snprintf(model_file, sizeof model_file, "%s/models/stories260K/stories260K.bin", data);
  if (!data || !exists(model_file)) {
    if (missing_data_fails()) return EXIT_FAILURE;
    note("the model part did not run: no shared data folder (set VQR_DATA_DIR)\n");
    CHECK_DONE();
  }
  if (CHECK_OK(vqr_model_load(model_file, NULL, &m))) test_errors(m);
  vqr_model_free(m);
  if (CHECK(mkdtemp(dir) != NULL)) {
    test_run(model_file, dir);
    remove_tree(dir);
  }
  CHECK_DONE();
}
