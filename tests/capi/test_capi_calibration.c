/*
 * test_capi_calibration.c — the 0.5.0 entry points for planning and running calibration at scale:
 * vqr_method_info against the facts the header states for each method and against what
 * vqr_quantize_layer actually refuses; the struct_size rule of vqr_method_facts and
 * vqr_quantize_stats; vqr_model_set_calibration's argument checks; vqr_model_quantize_stats
 * before and after a run on stories260K, and the phase stages of the progress callback. Without
 * the data folder the model part prints a note and is skipped, unless VQR_REQUIRE_DATA=1.
 */
#define _POSIX_C_SOURCE 200809L /* mkdtemp, stat */

#include <stddef.h>

#include "layer.h"
#include "model_files.h"

enum { CALIB_SEQUENCES = 4, CALIB_LENGTH = 64, THREADS = 1, METHODS = 9 };

/* ------------------------------------------------------------------------------------------ */
/* vqr_method_info                                                                              */
/* ------------------------------------------------------------------------------------------ */

/* What the header's vqr_method and VQR_PARAM_* comments say, written out independently. */
static const struct {
  vqr_method method;
  int sweep, learned, needs_asym, fp_stream;
  int64_t steps;
  double alpha, alpha2;
  int outer, outer_2_bits;
} kExpected[METHODS] = {
    {VQR_METHOD_RTN, 0, 0, 0, 0, 0, 0, 0, VQR_OUTER_QUANTIZED, VQR_OUTER_QUANTIZED},
    {VQR_METHOD_GPTQ, 1, 0, 0, 0, 0, 0, 0, VQR_OUTER_QUANTIZED, VQR_OUTER_QUANTIZED},
    {VQR_METHOD_GPTAQ, 1, 0, 1, 1, 0, 0.25, 0, VQR_OUTER_QUANTIZED, VQR_OUTER_QUANTIZED},
    {VQR_METHOD_RESCOMP, 1, 0, 1, 1, 0, 0.25, 0.25, VQR_OUTER_PREQUANT_CLAMPED, VQR_OUTER_QUANTIZED},
    {VQR_METHOD_GPTAQ_PAPER, 1, 0, 1, 1, 0, 1.0, 0, VQR_OUTER_PREQUANT, VQR_OUTER_PREQUANT},
    {VQR_METHOD_ADAROUND, 0, 1, 0, 0, 10000, 0, 0, VQR_OUTER_QUANTIZED, VQR_OUTER_QUANTIZED},
    /* AutoRound reconstructs the fp block's output (the fp stream) but needs no D. */
    {VQR_METHOD_AUTOROUND, 0, 1, 0, 1, 200, 0, 0, VQR_OUTER_QUANTIZED, VQR_OUTER_QUANTIZED},
    {VQR_METHOD_VQROUND, 0, 1, 0, 0, 5000, 0, 0, VQR_OUTER_QUANTIZED, VQR_OUTER_QUANTIZED},
    {VQR_METHOD_LORAROUND, 0, 1, 0, 0, 1000, 0, 0, VQR_OUTER_QUANTIZED, VQR_OUTER_QUANTIZED},
};

/* vqr_quantize_layer on a small layer with `hessian` (NULL, symmetric or asymmetric) and 0 steps
 * (learned methods return their initialization at once). */
static vqr_status try_quantize(vqr_method method, const vqr_hessian *hessian, const float *w) {
  vqr_config *cfg = make_config(method, 4, -1);
  vqr_result *res = NULL;
  vqr_status st;
  if (!cfg) return VQR_ERR_INTERNAL;
  CHECK_OK(vqr_config_set_int(cfg, VQR_PARAM_STEPS, 0));
  st = vqr_quantize_layer(NULL, cfg, &(vqr_tensor){w, VQR_DTYPE_F32, 8, 16, 0}, hessian, &res);
  vqr_result_free(res);
  vqr_config_free(cfg);
  return st;
}

static void test_method_info(void) {
  enum { M = 8, N = 16, T = 64 };
  float w[M * N], x[T * N];
  vqr_hessian *sym, *asym = NULL;
  int i;
  make_weights(w, M, N);
  make_inputs(x, T, N);
  sym = make_hessian(x, T, N);
  if (CHECK_OK(vqr_hessian_create(N, VQR_HESSIAN_ASYMMETRIC, &asym)))
    CHECK_OK(vqr_hessian_add(asym, &(vqr_tensor){x, VQR_DTYPE_F32, T, N, 0}));
  for (i = 0; i < METHODS; ++i) {
    vqr_method_facts f;
    memset(&f, 0, sizeof f);
    f.struct_size = sizeof f;
    if (!CHECK_OK(vqr_method_info(kExpected[i].method, &f))) continue;
    CHECK(f.struct_size == sizeof f);
    CHECK(f.name != NULL && strcmp(f.name, vqr_method_name(kExpected[i].method)) == 0);
    CHECK(f.stage != NULL && f.stage[0] != '\0');
    CHECK(f.is_sweep == kExpected[i].sweep);
    CHECK(f.is_learned == kExpected[i].learned);
    CHECK(f.needs_hessian == (kExpected[i].method != VQR_METHOD_RTN));
    CHECK(f.needs_asymmetric == kExpected[i].needs_asym);
    CHECK(f.needs_fp_stream == kExpected[i].fp_stream);
    CHECK(f.accepts_exact_target == (kExpected[i].method == VQR_METHOD_GPTQ));
    /* VQR_INIT_GPTQ: AdaRound and VQRound only (vqr_init). */
    CHECK(f.accepts_gptq_init ==
          (kExpected[i].method == VQR_METHOD_ADAROUND || kExpected[i].method == VQR_METHOD_VQROUND));
    CHECK(f.preset_steps == kExpected[i].steps);
    CHECK(f.preset_alpha == kExpected[i].alpha && f.preset_alpha2 == kExpected[i].alpha2);
    CHECK(f.preset_outer == kExpected[i].outer && f.preset_outer_2_bits == kExpected[i].outer_2_bits);
    /* The facts are what the layer entry point enforces. */
    if (f.needs_hessian) CHECK_FAIL(try_quantize(kExpected[i].method, NULL, w), VQR_ERR_INVALID_ARGUMENT);
    else CHECK_OK(try_quantize(kExpected[i].method, NULL, w));
    if (f.needs_asymmetric) {
      CHECK_FAIL(try_quantize(kExpected[i].method, sym, w), VQR_ERR_INVALID_ARGUMENT);
      CHECK_OK(try_quantize(kExpected[i].method, asym, w));
    } else {
      CHECK_OK(try_quantize(kExpected[i].method, sym, w));
    }
  }
  /* The learned presets' learning rates (VQR_PARAM_LR: AdaRound 1e-3, VQRound and LoRA 1e-2;
   * AutoRound's rate is a rule, reported as 0). */
  {
    vqr_method_facts f = {.struct_size = sizeof f};
    CHECK_OK(vqr_method_info(VQR_METHOD_ADAROUND, &f));
    CHECK(f.preset_lr == 1e-3 && f.preset_warmup == 0.2);
    CHECK_OK(vqr_method_info(VQR_METHOD_AUTOROUND, &f));
    CHECK(f.preset_lr == 0);
    CHECK_OK(vqr_method_info(VQR_METHOD_VQROUND, &f));
    CHECK(f.preset_lr == 1e-2 && f.preset_warmup == 0.1);
  }
  vqr_hessian_free(sym);
  vqr_hessian_free(asym);
}

static void test_method_info_errors(void) {
  vqr_method_facts f;
  /* A caller compiled when the struct ended after `name`: the library writes only that much. */
  const size_t old_size = offsetof(vqr_method_facts, name) + sizeof f.name;
  memset(&f, 0x5a, sizeof f);
  f.struct_size = old_size;
  CHECK_OK(vqr_method_info(VQR_METHOD_GPTQ, &f));
  CHECK(f.struct_size == old_size);
  CHECK(f.name != NULL && strcmp(f.name, "gptq") == 0);
  {
    unsigned char expected[sizeof f.is_sweep];
    memset(expected, 0x5a, sizeof expected);
    CHECK(memcmp(&f.is_sweep, expected, sizeof expected) == 0);
  }
  CHECK_FAIL(vqr_method_info(VQR_METHOD_GPTQ, NULL), VQR_ERR_INVALID_ARGUMENT);
  f.struct_size = 0;
  CHECK_FAIL(vqr_method_info(VQR_METHOD_GPTQ, &f), VQR_ERR_INVALID_ARGUMENT);
  CHECK(strstr(vqr_last_error(), "struct_size") != NULL);
  f.struct_size = sizeof f;
  CHECK_FAIL(vqr_method_info((vqr_method)METHODS, &f), VQR_ERR_UNSUPPORTED);
  CHECK_FAIL(vqr_method_info((vqr_method)-1, &f), VQR_ERR_UNSUPPORTED);
}

/* ------------------------------------------------------------------------------------------ */
/* vqr_model_set_calibration, vqr_model_quantize_stats, phase progress                         */
/* ------------------------------------------------------------------------------------------ */

/* The progress reports of one run: phase stages checked as they come, "model" counted. */
typedef struct {
  int bad_phase, phases, model_reports, blocks;
  int64_t last_block_done;
} Seen;

static int is_phase(const char *stage) {
  return strcmp(stage, "load") == 0 || strcmp(stage, "forward") == 0 || strcmp(stage, "hessian") == 0 ||
         strcmp(stage, "sweep") == 0;
}

static int on_progress(void *user, const vqr_progress *p) {
  Seen *s = (Seen *)user;
  const int has_seconds = p->struct_size >= offsetof(vqr_progress, seconds) + sizeof p->seconds;
  if (!has_seconds) {
    ++s->bad_phase;
    return 0;
  }
  if (is_phase(p->stage)) {
    ++s->phases;
    /* done = the block + 1 of total blocks; blocks come in order; a duration, not a clock. */
    if (p->total != s->blocks || p->done < 1 || p->done > p->total || p->done < s->last_block_done ||
        !(p->seconds >= 0) || p->seconds > p->elapsed_seconds + 1e-6)
      ++s->bad_phase;
    s->last_block_done = p->done;
  } else {
    if (strcmp(p->stage, "model") == 0) ++s->model_reports;
    if (!isnan(p->seconds)) ++s->bad_phase; /* NaN for every other stage */
  }
  return 0;
}

static void test_set_calibration_errors(vqr_model *m) {
  CHECK_FAIL(vqr_model_set_calibration(NULL, VQR_DTYPE_F32, 0, NULL), VQR_ERR_INVALID_ARGUMENT);
  CHECK_FAIL(vqr_model_set_calibration(m, (vqr_dtype)3, 0, NULL), VQR_ERR_INVALID_ARGUMENT);
  CHECK(strstr(vqr_last_error(), "calib_dtype") != NULL);
  CHECK_FAIL(vqr_model_set_calibration(m, (vqr_dtype)-1, 0, NULL), VQR_ERR_INVALID_ARGUMENT);
  CHECK_FAIL(vqr_model_set_calibration(m, VQR_DTYPE_F32, -1, NULL), VQR_ERR_INVALID_ARGUMENT);
  CHECK(strstr(vqr_last_error(), "max_memory_bytes") != NULL);
  CHECK_FAIL(vqr_model_set_calibration(m, VQR_DTYPE_F32, 0, "/nonexistent/vqr-spill"), VQR_ERR_INVALID_ARGUMENT);
  CHECK(strstr(vqr_last_error(), "/nonexistent/vqr-spill") != NULL);
  CHECK_OK(vqr_model_set_calibration(m, VQR_DTYPE_F16, 0, ""));
  CHECK_OK(vqr_model_set_calibration(m, VQR_DTYPE_F32, 0, NULL));
}

static void test_stats_before_and_errors(vqr_model *m) {
  vqr_quantize_stats st;
  memset(&st, 0x5a, sizeof st);
  st.struct_size = sizeof st;
  CHECK_OK(vqr_model_quantize_stats(m, &st));
  CHECK(st.struct_size == sizeof st && st.seconds == 0 && st.tokens == 0 && st.sequences == 0 &&
        st.peak_hidden_bytes == 0 && st.calib_dtype == VQR_DTYPE_F32 && st.max_memory_bytes == 0);
  CHECK_FAIL(vqr_model_quantize_stats(NULL, &st), VQR_ERR_INVALID_ARGUMENT);
  CHECK_FAIL(vqr_model_quantize_stats(m, NULL), VQR_ERR_INVALID_ARGUMENT);
  st.struct_size = 0;
  CHECK_FAIL(vqr_model_quantize_stats(m, &st), VQR_ERR_INVALID_ARGUMENT);
}

static void test_run(vqr_model *m, const char *spill_dir) {
  vqr_model_info info = {.struct_size = sizeof info};
  vqr_context *ctx = NULL;
  vqr_config *cfg = make_config(VQR_METHOD_GPTQ, 4, -1);
  int32_t tokens[CALIB_SEQUENCES * CALIB_LENGTH];
  int64_t lengths[CALIB_SEQUENCES];
  const int64_t budget = 4096;
  vqr_quantize_stats st;
  Seen seen;
  int i;
  if (!cfg || !CHECK_OK(vqr_model_get_info(m, &info)) || !CHECK_OK(vqr_context_create(&ctx))) goto done;
  CHECK_OK(vqr_context_set_threads(ctx, THREADS));
  memset(&seen, 0, sizeof seen);
  seen.blocks = info.n_layers;
  CHECK_OK(vqr_context_set_progress(ctx, on_progress, &seen));
  /* Deterministic ids spread over the vocabulary, BOS first. */
  for (i = 0; i < CALIB_SEQUENCES * CALIB_LENGTH; ++i)
    tokens[i] = i % CALIB_LENGTH == 0 ? 1 : (int32_t)(2 + (i * 7919) % (info.vocab_size - 2));
  for (i = 0; i < CALIB_SEQUENCES; ++i) lengths[i] = CALIB_LENGTH;
  CHECK_OK(vqr_model_set_calibration(m, VQR_DTYPE_BF16, budget, spill_dir));
  if (!CHECK_OK(vqr_model_quantize(ctx, m, cfg, tokens, lengths, CALIB_SEQUENCES))) goto done;
  CHECK(seen.bad_phase == 0);
  CHECK(seen.model_reports > 0);
  /* Phase reports come per block and phase: none, or at least one per block and phase. */
  CHECK(seen.phases == 0 || (seen.phases >= 4 * info.n_layers && seen.last_block_done == info.n_layers));
  note("phase reports: %d over %d blocks\n", seen.phases, info.n_layers);

  memset(&st, 0, sizeof st);
  st.struct_size = sizeof st;
  if (CHECK_OK(vqr_model_quantize_stats(m, &st))) {
    const double phases = st.load_seconds + st.forward_seconds + st.hessian_seconds + st.sweep_seconds;
    /* Both streams at most, in bf16: the most the hidden states can ever hold. */
    const int64_t all_states = (int64_t)CALIB_SEQUENCES * CALIB_LENGTH * info.dim * 2 * 2;
    CHECK(st.sequences == CALIB_SEQUENCES && st.tokens == CALIB_SEQUENCES * CALIB_LENGTH);
    CHECK(st.calib_dtype == VQR_DTYPE_BF16 && st.max_memory_bytes == budget);
    CHECK(st.seconds > 0);
    CHECK(st.load_seconds >= 0 && st.forward_seconds >= 0 && st.hessian_seconds >= 0 && st.sweep_seconds >= 0);
    CHECK(phases <= st.seconds * (1 + 1e-9) + 1e-9);
    CHECK(st.peak_hidden_bytes >= 0 && st.peak_hidden_bytes <= all_states);
    note("stats: %.3fs (load %.3f forward %.3f hessian %.3f sweep %.3f), peak hidden %lld bytes\n", st.seconds,
         st.load_seconds, st.forward_seconds, st.hessian_seconds, st.sweep_seconds, (long long)st.peak_hidden_bytes);
  }
  /* A caller of an older, shorter struct: only `seconds` is written. */
  {
    vqr_quantize_stats old;
    const size_t old_size = offsetof(vqr_quantize_stats, seconds) + sizeof old.seconds;
    memset(&old, 0x5a, sizeof old);
    old.struct_size = old_size;
    CHECK_OK(vqr_model_quantize_stats(m, &old));
    CHECK(old.struct_size == old_size && old.seconds == st.seconds);
    {
      unsigned char expected[sizeof old.load_seconds];
      memset(expected, 0x5a, sizeof expected);
      CHECK(memcmp(&old.load_seconds, expected, sizeof expected) == 0);
    }
  }
done:
  vqr_context_free(ctx);
  vqr_config_free(cfg);
}

/* Entries in a folder besides . and ..; -1 when it cannot be read. */
static int entries(const char *dir) {
  DIR *d = opendir(dir);
  struct dirent *e;
  int n = 0;
  if (!d) return -1;
  while ((e = readdir(d)) != NULL)
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) ++n;
  closedir(d);
  return n;
}

int main(void) {
  const char *data = data_dir();
  char model_file[2048] = "";
  char spill[] = "/tmp/vqr_capi_spill_XXXXXX";
  vqr_model *m = NULL;

  test_method_info();
  test_method_info_errors();

  if (data) snprintf(model_file, sizeof model_file, "%s/models/stories260K/stories260K.bin", data);
  if (!data || !exists(model_file)) {
    if (missing_data_fails()) return EXIT_FAILURE;
    note("the model part did not run: no shared data folder (set VQR_DATA_DIR)\n");
    CHECK_DONE();
  }
  if (CHECK_OK(vqr_model_load(model_file, NULL, &m))) {
    test_set_calibration_errors(m);
    test_stats_before_and_errors(m);
    if (CHECK(mkdtemp(spill) != NULL)) {
      test_run(m, spill);
      CHECK(entries(spill) == 0); /* the spill file, if any, is gone after the run */
      remove_tree(spill);
      CHECK(!exists(spill));
    }
  }
  vqr_model_free(m);
  CHECK_DONE();
}
