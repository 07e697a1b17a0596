// Learned rounding (issue 4 targets): the cost of one VQRound training step on a 4096 x 4096 layer
// against one 4096^3 SGEMM timed in the same iteration (target <= 1.3x: a step is one m x n x n
// product plus fused O(m n) passes). VQRound's setup (issue 17): k-means on a layer's L = m n / 8
// eight-dimensional latent vectors with K = 4096, per Lloyd iteration and for the final assignment,
// against the same SGEMM ceiling, and with the library's defaults against GPTQ on the same layer
// (target: setup <= 2x GPTQ); and what fewer iterations or a smaller sample cost in quality.
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

// Settings of one VQRound call; -1 leaves the library's default.
struct VqSettings {
  int64_t steps = 0;
  int64_t kmeans_iters = -1;
  int64_t kmeans_sample = -1;
  double kmeans_tol = -1;
};

// What one VQRound call reports about its setup.
struct VqOutcome {
  double kmeans_seconds = -1;  // the report's; -1 on error
  double inertia = 0;          // mean squared distance of all L vectors to their codeword (the
                               // last "kmeans" progress report)
  double flip_rate = 0, init_proxy = 0, proxy = 0;
};

// Progress of one call: the training stage's samples (steps done, seconds since the call began)
// when `steps` is set, and the loss of the last "kmeans" report.
struct StepClock {
  std::vector<std::pair<int64_t, double>> samples;
  double kmeans_loss = 0;
};

int record_step(void *user, const vqr_progress *p) {
  StepClock &clock = *static_cast<StepClock *>(user);
  const std::string stage = p->stage;
  if (stage == "vqround" && p->done > 0) clock.samples.emplace_back(p->done, p->elapsed_seconds);
  if (stage == "kmeans") clock.kmeans_loss = p->loss;
  return 0;
}

// One vqr_quantize_layer call of VQRound (3 bits, K 4096, per-channel); `clock` (may be NULL)
// receives the progress. kmeans_seconds < 0 on error.
VqOutcome run_vqround(LearnLayer &l, const VqSettings &v, StepClock *clock) {
  VqOutcome out;
  StepClock local;
  if (!clock) clock = &local;
  vqr_config *c = nullptr;
  vqr_context *ctx = nullptr;
  if (vqr_config_create(&c) != VQR_OK || vqr_context_create(&ctx) != VQR_OK) return out;
  vqr_config_set_int(c, VQR_PARAM_METHOD, VQR_METHOD_VQROUND);
  vqr_config_set_int(c, VQR_PARAM_BITS, 3);
  vqr_config_set_int(c, VQR_PARAM_STEPS, v.steps);
  if (v.kmeans_iters >= 0) vqr_config_set_int(c, VQR_PARAM_KMEANS_ITERS, v.kmeans_iters);
  if (v.kmeans_sample >= 0) vqr_config_set_int(c, VQR_PARAM_KMEANS_SAMPLE, v.kmeans_sample);
  if (v.kmeans_tol >= 0) vqr_config_set_float(c, VQR_PARAM_KMEANS_TOL, v.kmeans_tol);
  vqr_config_set_int(c, VQR_PARAM_CODEBOOK_SIZE, 4096);
  // The step alone: keep-best adds a hard evaluation (one more GEMM) at every step of a run
  // shorter than 20 steps (in a real run, 20 evaluations in all).
  vqr_config_set_int(c, VQR_PARAM_KEEP_BEST, 0);
  vqr_context_set_progress(ctx, record_step, clock);
  const vqr_tensor wt = vqr_tensor_2d(l.w.data(), VQR_DTYPE_F32, l.m, l.n, 0);
  vqr_result *r = nullptr;
  const vqr_status st = vqr_quantize_layer(ctx, c, &wt, l.h, &r);
  vqr_config_free(c);
  vqr_context_free(ctx);
  if (st != VQR_OK) return out;
  vqr_report rep;
  rep.struct_size = sizeof rep;
  vqr_result_report(r, &rep);
  vqr_result_free(r);
  out.kmeans_seconds = rep.kmeans_seconds;
  out.inertia = clock->kmeans_loss;
  out.flip_rate = rep.sign_flip_rate;
  out.init_proxy = rep.init_proxy_loss;
  out.proxy = rep.proxy_loss;
  return out;
}

// Seconds of one m x n x n SGEMM (the ceiling's shape for a VQRound step) on scratch of that size.
double time_sgemm(int64_t m, int64_t n) {
  std::vector<float> a(static_cast<size_t>(m * n), 0.01f), b(static_cast<size_t>(n * n), 0.02f),
      c(static_cast<size_t>(m * n));
  const double t0 = now_seconds();
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)n, (int)n, 1.0f, a.data(), (int)n, b.data(),
              (int)n, 0.0f, c.data(), (int)n);
  return now_seconds() - t0;
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
  double step_total = 0, gemm_total = 0;
  VqSettings v;
  v.steps = steps;
  v.kmeans_iters = 1;
  for (auto _ : state) {
    StepClock clock;
    if (run_vqround(l, v, &clock).kmeans_seconds < 0 || clock.samples.size() < 2) {
      state.SkipWithError(clock.samples.size() < 2 ? "too few progress samples" : vqr_last_error());
      return;
    }
    const auto &first = clock.samples.front(), &last = clock.samples.back();
    const double step = (last.second - first.second) / (double)(last.first - first.first);
    const double t_gemm = time_sgemm(m, n);
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

constexpr double kCodebook = 4096, kDim = 8;

// Args: m, n, iters, sample (KMEANS_SAMPLE). Two calls per iteration, tol 0: iters = 0 (the seeds
// and the final assignment of all L vectors) and `iters` Lloyd iterations; one 4096^3 SGEMM after
// them. Counters: assign_s, per_iter_s = (second - first) / iters, and each as GFLOP/s of the
// 2 K D flops per vector the distance expansion does (assign_GFLOPs, iter_GFLOPs; an iteration
// assigns min(L, sample K) training points), sgemm_GFLOPs, and the two ratios to it.
void BM_KMeans(benchmark::State &state) {
  const int64_t m = state.range(0), n = state.range(1), iters = state.range(2), sample = state.range(3);
  LearnLayer &l = learn_layer(m, n);
  if (!l.error.empty()) {
    state.SkipWithError(l.error.c_str());
    return;
  }
  const double vectors = (double)(m * n / 8), train = std::min(vectors, (double)sample * kCodebook);
  double assign_total = 0, iter_total = 0, gemm_total = 0;
  for (auto _ : state) {
    VqSettings v;
    v.kmeans_iters = 0;
    v.kmeans_sample = sample;
    v.kmeans_tol = 0;
    const VqOutcome a = run_vqround(l, v, nullptr);
    v.kmeans_iters = iters;
    const VqOutcome b = run_vqround(l, v, nullptr);
    if (a.kmeans_seconds < 0 || b.kmeans_seconds < 0) {
      state.SkipWithError(vqr_last_error());
      return;
    }
    state.SetIterationTime(b.kmeans_seconds);
    assign_total += a.kmeans_seconds;
    iter_total += (b.kmeans_seconds - a.kmeans_seconds) / (double)iters;
    gemm_total += time_sgemm(4096, 4096);
  }
  const double runs = (double)state.iterations(), flops_per_vector = 2 * kCodebook * kDim;
  const double assign_gf = vectors * flops_per_vector / (assign_total / runs) * 1e-9;
  const double iter_gf = train * flops_per_vector / (iter_total / runs) * 1e-9;
  const double gemm_gf = 2.0 * 4096.0 * 4096.0 * 4096.0 / (gemm_total / runs) * 1e-9;
  state.counters["assign_s"] = assign_total / runs;
  state.counters["per_iter_s"] = iter_total / runs;
  state.counters["assign_GFLOPs"] = assign_gf;
  state.counters["iter_GFLOPs"] = iter_gf;
  state.counters["sgemm_GFLOPs"] = gemm_gf;
  state.counters["assign_vs_sgemm"] = assign_gf / gemm_gf;
  state.counters["iter_vs_sgemm"] = iter_gf / gemm_gf;
  state.counters["vectors"] = vectors;
  state.counters["train"] = train;
}
BENCHMARK(BM_KMeans)
    ->ArgNames({"m", "n", "iters", "sample"})
    ->Args({4096, 4096, 5, 256})
    ->Args({4096, 14336, 5, 256})
    ->UseManualTime()
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

// GPTQ at W3 g128 (the library's other defaults) on the layer: seconds of one call.
double gptq_seconds(LearnLayer &l) {
  vqr_config *c = nullptr;
  if (vqr_config_create(&c) != VQR_OK) return -1;
  vqr_config_set_int(c, VQR_PARAM_METHOD, VQR_METHOD_GPTQ);
  vqr_config_set_int(c, VQR_PARAM_BITS, 3);
  vqr_config_set_int(c, VQR_PARAM_GROUP_SIZE, 128);
  const vqr_tensor wt = vqr_tensor_2d(l.w.data(), VQR_DTYPE_F32, l.m, l.n, 0);
  vqr_result *r = nullptr;
  const double t0 = now_seconds();
  const vqr_status st = vqr_quantize_layer(shared_context(), c, &wt, l.h, &r);
  const double t = now_seconds() - t0;
  vqr_config_free(c);
  vqr_result_free(r);
  return st == VQR_OK ? t : -1;
}

// Args: m, n. VQRound's setup with the library's k-means defaults (steps 0: k-means and the final
// assignment, the report's kmeans_seconds) against GPTQ W3 g128 on the same layer, timed
// alternately. Counters: setup_s, gptq_s, setup_vs_gptq (target <= 2), inertia, flip_rate.
void BM_VqRoundSetup(benchmark::State &state) {
  const int64_t m = state.range(0), n = state.range(1);
  LearnLayer &l = learn_layer(m, n);
  if (!l.error.empty()) {
    state.SkipWithError(l.error.c_str());
    return;
  }
  double setup_total = 0, gptq_total = 0;
  VqOutcome last;
  for (auto _ : state) {
    last = run_vqround(l, VqSettings{}, nullptr);
    const double g = gptq_seconds(l);
    if (last.kmeans_seconds < 0 || g < 0) {
      state.SkipWithError(vqr_last_error());
      return;
    }
    state.SetIterationTime(last.kmeans_seconds);
    setup_total += last.kmeans_seconds;
    gptq_total += g;
  }
  state.counters["setup_s"] = setup_total / (double)state.iterations();
  state.counters["gptq_s"] = gptq_total / (double)state.iterations();
  state.counters["setup_vs_gptq"] = setup_total / gptq_total;
  state.counters["inertia"] = last.inertia;
  state.counters["flip_rate"] = last.flip_rate;
}
BENCHMARK(BM_VqRoundSetup)
    ->ArgNames({"m", "n"})
    ->Args({4096, 4096})
    ->Args({14336, 4096})
    ->Args({4096, 14336})
    ->UseManualTime()
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

// Args: m, n, iters, sample, tol in millionths, steps. What the k-means settings give up: the
// final inertia over all L vectors, the sign-flip rate, the hard proxy loss of the initialization
// and (steps > 0) after VQRound training. Reported time: the setup. Counters: setup_s, inertia,
// flip_rate, init_proxy, proxy.
void BM_VqRoundInitQuality(benchmark::State &state) {
  const int64_t m = state.range(0), n = state.range(1);
  LearnLayer &l = learn_layer(m, n);
  if (!l.error.empty()) {
    state.SkipWithError(l.error.c_str());
    return;
  }
  VqSettings v;
  v.kmeans_iters = state.range(2);
  v.kmeans_sample = state.range(3);
  v.kmeans_tol = (double)state.range(4) * 1e-6;
  v.steps = state.range(5);
  VqOutcome o;
  for (auto _ : state) {
    o = run_vqround(l, v, nullptr);
    if (o.kmeans_seconds < 0) {
      state.SkipWithError(vqr_last_error());
      return;
    }
    state.SetIterationTime(o.kmeans_seconds);
  }
  state.counters["setup_s"] = o.kmeans_seconds;
  state.counters["inertia"] = o.inertia;
  state.counters["flip_rate"] = o.flip_rate;
  state.counters["init_proxy"] = o.init_proxy;
  state.counters["proxy"] = o.proxy;
}
BENCHMARK(BM_VqRoundInitQuality)
    ->ArgNames({"m", "n", "iters", "sample", "tol_ppm", "steps"})
    ->UseManualTime()
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond)
    ->Apply([](benchmark::internal::Benchmark *b) {
      // 4096 x 4096 (L / K = 512): the reference's settings capped at 100 iterations, then fewer
      // iterations and smaller samples, with tol 1e-3; steps 0 (init only).
      for (const auto &a : std::vector<std::vector<int64_t>>{{100, 256, 0}, {50, 256, 1000}, {25, 256, 1000},
                                                              {25, 64, 1000}, {10, 64, 1000}, {3, 64, 1000},
                                                              {25, 32, 1000}, {10, 32, 1000}, {5, 32, 1000},
                                                              {10, 16, 1000}, {5, 16, 1000}, {0, 32, 0}})
        b->Args({4096, 4096, a[0], a[1], a[2], 0});
      // 1024 x 4096 (L / K = 128) with 300 training steps: the proxy after training.
      for (const auto &a : std::vector<std::vector<int64_t>>{{100, 256, 0}, {25, 64, 1000}, {10, 32, 1000},
                                                              {5, 32, 1000}, {0, 32, 0}})
        b->Args({1024, 4096, a[0], a[1], a[2], 300});
    });

}  // namespace
}  // namespace vqrbench
