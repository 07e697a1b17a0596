// Learned rounding (issue 4 targets): the cost of one VQRound training step on a 4096 x 4096 layer
// against one 4096^3 SGEMM timed in the same iteration (target <= 1.3x: a step is one m x n x n
// product plus fused O(m n) passes), and k-means on the layer's 2M eight-dimensional latent
// vectors with K = 4096 (faiss's cap trains on 256 K = 1M sampled points).
//
// A step is isolated through the public API as the difference of two runs that differ only in
// their step count (setup, k-means and the final hardening cancel).
#include <benchmark/benchmark.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <cblas.h>

#include "bench_common.h"

namespace vqrbench {
namespace {

struct LearnLayer {
  int64_t m = 0, n = 0;
  std::vector<float> w;
  vqr_hessian *h = nullptr;
  std::string error;
  ~LearnLayer() { vqr_hessian_free(h); }
};

LearnLayer &learn_layer(int64_t m, int64_t n) {
  static std::map<std::pair<int64_t, int64_t>, std::unique_ptr<LearnLayer>> cache;
  auto &slot = cache[{m, n}];
  if (slot) return *slot;
  slot = std::make_unique<LearnLayer>();
  LearnLayer &l = *slot;
  l.m = m;
  l.n = n;
  l.w.resize(static_cast<size_t>(m * n));
  fill_weights(l.w.data(), m, n, 42);
  vqr_status st = vqr_hessian_create(n, 0, &l.h);
  if (st == VQR_OK) st = add_generated_tokens(l.h, n, (n + 1024 + 1023) / 1024 * 1024, 99);
  if (st != VQR_OK) l.error = std::string("fixture Hessian: ") + vqr_status_string(st) + ": " + vqr_last_error();
  return l;
}

// Seconds of one vqr_quantize_layer call of VQRound with `steps` steps and `kmeans_iters`
// iterations; the report's k-means time in *kmeans_s. Negative on error.
double vqround_seconds(LearnLayer &l, int64_t steps, int64_t kmeans_iters, double *kmeans_s) {
  vqr_config *c = nullptr;
  if (vqr_config_create(&c) != VQR_OK) return -1;
  vqr_config_set_int(c, VQR_PARAM_METHOD, VQR_METHOD_VQROUND);
  vqr_config_set_int(c, VQR_PARAM_BITS, 3);
  vqr_config_set_int(c, VQR_PARAM_STEPS, steps);
  vqr_config_set_int(c, VQR_PARAM_KMEANS_ITERS, kmeans_iters);
  vqr_config_set_int(c, VQR_PARAM_CODEBOOK_SIZE, 4096);
  const vqr_tensor wt = vqr_tensor_2d(l.w.data(), VQR_DTYPE_F32, l.m, l.n, 0);
  vqr_result *r = nullptr;
  const double t0 = now_seconds();
  const vqr_status st = vqr_quantize_layer(nullptr, c, &wt, l.h, &r);
  const double t = now_seconds() - t0;
  vqr_config_free(c);
  if (st != VQR_OK) return -1;
  vqr_report rep;
  rep.struct_size = sizeof rep;
  vqr_result_report(r, &rep);
  if (kmeans_s) *kmeans_s = rep.kmeans_seconds;
  vqr_result_free(r);
  return t;
}

// Args: m, n. Counters: step_s (per training step), sgemm_s (one m x n x n SGEMM), ratio.
void BM_VqRoundStep(benchmark::State &state) {
  const int64_t m = state.range(0), n = state.range(1), extra = 6;
  LearnLayer &l = learn_layer(m, n);
  if (!l.error.empty()) {
    state.SkipWithError(l.error.c_str());
    return;
  }
  std::vector<float> a(static_cast<size_t>(m * n), 0.01f), b(static_cast<size_t>(n * n), 0.02f),
      c(static_cast<size_t>(m * n));
  double step_total = 0, gemm_total = 0;
  for (auto _ : state) {
    const double t_short = vqround_seconds(l, 1, 1, nullptr), t_long = vqround_seconds(l, 1 + extra, 1, nullptr);
    if (t_short < 0 || t_long < 0) {
      state.SkipWithError(vqr_last_error());
      return;
    }
    const double t0 = now_seconds();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)n, (int)n, 1.0f, a.data(), (int)n, b.data(),
                (int)n, 0.0f, c.data(), (int)n);
    const double t_gemm = now_seconds() - t0;
    const double step = (t_long - t_short) / (double)extra;
    state.SetIterationTime(step);
    step_total += step;
    gemm_total += t_gemm;
  }
  const double iters = (double)state.iterations();
  state.counters["step_s"] = step_total / iters;
  state.counters["sgemm_s"] = gemm_total / iters;
  state.counters["ratio"] = step_total / gemm_total;
}
BENCHMARK(BM_VqRoundStep)
    ->ArgNames({"m", "n"})
    ->Args({4096, 4096})
    ->UseManualTime()
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

// Args: m, n, iters. Counters: kmeans_s (the report's k-means time), per_iter_s, vectors.
void BM_KMeans(benchmark::State &state) {
  const int64_t m = state.range(0), n = state.range(1), iters = state.range(2);
  LearnLayer &l = learn_layer(m, n);
  if (!l.error.empty()) {
    state.SkipWithError(l.error.c_str());
    return;
  }
  double km_total = 0;
  for (auto _ : state) {
    double km = 0;
    if (vqround_seconds(l, 0, iters, &km) < 0) {
      state.SkipWithError(vqr_last_error());
      return;
    }
    state.SetIterationTime(km);
    km_total += km;
  }
  const double runs = (double)state.iterations();
  state.counters["kmeans_s"] = km_total / runs;
  state.counters["per_iter_s"] = km_total / runs / (double)iters;
  state.counters["vectors"] = (double)(m * n / 8);
}
BENCHMARK(BM_KMeans)
    ->ArgNames({"m", "n", "iters"})
    ->Args({4096, 4096, 5})
    ->UseManualTime()
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace vqrbench
