// Learned rounding (issue 4 targets): the cost of one VQRound training step on a 4096 x 4096 layer
// against one 4096^3 SGEMM timed in the same iteration (target <= 1.3x: a step is one m x n x n
// product plus fused O(m n) passes), and k-means on the layer's 2M eight-dimensional latent
// vectors with K = 4096 (faiss's cap trains on 256 K = 1M sampled points).
//
// A step is timed through the public API from the progress callback, which reports the steps
// done and the elapsed time after every step (setup, k-means and hardening stay outside).
#include <benchmark/benchmark.h>

#include <map>
#include <memory>
#include <string>
#include <utility>
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

// Progress samples of the "vqround" training stage: (steps done, seconds since the call began).
struct StepClock {
  std::vector<std::pair<int64_t, double>> samples;
};

int record_step(void *user, const vqr_progress *p) {
  if (std::string(p->stage) == "vqround" && p->done > 0)
    static_cast<StepClock *>(user)->samples.emplace_back(p->done, p->elapsed_seconds);
  return 0;
}

// One vqr_quantize_layer call of VQRound (3 bits, K 4096) with `steps` steps and `kmeans_iters`
// k-means iterations. Returns the report's k-means seconds, or -1 on error; `clock` (may be
// NULL) receives the training stage's progress samples.
double run_vqround(LearnLayer &l, int64_t steps, int64_t kmeans_iters, StepClock *clock) {
  vqr_config *c = nullptr;
  vqr_context *ctx = nullptr;
  if (vqr_config_create(&c) != VQR_OK || vqr_context_create(&ctx) != VQR_OK) return -1;
  vqr_config_set_int(c, VQR_PARAM_METHOD, VQR_METHOD_VQROUND);
  vqr_config_set_int(c, VQR_PARAM_BITS, 3);
  vqr_config_set_int(c, VQR_PARAM_STEPS, steps);
  vqr_config_set_int(c, VQR_PARAM_KMEANS_ITERS, kmeans_iters);
  vqr_config_set_int(c, VQR_PARAM_CODEBOOK_SIZE, 4096);
  // The step alone: keep-best adds a hard evaluation (one more GEMM) at every step of a run
  // shorter than 20 steps (in a real run, 20 evaluations in all).
  vqr_config_set_int(c, VQR_PARAM_KEEP_BEST, 0);
  if (clock) vqr_context_set_progress(ctx, record_step, clock);
  const vqr_tensor wt = vqr_tensor_2d(l.w.data(), VQR_DTYPE_F32, l.m, l.n, 0);
  vqr_result *r = nullptr;
  const vqr_status st = vqr_quantize_layer(ctx, c, &wt, l.h, &r);
  vqr_config_free(c);
  vqr_context_free(ctx);
  if (st != VQR_OK) return -1;
  vqr_report rep;
  rep.struct_size = sizeof rep;
  vqr_result_report(r, &rep);
  vqr_result_free(r);
  return rep.kmeans_seconds;
}

// Args: m, n. A step's time is read from the progress callback (steps done vs elapsed time),
// which fires after every step this long. Counters: step_s, sgemm_s (one m x n x n SGEMM timed
// right after the call), ratio.
void BM_VqRoundStep(benchmark::State &state) {
  const int64_t m = state.range(0), n = state.range(1), steps = 8;
  LearnLayer &l = learn_layer(m, n);
  if (!l.error.empty()) {
    state.SkipWithError(l.error.c_str());
    return;
  }
  std::vector<float> a(static_cast<size_t>(m * n), 0.01f), b(static_cast<size_t>(n * n), 0.02f),
      c(static_cast<size_t>(m * n));
  double step_total = 0, gemm_total = 0;
  for (auto _ : state) {
    StepClock clock;
    if (run_vqround(l, steps, 1, &clock) < 0 || clock.samples.size() < 2) {
      state.SkipWithError(clock.samples.size() < 2 ? "too few progress samples" : vqr_last_error());
      return;
    }
    const auto &first = clock.samples.front(), &last = clock.samples.back();
    const double step = (last.second - first.second) / (double)(last.first - first.first);
    const double t0 = now_seconds();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)n, (int)n, 1.0f, a.data(), (int)n, b.data(),
                (int)n, 0.0f, c.data(), (int)n);
    const double t_gemm = now_seconds() - t0;
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
    const double km = run_vqround(l, 0, iters, nullptr);
    if (km < 0) {
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
