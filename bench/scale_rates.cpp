// The machine's dense-kernel rates for the scale benchmark (scale_rates.h).
#include "scale_rates.h"

#include <cblas.h>

#include <algorithm>
#include <vector>

#include "bench_common.h"

namespace vqrbench {

namespace {

void fill(std::vector<float> &v, uint64_t seed) {
  Rng rng(seed);
  for (float &x : v) x = rng.normal();
}

// out = x w^T: x T x C, w H x C, out T x H.
void sgemm(float *out, const float *x, const float *w, int64_t T, int64_t C, int64_t H) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(T), static_cast<int>(H), static_cast<int>(C),
              1.0f, x, static_cast<int>(C), w, static_cast<int>(C), 0.0f, out, static_cast<int>(H));
}

}  // namespace

KernelRates measure_rates(int64_t tokens, int64_t C, int64_t H) {
  KernelRates r;
  const int64_t B = 128;
  std::vector<float> x(static_cast<size_t>(tokens * C)), w(static_cast<size_t>(H * C)), out(static_cast<size_t>(tokens * H));
  fill(x, 1);
  fill(w, 2);
  sgemm(out.data(), x.data(), w.data(), 64, C, 64);  // warm-up: thread pool started, pages touched
  double t0 = now_seconds();
  sgemm(out.data(), x.data(), w.data(), tokens, C, H);
  r.sgemm = 2.0 * static_cast<double>(tokens) * static_cast<double>(C) * static_cast<double>(H) / (now_seconds() - t0);

  std::vector<float> s(static_cast<size_t>(C * C), 0.0f);
  ref_ssyrk(s.data(), x.data(), C, 64);
  std::fill(s.begin(), s.end(), 0.0f);
  t0 = now_seconds();
  ref_ssyrk(s.data(), x.data(), C, tokens);
  r.ssyrk = static_cast<double>(tokens) * static_cast<double>(C) * static_cast<double>(C) / (now_seconds() - t0);

  // SPD: the Gram matrix plus its mean diagonal (the ridge keeps it well conditioned with T < C).
  double mean_diag = 0;
  for (int64_t i = 0; i < C; ++i) mean_diag += s[static_cast<size_t>(i * C + i)];
  for (int64_t i = 0; i < C; ++i) s[static_cast<size_t>(i * C + i)] += static_cast<float>(mean_diag / C) + 1.0f;
  t0 = now_seconds();
  ref_spotrf(s.data(), C);
  r.spotrf = static_cast<double>(C) * static_cast<double>(C) * static_cast<double>(C) / 3.0 / (now_seconds() - t0);

  std::vector<float> err(static_cast<size_t>(C * B));
  fill(err, 3);
  t0 = now_seconds();
  ref_cross_block_gemms(w.data(), err.data(), s.data(), C, C, B);
  r.cross_gemm = cross_block_gemm_flops(C, C, B) / (now_seconds() - t0);
  return r;
}

KernelRates mean_rates(const KernelRates &a, const KernelRates &b) {
  return {(a.sgemm + b.sgemm) / 2, (a.ssyrk + b.ssyrk) / 2, (a.spotrf + b.spotrf) / 2,
          (a.cross_gemm + b.cross_gemm) / 2};
}

}  // namespace vqrbench
