// The forward's linear layers (model/matmul.h) on both MatmulPaths next to cblas_sgemm on the same
// shape (out = X W^T, 2 T IC OC flops), timed alternately in every iteration so that a shared,
// noisy machine slows both alike (DESIGN §4: figures are ratios to the machine's own ceiling).
// Target (issue 16 item 2 / item 4): the BLAS path >= 0.8x the SGEMM rate. The whole forward is in
// bench_forward.cpp (the same executable). Internal API: linked against vqround_static, since the
// forward is not part of the C ABI.
#include <benchmark/benchmark.h>
#include <cblas.h>

#include <chrono>
#include <cstdint>
#include <random>
#include <vector>

#include "backend/backend.h"
#include "model/matmul.h"

namespace {

// Dimension letters: T tokens, IC input width, OC output width.
double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Args: T, IC, OC, path (0 = kBlas, 1 = kReference). Reported time: the forward's linear alone.
// Counters: lib_GFLOPs, sgemm_GFLOPs and vs_sgemm = lib rate / SGEMM rate.
void BM_ForwardLinear(benchmark::State &state) {
  const int64_t T = state.range(0), IC = state.range(1), OC = state.range(2);
  const auto path = state.range(3) == 0 ? vqr::model::MatmulPath::kBlas : vqr::model::MatmulPath::kReference;
  state.SetLabel(path == vqr::model::MatmulPath::kBlas ? "blas" : "reference");
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(T * IC)), w(static_cast<size_t>(OC * IC));
  for (float &v : x) v = nd(rng);
  for (float &v : w) v = 0.02f * nd(rng);
  std::vector<float> out(static_cast<size_t>(T * OC)), ref(out.size());
  std::vector<float> scratch(static_cast<size_t>(vqr::model::matmul_scratch_floats(T, IC)));
  const int threads = 0 < state.range(4) ? static_cast<int>(state.range(4)) : 2;
  auto lib = [&] {
    if (path == vqr::model::MatmulPath::kBlas)
      vqr::model::matmul_forward_blas(vqr::backend::cpu(), out.data(), x.data(), w.data(), T, IC, OC);
    else
      vqr::model::matmul_forward(out.data(), scratch.data(), x.data(), w.data(), T, IC, OC, threads);
  };
  auto sgemm = [&] {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)T, (int)OC, (int)IC, 1.0f, x.data(), (int)IC,
                w.data(), (int)IC, 0.0f, ref.data(), (int)OC);
  };
  lib();  // warm-up: first touch, thread pools started
  sgemm();
  double lib_s = 0, ref_s = 0;
  for (auto _ : state) {
    const double t0 = now_seconds();
    lib();
    const double t1 = now_seconds();
    sgemm();
    const double t2 = now_seconds();
    state.SetIterationTime(t1 - t0);
    lib_s += t1 - t0;
    ref_s += t2 - t1;
  }
  const double flops = 2.0 * T * IC * OC * static_cast<double>(state.iterations());
  state.counters["lib_GFLOPs"] = flops / lib_s * 1e-9;
  state.counters["sgemm_GFLOPs"] = flops / ref_s * 1e-9;
  state.counters["vs_sgemm"] = ref_s / lib_s;
}

// gutenberg4M's linears on a 256-token window (q/k/v/w1/w3: 256 -> 256..768, w2: 768 -> 256,
// classifier 256 -> 4096), and the Llama-3.2-1B-shaped w1 (512 tokens, 2048 -> 8192).
void shapes(benchmark::internal::Benchmark *b) {
  for (int path : {0, 1}) {
    b->Args({256, 256, 768, path, 2});
    b->Args({256, 768, 256, path, 2});
    b->Args({256, 256, 4096, path, 2});
    b->Args({512, 2048, 8192, path, 2});
  }
}

BENCHMARK(BM_ForwardLinear)->Apply(shapes)->UseManualTime()->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
