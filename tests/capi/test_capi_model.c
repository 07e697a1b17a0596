/*
 * test_capi_model.c — whole models through the C API, on the real stories260K checkpoint of the
 * shared data folder: load (file or folder, explicit or resolved tokenizer), info against the
 * checkpoint's own header, tokenize and its size query, the fp32 NLL reference, RTN/GPTQ whole-model
 * quantization, save/load round trip, argument errors and cancellation. Without the data folder
 * the program prints a note and passes, unless VQR_REQUIRE_DATA=1.
 */
#define _POSIX_C_SOURCE 200809L /* mkdtemp, opendir, stat: temp folders for vqr_model_save */

#include "layer.h"
#include "model_files.h"

/* Reference (shared/data/models/stories260K/reference_nll_tinystories_val.txt, llama2.c run.c):
 * the first 200 paragraphs of tinystories_val.txt, one BOS sequence each. The tolerance covers
 * the printed 6 decimals plus fp32 summation-order differences between run.c and the library. */
#define REF_PARAGRAPHS 200
#define REF_PREDICTED 19395
#define REF_MEAN_NLL 1.439589
#define REF_TOLERANCE 1e-4
/* RTN at 8 bits moves the NLL by about 1e-3 on this model (per-row groups); 0.005 leaves room. */
#define RTN8_TOLERANCE 0.005

/* One thread: the model is tiny, and OpenMP barriers on a busy machine can make a 2-thread
 * evaluation many times slower than a 1-thread one. */
enum { CALIB_SEQUENCES = 8, CALIB_LENGTH = 128, THREADS = 1 };
/* Comparisons that need no reference (GPTQ vs RTN, determinism) use the first 50 paragraphs,
 * which keeps the sanitizer build's run short. */
enum { SMALL_EVAL = 50 };

static char g_model_file[2048], g_tok_file[2048], g_val_file[2048], g_calib_file[2048];
static vqr_context *g_ctx;

/* The evaluation set (first 200 paragraphs) and the calibration set (8 x 128 tokens). */
static int32_t *g_eval_tokens;
static int64_t g_eval_lengths[REF_PARAGRAPHS], g_eval_count;
static int32_t g_calib_tokens[CALIB_SEQUENCES * CALIB_LENGTH];
static int64_t g_calib_lengths[CALIB_SEQUENCES];
static double g_fp32_mean, g_fp32_small_mean;

/* ------------------------------------------------------------------------------------------ */
/* Helpers on the API                                                                           */
/* ------------------------------------------------------------------------------------------ */

static vqr_model *load(const char *path, const char *tokenizer) {
  vqr_model *m = NULL;
  if (!CHECK_OK(vqr_model_load(path, tokenizer, &m))) {
    note("  loading %s (tokenizer %s) failed\n", path, tokenizer ? tokenizer : "NULL");
    return NULL;
  }
  CHECK(m != NULL);
  return m;
}

/* Tokens of text (malloc'd, *count of them) through the size query; NULL on failure. */
static int32_t *tokenize(const vqr_model *m, const char *text, int bos, int64_t *count) {
  int32_t *ids;
  *count = -1;
  if (!CHECK_FAIL(vqr_model_tokenize(m, text, bos, NULL, 0, count), VQR_ERR_BUFFER_TOO_SMALL) || !CHECK(*count >= 1))
    return NULL;
  ids = (int32_t *)malloc((size_t)*count * sizeof *ids);
  if (!CHECK(ids != NULL)) return NULL;
  if (!CHECK_OK(vqr_model_tokenize(m, text, bos, ids, *count, count))) {
    free(ids);
    return NULL;
  }
  return ids;
}

/* Mean NLL of the first `sequences` of the evaluation set; NAN on failure. *sum and *predicted
 * may be NULL. */
static double eval_mean(const vqr_model *m, int64_t sequences, double *sum_out, int64_t *predicted_out) {
  double sum = NAN;
  int64_t predicted = -1;
  if (!CHECK_OK(vqr_model_eval_nll(g_ctx, m, g_eval_tokens, g_eval_lengths, sequences, &sum, &predicted)))
    return NAN;
  if (sequences == REF_PARAGRAPHS) CHECK(predicted == REF_PREDICTED);
  if (sum_out) *sum_out = sum;
  if (predicted_out) *predicted_out = predicted;
  return predicted > 0 ? sum / (double)predicted : NAN;
}

/* Quantizes m on the calibration set with method/bits (per-row groups); VQR_OK or the status. */
static vqr_status quantize(vqr_context *ctx, vqr_model *m, vqr_method method, int bits) {
  vqr_config *c = make_config(method, bits, -1);
  vqr_status s;
  if (!c) return VQR_ERR_INTERNAL;
  s = vqr_model_quantize(ctx, m, c, g_calib_tokens, g_calib_lengths, CALIB_SEQUENCES);
  vqr_config_free(c);
  return s;
}

/* Loads the checkpoint, quantizes it with method/bits, returns its mean NLL on the small
 * evaluation set (NAN on failure). */
static double quantized_nll(vqr_method method, int bits) {
  vqr_model *m = load(g_model_file, g_tok_file);
  double mean = NAN;
  if (!m) return NAN;
  if (CHECK_OK(quantize(g_ctx, m, method, bits))) mean = eval_mean(m, SMALL_EVAL, NULL, NULL);
  vqr_model_free(m);
  return mean;
}

/* ------------------------------------------------------------------------------------------ */
/* Data sets                                                                                    */
/* ------------------------------------------------------------------------------------------ */

/* The first 200 paragraphs: split on every "\n\n", empty pieces skipped, BOS, at most seq_len. */
static int build_eval_set(const vqr_model *m, int64_t seq_len) {
  size_t size = 0, used = 0, cap = 0;
  char *text = read_file(g_val_file, &size), *p;
  if (!CHECK(text != NULL)) {
    note("  cannot read %s\n", g_val_file);
    return 0;
  }
  p = text;
  g_eval_count = 0;
  while (*p && g_eval_count < REF_PARAGRAPHS) {
    char *end = strstr(p, "\n\n"), saved;
    int64_t n = 0, keep;
    int32_t *ids;
    if (!end) end = p + strlen(p);
    if (end == p) { /* empty piece */
      p = *end ? end + 2 : end;
      continue;
    }
    saved = *end;
    *end = '\0';
    ids = tokenize(m, p, 1, &n);
    *end = saved;
    if (!ids) break;
    keep = n < seq_len ? n : seq_len;
    if (used + (size_t)keep > cap) {
      int32_t *grown;
      cap = 2 * cap + (size_t)seq_len;
      grown = (int32_t *)realloc(g_eval_tokens, cap * sizeof *grown);
      if (!CHECK(grown != NULL)) {
        free(ids);
        break;
      }
      g_eval_tokens = grown;
    }
    memcpy(g_eval_tokens + used, ids, (size_t)keep * sizeof *ids);
    used += (size_t)keep;
    g_eval_lengths[g_eval_count++] = keep;
    free(ids);
    p = *end ? end + 2 : end;
  }
  free(text);
  return CHECK(g_eval_count == REF_PARAGRAPHS);
}

/* 8 consecutive windows of 128 tokens from the start of tiny.utf8 (cut at a line end, BOS first). */
static int build_calibration_set(const vqr_model *m) {
  size_t size = 0;
  char *text = read_file(g_calib_file, &size), *cut;
  int32_t *ids;
  int64_t n = 0, i;
  if (!CHECK(text != NULL)) {
    note("  cannot read %s\n", g_calib_file);
    return 0;
  }
  if (size > 8192) {
    text[8192] = '\0';
    if ((cut = strrchr(text, '\n')) != NULL) *cut = '\0';
  }
  ids = tokenize(m, text, 1, &n);
  free(text);
  if (!ids) return 0;
  if (!CHECK(n >= CALIB_SEQUENCES * CALIB_LENGTH)) {
    note("  only %lld calibration tokens\n", (long long)n);
    free(ids);
    return 0;
  }
  memcpy(g_calib_tokens, ids, sizeof g_calib_tokens);
  for (i = 0; i < CALIB_SEQUENCES; ++i) g_calib_lengths[i] = CALIB_LENGTH;
  free(ids);
  return 1;
}

/* ------------------------------------------------------------------------------------------ */
/* Tests                                                                                        */
/* ------------------------------------------------------------------------------------------ */

/* Info of a file-loaded model against the 7 int32 of the checkpoint's header (llama2.c legacy v0:
 * dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size (negative = own classifier),
 * seq_len), the parameter count derived from them, and the file size that count implies. */
static void test_info(const vqr_model *m, const vqr_model *resolved) {
  int32_t hdr[7] = {0};
  FILE *f = fopen(g_model_file, "rb");
  vqr_model_info info, info2 = {.struct_size = sizeof(vqr_model_info)};
  int64_t d, h, L, v, kv, params;
  long file_size = -1;
  if (!CHECK(f != NULL)) return;
  CHECK(fread(hdr, sizeof(int32_t), 7, f) == 7); /* little-endian host, as the format */
  if (fseek(f, 0, SEEK_END) == 0) file_size = ftell(f);
  fclose(f);

  memset(&info, 0xA5, sizeof info);
  info.struct_size = sizeof info; /* the caller sets it (0.4.0); the rest is garbage until filled */
  if (!CHECK_OK(vqr_model_get_info(m, &info))) return;
  CHECK(info.struct_size == sizeof(vqr_model_info));
  CHECK(info.dim == hdr[0] && info.hidden_dim == hdr[1] && info.n_layers == hdr[2]);
  CHECK(info.n_heads == hdr[3] && info.n_kv_heads == hdr[4]);
  CHECK(info.vocab_size == abs(hdr[5]) && info.shared_classifier == (hdr[5] > 0));
  CHECK(info.seq_len == hdr[6]);
  /* The brief's numbers for stories260K, so a wrong data file is noticed too. */
  CHECK(info.dim == 64 && info.hidden_dim == 172 && info.n_layers == 5 && info.n_heads == 8);
  CHECK(info.n_kv_heads == 4 && info.vocab_size == 512 && info.seq_len == 512);
  d = info.dim;
  h = info.hidden_dim;
  L = info.n_layers;
  v = info.vocab_size;
  kv = d * info.n_kv_heads / info.n_heads;
  /* embedding, per layer (2 rmsnorms, wq, wk, wv, wo, w1, w2, w3), final rmsnorm, classifier */
  params = v * d + L * (2 * d + 2 * d * d + 2 * kv * d + 3 * h * d) + d + (info.shared_classifier ? 0 : v * d);
  CHECK(info.parameters == params);
  /* The file: header, the parameters, and the two legacy RoPE tables of seq_len x head_size/2. */
  CHECK(file_size == 28 + 4 * (params + info.seq_len * (d / info.n_heads)));
  CHECK(info.quantized_layers == 0);

  /* The 0.4.0 fields: where the model came from, and its architecture. */
  CHECK(info.format != NULL && strcmp(info.format, "llama2c-v0") == 0);
  CHECK(info.architecture != NULL && strcmp(info.architecture, "llama2.c") == 0);
  CHECK(info.model_path != NULL && strcmp(info.model_path, g_model_file) == 0);
  CHECK(info.tokenizer_path != NULL && info.metadata_path == NULL && info.quantization == NULL);
  CHECK(info.head_dim == d / info.n_heads && info.rope_half_layout == 0 && info.rope_scaling == 0);
  CHECK(info.rope_theta == 10000.0 && fabs(info.norm_eps - 1e-5) < 1e-12);
  CHECK(info.qkv_bias == 0 && info.qk_norm == 0 && info.sliding_window == 0);
  CHECK(info.file_bytes == file_size);
  if (CHECK_OK(vqr_model_get_info(resolved, &info2))) {
    /* The same checkpoint found through its folder: every number equal (the strings are the model's own). */
    CHECK(info2.dim == info.dim && info2.parameters == info.parameters && info2.file_bytes == info.file_bytes &&
          info2.head_dim == info.head_dim && info2.norm_eps == info.norm_eps);
    CHECK(strcmp(info2.format, info.format) == 0 && strcmp(info2.architecture, info.architecture) == 0);
  }
  /* An older caller's shorter struct gets only what fits. */
  {
    unsigned char small[sizeof(size_t) + 2 * sizeof(int) + 8];
    size_t n = sizeof(size_t) + 2 * sizeof(int);
    memset(small, 0xEE, sizeof small);
    memcpy(small, &n, sizeof n);
    if (CHECK_OK(vqr_model_get_info(m, (vqr_model_info *)(void *)small))) {
      int dim = 0;
      memcpy(&dim, small + sizeof(size_t), sizeof dim);
      CHECK(dim == info.dim);
      CHECK(small[n] == 0xEE && small[n + 7] == 0xEE); /* nothing written past struct_size */
    }
  }
  CHECK(vqr_model_layer_count(m) == 0);
}

static void test_tokenize(const vqr_model *m, const vqr_model *resolved) {
  const char *text = "Once upon a time, there was a little girl named Lily.";
  int32_t *ids, *ids2, *nobos, buf[4];
  int64_t n = -1, n2 = -1, n3 = -1, count;
  int64_t i;

  ids = tokenize(m, text, 1, &n);
  if (!ids) return;
  CHECK(ids[0] == 1); /* BOS */
  CHECK(n > 2 && n < (int64_t)strlen(text));
  for (i = 0; i < n; ++i) CHECK(ids[i] >= 0 && ids[i] < 512);

  /* Too small by one: BUFFER_TOO_SMALL, the full count, nothing written. */
  {
    int32_t *small = (int32_t *)malloc((size_t)n * sizeof *small);
    if (CHECK(small != NULL)) {
      guard_fill(small, (size_t)n * sizeof *small);
      count = -1;
      CHECK_FAIL(vqr_model_tokenize(m, text, 1, small, n - 1, &count), VQR_ERR_BUFFER_TOO_SMALL);
      CHECK(count == n);
      CHECK(guard_intact(small, (size_t)n * sizeof *small));
      free(small);
    }
  }
  /* A larger buffer than needed: the count is exact and the rest untouched. */
  {
    int32_t *big = (int32_t *)malloc((size_t)(n + 8) * sizeof *big);
    if (CHECK(big != NULL)) {
      guard_fill(big, (size_t)(n + 8) * sizeof *big);
      count = -1;
      CHECK_OK(vqr_model_tokenize(m, text, 1, big, n + 8, &count));
      CHECK(count == n && memcmp(big, ids, (size_t)n * sizeof *ids) == 0);
      CHECK(guard_intact(big + n, 8 * sizeof *big));
      free(big);
    }
  }

  /* The resolved tokenizer (tok512.bin beside the checkpoint) is the same one. */
  ids2 = tokenize(resolved, text, 1, &n2);
  if (ids2) {
    CHECK(n2 == n && memcmp(ids, ids2, (size_t)n * sizeof *ids) == 0);
    free(ids2);
  }
  /* bos = 0: the same ids without the leading 1. */
  nobos = tokenize(m, text, 0, &n3);
  if (nobos) {
    CHECK(n3 == n - 1 && memcmp(nobos, ids + 1, (size_t)n3 * sizeof *ids) == 0);
    free(nobos);
  }
  /* The empty text: BOS alone, or nothing. */
  count = -1;
  CHECK_OK(vqr_model_tokenize(m, "", 1, buf, 4, &count));
  CHECK(count == 1 && buf[0] == 1);
  count = -1;
  CHECK_OK(vqr_model_tokenize(m, "", 0, NULL, 0, &count));
  CHECK(count == 0);
  free(ids);
}

static void test_reference_nll(const vqr_model *m) {
  double sum = NAN, mean;
  int64_t predicted = -1;
  mean = eval_mean(m, REF_PARAGRAPHS, &sum, &predicted);
  note("fp32 mean NLL on %d paragraphs: %.6f (%lld predicted; reference %.6f, %d)\n", REF_PARAGRAPHS, mean,
       (long long)predicted, REF_MEAN_NLL, REF_PREDICTED);
  if (!CHECK(fabs(mean - REF_MEAN_NLL) <= REF_TOLERANCE)) note("  off by %.3g\n", mean - REF_MEAN_NLL);
  g_fp32_mean = mean;
  /* Deterministic: the same call twice gives the same bits. */
  g_fp32_small_mean = eval_mean(m, SMALL_EVAL, NULL, NULL);
  CHECK(eval_mean(m, SMALL_EVAL, NULL, NULL) == g_fp32_small_mean);
  /* Sequences are independent: the first two together score what they score apart. Together they
     run packed in one pass, whose SGEMMs sum each logit in another order than the lone passes: at
     most ~1e-3 x max|logit| in the worst case (tests/model/forward_paths.h), observed ~1e-7 per
     token here; -log softmax moves by at most twice the largest logit change. 1e-5 nats per token
     keeps two orders of margin over that, while a context shared across the two sequences moves
     the tokens it reaches by tenths of a nat (tests/model/test_forward_variants.cpp, Packed...). */
  {
    double a = NAN, b = NAN, ab = NAN;
    int64_t pa = -1, pb = -1, pab = -1;
    CHECK_OK(vqr_model_eval_nll(g_ctx, m, g_eval_tokens, g_eval_lengths, 1, &a, &pa));
    CHECK_OK(vqr_model_eval_nll(g_ctx, m, g_eval_tokens + g_eval_lengths[0], g_eval_lengths + 1, 1, &b, &pb));
    CHECK_OK(vqr_model_eval_nll(g_ctx, m, g_eval_tokens, g_eval_lengths, 2, &ab, &pab));
    CHECK(pa == g_eval_lengths[0] - 1 && pb == g_eval_lengths[1] - 1 && pab == pa + pb);
    note("two sequences packed in one pass: %.10f nats, apart: %.10f (difference %.3g)\n", ab, a + b, ab - (a + b));
    CHECK(fabs(ab - (a + b)) <= 1e-5 * (double)pab);
  }
}

static const char *const kKinds[7] = {"wq", "wk", "wv", "wo", "w1", "w2", "w3"};

/* RTN 8-bit: 35 reports named blk.<l>.<kind>, the NLL barely moves; then save and reload. */
static void test_rtn8_and_save(const char *tmp) {
  vqr_model *m = load(g_model_file, g_tok_file), *back = NULL, *sentinel = (vqr_model *)&back;
  vqr_model_info info = {.struct_size = sizeof(vqr_model_info)};
  char dir[4096], nested[4096];
  double mean, sum = NAN, sum_back = NAN;
  int64_t predicted = -1, predicted_back = -1, i, per_layer[5] = {0};
  if (!m) return;
  if (!CHECK_OK(quantize(g_ctx, m, VQR_METHOD_RTN, 8))) goto done;
  CHECK(vqr_model_layer_count(m) == 35);
  for (i = 0; i < vqr_model_layer_count(m); ++i) {
    const char *name = NULL;
    vqr_report rep;
    int layer = -1, k, known = 0;
    char kind[8] = "";
    memset(&rep, 0, sizeof rep);
    rep.struct_size = sizeof rep;
    if (!CHECK_OK(vqr_model_layer_report(m, i, &name, &rep)) || !CHECK(name != NULL)) continue;
    if (i == 0) CHECK(strcmp(name, "blk.0.wq") == 0);
    CHECK(rep.method == VQR_METHOD_RTN);
    if (!CHECK(isfinite(rep.proxy_loss) && rep.proxy_loss >= 0.0)) note("  %s: proxy_loss %g\n", name, rep.proxy_loss);
    if (CHECK(sscanf(name, "blk.%d.%2s", &layer, kind) == 2 && layer >= 0 && layer < 5)) {
      for (k = 0; k < 7; ++k) known |= strcmp(kind, kKinds[k]) == 0;
      CHECK(known);
      per_layer[layer]++;
      CHECK(i / 7 == layer); /* block by block */
    }
  }
  for (i = 0; i < 5; ++i) CHECK(per_layer[i] == 7);
  /* name and report are each optional. */
  CHECK_OK(vqr_model_layer_report(m, 34, NULL, NULL));

  if (CHECK_OK(vqr_model_get_info(m, &info))) CHECK(info.quantized_layers == 35);
#if CAPI_ASAN /* the sanitizer build checks memory, not quality: 50 paragraphs */
  mean = eval_mean(m, SMALL_EVAL, NULL, NULL);
  note("RTN 8-bit mean NLL %.6f on %d paragraphs (fp32 %.6f)\n", mean, SMALL_EVAL, g_fp32_small_mean);
  CHECK(fabs(mean - g_fp32_small_mean) <= RTN8_TOLERANCE);
#else
  mean = eval_mean(m, REF_PARAGRAPHS, NULL, NULL);
  note("RTN 8-bit mean NLL %.6f (fp32 %.6f)\n", mean, g_fp32_mean);
  CHECK(fabs(mean - g_fp32_mean) <= RTN8_TOLERANCE);
#endif
  mean = eval_mean(m, SMALL_EVAL, &sum, &predicted);

  /* Save into a fresh folder, load it back (tokenizer from the folder): the same NLL, bit for bit. */
  snprintf(dir, sizeof dir, "%s/rtn8", tmp);
  CHECK(!exists(dir));
  if (!CHECK_OK(vqr_model_save(m, dir))) goto done;
  CHECK(is_dir(dir));
  back = load(dir, NULL);
  if (back) {
    vqr_model_info binfo = {.struct_size = sizeof(vqr_model_info)};
    CHECK(eval_mean(back, SMALL_EVAL, &sum_back, &predicted_back) == mean);
    CHECK(sum_back == sum && predicted_back == predicted);
    if (CHECK_OK(vqr_model_get_info(back, &binfo))) {
      CHECK(binfo.dim == info.dim && binfo.parameters == info.parameters);
      CHECK(binfo.quantized_layers == 0); /* counts quantization since loading */
    }
    vqr_model_free(back);
  }
  /* Into an existing folder: refused, the folder left as it was. */
  CHECK_FAIL(vqr_model_save(m, dir), VQR_ERR_INVALID_ARGUMENT);
  if (!CHECK(strstr(vqr_last_error(), "exists") != NULL)) note("  message: \"%s\"\n", vqr_last_error());
  CHECK_FAIL(vqr_model_save(m, tmp), VQR_ERR_INVALID_ARGUMENT);
  back = sentinel;
  CHECK_OK(vqr_model_load(dir, NULL, &back));
  CHECK(back != sentinel);
  vqr_model_free(back == sentinel ? NULL : back);
  /* Below a missing parent: an I/O error that leaves nothing behind. */
  snprintf(nested, sizeof nested, "%s/missing/sub", tmp);
  CHECK_FAIL(vqr_model_save(m, nested), VQR_ERR_IO);
  snprintf(nested, sizeof nested, "%s/missing", tmp);
  CHECK(!exists(nested));
done:
  vqr_model_free(m);
}

/* GPTQ 3-bit beats RTN 3-bit on the same calibration; both lose against fp32. */
static void test_gptq_beats_rtn(void) {
#if CAPI_ASAN /* two more whole-model runs: quality, checked by the release build */
  return;
#endif
  const double rtn = quantized_nll(VQR_METHOD_RTN, 3);
  const double gptq = quantized_nll(VQR_METHOD_GPTQ, 3);
  note("3-bit mean NLL on %d paragraphs: RTN %.6f, GPTQ %.6f (fp32 %.6f)\n", SMALL_EVAL, rtn, gptq,
       g_fp32_small_mean);
  CHECK(gptq < rtn);
  CHECK(rtn > g_fp32_small_mean && gptq > g_fp32_small_mean);
}

typedef struct progress_record {
  int model_calls, other_calls, cancel_on_model;
  int64_t last_done, last_total;
} progress_record;

static int on_progress(void *user_data, const vqr_progress *p) {
  progress_record *r = (progress_record *)user_data;
  if (p->stage && strcmp(p->stage, "model") == 0) {
    r->model_calls++;
    r->last_done = p->done;
    r->last_total = p->total;
    return r->cancel_on_model;
  }
  r->other_calls++;
  return 0;
}

static void test_cancel(void) {
  vqr_model *m = load(g_model_file, g_tok_file);
  vqr_context *ctx = NULL;
  progress_record rec;
  vqr_model_info info = {.struct_size = sizeof(vqr_model_info)};
  if (!m) return;
  if (!CHECK_OK(vqr_context_create(&ctx))) goto done;
  CHECK_OK(vqr_context_set_threads(ctx, THREADS));

  /* The callback cancels on the first "model" report. */
  memset(&rec, 0, sizeof rec);
  rec.cancel_on_model = 1;
  CHECK_OK(vqr_context_set_progress(ctx, on_progress, &rec));
  CHECK_FAIL(quantize(ctx, m, VQR_METHOD_RTN, 4), VQR_ERR_CANCELLED);
  CHECK(rec.model_calls == 1 && rec.last_total == 35);

  /* vqr_context_cancel before the call: cancelled too, and the request is then cleared. */
  CHECK_OK(vqr_context_set_progress(ctx, NULL, NULL));
  vqr_context_cancel(ctx);
  CHECK_FAIL(quantize(ctx, m, VQR_METHOD_RTN, 4), VQR_ERR_CANCELLED);

  /* A callback that lets the run finish sees "model" start at 0 and, as vqr_context_set_progress
   * promises a call when a stage completes, end at 35 of 35 however fast the run was. */
  memset(&rec, 0, sizeof rec);
  CHECK_OK(vqr_context_set_progress(ctx, on_progress, &rec));
  CHECK_OK(quantize(ctx, m, VQR_METHOD_RTN, 4));
  CHECK(rec.model_calls >= 2 && rec.last_total == 35);
  if (!CHECK(rec.last_done == 35)) note("  the last \"model\" report said %lld of 35\n", (long long)rec.last_done);
  if (CHECK_OK(vqr_model_get_info(m, &info))) CHECK(info.quantized_layers == 35);
done:
  vqr_context_free(ctx);
  vqr_model_free(m);
}

static void test_errors(vqr_model *m, int64_t seq_len) {
  vqr_model *out = NULL, *sentinel = (vqr_model *)&out;
  vqr_config *cfg = make_config(VQR_METHOD_RTN, 4, -1);
  vqr_model_info info = {.struct_size = sizeof(vqr_model_info)};
  vqr_report rep;
  const char *name = NULL;
  int32_t toks[4] = {1, 2, 3, 4}, *longer;
  int64_t count = 0, len1[1] = {4}, len0[1] = {0}, len_neg[1] = {-1}, len2[2] = {2, 2};
  int64_t len_over[1];
  double sum = 0;
  int64_t predicted = 0;
  char path[4096];

  /* Load: NULL arguments, missing files. */
  out = sentinel;
  CHECK_FAIL(vqr_model_load(NULL, NULL, &out), VQR_ERR_INVALID_ARGUMENT);
  CHECK_FAIL(vqr_model_load(g_model_file, NULL, NULL), VQR_ERR_INVALID_ARGUMENT);
  snprintf(path, sizeof path, "%s.missing", g_model_file);
  CHECK_FAIL(vqr_model_load(path, NULL, &out), VQR_ERR_IO);
  CHECK_FAIL(vqr_model_load(g_model_file, path, &out), VQR_ERR_IO);
  CHECK(out == sentinel); /* failed calls leave *out alone */

  /* Info, tokenize. */
  CHECK_FAIL(vqr_model_get_info(NULL, &info), VQR_ERR_INVALID_ARGUMENT);
  CHECK_FAIL(vqr_model_get_info(m, NULL), VQR_ERR_INVALID_ARGUMENT);
  CHECK_FAIL(vqr_model_tokenize(NULL, "a", 1, NULL, 0, &count), VQR_ERR_INVALID_ARGUMENT);
  CHECK_FAIL(vqr_model_tokenize(m, NULL, 1, NULL, 0, &count), VQR_ERR_INVALID_ARGUMENT);
  CHECK_FAIL(vqr_model_tokenize(m, "a", 1, NULL, 0, NULL), VQR_ERR_INVALID_ARGUMENT);
  CHECK_FAIL(vqr_model_tokenize(m, "a", 1, NULL, 4, &count), VQR_ERR_INVALID_ARGUMENT);
  CHECK_FAIL(vqr_model_tokenize(m, "a", 1, toks, -1, &count), VQR_ERR_INVALID_ARGUMENT);

  /* Eval: NULL arguments, sequence counts and lengths out of range, token ids out of range. */
  len_over[0] = seq_len + 1;
  CHECK_FAIL(vqr_model_eval_nll(g_ctx, NULL, toks, len1, 1, &sum, &predicted), VQR_ERR_INVALID_ARGUMENT);
  CHECK_FAIL(vqr_model_eval_nll(g_ctx, m, NULL, len1, 1, &sum, &predicted), VQR_ERR_INVALID_ARGUMENT);
  CHECK_FAIL(vqr_model_eval_nll(g_ctx, m, toks, NULL, 1, &sum, &predicted), VQR_ERR_INVALID_ARGUMENT);
  CHECK_FAIL(vqr_model_eval_nll(g_ctx, m, toks, len1, 1, NULL, &predicted), VQR_ERR_INVALID_ARGUMENT);
  CHECK_FAIL(vqr_model_eval_nll(g_ctx, m, toks, len1, 1, &sum, NULL), VQR_ERR_INVALID_ARGUMENT);
  CHECK_FAIL(vqr_model_eval_nll(g_ctx, m, toks, len1, 0, &sum, &predicted), VQR_ERR_INVALID_ARGUMENT);
  CHECK_FAIL(vqr_model_eval_nll(g_ctx, m, toks, len1, -1, &sum, &predicted), VQR_ERR_INVALID_ARGUMENT);
  CHECK_FAIL(vqr_model_eval_nll(g_ctx, m, toks, len0, 1, &sum, &predicted), VQR_ERR_INVALID_ARGUMENT);
  CHECK_FAIL(vqr_model_eval_nll(g_ctx, m, toks, len_neg, 1, &sum, &predicted), VQR_ERR_INVALID_ARGUMENT);
  longer = (int32_t *)calloc((size_t)seq_len + 1, sizeof *longer);
  if (CHECK(longer != NULL)) {
    int64_t fits[1];
    fits[0] = seq_len;
    longer[0] = 1;
    CHECK_FAIL(vqr_model_eval_nll(g_ctx, m, longer, len_over, 1, &sum, &predicted), VQR_ERR_INVALID_ARGUMENT);
    CHECK_FAIL(vqr_model_quantize(g_ctx, m, cfg, longer, len_over, 1), VQR_ERR_INVALID_ARGUMENT);
    /* Exactly seq_len tokens is allowed. */
    sum = NAN;
    predicted = -1;
    CHECK_OK(vqr_model_eval_nll(g_ctx, m, longer, fits, 1, &sum, &predicted));
    CHECK(predicted == seq_len - 1 && isfinite(sum));
    free(longer);
  }
  toks[2] = 512; /* vocab_size */
  CHECK_FAIL(vqr_model_eval_nll(g_ctx, m, toks, len1, 1, &sum, &predicted), VQR_ERR_INVALID_ARGUMENT);
  toks[2] = -1;
  CHECK_FAIL(vqr_model_eval_nll(g_ctx, m, toks, len1, 1, &sum, &predicted), VQR_ERR_INVALID_ARGUMENT);
  toks[2] = 3;
  /* The second of two sequences being bad fails the whole call. */
  len2[1] = 0;
  CHECK_FAIL(vqr_model_eval_nll(g_ctx, m, toks, len2, 2, &sum, &predicted), VQR_ERR_INVALID_ARGUMENT);

  /* Quantize: NULL arguments and lengths; the model stays unquantized. */
  CHECK_FAIL(vqr_model_quantize(g_ctx, NULL, cfg, toks, len1, 1), VQR_ERR_INVALID_ARGUMENT);
  CHECK_FAIL(vqr_model_quantize(g_ctx, m, NULL, toks, len1, 1), VQR_ERR_INVALID_ARGUMENT);
  CHECK_FAIL(vqr_model_quantize(g_ctx, m, cfg, NULL, len1, 1), VQR_ERR_INVALID_ARGUMENT);
  CHECK_FAIL(vqr_model_quantize(g_ctx, m, cfg, toks, NULL, 1), VQR_ERR_INVALID_ARGUMENT);
  CHECK_FAIL(vqr_model_quantize(g_ctx, m, cfg, toks, len1, 0), VQR_ERR_INVALID_ARGUMENT);
  CHECK_FAIL(vqr_model_quantize(g_ctx, m, cfg, toks, len0, 1), VQR_ERR_INVALID_ARGUMENT);
  CHECK_FAIL(vqr_model_quantize(g_ctx, m, cfg, toks, len2, 2), VQR_ERR_INVALID_ARGUMENT);
  if (CHECK_OK(vqr_model_get_info(m, &info))) CHECK(info.quantized_layers == 0);
  CHECK(vqr_model_layer_count(m) == 0);

  /* Reports: NULL model, index out of range (none before a quantize), struct_size unset. */
  CHECK(vqr_model_layer_count(NULL) == 0);
  memset(&rep, 0, sizeof rep);
  rep.struct_size = sizeof rep;
  CHECK_FAIL(vqr_model_layer_report(NULL, 0, &name, &rep), VQR_ERR_INVALID_ARGUMENT);
  CHECK_FAIL(vqr_model_layer_report(m, 0, &name, &rep), VQR_ERR_INVALID_ARGUMENT);
  CHECK_FAIL(vqr_model_layer_report(m, -1, &name, &rep), VQR_ERR_INVALID_ARGUMENT);

  /* Save: NULL or empty arguments. */
  CHECK_FAIL(vqr_model_save(NULL, "x"), VQR_ERR_INVALID_ARGUMENT);
  CHECK_FAIL(vqr_model_save(m, NULL), VQR_ERR_INVALID_ARGUMENT);
  CHECK_FAIL(vqr_model_save(m, ""), VQR_ERR_INVALID_ARGUMENT);
  vqr_model_free(NULL);
  vqr_config_free(cfg);
}

/* ------------------------------------------------------------------------------------------ */

int main(void) {
  const char *data = data_dir();
  char tmp[] = "/tmp/vqr_capi_model_XXXXXX";
  vqr_model *m = NULL, *resolved = NULL;
  vqr_model_info info = {.struct_size = sizeof(vqr_model_info)};

  if (data) {
    snprintf(g_model_file, sizeof g_model_file, "%s/models/stories260K/stories260K.bin", data);
    snprintf(g_tok_file, sizeof g_tok_file, "%s/models/stories260K/tok512.bin", data);
    snprintf(g_val_file, sizeof g_val_file, "%s/text/tinystories/tinystories_val.txt", data);
    snprintf(g_calib_file, sizeof g_calib_file, "%s/text/exllamav2-calibration/tiny.utf8", data);
  }
  if (!data || !exists(g_model_file)) {
    return exit_without_data();
  }

  if (!CHECK_OK(vqr_context_create(&g_ctx))) CHECK_DONE();
  CHECK_OK(vqr_context_set_threads(g_ctx, THREADS));
  m = load(g_model_file, g_tok_file);
  resolved = load(g_model_file, NULL);
  if (!m || !resolved || !CHECK_OK(vqr_model_get_info(m, &info))) goto done;

  test_info(m, resolved);
  test_tokenize(m, resolved);
  test_errors(m, info.seq_len);
  if (!build_eval_set(m, info.seq_len) || !build_calibration_set(m)) goto done;
  test_reference_nll(m);
  test_cancel();
  test_gptq_beats_rtn();
  if (CHECK(mkdtemp(tmp) != NULL)) {
    test_rtn8_and_save(tmp);
    remove_tree(tmp);
    CHECK(!exists(tmp));
  }
done:
  vqr_model_free(resolved);
  vqr_model_free(m);
  vqr_context_free(g_ctx);
  free(g_eval_tokens);
  CHECK_DONE();
}
