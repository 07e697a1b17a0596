/*
 * test_capi_model_layers.c — the 0.4.0 model API on the real stories260K checkpoint: token
 * sequences under the three protocols (checked against vqr_model_tokenize and against each other),
 * linear views and per-input Hessians (GPTQ on a collected Hessian equals the model pipeline's
 * first layer bit for bit), override and skip rules with the per-layer records (also read while
 * quantization runs), provenance metadata in vqround.json, vqr_model_export round trips, and
 * VQR_PARAM_SCALE_DTYPE. Without the data folder it prints a note and passes, unless
 * VQR_REQUIRE_DATA=1.
 */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */

#include "layer.h"
#include "model_files.h"

enum { THREADS = 1, WINDOW = 64, N_WINDOWS = 4 };

static char g_model_file[2048], g_tok_file[2048], g_val_file[2048];
static vqr_context *g_ctx;
static char *g_snippet; /* the first ~6000 bytes of tinystories_val.txt, cut at a paragraph end */

static vqr_model *load(const char *path) {
  vqr_model *m = NULL;
  if (!CHECK_OK(vqr_model_load(path, g_tok_file, &m))) note("  loading %s failed\n", path);
  return m;
}

/* Tokens of text (malloc'd, *count of them); NULL on failure. */
static int32_t *tokenize(const vqr_model *m, const char *text, int64_t *count) {
  int32_t *ids;
  *count = 0;
  vqr_model_tokenize(m, text, 1, NULL, 0, count);
  ids = (int32_t *)malloc((size_t)(*count > 0 ? *count : 1) * sizeof *ids);
  if (!ids || !CHECK_OK(vqr_model_tokenize(m, text, 1, ids, *count, count))) {
    free(ids);
    return NULL;
  }
  return ids;
}

static vqr_sequences *from_text(const vqr_model *m, const char *text, vqr_sampling s, int64_t count, int64_t length,
                                uint64_t seed) {
  vqr_sequences *q = NULL;
  if (!CHECK_OK(vqr_sequences_from_text(m, text, s, count, length, seed, &q))) return NULL;
  return q;
}

/* Whether `needle` (n ids) occurs somewhere in `hay` (h ids). */
static int occurs(const int32_t *hay, int64_t h, const int32_t *needle, int64_t n) {
  int64_t i;
  for (i = 0; i + n <= h; ++i)
    if (memcmp(hay + i, needle, (size_t)n * sizeof *needle) == 0) return 1;
  return 0;
}

/* ------------------------------------------------------------------------------------------ */

static void test_sequences(const vqr_model *m, const char *tmp) {
  vqr_sequences *q;
  int64_t n = 0, i, total = 0, stream_n = 0;
  int32_t *doc, *stream = NULL;
  char *para = NULL, path[4096];

  /* Paragraphs: the first 3, each exactly vqr_model_tokenize(paragraph, BOS). */
  q = from_text(m, g_snippet, VQR_SAMPLE_PARAGRAPHS, 3, 512, 0);
  if (q && CHECK(vqr_sequences_count(q) == 3)) {
    const char *start = g_snippet;
    const int32_t *tok = vqr_sequences_tokens(q);
    for (i = 0; i < 3; ++i) {
      const char *end = strstr(start, "\n\n");
      int32_t *ids;
      while (start[0] == '\n' && start[1] == '\n') start += 2; /* empty pieces are dropped */
      end = strstr(start, "\n\n");
      para = (char *)malloc((size_t)(end - start) + 1);
      memcpy(para, start, (size_t)(end - start));
      para[end - start] = '\0';
      ids = tokenize(m, para, &n);
      CHECK(ids && vqr_sequences_lengths(q)[i] == n && memcmp(tok, ids, (size_t)n * sizeof *ids) == 0);
      tok += vqr_sequences_lengths(q)[i];
      free(ids);
      free(para);
      start = end;
    }
  }
  vqr_sequences_free(q);
  /* Truncation to `length`. */
  q = from_text(m, g_snippet, VQR_SAMPLE_PARAGRAPHS, 0, 5, 0);
  if (q) {
    CHECK(vqr_sequences_count(q) > 3);
    for (i = 0; i < vqr_sequences_count(q); ++i) CHECK(vqr_sequences_lengths(q)[i] <= 5);
  }
  vqr_sequences_free(q);

  /* Windows: consecutive slices of the document encoded once, the tail dropped. */
  doc = tokenize(m, g_snippet, &n);
  q = from_text(m, g_snippet, VQR_SAMPLE_WINDOWS, 0, WINDOW, 0);
  if (doc && q && CHECK(vqr_sequences_count(q) == n / WINDOW)) {
    CHECK(vqr_sequences_total_tokens(q) == (n / WINDOW) * WINDOW);
    CHECK(memcmp(vqr_sequences_tokens(q), doc, (size_t)vqr_sequences_total_tokens(q) * sizeof *doc) == 0);
  }
  vqr_sequences_free(q);
  q = from_text(m, g_snippet, VQR_SAMPLE_WINDOWS, 2, WINDOW, 0);
  CHECK(q && vqr_sequences_count(q) == 2);
  vqr_sequences_free(q);

  /* The same windows from the ids, and from an id file. */
  if (doc) {
    FILE *f;
    uint32_t *u = (uint32_t *)malloc((size_t)n * sizeof *u);
    for (i = 0; i < n; ++i) u[i] = (uint32_t)doc[i];
    CHECK_OK(vqr_sequences_from_ids(m, doc, n, VQR_SAMPLE_WINDOWS, 0, WINDOW, 0, &q));
    CHECK(vqr_sequences_count(q) == n / WINDOW &&
          memcmp(vqr_sequences_tokens(q), doc, (size_t)vqr_sequences_total_tokens(q) * sizeof *doc) == 0);
    vqr_sequences_free(q);
    snprintf(path, sizeof path, "%s/ids.bin", tmp);
    f = fopen(path, "wb");
    if (CHECK(f != NULL)) {
      CHECK(fwrite(u, sizeof *u, (size_t)n, f) == (size_t)n); /* little-endian host */
      fclose(f);
      q = NULL;
      CHECK_OK(vqr_sequences_from_file(m, path, 1, VQR_SAMPLE_WINDOWS, 0, WINDOW, 0, &q));
      CHECK(vqr_sequences_count(q) == n / WINDOW &&
            memcmp(vqr_sequences_tokens(q), doc, (size_t)vqr_sequences_total_tokens(q) * sizeof *doc) == 0);
      vqr_sequences_free(q);
      /* A file whose size is not a multiple of 4 is malformed. */
      f = fopen(path, "wb");
      CHECK(fwrite("1234567", 1, 7, f) == 7);
      fclose(f);
      q = NULL;
      CHECK_FAIL(vqr_sequences_from_file(m, path, 1, VQR_SAMPLE_WINDOWS, 0, WINDOW, 0, &q), VQR_ERR_FORMAT);
      CHECK(q == NULL && strstr(vqr_last_error(), "ids.bin") != NULL);
    }
    free(u);
  }

  /* Random windows: deterministic per seed, each a slice of the paragraph stream (BOS each). */
  {
    const char *start = g_snippet;
    while (*start) {
      const char *end = strstr(start, "\n\n");
      size_t len = end ? (size_t)(end - start) : strlen(start);
      if (len > 0) {
        int32_t *ids;
        para = (char *)malloc(len + 1);
        memcpy(para, start, len);
        para[len] = '\0';
        ids = tokenize(m, para, &n);
        stream = (int32_t *)realloc(stream, (size_t)(stream_n + n) * sizeof *stream);
        memcpy(stream + stream_n, ids, (size_t)n * sizeof *ids);
        stream_n += n;
        free(ids);
        free(para);
      }
      start += len;
      while (*start == '\n' && start[1] == '\n') start += 2;
      if (*start == '\n' && start[1] == '\0') break;
    }
  }
  {
    vqr_sequences *a = from_text(m, g_snippet, VQR_SAMPLE_RANDOM_WINDOWS, 6, WINDOW, 7);
    vqr_sequences *b = from_text(m, g_snippet, VQR_SAMPLE_RANDOM_WINDOWS, 6, WINDOW, 7);
    vqr_sequences *c = from_text(m, g_snippet, VQR_SAMPLE_RANDOM_WINDOWS, 6, WINDOW, 8);
    if (a && b && c && CHECK(vqr_sequences_count(a) == 6 && vqr_sequences_total_tokens(a) == 6 * WINDOW)) {
      CHECK(memcmp(vqr_sequences_tokens(a), vqr_sequences_tokens(b), 6 * WINDOW * sizeof(int32_t)) == 0);
      CHECK(memcmp(vqr_sequences_tokens(a), vqr_sequences_tokens(c), 6 * WINDOW * sizeof(int32_t)) != 0);
      for (i = 0; i < 6; ++i) {
        total += vqr_sequences_lengths(a)[i];
        CHECK(occurs(stream, stream_n, vqr_sequences_tokens(a) + i * WINDOW, WINDOW));
      }
      CHECK(total == 6 * WINDOW);
    }
    vqr_sequences_free(a);
    vqr_sequences_free(b);
    vqr_sequences_free(c);
  }
  free(stream);
  free(doc);

  /* Too short for one window: an empty set, not an error. */
  q = from_text(m, "Once.", VQR_SAMPLE_WINDOWS, 0, WINDOW, 0);
  CHECK(q && vqr_sequences_count(q) == 0 && vqr_sequences_tokens(q) == NULL && vqr_sequences_lengths(q) == NULL);
  vqr_sequences_free(q);

  /* Errors. */
  q = NULL;
  {
    int32_t ids[3] = {1, 2, 100000};
    CHECK_FAIL(vqr_sequences_from_ids(m, ids, 2, VQR_SAMPLE_PARAGRAPHS, 0, 2, 0, &q), VQR_ERR_INVALID_ARGUMENT);
    CHECK_FAIL(vqr_sequences_from_ids(m, ids, 3, VQR_SAMPLE_WINDOWS, 0, 2, 0, &q), VQR_ERR_INVALID_ARGUMENT);
    CHECK_FAIL(vqr_sequences_from_ids(m, NULL, 3, VQR_SAMPLE_WINDOWS, 0, 2, 0, &q), VQR_ERR_INVALID_ARGUMENT);
  }
  CHECK_FAIL(vqr_sequences_from_text(m, g_snippet, VQR_SAMPLE_WINDOWS, 0, 100000, 0, &q), VQR_ERR_OUT_OF_RANGE);
  CHECK_FAIL(vqr_sequences_from_text(m, g_snippet, VQR_SAMPLE_RANDOM_WINDOWS, 0, WINDOW, 0, &q), VQR_ERR_OUT_OF_RANGE);
  CHECK_FAIL(vqr_sequences_from_text(m, g_snippet, (vqr_sampling)9, 0, WINDOW, 0, &q), VQR_ERR_INVALID_ARGUMENT);
  CHECK_FAIL(vqr_sequences_from_text(NULL, g_snippet, VQR_SAMPLE_WINDOWS, 0, WINDOW, 0, &q), VQR_ERR_INVALID_ARGUMENT);
  snprintf(path, sizeof path, "%s/missing.txt", tmp);
  CHECK_FAIL(vqr_sequences_from_file(m, path, 0, VQR_SAMPLE_WINDOWS, 0, WINDOW, 0, &q), VQR_ERR_IO);
  CHECK(q == NULL);
  CHECK(vqr_sequences_count(NULL) == 0 && vqr_sequences_total_tokens(NULL) == 0);
  vqr_sequences_free(NULL);
}

/* ------------------------------------------------------------------------------------------ */

/* GPTQ on the Hessian vqr_model_collect_hessians gathers for blk.0.wq reproduces what
 * vqr_model_quantize does to that layer (block 0 sees the embeddings in both), bit for bit. */
static void test_linear_and_hessians(const vqr_sequences *calib) {
  vqr_model *m = load(g_model_file), *q = load(g_model_file);
  vqr_hessian *h[64] = {0};
  vqr_config *cfg = make_config(VQR_METHOD_GPTQ, 4, -1);
  vqr_result *res = NULL;
  const char *name = NULL;
  vqr_tensor w;
  int64_t hi = -1, i, count;
  vqr_model_info info = {.struct_size = sizeof(vqr_model_info)};
  if (!m || !q || !cfg || !CHECK_OK(vqr_model_get_info(m, &info))) goto done;
  count = vqr_model_linear_count(m);
  CHECK(count == info.n_layers * 7);
  for (i = 0; i < count; ++i) {
    char want[32];
    const char *kinds[7] = {"wq", "wk", "wv", "wo", "w1", "w2", "w3"};
    const int64_t input[7] = {0, 0, 0, 1, 2, 3, 2};
    snprintf(want, sizeof want, "blk.%d.%s", (int)(i / 7), kinds[i % 7]);
    if (CHECK_OK(vqr_model_linear(m, i, &name, &w, &hi))) {
      CHECK(strcmp(name, want) == 0 && hi == (i / 7) * 4 + input[i % 7]);
      CHECK(w.dtype == VQR_DTYPE_F32 && w.rows > 0 && w.cols > 0 && w.data != NULL);
    }
  }
  CHECK_FAIL(vqr_model_linear(m, count, NULL, NULL, NULL), VQR_ERR_INVALID_ARGUMENT);
  CHECK_FAIL(vqr_model_collect_hessians(g_ctx, m, vqr_sequences_tokens(calib), vqr_sequences_lengths(calib),
                                        vqr_sequences_count(calib), h, info.n_layers * 4 - 1),
             VQR_ERR_BUFFER_TOO_SMALL);
  if (!CHECK_OK(vqr_model_collect_hessians(g_ctx, m, vqr_sequences_tokens(calib), vqr_sequences_lengths(calib),
                                           vqr_sequences_count(calib), h, 64)))
    goto done;
  for (i = 0; i < info.n_layers * 4; ++i) CHECK(h[i] != NULL && vqr_hessian_token_count(h[i]) == vqr_sequences_total_tokens(calib));
  CHECK(vqr_hessian_width(h[0]) == info.dim && vqr_hessian_width(h[3]) == info.hidden_dim);
  CHECK_OK(vqr_model_linear(m, 0, NULL, &w, NULL));
  if (CHECK_OK(vqr_quantize_layer(g_ctx, cfg, &w, h[0], &res)) &&
      CHECK_OK(vqr_model_quantize(g_ctx, q, cfg, vqr_sequences_tokens(calib), vqr_sequences_lengths(calib),
                                  vqr_sequences_count(calib)))) {
    float *deq = (float *)malloc((size_t)(w.rows * w.cols) * sizeof *deq);
    vqr_tensor qw;
    CHECK_OK(vqr_result_dequantize(res, VQR_DTYPE_F32, deq, 0));
    CHECK_OK(vqr_model_linear(q, 0, NULL, &qw, NULL));
    CHECK(memcmp(deq, qw.data, (size_t)(w.rows * w.cols) * sizeof *deq) == 0);
    CHECK(memcmp(deq, w.data, (size_t)(w.rows * w.cols) * sizeof *deq) != 0); /* it did quantize */
    free(deq);
  }
done:
  for (i = 0; i < 64; ++i) vqr_hessian_free(h[i]);
  vqr_result_free(res);
  vqr_config_free(cfg);
  vqr_model_free(q);
  vqr_model_free(m);
}

/* ------------------------------------------------------------------------------------------ */

struct watch {
  vqr_model *model;
  int64_t seen_during, last, decreased;
};

static int watch_layers(void *user, const vqr_progress *p) {
  struct watch *wt = (struct watch *)user;
  int64_t n = vqr_model_layer_count(wt->model);
  (void)p;
  if (n < wt->last) wt->decreased = 1;
  wt->last = n;
  if (n > 0 && n < vqr_model_linear_count(wt->model)) wt->seen_during = 1;
  return 0;
}

static void test_overrides(const vqr_sequences *calib) {
  vqr_model *m = load(g_model_file), *fresh = load(g_model_file);
  vqr_config *cfg = make_config(VQR_METHOD_RTN, 3, -1);
  struct watch wt = {NULL, 0, 0, 0};
  int64_t i;
  if (!m || !fresh || !cfg) goto done;
  CHECK_FAIL(vqr_model_override_int(m, "blk.0.*", VQR_PARAM_BITS, 9), VQR_ERR_OUT_OF_RANGE);
  CHECK_FAIL(vqr_model_override_int(m, "blk.0.*", VQR_PARAM_DAMP, 1), VQR_ERR_INVALID_ARGUMENT);
  CHECK_FAIL(vqr_model_override_int(m, "blk.0.*", (vqr_param)12345, 1), VQR_ERR_UNSUPPORTED);
  CHECK_FAIL(vqr_model_override_int(m, "", VQR_PARAM_BITS, 4), VQR_ERR_INVALID_ARGUMENT);
  CHECK_FAIL(vqr_model_skip_layers(m, NULL), VQR_ERR_INVALID_ARGUMENT);
  CHECK_OK(vqr_model_override_int(m, "blk.0.*", VQR_PARAM_BITS, 8));
  CHECK_OK(vqr_model_override_int(m, "blk.0.wq", VQR_PARAM_GROUP_SIZE, 32));
  CHECK_OK(vqr_model_skip_layers(m, "*.w2"));
  wt.model = m;
  CHECK_OK(vqr_context_set_progress(g_ctx, watch_layers, &wt));
  CHECK_OK(vqr_model_quantize(g_ctx, m, cfg, vqr_sequences_tokens(calib), vqr_sequences_lengths(calib),
                              vqr_sequences_count(calib)));
  CHECK_OK(vqr_context_set_progress(g_ctx, NULL, NULL));
  CHECK(wt.seen_during && !wt.decreased); /* records were readable while the run went on */
  CHECK(vqr_model_layer_count(m) == vqr_model_linear_count(m));
  for (i = 0; i < vqr_model_layer_count(m); ++i) {
    vqr_layer_info li = {.struct_size = sizeof(vqr_layer_info)};
    vqr_tensor now, before;
    if (!CHECK_OK(vqr_model_layer_info(m, i, &li))) continue;
    {
      const int is_w2 = strstr(li.name, ".w2") != NULL, block0 = strncmp(li.name, "blk.0.", 6) == 0;
      int64_t j;
      /* Records come in processing order; find the layer's index for its weights. */
      for (j = 0; j < vqr_model_linear_count(m); ++j) {
        const char *nm = NULL;
        vqr_model_linear(m, j, &nm, NULL, NULL);
        if (strcmp(nm, li.name) == 0) break;
      }
      CHECK_OK(vqr_model_linear(m, j, NULL, &now, NULL));
      CHECK_OK(vqr_model_linear(fresh, j, NULL, &before, NULL));
      CHECK(li.skipped == is_w2);
      CHECK(li.rows == now.rows && li.cols == now.cols && li.method == VQR_METHOD_RTN);
      if (is_w2) {
        CHECK(memcmp(now.data, before.data, (size_t)(now.rows * now.cols) * sizeof(float)) == 0);
      } else {
        CHECK(li.bits == (block0 ? 8 : 3));
        CHECK(li.group_size == (strcmp(li.name, "blk.0.wq") == 0 ? 32 : -1));
        CHECK(memcmp(now.data, before.data, (size_t)(now.rows * now.cols) * sizeof(float)) != 0);
      }
    }
  }
  {
    vqr_layer_info li = {.struct_size = sizeof(vqr_layer_info)};
    CHECK_FAIL(vqr_model_layer_info(m, vqr_model_layer_count(m), &li), VQR_ERR_INVALID_ARGUMENT);
  }
  /* Cleared rules: everything at the config's 3 bits again. */
  vqr_model_clear_overrides(m);
  vqr_model_clear_overrides(NULL);
  if (CHECK_OK(vqr_model_quantize(g_ctx, m, cfg, vqr_sequences_tokens(calib), vqr_sequences_lengths(calib),
                                  vqr_sequences_count(calib))))
    for (i = 0; i < vqr_model_layer_count(m); ++i) {
      vqr_layer_info li = {.struct_size = sizeof(vqr_layer_info)};
      CHECK(vqr_model_layer_info(m, i, &li) == VQR_OK && li.bits == 3 && !li.skipped);
    }
done:
  vqr_config_free(cfg);
  vqr_model_free(fresh);
  vqr_model_free(m);
}

/* ------------------------------------------------------------------------------------------ */

static double nll(const vqr_model *m, const vqr_sequences *s) {
  double sum = NAN;
  int64_t predicted = 0;
  CHECK_OK(vqr_model_eval_nll(g_ctx, m, vqr_sequences_tokens(s), vqr_sequences_lengths(s), vqr_sequences_count(s),
                              &sum, &predicted));
  return sum;
}

static void test_export(const vqr_sequences *calib, const vqr_sequences *eval, const char *tmp) {
  vqr_model *m = load(g_model_file), *back = NULL;
  vqr_config *cfg = make_config(VQR_METHOD_RTN, 4, -1);
  char path[4096];
  double base;
  if (!m || !cfg) goto done;
  CHECK(strcmp(vqr_format_name(VQR_FORMAT_GPTQ), "gptq") == 0 && vqr_format_name((vqr_format)99) == NULL);
  snprintf(path, sizeof path, "%s/early", tmp);
  CHECK_FAIL(vqr_model_export(g_ctx, m, path, VQR_FORMAT_GPTQ, VQR_DTYPE_F16, 0), VQR_ERR_UNSUPPORTED);
  CHECK(!exists(path));
  CHECK_FAIL(vqr_model_export(g_ctx, m, tmp, VQR_FORMAT_HUGGINGFACE, VQR_DTYPE_F32, 0), VQR_ERR_INVALID_ARGUMENT);
  CHECK_FAIL(vqr_model_export(g_ctx, m, path, VQR_FORMAT_HUGGINGFACE, (vqr_dtype)7, 0), VQR_ERR_INVALID_ARGUMENT);
  CHECK_OK(vqr_model_set_metadata(m, "calibration_file", "tiny.utf8"));
  CHECK_OK(vqr_model_set_metadata(m, "note", "a \"quoted\" value"));
  CHECK_OK(vqr_model_set_metadata(m, "gone", "x"));
  CHECK_OK(vqr_model_set_metadata(m, "gone", NULL));
  CHECK_FAIL(vqr_model_set_metadata(m, "", "x"), VQR_ERR_INVALID_ARGUMENT);
  if (!CHECK_OK(vqr_model_quantize(g_ctx, m, cfg, vqr_sequences_tokens(calib), vqr_sequences_lengths(calib),
                                   vqr_sequences_count(calib))))
    goto done;
  base = nll(m, eval);

  /* Native folder: vqround.json carries the metadata. */
  snprintf(path, sizeof path, "%s/native", tmp);
  if (CHECK_OK(vqr_model_export(g_ctx, m, path, VQR_FORMAT_NATIVE, VQR_DTYPE_F32, 0))) {
    char file[4200];
    char *json;
    snprintf(file, sizeof file, "%s/vqround.json", path);
    json = read_file(file, NULL);
    CHECK(json && strstr(json, "\"note\": \"a \\\"quoted\\\" value\"") != NULL);
    CHECK(json && strstr(json, "\"file\": \"tiny.utf8\"") != NULL && strstr(json, "\"gone\"") == NULL);
    free(json);
    if ((back = load(path)) != NULL) CHECK(nll(back, eval) == base);
    vqr_model_free(back);
    back = NULL;
  }
  /* Dense Hugging Face folder (q/k rows permuted to the half layout) and llama2.c file (the same
   * weights as the model, so the same NLL to the last bit). */
  snprintf(path, sizeof path, "%s/hf", tmp);
  if (CHECK_OK(vqr_model_export(g_ctx, m, path, VQR_FORMAT_HUGGINGFACE, VQR_DTYPE_F32, 0))) {
    vqr_model_info bi = {.struct_size = sizeof(vqr_model_info)};
    if ((back = load(path)) != NULL && CHECK_OK(vqr_model_get_info(back, &bi))) {
      CHECK(strcmp(bi.format, "huggingface") == 0 && bi.rope_half_layout == 1);
      /* The half RoPE layout rotates the same pairs in another order: equal up to rounding. */
      CHECK(fabs(nll(back, eval) - base) <= 1e-6 * fabs(base));
    }
    vqr_model_free(back);
    back = NULL;
  }
  snprintf(path, sizeof path, "%s/back.bin", tmp);
  if (CHECK_OK(vqr_model_export(g_ctx, m, path, VQR_FORMAT_LLAMA2C, VQR_DTYPE_F32, 0))) {
    if ((back = load(path)) != NULL) CHECK(nll(back, eval) == base);
    vqr_model_free(back);
    back = NULL;
  }
done:
  vqr_config_free(cfg);
  vqr_model_free(m);
}

/* ------------------------------------------------------------------------------------------ */

/* VQR_PARAM_SCALE_DTYPE: every scale exact in the type, and the weights equal scale * (code - zero). */
static void test_scale_dtype(void) {
  enum { M = 24, N = 64, T = 256 };
  static float w[M * N], x[T * N], deq[M * N];
  const vqr_method methods[2] = {VQR_METHOD_RTN, VQR_METHOD_GPTQ};
  const int dtypes[3] = {VQR_DTYPE_F32, VQR_DTYPE_F16, VQR_DTYPE_BF16};
  vqr_hessian *h;
  int mi, di;
  make_weights(w, M, N);
  make_inputs(x, T, N);
  h = make_hessian(x, T, N);
  for (mi = 0; mi < 2; ++mi)
    for (di = 0; di < 3; ++di) {
      vqr_config *c = make_config(methods[mi], 4, 16);
      vqr_result *r = NULL;
      const vqr_tensor t = vqr_tensor_2d(w, VQR_DTYPE_F32, M, N, 0);
      int64_t rows, cols, groups, g, i, inexact = 0;
      int bits = 0;
      CHECK_OK(vqr_config_set_int(c, VQR_PARAM_SCALE_DTYPE, dtypes[di]));
      if (CHECK_OK(vqr_quantize_layer(g_ctx, c, &t, h, &r)) && CHECK_OK(vqr_result_shape(r, &rows, &cols, &groups, &bits))) {
        const float *s = vqr_result_scales(r), *z = vqr_result_zeros(r);
        const uint8_t *q = vqr_result_codes(r);
        for (g = 0; g < groups * rows; ++g) {
          const float back = dtypes[di] == VQR_DTYPE_BF16 ? bf16_to_f32(f32_to_bf16(s[g])) : f16_to_f32(f32_to_f16(s[g]));
          inexact += back != s[g];
        }
        /* F32 scales are generally not fp16/bf16 values; the rounded ones all are. */
        if (dtypes[di] == VQR_DTYPE_F32) CHECK(inexact > 0);
        else CHECK(inexact == 0);
        CHECK_OK(vqr_result_dequantize(r, VQR_DTYPE_F32, deq, 0));
        for (i = 0; i < M * N; ++i) {
          const int64_t row = i / N, grp = (i % N) / 16;
          if (deq[i] != s[grp * M + row] * ((float)q[i] - z[grp * M + row])) {
            CHECK(0);
            break;
          }
        }
      }
      vqr_result_free(r);
      vqr_config_free(c);
    }
  vqr_hessian_free(h);
}

/* ------------------------------------------------------------------------------------------ */

int main(void) {
  const char *data = data_dir();
  char tmp[] = "/tmp/vqr_capi_layers_XXXXXX";
  vqr_model *m = NULL;
  vqr_sequences *calib = NULL, *eval = NULL;
  char *text;

  if (!CHECK_OK(vqr_context_create(&g_ctx))) CHECK_DONE();
  CHECK_OK(vqr_context_set_threads(g_ctx, THREADS));
  test_scale_dtype();
  if (data) {
    snprintf(g_model_file, sizeof g_model_file, "%s/models/stories260K/stories260K.bin", data);
    snprintf(g_tok_file, sizeof g_tok_file, "%s/models/stories260K/tok512.bin", data);
    snprintf(g_val_file, sizeof g_val_file, "%s/text/tinystories/tinystories_val.txt", data);
  }
  if (!data || !exists(g_model_file)) {
    vqr_context_free(g_ctx);
    return exit_without_data();
  }
  text = read_file(g_val_file, NULL);
  if (!CHECK(text != NULL) || !CHECK(mkdtemp(tmp) != NULL)) goto done;
  {
    char *cut = strstr(text + 6000, "\n\n");
    if (cut) cut[2] = '\0';
    g_snippet = text;
  }
  m = load(g_model_file);
  if (!m) goto done;
  test_sequences(m, tmp);
  calib = from_text(m, g_snippet, VQR_SAMPLE_RANDOM_WINDOWS, N_WINDOWS, WINDOW, 0);
  eval = from_text(m, g_snippet, VQR_SAMPLE_PARAGRAPHS, 10, 512, 0);
  if (calib && eval) {
    test_linear_and_hessians(calib);
    test_overrides(calib);
    test_export(calib, eval, tmp);
  }
  remove_tree(tmp);
  CHECK(!exists(tmp));
done:
  vqr_sequences_free(calib);
  vqr_sequences_free(eval);
  vqr_model_free(m);
  vqr_context_free(g_ctx);
  free(text);
  CHECK_DONE();
}
