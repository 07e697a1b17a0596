/*
 * check.h — the tiny assertion framework and helpers shared by the plain C11 tests of the C API.
 * A failing check prints file:line and the failing expression, counts the failure and goes on;
 * CHECK_DONE() ends the program with a non-zero status if anything failed. Only the C standard
 * library and <vqround/vqround.h> are used, as a C program embedding libvqround would.
 */
#ifndef VQR_TESTS_CAPI_CHECK_H
#define VQR_TESTS_CAPI_CHECK_H

#include <vqround/vqround.h>

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* CAPI_ASAN: 1 under AddressSanitizer (GCC's __SANITIZE_ADDRESS__, clang's __has_feature). */
#if defined(__SANITIZE_ADDRESS__)
#define CAPI_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CAPI_ASAN 1
#endif
#endif
#ifndef CAPI_ASAN
#define CAPI_ASAN 0
#endif

static int g_checks = 0;
static int g_failures = 0;

/* Every line the tests print goes to stdout and starts with "capi| ". The library itself must
 * never write to stdout or stderr; run_capi_test.cmake fails the test on any other output. */
static inline void note(const char *format, ...) {
  va_list args;
  fputs("capi| ", stdout);
  va_start(args, format);
  vfprintf(stdout, format, args);
  va_end(args);
  fflush(stdout);
}

static inline int check_report(int ok, const char *file, int line, const char *expr) {
  ++g_checks;
  if (!ok) {
    ++g_failures;
    note("%s:%d: CHECK failed: %s\n", file, line, expr);
  }
  return ok;
}

/* CHECK(expr): expr must be true. Evaluates to expr's truth so callers can skip follow-ups. */
#define CHECK(expr) check_report((expr) ? 1 : 0, __FILE__, __LINE__, #expr)

static inline int check_status_report(vqr_status got, vqr_status want, int want_message, const char *file,
                               int line, const char *expr) {
  int ok = got == want;
  const char *msg = vqr_last_error();
  if (ok && want != VQR_OK && want_message && (msg == NULL || msg[0] == '\0')) {
    ++g_checks;
    ++g_failures;
    note("%s:%d: %s failed with %d (%s) as expected but vqr_last_error() is empty\n", file,
            line, expr, (int)got, vqr_status_string(got));
    return 0;
  }
  ++g_checks;
  if (!ok) {
    ++g_failures;
    note("%s:%d: %s returned %d (%s), expected %d (%s); vqr_last_error(): \"%s\"\n", file,
            line, expr, (int)got, vqr_status_string(got), (int)want, vqr_status_string(want),
            msg ? msg : "(NULL)");
  }
  return ok;
}

/* CHECK_OK(call): the call returns VQR_OK. */
#define CHECK_OK(call) check_status_report((call), VQR_OK, 0, __FILE__, __LINE__, #call)
/* CHECK_FAIL(call, status): the call returns `status` and vqr_last_error() is non-empty. */
#define CHECK_FAIL(call, status) check_status_report((call), (status), 1, __FILE__, __LINE__, #call)

/* Ends main(): summary line, exit status 1 on any failure. */
#define CHECK_DONE()                                                                       \
  do {                                                                                     \
    note("%s: %d checks, %d failed\n", __FILE__, g_checks, g_failures);        \
    return g_failures == 0 ? EXIT_SUCCESS : EXIT_FAILURE;                                  \
  } while (0)

/* ------------------------------------------------------------------------------------------ */
/* Independent float <-> half / bfloat16 converters (round to nearest even), for building       */
/* inputs and checking the library's f16/bf16 outputs.                                        */
/* ------------------------------------------------------------------------------------------ */

static inline uint32_t f32_bits(float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  return u;
}

static inline float f32_from_bits(uint32_t u) {
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

static inline uint16_t f32_to_bf16(float f) {
  uint32_t u = f32_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u); /* quiet NaN */
  u += 0x7fffu + ((u >> 16) & 1u);
  return (uint16_t)(u >> 16);
}

static inline float bf16_to_f32(uint16_t h) { return f32_from_bits((uint32_t)h << 16); }

static inline uint16_t f32_to_f16(float f) {
  uint32_t u = f32_bits(f);
  uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
  uint32_t a = u & 0x7fffffffu;
  if (a > 0x7f800000u) return (uint16_t)(sign | 0x7e00u); /* NaN */
  if (a >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); /* rounds to >= 65520: Inf */
  if (a < 0x38800000u) {                                  /* below 2^-14: subnormal or zero */
    /* value = a_float; half subnormal unit is 2^-24. */
    float af = f32_from_bits(a);
    float scaled = af * 16777216.0f; /* exact: multiply by 2^24 */
    /* round half to even on the integer scaled value */
    float r = (float)nearbyint(scaled);
    return (uint16_t)(sign | (uint16_t)r);
  }
  {
    uint32_t exp = (a >> 23) - 127 + 15;
    uint32_t mant = a & 0x7fffffu;
    uint32_t h = (exp << 10) | (mant >> 13);
    uint32_t rest = mant & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h; /* may carry into the exponent */
    return (uint16_t)(sign | h);
  }
}

static inline float f16_to_f32(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;
  if (exp == 0) {
    float v = (float)mant / 16777216.0f; /* mant * 2^-24 */
    return (sign ? -v : v);
  }
  if (exp == 31) return f32_from_bits(sign | 0x7f800000u | (mant << 13));
  return f32_from_bits(sign | ((exp - 15 + 127) << 23) | (mant << 13));
}

/* ------------------------------------------------------------------------------------------ */
/* Deterministic data                                                                           */
/* ------------------------------------------------------------------------------------------ */

static uint64_t g_rng = 0x9e3779b97f4a7c15ull;

static inline uint32_t rng_u32(void) {
  g_rng = g_rng * 6364136223846793005ull + 1442695040888963407ull;
  return (uint32_t)(g_rng >> 33);
}

/* Uniform in [-1, 1). */
static inline float rng_float(void) { return (float)rng_u32() / 1073741824.0f - 1.0f; }

/* A dyadic value k/8 with k in [-16, 16]: exact in f32, f16 and bf16, and small sums of products
 * of such values are exact in fp32, so results do not depend on summation order. */
static inline float rng_dyadic(void) { return (float)((int)(rng_u32() % 33u) - 16) / 8.0f; }

/* Fills `count` bytes at p with a recognizable pattern and checks it later. */
static inline void guard_fill(void *p, size_t count) { memset(p, 0xA5, count); }

static inline int guard_intact(const void *p, size_t count) {
  const unsigned char *b = (const unsigned char *)p;
  size_t i;
  for (i = 0; i < count; ++i)
    if (b[i] != 0xA5) return 0;
  return 1;
}

#endif /* VQR_TESTS_CAPI_CHECK_H */
