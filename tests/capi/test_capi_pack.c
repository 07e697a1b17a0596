/*
 * test_capi_pack.c — GPTQ checkpoint packing through the C API: packed shapes for 2/3/4/8 bits and
 * awkward sizes, an independent LSB-first bit-stream unpacker checking qweight/qzeros against the
 * result's codes and zero-points (v1 stores zero - 1), fp16 scales, g_idx, zero padding bits, and
 * the refusals (unsupported bits or format, a zero-point of 0 in v1) that write nothing.
 */
#include "layer.h"

/* Code k of the stream along the packed dimension, for column c of a (words x cols) int32 array:
 * bit k*b of the column's LSB-first bit stream (3-bit codes straddle words, as AutoGPTQ packs). */
static uint32_t unpack_code(const int32_t *packed, int64_t cols, int64_t c, int64_t k, int bits) {
  int64_t bit = k * bits, word = bit / 32;
  int off = (int)(bit % 32);
  uint32_t lo = (uint32_t)packed[word * cols + c] >> off;
  if (off + bits > 32) lo |= (uint32_t)packed[(word + 1) * cols + c] << (32 - off);
  return lo & ((1u << bits) - 1u);
}

/* Bits from `used` to the end of the column's stream are zero. */
static int padding_zero(const int32_t *packed, int64_t words, int64_t cols, int64_t c, int64_t used) {
  int64_t bit;
  for (bit = used; bit < words * 32; ++bit)
    if (((uint32_t)packed[(bit / 32) * cols + c] >> (bit % 32)) & 1u) return 0;
  return 1;
}

static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

static int64_t packed_words(int64_t len, int bits) {
  return bits == 3 ? 3 * ceil_div(len, 32) : ceil_div(len, 32 / bits);
}

/* Quantizes W (m x n) with RTN at the given settings; NULL on failure (reported). */
static vqr_result *quantize(const float *w, int64_t m, int64_t n, int bits, int64_t group, int sym) {
  vqr_config *cfg = make_config(VQR_METHOD_RTN, bits, group);
  vqr_result *res = NULL;
  vqr_tensor t = vqr_tensor_2d(w, VQR_DTYPE_F32, m, n, 0);
  if (!cfg) return NULL;
  CHECK_OK(vqr_config_set_int(cfg, VQR_PARAM_SYM, sym));
  if (!CHECK_OK(vqr_quantize_layer(NULL, cfg, &t, NULL, &res))) res = NULL;
  vqr_config_free(cfg);
  return res;
}

/* Packs `res` in `format` and checks every tensor against the result. */
static void check_pack(const vqr_result *res, vqr_pack_format format, int64_t m, int64_t n, int64_t groups, int bits) {
  vqr_packed_shape ps;
  int32_t *qweight = NULL, *qzeros = NULL, *g_idx = NULL;
  uint16_t *scales = NULL;
  const uint8_t *codes = vqr_result_codes(res);
  const float *rs = vqr_result_scales(res), *rz = vqr_result_zeros(res);
  const int32_t *rg = vqr_result_g_idx(res);
  int64_t r, j, g;
  int ok;
  memset(&ps, 0, sizeof ps);
  ps.struct_size = sizeof ps;
  if (!CHECK_OK(vqr_result_packed_shape(res, format, &ps))) return;
  ok = CHECK(ps.struct_size == sizeof ps);
  ok &= CHECK(ps.qweight_rows == packed_words(n, bits) && ps.qweight_cols == m);
  ok &= CHECK(ps.qzeros_rows == groups && ps.qzeros_cols == packed_words(m, bits));
  ok &= CHECK(ps.scales_rows == groups && ps.scales_cols == m);
  ok &= CHECK(ps.g_idx_len == n);
  if (!ok) {
    note("  %d bits, m %lld, n %lld, G %lld: qweight %lld x %lld, qzeros %lld x %lld, scales %lld x %lld, g_idx %lld\n",
            bits, (long long)m, (long long)n, (long long)groups, (long long)ps.qweight_rows, (long long)ps.qweight_cols,
            (long long)ps.qzeros_rows, (long long)ps.qzeros_cols, (long long)ps.scales_rows, (long long)ps.scales_cols,
            (long long)ps.g_idx_len);
    return;
  }
  /* One extra element each, to catch writes past the end. */
  qweight = (int32_t *)malloc(sizeof(int32_t) * (size_t)(ps.qweight_rows * ps.qweight_cols + 1));
  qzeros = (int32_t *)malloc(sizeof(int32_t) * (size_t)(ps.qzeros_rows * ps.qzeros_cols + 1));
  scales = (uint16_t *)malloc(sizeof(uint16_t) * (size_t)(ps.scales_rows * ps.scales_cols + 1));
  g_idx = (int32_t *)malloc(sizeof(int32_t) * (size_t)(ps.g_idx_len + 1));
  if (!CHECK(qweight && qzeros && scales && g_idx)) goto done;
  guard_fill(qweight, sizeof(int32_t) * (size_t)(ps.qweight_rows * ps.qweight_cols + 1));
  guard_fill(qzeros, sizeof(int32_t) * (size_t)(ps.qzeros_rows * ps.qzeros_cols + 1));
  guard_fill(scales, sizeof(uint16_t) * (size_t)(ps.scales_rows * ps.scales_cols + 1));
  guard_fill(g_idx, sizeof(int32_t) * (size_t)(ps.g_idx_len + 1));
  if (!CHECK_OK(vqr_result_pack_gptq(res, format, qweight, qzeros, scales, g_idx))) goto done;
  CHECK(guard_intact(qweight + ps.qweight_rows * ps.qweight_cols, sizeof(int32_t)));
  CHECK(guard_intact(qzeros + ps.qzeros_rows * ps.qzeros_cols, sizeof(int32_t)));
  CHECK(guard_intact(scales + ps.scales_rows * ps.scales_cols, sizeof(uint16_t)));
  CHECK(guard_intact(g_idx + ps.g_idx_len, sizeof(int32_t)));
  /* qweight: (words along n) x m; column r holds row r's codes. */
  ok = 1;
  for (r = 0; r < m; ++r) {
    for (j = 0; j < n; ++j) ok &= unpack_code(qweight, m, r, j, bits) == codes[r * n + j];
    ok &= padding_zero(qweight, ps.qweight_rows, m, r, n * bits);
  }
  if (!CHECK(ok)) note("  qweight mismatch: %d bits, format %d, %lld x %lld\n", bits, (int)format, (long long)m, (long long)n);
  /* qzeros: G x (words along m); v1 stores zero - 1. */
  ok = 1;
  for (g = 0; g < groups; ++g) {
    const int32_t *row = qzeros + g * ps.qzeros_cols;
    for (r = 0; r < m; ++r) {
      uint32_t want = (uint32_t)rz[g * m + r] - (format == VQR_PACK_GPTQ_V1 ? 1u : 0u);
      ok &= unpack_code(row, 1, 0, r, bits) == (want & ((1u << bits) - 1u));
    }
    ok &= padding_zero(row, ps.qzeros_cols, 1, 0, m * bits);
  }
  if (!CHECK(ok)) note("  qzeros mismatch: %d bits, format %d\n", bits, (int)format);
  ok = 1;
  for (j = 0; j < groups * m; ++j) ok &= scales[j] == f32_to_f16(rs[j]);
  CHECK(ok);
  CHECK(memcmp(g_idx, rg, sizeof(int32_t) * (size_t)n) == 0);
  /* Any output may be skipped. */
  CHECK_OK(vqr_result_pack_gptq(res, format, NULL, NULL, NULL, NULL));
  CHECK_OK(vqr_result_pack_gptq(res, format, NULL, qzeros, NULL, NULL));
done:
  free(qweight);
  free(qzeros);
  free(scales);
  free(g_idx);
}

static void test_pack_shapes_and_contents(void) {
  static const int bits_list[] = {2, 3, 4, 8};
  static const int64_t sizes[][3] = {
      /* m, n, group size */
      {64, 128, 32}, /* aligned */
      {16, 64, -1},
      {10, 40, -1},  /* neither dimension a multiple of 32 */
      {33, 70, 24},  /* partial last group */
      {1, 1, -1},
  };
  size_t b, s;
  for (s = 0; s < sizeof sizes / sizeof sizes[0]; ++s) {
    int64_t m = sizes[s][0], n = sizes[s][1], gs = sizes[s][2];
    int64_t groups = gs == -1 ? 1 : ceil_div(n, gs);
    float *w = (float *)malloc(sizeof(float) * (size_t)(m * n));
    if (!CHECK(w != NULL)) continue;
    make_weights(w, m, n);
    for (b = 0; b < sizeof bits_list / sizeof bits_list[0]; ++b) {
      int bits = bits_list[b];
      vqr_config *cfg = make_config(VQR_METHOD_RTN, bits, gs);
      vqr_result *res = NULL;
      vqr_tensor t = vqr_tensor_2d(w, VQR_DTYPE_F32, m, n, 0);
      if (!cfg) continue;
      CHECK_OK(vqr_config_set_int(cfg, VQR_PARAM_SYM, 1)); /* zero-points 2^(b-1): v1 can store them */
      CHECK_OK(vqr_config_set_int(cfg, VQR_PARAM_ALLOW_PARTIAL_GROUP, 1));
      if (CHECK_OK(vqr_quantize_layer(NULL, cfg, &t, NULL, &res)) && check_result_invariants(res, m, n, groups, bits)) {
        check_pack(res, VQR_PACK_GPTQ_V1, m, n, groups, bits);
        check_pack(res, VQR_PACK_GPTQ_V2, m, n, groups, bits);
      }
      vqr_result_free(res);
      vqr_config_free(cfg);
    }
    free(w);
  }
}

static void test_pack_refusals(void) {
  enum { M = 8, N = 32 };
  float w[M * N];
  vqr_result *res4 = NULL, *res5 = NULL;
  vqr_packed_shape ps;
  int32_t qweight[(N / 8) * M], qzeros[1], g_idx[N];
  uint16_t scales[M];
  int i, r;
  make_weights(w, M, N);
  /* Row 0 all positive: with the asymmetric grid (range contains 0) its zero-point is 0. */
  for (i = 0; i < N; ++i) w[i] = 0.01f + 0.05f * (float)(i % 7);
  res4 = quantize(w, M, N, 4, -1, 0);
  res5 = quantize(w, M, N, 5, -1, 0);
  if (!res4 || !res5) goto done;
  CHECK(vqr_result_zeros(res4)[0] == 0.0f);

  guard_fill(&ps, sizeof ps);
  CHECK_FAIL(vqr_result_packed_shape(res5, VQR_PACK_GPTQ_V2, &ps), VQR_ERR_UNSUPPORTED);
  CHECK_FAIL(vqr_result_packed_shape(res4, (vqr_pack_format)0, &ps), VQR_ERR_UNSUPPORTED);
  CHECK_FAIL(vqr_result_packed_shape(res4, (vqr_pack_format)3, &ps), VQR_ERR_UNSUPPORTED);
  CHECK_FAIL(vqr_result_packed_shape(NULL, VQR_PACK_GPTQ_V2, &ps), VQR_ERR_INVALID_ARGUMENT);
  CHECK_FAIL(vqr_result_packed_shape(res4, VQR_PACK_GPTQ_V2, NULL), VQR_ERR_INVALID_ARGUMENT);
  CHECK(guard_intact(&ps, sizeof ps));

  guard_fill(qweight, sizeof qweight);
  guard_fill(qzeros, sizeof qzeros);
  guard_fill(scales, sizeof scales);
  guard_fill(g_idx, sizeof g_idx);
  CHECK_FAIL(vqr_result_pack_gptq(res5, VQR_PACK_GPTQ_V2, qweight, qzeros, scales, g_idx), VQR_ERR_UNSUPPORTED);
  CHECK_FAIL(vqr_result_pack_gptq(res4, (vqr_pack_format)7, qweight, qzeros, scales, g_idx), VQR_ERR_UNSUPPORTED);
  CHECK_FAIL(vqr_result_pack_gptq(NULL, VQR_PACK_GPTQ_V2, qweight, qzeros, scales, g_idx), VQR_ERR_INVALID_ARGUMENT);
  /* v1 cannot store a zero-point of 0: refused, and nothing written (not even qweight). */
  CHECK_FAIL(vqr_result_pack_gptq(res4, VQR_PACK_GPTQ_V1, qweight, qzeros, scales, g_idx), VQR_ERR_UNSUPPORTED);
  CHECK(guard_intact(qweight, sizeof qweight) && guard_intact(qzeros, sizeof qzeros) &&
        guard_intact(scales, sizeof scales) && guard_intact(g_idx, sizeof g_idx));
  /* v2 stores it as is. */
  if (CHECK_OK(vqr_result_pack_gptq(res4, VQR_PACK_GPTQ_V2, qweight, qzeros, scales, g_idx))) {
    int ok = 1;
    for (r = 0; r < M; ++r) ok &= unpack_code(qzeros, 1, 0, r, 4) == (uint32_t)vqr_result_zeros(res4)[r];
    CHECK(ok);
  }
  /* v1 shapes are still reported (the refusal is about values, not shapes). */
  CHECK_OK(vqr_result_packed_shape(res4, VQR_PACK_GPTQ_V1, &ps));
done:
  vqr_result_free(res4);
  vqr_result_free(res5);
}

/* The struct_size rule for vqr_packed_shape (0.5.0), as for vqr_bounds in test_capi_basics: an
 * older, shorter struct gets its prefix and nothing after it; struct_size 0 (a zero-initialized
 * struct of a 0.4 caller) the 0.4 layout; a too small struct_size is refused without writing. */
static void test_packed_shape_struct_size(void) {
  enum { M = 8, N = 32 };
  const size_t prefix = offsetof(vqr_packed_shape, qzeros_rows); /* up to qweight_rows, qweight_cols */
  float w[M * N];
  unsigned char buf[sizeof(vqr_packed_shape) + 16];
  vqr_packed_shape full = {.struct_size = sizeof(vqr_packed_shape)}, got;
  vqr_result *res;
  size_t n;
  make_weights(w, M, N);
  res = quantize(w, M, N, 4, -1, 0);
  if (!res) return;
  if (!CHECK_OK(vqr_result_packed_shape(res, VQR_PACK_GPTQ_V2, &full))) goto done;

  guard_fill(buf, sizeof buf);
  n = prefix;
  memcpy(buf, &n, sizeof n);
  if (CHECK_OK(vqr_result_packed_shape(res, VQR_PACK_GPTQ_V2, (vqr_packed_shape *)(void *)buf))) {
    memcpy(&got, buf, prefix);
    CHECK(got.struct_size == prefix && got.qweight_rows == full.qweight_rows &&
          got.qweight_cols == full.qweight_cols);
    CHECK(guard_intact(buf + prefix, sizeof buf - prefix));
  }

  guard_fill(buf, sizeof buf);
  n = 0;
  memcpy(buf, &n, sizeof n);
  if (CHECK_OK(vqr_result_packed_shape(res, VQR_PACK_GPTQ_V2, (vqr_packed_shape *)(void *)buf))) {
    memcpy(&got, buf, sizeof got);
    CHECK(memcmp(&got, &full, sizeof got) == 0); /* the 0.4 size: every field of this header */
    CHECK(guard_intact(buf + sizeof got, sizeof buf - sizeof got));
  }

  guard_fill(buf, sizeof buf);
  n = sizeof buf; /* a newer, longer struct */
  memcpy(buf, &n, sizeof n);
  if (CHECK_OK(vqr_result_packed_shape(res, VQR_PACK_GPTQ_V2, (vqr_packed_shape *)(void *)buf))) {
    memcpy(&got, buf, sizeof got);
    CHECK(memcmp(&got, &full, sizeof got) == 0);
    CHECK(guard_intact(buf + sizeof got, sizeof buf - sizeof got));
  }

  guard_fill(buf, sizeof buf);
  n = 1;
  memcpy(buf, &n, sizeof n);
  CHECK_FAIL(vqr_result_packed_shape(res, VQR_PACK_GPTQ_V2, (vqr_packed_shape *)(void *)buf),
             VQR_ERR_INVALID_ARGUMENT);
  CHECK(memcmp(buf, &n, sizeof n) == 0 && guard_intact(buf + sizeof n, sizeof buf - sizeof n));
done:
  vqr_result_free(res);
}

int main(void) {
  test_pack_shapes_and_contents();
  test_pack_refusals();
  test_packed_shape_struct_size();
  CHECK_DONE();
}
