// The GPTQ sweep's in-block column loop on an OpenCL device (kernels_cl/gptq_sweep.cl) against the
// CPU tile loop (quant/gptq.cpp), both inside whole gptq_quantize runs on the same layer, timed
// alternately in every iteration (DESIGN §4: figures are ratios, the machines are shared). Each run
// reports its phases in its debug log line; the in-block seconds are read from there. The device
// run computes everything else on the CPU backend, so the two differ only in the in-block loop.
// Internal API (the backend seam): linked against vqround_static.
//
// Args: m, n, group (-1 = per channel). Counters: cpu_inblock_s, dev_inblock_s, ratio =
// dev / cpu (below 1: the device is faster), dev_blocks (blocks the device ran per run).
// Without an OpenCL device the benchmark is skipped.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "backend/forwarding_backend.h"
#include "backend/select.h"
#include "core/context.h"
#include "core/error.h"
#include "hessian/hessian.h"
#include "quant/config.h"
#include "quant/gptq.h"

namespace {

using vqr::backend::Backend;

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

struct Layer {
  int64_t m, n;
  std::vector<float> w;
  std::unique_ptr<vqr::hessian::Hessian> h;
};

// Weights N(0, 0.02) and a statistic from n + 1024 inputs with correlated columns, built once per shape.
const Layer &layer(int64_t m, int64_t n) {
  static std::vector<std::unique_ptr<Layer>> cache;
  for (auto &l : cache)
    if (l->m == m && l->n == n) return *l;
  auto l = std::make_unique<Layer>();
  l->m = m;
  l->n = n;
  std::mt19937 rng(11);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  l->w.resize((size_t)(m * n));
  for (float &v : l->w) v = 0.02f * nd(rng);
  const int64_t t = n + 1024;
  std::vector<float> x((size_t)(t * n));
  for (int64_t r = 0; r < t; ++r) {
    float shared = nd(rng);
    for (int64_t c = 0; c < n; ++c) {
      shared = 0.9f * shared + 0.44f * nd(rng);  // neighbouring inputs correlate
      x[(size_t)(r * n + c)] = shared;
    }
  }
  l->h = std::make_unique<vqr::hessian::Hessian>(n, false);
  l->h->add(vqr::tensor_2d(x.data(), vqr::DType::F32, t, n, 0));
  cache.push_back(std::move(l));
  return *cache.back();
}

// One gptq_quantize on `be`; returns the in-block seconds of its debug log line.
double inblock_seconds(Backend *be, const Layer &l, const vqr::quant::QuantConfig &c) {
  vqr::Context ctx;
  ctx.backend = be;
  ctx.log_level = vqr::LogLevel::Debug;
  double seconds = -1;
  ctx.log_fn = [&](vqr::LogLevel, const char *line) {
    const char *at = std::strstr(line, "in-block ");
    if (at) seconds = std::atof(at + 9);
  };
  vqr::quant::gptq_quantize(l.w.data(), l.m, l.n, l.h->view(), c, &ctx, 2, nullptr);
  return seconds;
}

void BM_GptqInBlockSweep(benchmark::State &state) {
  const int64_t m = state.range(0), n = state.range(1);
  Backend *device = nullptr;
  try {
    device = vqr::backend::select(vqr::backend::Kind::OpenCl, "", "", nullptr);
  } catch (const vqr::Error &e) {
    state.SkipWithError((std::string("no OpenCL device: ") + e.what()).c_str());
    return;
  }
  vqr::backend::SplitSweepBackend hybrid(vqr::backend::cpu(), *device);
  state.SetLabel(device->description());
  vqr::quant::QuantConfig c;
  c.method = vqr::quant::Method::Gptq;
  c.bits = 4;
  c.group_size = state.range(2);
  c = vqr::quant::resolve_presets(c);
  const Layer &l = layer(m, n);
  inblock_seconds(&hybrid, l, c);  // warm-up: kernel build, staging buffers
  double cpu_s = 0, dev_s = 0;
  for (auto _ : state) {
    const double t0 = now_seconds();
    cpu_s += inblock_seconds(nullptr, l, c);
    hybrid.sweep_blocks = 0;
    dev_s += inblock_seconds(&hybrid, l, c);
    state.SetIterationTime(now_seconds() - t0);
  }
  const double it = (double)state.iterations();
  state.counters["cpu_inblock_s"] = cpu_s / it;
  state.counters["dev_inblock_s"] = dev_s / it;
  state.counters["ratio"] = dev_s / cpu_s;
  state.counters["dev_blocks"] = (double)hybrid.sweep_blocks;
}

BENCHMARK(BM_GptqInBlockSweep)
    ->ArgNames({"m", "n", "group"})
    ->ArgsProduct({{4096}, {4096}, {-1, 128}})
    ->UseManualTime()
    ->Iterations(2)
    ->Unit(benchmark::kSecond);

}  // namespace

BENCHMARK_MAIN();
