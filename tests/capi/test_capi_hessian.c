/*
 * test_capi_hessian.c — the Hessian accumulator through the C API: create/add/merge/read,
 * serialization (format, CRC, truncation, corruption), rejected inputs (NaN, width, strides) and
 * f16/bf16/strided inputs. Inputs are dyadic (k/8), so every fp32 sum is exact and results can be
 * compared bit for bit whatever the summation order.
 */
#include "check.h"

#define N 12 /* input width */

/* H = (2/T) X^T X in double, X: T x n contiguous. */
static void reference_h(const float *x, int64_t t, int64_t n, double *h) {
  int64_t i, j, k;
  for (i = 0; i < n * n; ++i) h[i] = 0.0;
  for (k = 0; k < t; ++k)
    for (i = 0; i < n; ++i)
      for (j = 0; j < n; ++j) h[i * n + j] += (double)x[k * n + i] * x[k * n + j];
  if (t > 0)
    for (i = 0; i < n * n; ++i) h[i] *= 2.0 / (double)t;
}

static int read_h(const vqr_hessian *h, float *out) { return vqr_hessian_read(h, out, 0) == VQR_OK; }

static int h_equals(const vqr_hessian *a, const vqr_hessian *b) {
  float ha[N * N], hb[N * N];
  if (!read_h(a, ha) || !read_h(b, hb)) return 0;
  return memcmp(ha, hb, sizeof ha) == 0;
}

/* The standard CRC-32 (IEEE 802.3, reflected, as zlib's crc32()). */
static uint32_t crc32_ieee(const unsigned char *p, size_t len) {
  uint32_t c = 0xffffffffu;
  size_t i;
  int k;
  for (i = 0; i < len; ++i) {
    c ^= p[i];
    for (k = 0; k < 8; ++k) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
  }
  return c ^ 0xffffffffu;
}

static uint64_t load_le(const unsigned char *p, int bytes) {
  uint64_t v = 0;
  int i;
  for (i = bytes - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

static void store_le32(unsigned char *p, uint32_t v) {
  int i;
  for (i = 0; i < 4; ++i) p[i] = (unsigned char)(v >> (8 * i));
}

/* ------------------------------------------------------------------------------------------ */

static void test_create(void) {
  vqr_hessian *h = NULL, *sentinel = (vqr_hessian *)&h;
  h = sentinel;
  CHECK_FAIL(vqr_hessian_create(0, 0, &h), VQR_ERR_INVALID_ARGUMENT);
  CHECK_FAIL(vqr_hessian_create(-3, 0, &h), VQR_ERR_INVALID_ARGUMENT);
  CHECK_FAIL(vqr_hessian_create(((int64_t)1 << 20) + 1, 0, &h), VQR_ERR_INVALID_ARGUMENT);
  CHECK_FAIL(vqr_hessian_create(N, 4u, &h), VQR_ERR_INVALID_ARGUMENT);
  CHECK_FAIL(vqr_hessian_create(N, 0x80000000u, &h), VQR_ERR_INVALID_ARGUMENT);
  CHECK(h == sentinel);
  CHECK_FAIL(vqr_hessian_create(N, 0, NULL), VQR_ERR_INVALID_ARGUMENT);
  CHECK(vqr_hessian_width(NULL) == 0); /* the NULL-handle rule: what an empty object would say */
  CHECK(vqr_hessian_token_count(NULL) == 0);
  h = NULL;
  if (CHECK_OK(vqr_hessian_create(N, 0, &h)) && CHECK(h != NULL)) {
    float hm[N * N];
    int i, zero = 1;
    CHECK(vqr_hessian_width(h) == N);
    CHECK(vqr_hessian_token_count(h) == 0);
    for (i = 0; i < N * N; ++i) hm[i] = 1.0f;
    CHECK_OK(vqr_hessian_read(h, hm, 0)); /* T = 0: all zeros */
    for (i = 0; i < N * N; ++i) zero &= hm[i] == 0.0f;
    CHECK(zero);
  }
  vqr_hessian_free(h);
  h = NULL;
  if (CHECK_OK(vqr_hessian_create(1, VQR_HESSIAN_F64, &h))) CHECK(vqr_hessian_width(h) == 1);
  vqr_hessian_free(h);
}

static void test_add_read(unsigned flags) {
  enum { T1 = 7, T2 = 9 };
  float x[(T1 + T2) * N];
  double ref[N * N];
  float hm[N * N];
  vqr_hessian *h = NULL;
  vqr_tensor t;
  int i, ok = 1;
  for (i = 0; i < (T1 + T2) * N; ++i) x[i] = rng_dyadic();
  if (!CHECK_OK(vqr_hessian_create(N, flags, &h))) return;
  t = vqr_tensor_2d(x, VQR_DTYPE_F32, T1, N, 0);
  CHECK_OK(vqr_hessian_add(h, &t));
  t = vqr_tensor_2d(x + T1 * N, VQR_DTYPE_F32, T2, N, N);
  CHECK_OK(vqr_hessian_add(h, &t));
  t = vqr_tensor_2d(x, VQR_DTYPE_F32, 0, N, 0); /* an empty batch is fine */
  CHECK_OK(vqr_hessian_add(h, &t));
  CHECK(vqr_hessian_token_count(h) == T1 + T2);
  reference_h(x, T1 + T2, N, ref);
  CHECK_OK(vqr_hessian_read(h, hm, 0));
  for (i = 0; i < N * N; ++i) ok &= fabs(hm[i] - ref[i]) <= 1e-6 * (1.0 + fabs(ref[i]));
  if (!CHECK(ok))
    for (i = 0; i < N * N; ++i)
      if (fabs(hm[i] - ref[i]) > 1e-6 * (1.0 + fabs(ref[i]))) {
        note("  H[%d][%d] = %.9g, reference %.9g (flags %u)\n", i / N, i % N, hm[i], ref[i],
                flags);
        break;
      }
  /* Symmetric in full. */
  ok = 1;
  for (i = 0; i < N * N; ++i) ok &= hm[i] == hm[(i % N) * N + i / N];
  CHECK(ok);

  /* read with ld > n: guard values between rows stay. */
  {
    enum { LD = N + 3 };
    float padded[N * LD];
    int r, c, guards = 1, same = 1;
    for (i = 0; i < N * LD; ++i) padded[i] = -4242.0f;
    CHECK_OK(vqr_hessian_read(h, padded, LD));
    for (r = 0; r < N; ++r)
      for (c = 0; c < LD; ++c) {
        if (c < N)
          same &= padded[r * LD + c] == hm[r * N + c];
        else
          guards &= padded[r * LD + c] == -4242.0f;
      }
    CHECK(same);
    CHECK(guards);
    CHECK_FAIL(vqr_hessian_read(h, padded, N - 1), VQR_ERR_INVALID_ARGUMENT);
    CHECK_FAIL(vqr_hessian_read(h, padded, -1), VQR_ERR_INVALID_ARGUMENT);
    CHECK_FAIL(vqr_hessian_read(h, NULL, 0), VQR_ERR_INVALID_ARGUMENT);
    CHECK_FAIL(vqr_hessian_read(NULL, padded, 0), VQR_ERR_INVALID_ARGUMENT);
  }
  vqr_hessian_free(h);
}

/* Rejected inputs leave h exactly as it was. */
static void test_add_rejects(void) {
  enum { T = 5 };
  float x[T * (N + 4)], before[N * N], after[N * N];
  uint16_t x16[T * N];
  vqr_hessian *h = NULL;
  vqr_tensor t;
  int i;
  for (i = 0; i < T * (N + 4); ++i) x[i] = rng_dyadic();
  if (!CHECK_OK(vqr_hessian_create(N, 0, &h))) return;
  t = vqr_tensor_2d(x, VQR_DTYPE_F32, T, N, 0);
  CHECK_OK(vqr_hessian_add(h, &t));
  CHECK(read_h(h, before));

  /* NaN / Inf anywhere in the batch (here the last element): NONFINITE, h unchanged. */
  x[T * N - 1] = NAN;
  CHECK_FAIL(vqr_hessian_add(h, &t), VQR_ERR_NONFINITE);
  x[T * N - 1] = -INFINITY;
  CHECK_FAIL(vqr_hessian_add(h, &t), VQR_ERR_NONFINITE);
  x[T * N - 1] = 0.5f;
  x[0] = INFINITY;
  CHECK_FAIL(vqr_hessian_add(h, &t), VQR_ERR_NONFINITE);
  x[0] = 0.5f;
  for (i = 0; i < T * N; ++i) x16[i] = f32_to_f16(x[i]);
  x16[3 * N + 2] = 0x7e00u; /* f16 NaN */
  t = vqr_tensor_2d(x16, VQR_DTYPE_F16, T, N, 0);
  CHECK_FAIL(vqr_hessian_add(h, &t), VQR_ERR_NONFINITE);
  x16[3 * N + 2] = 0xfc00u; /* f16 -Inf */
  CHECK_FAIL(vqr_hessian_add(h, &t), VQR_ERR_NONFINITE);
  for (i = 0; i < T * N; ++i) x16[i] = f32_to_bf16(x[i]);
  x16[N + 1] = 0x7fc0u; /* bf16 NaN */
  t = vqr_tensor_2d(x16, VQR_DTYPE_BF16, T, N, 0);
  CHECK_FAIL(vqr_hessian_add(h, &t), VQR_ERR_NONFINITE);
  x16[N + 1] = 0x7f80u; /* bf16 Inf */
  CHECK_FAIL(vqr_hessian_add(h, &t), VQR_ERR_NONFINITE);

  /* Shape, stride, dtype and pointer errors. */
  t = vqr_tensor_2d(x, VQR_DTYPE_F32, T, N + 1, 0); /* wrong width */
  CHECK_FAIL(vqr_hessian_add(h, &t), VQR_ERR_INVALID_ARGUMENT);
  t = vqr_tensor_2d(x, VQR_DTYPE_F32, T, N - 1, 0);
  CHECK_FAIL(vqr_hessian_add(h, &t), VQR_ERR_INVALID_ARGUMENT);
  t = vqr_tensor_2d(x, VQR_DTYPE_F32, -1, N, 0); /* negative rows */
  CHECK_FAIL(vqr_hessian_add(h, &t), VQR_ERR_INVALID_ARGUMENT);
  t = vqr_tensor_2d(x, VQR_DTYPE_F32, T, N, N - 1); /* stride below cols */
  CHECK_FAIL(vqr_hessian_add(h, &t), VQR_ERR_INVALID_ARGUMENT);
  t = vqr_tensor_2d(x, VQR_DTYPE_F32, T, N, -N);
  CHECK_FAIL(vqr_hessian_add(h, &t), VQR_ERR_INVALID_ARGUMENT);
  t = vqr_tensor_2d(x, (vqr_dtype)7, T, N, 0); /* unknown dtype */
  CHECK_FAIL(vqr_hessian_add(h, &t), VQR_ERR_INVALID_ARGUMENT);
  t = vqr_tensor_2d(NULL, VQR_DTYPE_F32, T, N, 0); /* no data */
  CHECK_FAIL(vqr_hessian_add(h, &t), VQR_ERR_INVALID_ARGUMENT);
  CHECK_FAIL(vqr_hessian_add(h, NULL), VQR_ERR_INVALID_ARGUMENT);
  t = vqr_tensor_2d(x, VQR_DTYPE_F32, T, N, 0);
  CHECK_FAIL(vqr_hessian_add(NULL, &t), VQR_ERR_INVALID_ARGUMENT);

  CHECK(vqr_hessian_token_count(h) == T);
  CHECK(read_h(h, after) && memcmp(before, after, sizeof before) == 0);
  vqr_hessian_free(h);
}

/* f16, bf16 and strided inputs give the same H as contiguous f32 inputs of the same values. */
static void test_dtypes_and_strides(void) {
  enum { T = 11, S = N + 5 };
  float x[T * N], xs[T * S];
  uint16_t x16[T * N], xb16[T * N], xs16[T * S];
  vqr_hessian *h32 = NULL, *h16 = NULL, *hb16 = NULL, *hs = NULL, *hs16 = NULL;
  vqr_tensor t;
  int i, r, c;
  for (i = 0; i < T * N; ++i) {
    x[i] = rng_dyadic();
    x16[i] = f32_to_f16(x[i]);
    xb16[i] = f32_to_bf16(x[i]);
    CHECK(f16_to_f32(x16[i]) == x[i] && bf16_to_f32(xb16[i]) == x[i]); /* the converters are exact here */
  }
  /* Padding holds NaN: the library must read only cols elements of each row. */
  for (r = 0; r < T; ++r)
    for (c = 0; c < S; ++c) {
      xs[r * S + c] = c < N ? x[r * N + c] : NAN;
      xs16[r * S + c] = c < N ? x16[r * N + c] : (uint16_t)0x7e00u;
    }
  if (!CHECK_OK(vqr_hessian_create(N, 0, &h32)) || !CHECK_OK(vqr_hessian_create(N, 0, &h16)) ||
      !CHECK_OK(vqr_hessian_create(N, 0, &hb16)) || !CHECK_OK(vqr_hessian_create(N, 0, &hs)) ||
      !CHECK_OK(vqr_hessian_create(N, 0, &hs16)))
    goto done;
  t = vqr_tensor_2d(x, VQR_DTYPE_F32, T, N, 0);
  CHECK_OK(vqr_hessian_add(h32, &t));
  t = vqr_tensor_2d(x16, VQR_DTYPE_F16, T, N, 0);
  CHECK_OK(vqr_hessian_add(h16, &t));
  t = vqr_tensor_2d(xb16, VQR_DTYPE_BF16, T, N, 0);
  CHECK_OK(vqr_hessian_add(hb16, &t));
  t = vqr_tensor_2d(xs, VQR_DTYPE_F32, T, N, S);
  CHECK_OK(vqr_hessian_add(hs, &t));
  t = vqr_tensor_2d(xs16, VQR_DTYPE_F16, T, N, S);
  CHECK_OK(vqr_hessian_add(hs16, &t));
  CHECK(vqr_hessian_token_count(h16) == T && vqr_hessian_token_count(hb16) == T &&
        vqr_hessian_token_count(hs) == T && vqr_hessian_token_count(hs16) == T);
  CHECK(h_equals(h32, h16));
  CHECK(h_equals(h32, hb16));
  CHECK(h_equals(h32, hs));
  CHECK(h_equals(h32, hs16));
done:
  vqr_hessian_free(h32);
  vqr_hessian_free(h16);
  vqr_hessian_free(hb16);
  vqr_hessian_free(hs);
  vqr_hessian_free(hs16);
}

static void test_merge(void) {
  enum { T1 = 6, T2 = 10 };
  float x[(T1 + T2) * N];
  vqr_hessian *a = NULL, *b = NULL, *all = NULL, *other = NULL, *f64 = NULL;
  vqr_tensor t;
  float before[N * N], after[N * N];
  int i;
  for (i = 0; i < (T1 + T2) * N; ++i) x[i] = rng_dyadic();
  if (!CHECK_OK(vqr_hessian_create(N, 0, &a)) || !CHECK_OK(vqr_hessian_create(N, 0, &b)) ||
      !CHECK_OK(vqr_hessian_create(N, 0, &all)) || !CHECK_OK(vqr_hessian_create(N + 1, 0, &other)) ||
      !CHECK_OK(vqr_hessian_create(N, VQR_HESSIAN_F64, &f64)))
    goto done;
  t = vqr_tensor_2d(x, VQR_DTYPE_F32, T1, N, 0);
  CHECK_OK(vqr_hessian_add(a, &t));
  t = vqr_tensor_2d(x + T1 * N, VQR_DTYPE_F32, T2, N, 0);
  CHECK_OK(vqr_hessian_add(b, &t));
  t = vqr_tensor_2d(x, VQR_DTYPE_F32, T1 + T2, N, 0);
  CHECK_OK(vqr_hessian_add(all, &t));

  CHECK(read_h(a, before));
  CHECK_FAIL(vqr_hessian_merge(a, other), VQR_ERR_INVALID_ARGUMENT); /* width */
  CHECK_FAIL(vqr_hessian_merge(a, f64), VQR_ERR_INVALID_ARGUMENT);   /* flags */
  CHECK_FAIL(vqr_hessian_merge(f64, a), VQR_ERR_INVALID_ARGUMENT);
  CHECK_FAIL(vqr_hessian_merge(a, a), VQR_ERR_INVALID_ARGUMENT);     /* src == dst */
  CHECK_FAIL(vqr_hessian_merge(a, NULL), VQR_ERR_INVALID_ARGUMENT);
  CHECK_FAIL(vqr_hessian_merge(NULL, a), VQR_ERR_INVALID_ARGUMENT);
  CHECK(vqr_hessian_token_count(a) == T1);
  CHECK(read_h(a, after) && memcmp(before, after, sizeof before) == 0);

  CHECK_OK(vqr_hessian_merge(a, b));
  CHECK(vqr_hessian_token_count(a) == T1 + T2);
  CHECK(vqr_hessian_token_count(b) == T2);
  CHECK(h_equals(a, all)); /* exact: dyadic inputs */
done:
  vqr_hessian_free(a);
  vqr_hessian_free(b);
  vqr_hessian_free(all);
  vqr_hessian_free(other);
  vqr_hessian_free(f64);
}

static void test_serialize_one(unsigned flags) {
  enum { T = 9, HEADER = 40 };
  const size_t elem = (flags & VQR_HESSIAN_F64) ? 8 : 4;
  const size_t expect_size = HEADER + (size_t)N * (N + 1) / 2 * elem + 4;
  float x[T * N];
  vqr_hessian *h = NULL, *back = NULL, *sentinel = (vqr_hessian *)&back;
  unsigned char *buf = NULL, *copy = NULL;
  size_t size = 0, written = 0;
  vqr_tensor t;
  int i;
  for (i = 0; i < T * N; ++i) x[i] = rng_dyadic();
  if (!CHECK_OK(vqr_hessian_create(N, flags, &h))) return;
  t = vqr_tensor_2d(x, VQR_DTYPE_F32, T, N, 0);
  CHECK_OK(vqr_hessian_add(h, &t));

  CHECK_FAIL(vqr_hessian_serialized_size(NULL, &size), VQR_ERR_INVALID_ARGUMENT);
  CHECK_FAIL(vqr_hessian_serialized_size(h, NULL), VQR_ERR_INVALID_ARGUMENT);
  if (!CHECK_OK(vqr_hessian_serialized_size(h, &size)) || !CHECK(size == expect_size)) {
    note("  serialized size %zu, expected %zu (flags %u)\n", size, expect_size, flags);
    goto done;
  }
  buf = (unsigned char *)malloc(size + 16);
  copy = (unsigned char *)malloc(size + 16);
  if (!CHECK(buf != NULL && copy != NULL)) goto done;

  /* Too small: BUFFER_TOO_SMALL, nothing written, *written untouched. */
  guard_fill(buf, size + 16);
  written = 777;
  CHECK_FAIL(vqr_hessian_serialize(h, buf, size - 1, &written), VQR_ERR_BUFFER_TOO_SMALL);
  CHECK_FAIL(vqr_hessian_serialize(h, buf, 0, &written), VQR_ERR_BUFFER_TOO_SMALL);
  CHECK(written == 777);
  CHECK(guard_intact(buf, size + 16));
  CHECK_FAIL(vqr_hessian_serialize(h, NULL, size, &written), VQR_ERR_INVALID_ARGUMENT);
  CHECK_FAIL(vqr_hessian_serialize(NULL, buf, size, &written), VQR_ERR_INVALID_ARGUMENT);

  /* Exact size, then a larger buffer: same bytes, nothing past `size`. */
  CHECK_OK(vqr_hessian_serialize(h, buf, size, &written));
  CHECK(written == size);
  CHECK(guard_intact(buf + size, 16));
  guard_fill(copy, size + 16);
  CHECK_OK(vqr_hessian_serialize(h, copy, size + 16, NULL));
  CHECK(memcmp(buf, copy, size) == 0);
  CHECK(guard_intact(copy + size, 16));

  /* The documented layout. */
  CHECK(memcmp(buf, "VQRH", 4) == 0);
  CHECK(load_le(buf + 4, 4) == 1);
  CHECK(load_le(buf + 8, 4) == flags);
  CHECK((int64_t)load_le(buf + 16, 8) == N);
  CHECK((int64_t)load_le(buf + 24, 8) == T);
  CHECK(load_le(buf + 32, 8) == (uint64_t)N * (N + 1) / 2 * elem);
  CHECK(load_le(buf + size - 4, 4) == crc32_ieee(buf, size - 4));
  {
    /* The first payload value is S[0][0] = sum_t x_t0^2, exact for dyadic inputs. */
    double s00 = 0.0, got;
    for (i = 0; i < T; ++i) s00 += (double)x[i * N] * x[i * N];
    if (elem == 4) {
      float f;
      memcpy(&f, buf + HEADER, 4); /* little-endian host assumed (x86-64, aarch64) */
      got = f;
    } else {
      memcpy(&got, buf + HEADER, 8);
    }
    CHECK(got == s00);
  }

  /* Round trip. */
  if (CHECK_OK(vqr_hessian_deserialize(buf, size, &back))) {
    CHECK(vqr_hessian_width(back) == N);
    CHECK(vqr_hessian_token_count(back) == T);
    CHECK(h_equals(h, back));
    /* The restored accumulator keeps accumulating like the original. */
    CHECK_OK(vqr_hessian_add(back, &t));
    CHECK_OK(vqr_hessian_add(h, &t));
    CHECK(h_equals(h, back));
    CHECK_OK(vqr_hessian_merge(back, h)); /* same flags restored */
  }
  vqr_hessian_free(back);

  /* Invalid arguments. */
  back = sentinel;
  CHECK_FAIL(vqr_hessian_deserialize(NULL, size, &back), VQR_ERR_INVALID_ARGUMENT);
  CHECK_FAIL(vqr_hessian_deserialize(buf, size, NULL), VQR_ERR_INVALID_ARGUMENT);
  /* Sizes: truncated, one byte extra, empty, header only. */
  CHECK_FAIL(vqr_hessian_deserialize(buf, size - 1, &back), VQR_ERR_CORRUPT);
  CHECK_FAIL(vqr_hessian_deserialize(buf, 3, &back), VQR_ERR_CORRUPT);
  CHECK_FAIL(vqr_hessian_deserialize(buf, HEADER, &back), VQR_ERR_CORRUPT);
  memcpy(copy, buf, size);
  copy[size] = 0;
  CHECK_FAIL(vqr_hessian_deserialize(copy, size + 1, &back), VQR_ERR_CORRUPT);
  /* Every single corrupted byte is caught (magic, version, flags, sizes, payload, CRC). */
  {
    size_t k;
    int caught = 1;
    for (k = 0; k < size; ++k) {
      vqr_status s;
      memcpy(copy, buf, size);
      copy[k] ^= 0x10u;
      s = vqr_hessian_deserialize(copy, size, &back);
      if (s != VQR_ERR_CORRUPT) {
        if (caught) note("  flipping byte %zu: status %d (%s)\n", k, (int)s, vqr_status_string(s));
        caught = 0;
        if (s == VQR_OK && back != sentinel) vqr_hessian_free(back);
        back = sentinel;
      }
    }
    CHECK(caught);
    CHECK(vqr_last_error()[0] != '\0');
  }
  /* A valid CRC over bad content: version 2, a reserved bit, n = 0, tokens < 0, NaN payload. */
  {
    struct {
      size_t offset;
      int bytes;
      uint64_t value;
    } edits[5];
    size_t e;
    edits[0].offset = 4, edits[0].bytes = 4, edits[0].value = 2;
    edits[1].offset = 8, edits[1].bytes = 4, edits[1].value = flags | 4u;
    edits[2].offset = 16, edits[2].bytes = 8, edits[2].value = 0;
    edits[3].offset = 24, edits[3].bytes = 8, edits[3].value = (uint64_t)(int64_t)-1;
    edits[4].offset = HEADER, edits[4].bytes = (int)elem, edits[4].value = 0;
    for (e = 0; e < 5; ++e) {
      int k;
      memcpy(copy, buf, size);
      if (e == 4) {
        if (elem == 4) {
          float nan = NAN;
          memcpy(copy + HEADER, &nan, 4);
        } else {
          double nan = NAN;
          memcpy(copy + HEADER, &nan, 8);
        }
      } else {
        for (k = 0; k < edits[e].bytes; ++k) copy[edits[e].offset + k] = (unsigned char)(edits[e].value >> (8 * k));
      }
      store_le32(copy + size - 4, crc32_ieee(copy, size - 4));
      /* A NaN with a valid checksum is a non-finite statistic (VQR_ERR_NONFINITE since 0.5.0). */
      if (!CHECK_FAIL(vqr_hessian_deserialize(copy, size, &back), e == 4 ? VQR_ERR_NONFINITE : VQR_ERR_CORRUPT))
        note("  re-checksummed edit %zu was accepted (flags %u)\n", e, flags);
    }
  }
  CHECK(back == sentinel);
done:
  free(buf);
  free(copy);
  vqr_hessian_free(h);
}

int main(void) {
  test_create();
  test_add_read(0);
  test_add_read(VQR_HESSIAN_F64);
  test_add_rejects();
  test_dtypes_and_strides();
  test_merge();
  test_serialize_one(0);
  test_serialize_one(VQR_HESSIAN_F64);
  CHECK_DONE();
}
