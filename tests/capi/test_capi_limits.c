/*
 * test_capi_limits.c — sizes that come from a caller or a file are checked before anything is
 * allocated (issue 20): shapes whose products overflow int64 or pass an address space, counts
 * past their documented bounds, and requests past the memory limit (vqr_context_set_memory_limit,
 * physical memory by default) fail with the documented status and a message giving the figure,
 * at once. Each case here used to overflow a pointer, attempt a multi-terabyte allocation, or run
 * without end. The model cases use stories260K from the shared data folder when it is there.
 */
#define _POSIX_C_SOURCE 200809L

#include <time.h>

#include "check.h"
#include "model_files.h"

static int mentions(const char *needle) { return strstr(vqr_last_error(), needle) != NULL; }

static double now_seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void test_limit_setting(void) {
  vqr_context *ctx = NULL;
  if (!CHECK_OK(vqr_context_create(&ctx))) return;
  /* The default is physical memory: positive, and what a NULL context would use. */
  CHECK(vqr_context_get_memory_limit(ctx) > ((int64_t)1 << 26));
  CHECK(vqr_context_get_memory_limit(NULL) == 0);
  CHECK_OK(vqr_context_set_memory_limit(ctx, 123456789));
  CHECK(vqr_context_get_memory_limit(ctx) == 123456789);
  CHECK_FAIL(vqr_context_set_memory_limit(ctx, -1), VQR_ERR_OUT_OF_RANGE);
  CHECK(vqr_context_get_memory_limit(ctx) == 123456789);
  CHECK_FAIL(vqr_context_set_memory_limit(NULL, 1), VQR_ERR_INVALID_ARGUMENT);
  CHECK_OK(vqr_context_set_memory_limit(ctx, 0));
  CHECK(vqr_context_get_memory_limit(ctx) > ((int64_t)1 << 26));
  vqr_context_free(ctx);
}

/* Shapes: the view's extent is checked in int64 arithmetic that cannot overflow. */
static void test_shapes(void) {
  static float w[64];
  vqr_config *cfg = NULL;
  vqr_hessian *h = NULL;
  vqr_result *res = NULL;
  vqr_context *ctx = NULL;
  vqr_tensor t;
  double start;
  if (!CHECK_OK(vqr_config_create(&cfg)) || !CHECK_OK(vqr_hessian_create(16, 0, &h)) ||
      !CHECK_OK(vqr_context_create(&ctx)))
    goto done;
  /* rows x cols overflows int64. */
  t = vqr_tensor_2d(w, VQR_DTYPE_F32, INT64_MAX / 8, 16, 0);
  CHECK_FAIL(vqr_quantize_layer(NULL, cfg, &t, NULL, &res), VQR_ERR_INVALID_ARGUMENT);
  CHECK(mentions("2^47"));
  /* rows x stride overflows a pointer in vqr_hessian_add. */
  t = vqr_tensor_2d(w, VQR_DTYPE_F32, (int64_t)1 << 40, 16, (int64_t)1 << 30);
  CHECK_FAIL(vqr_hessian_add(h, &t), VQR_ERR_INVALID_ARGUMENT);
  CHECK(vqr_hessian_token_count(h) == 0);
  /* 2^40 rows of 16 (2^46 bytes: a possible extent) would need ~80 TiB of working memory: refused
   * with the figure before any allocation, in well under a second. */
  t = vqr_tensor_2d(w, VQR_DTYPE_F32, (int64_t)1 << 40, 16, 0);
  start = now_seconds();
  CHECK_FAIL(vqr_quantize_layer(NULL, cfg, &t, NULL, &res), VQR_ERR_OUT_OF_MEMORY);
  CHECK(mentions("TiB") && mentions("physical memory"));
  CHECK(now_seconds() - start < 5.0);
  CHECK(res == NULL);
  /* The same under a context's limit: a 64 x 4096 layer is ~1 MiB of codes and copies; 64 KiB is
   * not enough, 64 MiB is. */
  {
    static float big[64 * 4096];
    t = vqr_tensor_2d(big, VQR_DTYPE_F32, 64, 4096, 0);
    CHECK_OK(vqr_context_set_memory_limit(ctx, 65536));
    CHECK_FAIL(vqr_quantize_layer(ctx, cfg, &t, NULL, &res), VQR_ERR_OUT_OF_MEMORY);
    CHECK(mentions("64.0 KiB") && mentions("vqr_context_set_memory_limit"));
    CHECK_OK(vqr_context_set_memory_limit(ctx, (int64_t)64 << 20));
    if (CHECK_OK(vqr_quantize_layer(ctx, cfg, &t, NULL, &res))) {
      /* An output stride whose extent overflows is refused before a byte is written. */
      CHECK_FAIL(vqr_result_dequantize(res, VQR_DTYPE_F32, big, INT64_MAX / 4), VQR_ERR_INVALID_ARGUMENT);
      CHECK(mentions("2^47"));
      vqr_result_free(res);
      res = NULL;
    }
  }
  {
    static float out[16 * 16];
    CHECK_FAIL(vqr_hessian_read(h, out, INT64_MAX / 8), VQR_ERR_INVALID_ARGUMENT);
    CHECK(mentions("2^47"));
  }
  /* A Hessian's n x n sums: 2^20 wide is 4 TiB in fp32, past any machine here; 1024 wide (4 MiB)
   * past a 1 MiB limit. */
  vqr_hessian_free(h);
  h = NULL;
  CHECK_FAIL(vqr_hessian_create((int64_t)1 << 20, 0, &h), VQR_ERR_OUT_OF_MEMORY);
  CHECK(mentions("a hessian of width 1048576") && mentions("TiB"));
  CHECK_OK(vqr_context_set_memory_limit(ctx, (int64_t)1 << 20));
  CHECK_FAIL(vqr_hessian_create_on(ctx, 1024, 0, &h), VQR_ERR_OUT_OF_MEMORY);
  CHECK_OK(vqr_hessian_create_on(ctx, 256, 0, &h));
done:
  vqr_hessian_free(h);
  vqr_config_free(cfg);
  vqr_context_free(ctx);
}

/* The model cases: a load past the limit, and sequence counts. */
static void test_model(const char *data) {
  char model_file[2048], tok_file[2048];
  vqr_context *ctx = NULL;
  vqr_model *m = NULL;
  vqr_sequences *seqs = NULL;
  const char *text = "Once upon a time there was a little dog. It liked to run in the park.\n\n"
                     "One day the dog found a ball. It was red and big.";
  double start;
  snprintf(model_file, sizeof model_file, "%s/models/stories260K/stories260K.bin", data);
  snprintf(tok_file, sizeof tok_file, "%s/models/stories260K/tok512.bin", data);
  if (!CHECK_OK(vqr_context_create(&ctx))) return;
  /* stories260K widens one block of 64 x 64 and 172 x 64 weights (~200 KB) at a time: 100 KB is
   * too little, and the message says how much it needs. */
  CHECK_OK(vqr_context_set_memory_limit(ctx, 100000));
  CHECK_FAIL(vqr_model_load_on(ctx, model_file, tok_file, &m), VQR_ERR_OUT_OF_MEMORY);
  CHECK(m == NULL && mentions("one widened block") && mentions("bytes"));
  CHECK_OK(vqr_context_set_memory_limit(ctx, (int64_t)16 << 20));
  if (!CHECK_OK(vqr_model_load_on(ctx, model_file, tok_file, &m))) goto done;
  /* Counts past 2^24 are out of range, at once (a count of 2^40 windows used to run without end). */
  start = now_seconds();
  CHECK_FAIL(vqr_sequences_from_text(m, text, VQR_SAMPLE_RANDOM_WINDOWS, (int64_t)1 << 40, 8, 0, &seqs),
             VQR_ERR_OUT_OF_RANGE);
  CHECK(mentions("2^24"));
  CHECK_FAIL(vqr_sequences_from_text(m, text, VQR_SAMPLE_PARAGRAPHS, ((int64_t)1 << 24) + 1, 8, 0, &seqs),
             VQR_ERR_OUT_OF_RANGE);
  CHECK(now_seconds() - start < 5.0);
  CHECK(seqs == NULL);
  {
    /* Evaluation's sequence count has the same bound; the lengths are never read past it. */
    static const int32_t tokens[4] = {1, 2, 3, 4};
    static const int64_t lengths[1] = {4};
    double sum = 0;
    int64_t predicted = 0;
    CHECK_FAIL(vqr_model_eval_nll(NULL, m, tokens, lengths, ((int64_t)1 << 24) + 1, &sum, &predicted),
               VQR_ERR_INVALID_ARGUMENT);
    CHECK(mentions("2^24"));
    CHECK_OK(vqr_model_eval_nll(NULL, m, tokens, lengths, 1, &sum, &predicted));
    CHECK(predicted == 3);
  }
  /* The bound itself is accepted. */
  if (CHECK_OK(vqr_sequences_from_text(m, text, VQR_SAMPLE_RANDOM_WINDOWS, 4, 8, 0, &seqs)))
    CHECK(vqr_sequences_count(seqs) == 4);
  vqr_sequences_free(seqs);
done:
  vqr_model_free(m);
  vqr_context_free(ctx);
}

int main(void) {
  const char *data = data_dir();
  test_limit_setting();
  test_shapes();
  if (data && exists(data)) {
    test_model(data);
  } else if (missing_data_fails()) {
    return EXIT_FAILURE;
  } else {
    note("note: shared data folder not found: the model cases were not run\n");
  }
  CHECK_DONE();
}
