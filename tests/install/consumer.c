/*
 * consumer.c: a program outside the project, built against an installed libvqround (through
 * pkg-config, and through find_package in consumer/CMakeLists.txt) to prove the installed header
 * and library work together. It checks that the library is the release the header describes,
 * then quantizes one small layer with RTN through the stable C API. Prints "consumer: ok".
 */
#include <stdio.h>
#include <string.h>
#include <vqround/vqround.h>

#define M 4 /* rows (out_features) */
#define N 8 /* cols (in_features) */

static int fail(const char *what, vqr_status st) {
  fprintf(stderr, "consumer: %s: %s (%s)\n", what, vqr_status_string(st), vqr_last_error());
  return 1;
}

int main(void) {
  /* A header from one release and a library from another would pass the link and fail later. */
  if (strcmp(vqr_version_string(), VQR_VERSION_STRING) != 0 || vqr_version_number() != VQR_VERSION_NUMBER) {
    fprintf(stderr, "consumer: library %s (%u), header %s (%d)\n", vqr_version_string(),
            vqr_version_number(), VQR_VERSION_STRING, VQR_VERSION_NUMBER);
    return 1;
  }

  float w[M * N]; /* M x N weights, distinct values in each row */
  for (int i = 0; i < M * N; i++) w[i] = (float)((i * 37) % 23 - 11) / 8.0f;
  vqr_tensor wt = vqr_tensor_2d(w, VQR_DTYPE_F32, M, N, 0);

  vqr_config *cfg = NULL;
  vqr_result *res = NULL;
  vqr_status st;
  if ((st = vqr_config_create(&cfg)) != VQR_OK) return fail("vqr_config_create", st);
  if ((st = vqr_config_set_int(cfg, VQR_PARAM_METHOD, VQR_METHOD_RTN)) != VQR_OK ||
      (st = vqr_config_set_int(cfg, VQR_PARAM_BITS, 4)) != VQR_OK) {
    vqr_config_free(cfg);
    return fail("vqr_config_set_int", st);
  }
  /* RTN needs no Hessian; NULL context = defaults. */
  st = vqr_quantize_layer(NULL, cfg, &wt, NULL, &res);
  vqr_config_free(cfg);
  if (st != VQR_OK) return fail("vqr_quantize_layer", st);

  /* One group per row (the default group size -1): every weight lies within half a step of its
   * dequantized value, and every code fits in 4 bits. */
  int64_t rows = 0, cols = 0, groups = 0;
  int bits = 0;
  float q[M * N];
  int bad = vqr_result_shape(res, &rows, &cols, &groups, &bits) != VQR_OK || rows != M || cols != N ||
            groups != 1 || bits != 4 || vqr_result_dequantize(res, VQR_DTYPE_F32, q, 0) != VQR_OK;
  const uint8_t *codes = vqr_result_codes(res);
  const float *scales = vqr_result_scales(res);
  for (int r = 0; r < M && !bad; r++)
    for (int j = 0; j < N; j++) {
      float err = q[r * N + j] - w[r * N + j];
      if (err < 0) err = -err; /* not fabsf: the pkg-config line links no libm */
      if (codes[r * N + j] > 15 || err > 0.5f * scales[r] + 1e-5f) {
        fprintf(stderr, "consumer: entry (%d, %d): code %d, %g -> %g, scale %g\n", r, j, codes[r * N + j],
                w[r * N + j], q[r * N + j], scales[r]);
        bad = 1;
        break;
      }
    }
  vqr_result_free(res);
  if (bad) {
    fprintf(stderr, "consumer: the RTN result is not what 4-bit RTN per row gives\n");
    return 1;
  }
  printf("consumer: ok (libvqround %s)\n", vqr_version_string());
  return 0;
}
