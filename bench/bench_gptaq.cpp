// GPTAQ and ResComp against GPTQ on the same asymmetric Hessian (spec gptq §2.6, §3.5, §9): the
// sweep cost each adds, timed alternately with GPTQ in every iteration (target: <= 1.5x GPTQ), and
// the D accumulation of vqr_hessian_add_pair against its dense floor, SSYRK (H) + SGEMM (D),
// reported separately as the issue asks.
#include <benchmark/benchmark.h>

#include <map>
#include <memory>
#include <utility>
#include <vector>

#include <cblas.h>

#include "bench_common.h"

namespace vqrbench {
namespace {

// One layer with an asymmetric Hessian: x_fp from the correlated generator, x_q = x_fp plus 10%
// independent noise (the error of earlier quantized layers), n + 1024 tokens rounded to 1024.
struct AsymLayer {
  int64_t m = 0, n = 0;
  std::vector<float> w;
  vqr_hessian *h = nullptr;
  std::string error;
  ~AsymLayer() { vqr_hessian_free(h); }
};

void perturb(float *xq, const float *xfp, int64_t count, Rng &rng) {
  for (int64_t i = 0; i < count; ++i) xq[i] = xfp[i] * (1.0f + 0.1f * rng.normal());
}

AsymLayer &asym_layer(int64_t m, int64_t n) {
  static std::map<std::pair<int64_t, int64_t>, std::unique_ptr<AsymLayer>> cache;
  auto &slot = cache[{m, n}];
  if (slot) return *slot;
  slot = std::make_unique<AsymLayer>();
  AsymLayer &l = *slot;
  l.m = m;
  l.n = n;
  l.w.resize(static_cast<size_t>(m * n));
  fill_weights(l.w.data(), m, n, 42);
  vqr_status st = vqr_hessian_create(n, VQR_HESSIAN_ASYMMETRIC, &l.h);
  ActivationGenerator gen(n, 99);
  Rng rng(5);
  const int64_t total = (n + 1024 + 1023) / 1024 * 1024, chunk = 1024;
  std::vector<float> xfp(static_cast<size_t>(chunk * n)), xq(xfp.size());
  for (int64_t done = 0; st == VQR_OK && done < total; done += chunk) {
    gen.fill(xfp.data(), chunk);
    perturb(xq.data(), xfp.data(), chunk * n, rng);
    const vqr_tensor tq = vqr_tensor_2d(xq.data(), VQR_DTYPE_F32, chunk, n, 0);
    const vqr_tensor tf = vqr_tensor_2d(xfp.data(), VQR_DTYPE_F32, chunk, n, 0);
    st = vqr_hessian_add_pair(l.h, &tq, &tf);
  }
  if (st != VQR_OK) l.error = std::string("fixture Hessian: ") + vqr_status_string(st) + ": " + vqr_last_error();
  return l;
}

vqr_config *config_for(int64_t method) {
  vqr_config *c = nullptr;
  if (vqr_config_create(&c) != VQR_OK) return nullptr;
  if (vqr_config_set_int(c, VQR_PARAM_METHOD, method) != VQR_OK || vqr_config_set_int(c, VQR_PARAM_BITS, 4) != VQR_OK ||
      vqr_config_set_int(c, VQR_PARAM_GROUP_SIZE, 128) != VQR_OK ||
      vqr_config_set_int(c, VQR_PARAM_REPORT_LOSS, 0) != VQR_OK) {
    vqr_config_free(c);
    return nullptr;
  }
  return c;
}

// Args: m, n, method (VQR_METHOD_GPTAQ or _RESCOMP). Reported time: the method alone. Counters:
// method_s, gptq_s (same Hessian, same iteration) and ratio = method / GPTQ.
void BM_AsymSweep(benchmark::State &state) {
  const int64_t m = state.range(0), n = state.range(1);
  AsymLayer &l = asym_layer(m, n);
  if (!l.error.empty()) {
    state.SkipWithError(l.error.c_str());
    return;
  }
  vqr_config *method = config_for(state.range(2)), *gptq = config_for(VQR_METHOD_GPTQ);
  const vqr_tensor w = vqr_tensor_2d(l.w.data(), VQR_DTYPE_F32, m, n, 0);
  double method_s = 0, gptq_s = 0;
  for (auto _ : state) {
    vqr_result *r = nullptr;
    const double t0 = now_seconds();
    vqr_status st = vqr_quantize_layer(shared_context(), method, &w, l.h, &r);
    const double t1 = now_seconds();
    vqr_result_free(r);
    if (!check(state, st, "method")) break;
    st = vqr_quantize_layer(shared_context(), gptq, &w, l.h, &r);
    const double t2 = now_seconds();
    vqr_result_free(r);
    if (!check(state, st, "gptq")) break;
    state.SetIterationTime(t1 - t0);
    method_s += t1 - t0;
    gptq_s += t2 - t1;
  }
  vqr_config_free(method);
  vqr_config_free(gptq);
  if (gptq_s <= 0) return;
  const double it = static_cast<double>(state.iterations());
  state.counters["method_s"] = method_s / it;
  state.counters["gptq_s"] = gptq_s / it;
  state.counters["ratio"] = method_s / gptq_s;
}

BENCHMARK(BM_AsymSweep)
    ->ArgNames({"m", "n", "method"})
    ->ArgsProduct({{4096}, {4096, 11008}, {VQR_METHOD_GPTAQ, VQR_METHOD_RESCOMP}})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

// One vqr_hessian_add_pair of T x n pairs against SSYRK (H) + SGEMM (D) on the same f32 data.
// Counters: lib_GFLOPs, ref_GFLOPs (3 n^2 T flops: n^2 T for SYRK, 2 n^2 T for the GEMM), vs_ref.
void BM_HessianAddPair(benchmark::State &state) {
  const int64_t n = state.range(0), T = state.range(1);
  std::vector<float> xfp(static_cast<size_t>(T * n)), xq(xfp.size()), dx(xfp.size());
  ActivationGenerator gen(n, 3);
  gen.fill(xfp.data(), T);
  Rng rng(9);
  perturb(xq.data(), xfp.data(), T * n, rng);
  for (size_t i = 0; i < dx.size(); ++i) dx[i] = xfp[i] - xq[i];
  std::vector<float> s(static_cast<size_t>(n * n)), d(s.size());
  vqr_hessian *h = nullptr;
  if (!check(state, vqr_hessian_create(n, VQR_HESSIAN_ASYMMETRIC, &h), "create")) return;
  const vqr_tensor tq = vqr_tensor_2d(xq.data(), VQR_DTYPE_F32, T, n, 0);
  const vqr_tensor tf = vqr_tensor_2d(xfp.data(), VQR_DTYPE_F32, T, n, 0);
  double lib_s = 0, ref_s = 0;
  for (auto _ : state) {
    const double t0 = now_seconds();
    const vqr_status st = vqr_hessian_add_pair(h, &tq, &tf);
    const double t1 = now_seconds();
    if (!check(state, st, "vqr_hessian_add_pair")) break;
    ref_ssyrk(s.data(), xq.data(), n, T);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)n, (int)n, (int)T, 1.0f, dx.data(), (int)n, xq.data(),
                (int)n, 1.0f, d.data(), (int)n);
    const double t2 = now_seconds();
    state.SetIterationTime(t1 - t0);
    lib_s += t1 - t0;
    ref_s += t2 - t1;
  }
  vqr_hessian_free(h);
  if (lib_s <= 0 || ref_s <= 0) return;
  const double it = static_cast<double>(state.iterations()), flops = 3.0 * (double)n * (double)n * (double)T;
  state.counters["lib_GFLOPs"] = flops * it / lib_s * 1e-9;
  state.counters["ref_GFLOPs"] = flops * it / ref_s * 1e-9;
  state.counters["vs_ref"] = ref_s / lib_s;
}

BENCHMARK(BM_HessianAddPair)->ArgNames({"n", "T"})->Args({4096, 4096})->UseManualTime()->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace vqrbench
