// GPTQ and RTN through vqr_quantize_layer (spec gptq §1.3-§1.5), next to the dense kernels GPTQ cannot
// avoid (spec gptq §7): one Cholesky of the damped n x n Hessian (SPOTRF) plus the cross-block GEMMs of
// the lazy sweep, timed alternately in every iteration. Target: GPTQ <= 1.5x (Cholesky + GEMMs).
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <utility>
#include <vector>

#include "bench_common.h"

namespace vqrbench {
namespace {

constexpr int64_t kBlock = 128;  // GPTQ block size B (the library default)
constexpr int64_t kGroup = 128;  // group size g

// One layer: weights W (m x n), its Hessian accumulator, and H + lambda I (n x n, lambda =
// 0.01 mean diag, as the library damps by default) for the reference Cholesky.
struct Layer {
  int64_t m = 0, n = 0;
  std::vector<float> w;         // m x n
  vqr_hessian *h = nullptr;     // width n, built from T correlated tokens
  std::vector<float> h_damped;  // n x n
  std::vector<float> err;       // m x B, stand-in for the per-block GPTQ errors
  std::string error;            // non-empty when the setup failed
  ~Layer() { vqr_hessian_free(h); }
};

// Calibration tokens for the fixture Hessian: VQR_BENCH_TOKENS, else n + 1024 rounded up to 1024
// (more tokens than columns, so H is full rank before damping as with real calibration data).
int64_t fixture_tokens(int64_t n) {
  if (const char *env = std::getenv("VQR_BENCH_TOKENS")) {
    const long long t = std::atoll(env);
    if (t > 0) return t;
  }
  return (n + 1024 + 1023) / 1024 * 1024;
}

// Built once per shape and process, outside every timed region.
Layer &layer(int64_t m, int64_t n) {
  static std::map<std::pair<int64_t, int64_t>, std::unique_ptr<Layer>> cache;
  auto &slot = cache[{m, n}];
  if (slot) return *slot;
  slot = std::make_unique<Layer>();
  Layer &l = *slot;
  l.m = m;
  l.n = n;
  l.w.resize(static_cast<size_t>(m * n));
  fill_weights(l.w.data(), m, n, 42);
  l.err.resize(static_cast<size_t>(m * kBlock));
  Rng rng(7);
  for (auto &e : l.err) e = 0.01f * rng.normal();

  vqr_status st = vqr_hessian_create(n, 0, &l.h);
  if (st == VQR_OK) st = add_generated_tokens(l.h, n, fixture_tokens(n), 99);
  l.h_damped.resize(static_cast<size_t>(n * n));
  if (st == VQR_OK) st = vqr_hessian_read(l.h, l.h_damped.data(), 0);
  if (st != VQR_OK) {
    l.error = std::string("fixture Hessian: ") + vqr_status_string(st) + ": " + vqr_last_error();
    return l;
  }
  double mean_diag = 0.0;
  for (int64_t j = 0; j < n; ++j) mean_diag += l.h_damped[static_cast<size_t>(j * n + j)];
  const float lambda = static_cast<float>(0.01 * mean_diag / static_cast<double>(n));
  for (int64_t j = 0; j < n; ++j) l.h_damped[static_cast<size_t>(j * n + j)] += lambda;
  return l;
}

vqr_config *make_config(vqr_method method, int64_t act_order, int64_t report_loss) {
  vqr_config *c = nullptr;
  if (vqr_config_create(&c) != VQR_OK) return nullptr;
  const bool ok = vqr_config_set_int(c, VQR_PARAM_METHOD, method) == VQR_OK &&
                  vqr_config_set_int(c, VQR_PARAM_BITS, 4) == VQR_OK &&
                  vqr_config_set_int(c, VQR_PARAM_GROUP_SIZE, kGroup) == VQR_OK &&
                  vqr_config_set_int(c, VQR_PARAM_REPORT_LOSS, report_loss) == VQR_OK &&
                  (method != VQR_METHOD_GPTQ || (vqr_config_set_int(c, VQR_PARAM_ACT_ORDER, act_order) == VQR_OK &&
                                                 vqr_config_set_int(c, VQR_PARAM_BLOCK_SIZE, kBlock) == VQR_OK));
  if (!ok) {
    vqr_config_free(c);
    return nullptr;
  }
  return c;
}

// Args: m, n, act (act-order 0/1), loss (VQR_PARAM_REPORT_LOSS 0/1). Reported time: GPTQ alone.
// Counters (seconds per iteration): gptq_s, chol_s (SPOTRF), gemm_s (cross-block SGEMMs), trtri_s
// (STRTRI of the factor); ratio = gptq / (chol + gemm), the target; ratio_tri = gptq / (chol + trtri +
// gemm), against the full dense floor of the triangular route (spec gptq §1.3); damp_attempts.
void BM_Gptq(benchmark::State &state) {
  const int64_t m = state.range(0), n = state.range(1);
  Layer &l = layer(m, n);
  if (!l.error.empty()) {
    state.SkipWithError(l.error.c_str());
    return;
  }
  vqr_config *cfg = make_config(VQR_METHOD_GPTQ, state.range(2), state.range(3));
  if (cfg == nullptr) {
    state.SkipWithError((std::string("config: ") + vqr_last_error()).c_str());
    return;
  }
  const vqr_tensor w = vqr_tensor_2d(l.w.data(), VQR_DTYPE_F32, m, n, 0);
  std::vector<float> hw(l.h_damped.size()), ww(l.w.size());

  double gptq_s = 0.0, chol_s = 0.0, trtri_s = 0.0, gemm_s = 0.0;
  int attempts = 0;
  for (auto _ : state) {
    vqr_result *r = nullptr;
    const double t0 = now_seconds();
    const vqr_status st = vqr_quantize_layer(shared_context(), cfg, &w, l.h, &r);
    const double t1 = now_seconds();
    if (!check(state, st, "vqr_quantize_layer")) break;
    vqr_report rep;
    std::memset(&rep, 0, sizeof rep);
    rep.struct_size = sizeof rep;
    if (vqr_result_report(r, &rep) == VQR_OK) attempts = rep.damp_attempts;
    vqr_result_free(r);

    // The reference pieces, on fresh copies (copies untimed).
    std::memcpy(hw.data(), l.h_damped.data(), hw.size() * sizeof(float));
    std::memcpy(ww.data(), l.w.data(), ww.size() * sizeof(float));
    const double t2 = now_seconds();
    const int info = ref_spotrf(hw.data(), n);
    const double t3 = now_seconds();
    ref_cross_block_gemms(ww.data(), l.err.data(), hw.data(), m, n, kBlock);
    const double t4 = now_seconds();
    ref_strtri(hw.data(), n);
    const double t5 = now_seconds();
    if (info != 0) {
      state.SkipWithError("reference SPOTRF failed");
      break;
    }
    state.SetIterationTime(t1 - t0);
    gptq_s += t1 - t0;
    chol_s += t3 - t2;
    gemm_s += t4 - t3;
    trtri_s += t5 - t4;
  }
  vqr_config_free(cfg);
  if (gptq_s <= 0.0 || chol_s + gemm_s <= 0.0) return;

  const double it = static_cast<double>(state.iterations());
  state.counters["gptq_s"] = gptq_s / it;
  state.counters["chol_s"] = chol_s / it;
  state.counters["gemm_s"] = gemm_s / it;
  state.counters["trtri_s"] = trtri_s / it;
  state.counters["ratio"] = gptq_s / (chol_s + gemm_s);
  state.counters["ratio_tri"] = gptq_s / (chol_s + trtri_s + gemm_s);
  state.counters["damp_attempts"] = attempts;
}

BENCHMARK(BM_Gptq)
    ->ArgNames({"m", "n", "act", "loss"})
    ->ArgsProduct({{4096}, {4096, 11008}, {0, 1}, {0, 1}})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

// The reference kernels alone, as rows with their GFLOP/s: the machine's ceiling for each piece.
// They need no library call: SPOTRF/STRTRI take no pivots, so any well-conditioned SPD matrix of the
// size times the same; a diagonally dominant one is cheap to build.
const std::vector<float> &spd_matrix(int64_t n) {
  static std::map<int64_t, std::vector<float>> cache;
  auto &a = cache[n];
  if (a.empty()) {
    a.resize(static_cast<size_t>(n * n));
    Rng rng(17);
    const float off = 0.5f / static_cast<float>(n);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j <= i; ++j) {
        const float v = i == j ? 1.0f + rng.uniform() : off * rng.normal();
        a[static_cast<size_t>(i * n + j)] = a[static_cast<size_t>(j * n + i)] = v;
      }
  }
  return a;
}

void BM_RefSpotrf(benchmark::State &state) {
  const int64_t n = state.range(0);
  const std::vector<float> &spd = spd_matrix(n);
  std::vector<float> a(spd.size());
  for (auto _ : state) {
    std::memcpy(a.data(), spd.data(), a.size() * sizeof(float));
    const double t0 = now_seconds();
    const int info = ref_spotrf(a.data(), n);
    state.SetIterationTime(now_seconds() - t0);
    if (info != 0) state.SkipWithError("SPOTRF failed");
  }
  const double nd = static_cast<double>(n);
  state.counters["GFLOPs"] = benchmark::Counter(nd * nd * nd / 3.0 * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_RefSpotrf)->ArgName("n")->Arg(4096)->Arg(11008)->UseManualTime()->Unit(benchmark::kMillisecond);

void BM_RefStrtri(benchmark::State &state) {
  const int64_t n = state.range(0);
  std::vector<float> factor(spd_matrix(n)), a(factor.size());
  if (ref_spotrf(factor.data(), n) != 0) {
    state.SkipWithError("SPOTRF failed");
    return;
  }
  for (auto _ : state) {
    std::memcpy(a.data(), factor.data(), a.size() * sizeof(float));
    const double t0 = now_seconds();
    ref_strtri(a.data(), n);
    state.SetIterationTime(now_seconds() - t0);
  }
  const double nd = static_cast<double>(n);
  state.counters["GFLOPs"] = benchmark::Counter(nd * nd * nd / 3.0 * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_RefStrtri)->ArgName("n")->Arg(4096)->Arg(11008)->UseManualTime()->Unit(benchmark::kMillisecond);

// Args: m, n. The sum over blocks of the m x B by B x (n - i2) SGEMMs (about m n^2 flops).
void BM_RefCrossBlockGemm(benchmark::State &state) {
  const int64_t m = state.range(0), n = state.range(1);
  std::vector<float> w(static_cast<size_t>(m * n)), u(static_cast<size_t>(n * n)), err(static_cast<size_t>(m * kBlock));
  Rng rng(3);
  for (auto &v : u) v = 0.1f * rng.normal();
  for (auto &v : err) v = 0.01f * rng.normal();
  for (auto _ : state) {
    fill_weights(w.data(), m, n, 5);  // untimed reset, keeps the values bounded
    const double t0 = now_seconds();
    ref_cross_block_gemms(w.data(), err.data(), u.data(), m, n, kBlock);
    state.SetIterationTime(now_seconds() - t0);
  }
  state.counters["GFLOPs"] =
      benchmark::Counter(cross_block_gemm_flops(m, n, kBlock) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_RefCrossBlockGemm)
    ->ArgNames({"m", "n"})
    ->Args({4096, 4096})
    ->Args({4096, 11008})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

// Tiny: RTN on the same grid and groups (no Hessian, no report). Throughput in weights per second.
void BM_Rtn(benchmark::State &state) {
  const int64_t m = state.range(0), n = state.range(1);
  std::vector<float> wv(static_cast<size_t>(m * n));
  fill_weights(wv.data(), m, n, 11);
  const vqr_tensor w = vqr_tensor_2d(wv.data(), VQR_DTYPE_F32, m, n, 0);
  vqr_config *cfg = make_config(VQR_METHOD_RTN, 0, 0);
  if (cfg == nullptr) {
    state.SkipWithError((std::string("config: ") + vqr_last_error()).c_str());
    return;
  }
  for (auto _ : state) {
    vqr_result *r = nullptr;
    if (!check(state, vqr_quantize_layer(shared_context(), cfg, &w, nullptr, &r), "vqr_quantize_layer")) break;
    vqr_result_free(r);
  }
  vqr_config_free(cfg);
  state.SetItemsProcessed(state.iterations() * m * n);
  state.SetBytesProcessed(state.iterations() * m * n * static_cast<int64_t>(sizeof(float)));
}
BENCHMARK(BM_Rtn)->ArgNames({"m", "n"})->Args({1024, 4096})->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace vqrbench
