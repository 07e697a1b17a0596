// Hessian accumulation through the C API (vqr_hessian_add, spec gptq §1.2) next to OpenBLAS SSYRK
// on the same shape (C += X^T X, n^2 T flops), the two timed alternately in every iteration so that a
// shared, noisy machine slows both alike. Target: vqr_hessian_add >= 90% of the SSYRK rate.
#include <benchmark/benchmark.h>

#include <cstring>
#include <map>
#include <memory>
#include <utility>
#include <vector>

#include "bench_common.h"

namespace vqrbench {
namespace {

// One batch of T tokens of width n in the three input dtypes (same values, rounded).
struct Batch {
  std::vector<float> f32;      // T x n
  std::vector<uint16_t> f16;   // T x n
  std::vector<uint16_t> bf16;  // T x n
};

const Batch &batch(int64_t n, int64_t tokens) {
  static std::map<std::pair<int64_t, int64_t>, std::unique_ptr<Batch>> cache;
  auto &slot = cache[{n, tokens}];
  if (!slot) {
    slot = std::make_unique<Batch>();
    const size_t count = static_cast<size_t>(n * tokens);
    slot->f32.resize(count);
    ActivationGenerator(n, 1234).fill(slot->f32.data(), tokens);
    slot->f16.resize(count);
    slot->bf16.resize(count);
    for (size_t i = 0; i < count; ++i) {
      slot->f16[i] = f32_to_f16(slot->f32[i]);
      slot->bf16[i] = f32_to_bf16(slot->f32[i]);
    }
  }
  return *slot;
}

// Args: n, T, dtype (a vqr_dtype). Reported time: vqr_hessian_add alone (manual time).
// Counters: lib_GFLOPs, ssyrk_GFLOPs (n^2 T flops per call) and vs_ssyrk = lib rate / SSYRK rate.
void BM_HessianAdd(benchmark::State &state) {
  const int64_t n = state.range(0);
  const int64_t tokens = state.range(1);
  const auto dtype = static_cast<vqr_dtype>(state.range(2));
  const Batch &b = batch(n, tokens);
  const void *data = dtype == VQR_DTYPE_F32   ? static_cast<const void *>(b.f32.data())
                     : dtype == VQR_DTYPE_F16 ? static_cast<const void *>(b.f16.data())
                                              : static_cast<const void *>(b.bf16.data());
  state.SetLabel(dtype == VQR_DTYPE_F32 ? "f32" : dtype == VQR_DTYPE_F16 ? "f16" : "bf16");
  const vqr_tensor x = vqr_tensor_2d(data, dtype, tokens, n, 0);

  vqr_hessian *h = nullptr;
  if (!check(state, vqr_hessian_create(n, 0, &h), "vqr_hessian_create")) return;
  std::vector<float> c(static_cast<size_t>(n * n), 0.0f);

  // Warm-up (untimed): first touch of both n x n accumulators, thread pools started.
  if (!check(state, vqr_hessian_add(h, &x), "vqr_hessian_add")) {
    vqr_hessian_free(h);
    return;
  }
  ref_ssyrk(c.data(), b.f32.data(), n, tokens);

  double lib_s = 0.0, ref_s = 0.0;
  for (auto _ : state) {
    const double t0 = now_seconds();
    const vqr_status st = vqr_hessian_add(h, &x);
    const double t1 = now_seconds();
    if (!check(state, st, "vqr_hessian_add")) break;
    ref_ssyrk(c.data(), b.f32.data(), n, tokens);
    const double t2 = now_seconds();
    state.SetIterationTime(t1 - t0);
    lib_s += t1 - t0;
    ref_s += t2 - t1;
  }
  vqr_hessian_free(h);
  if (lib_s <= 0.0 || ref_s <= 0.0) return;

  const double flops = static_cast<double>(n) * static_cast<double>(n) * static_cast<double>(tokens) *
                       static_cast<double>(state.iterations());
  state.counters["lib_GFLOPs"] = flops / lib_s * 1e-9;
  state.counters["ssyrk_GFLOPs"] = flops / ref_s * 1e-9;
  state.counters["vs_ssyrk"] = ref_s / lib_s;
  state.SetItemsProcessed(state.iterations() * tokens);  // tokens per second
}

BENCHMARK(BM_HessianAdd)
    ->ArgNames({"n", "T", "dtype"})
    ->Args({4096, 8192, VQR_DTYPE_F32})
    ->Args({4096, 8192, VQR_DTYPE_F16})
    ->Args({4096, 8192, VQR_DTYPE_BF16})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace vqrbench
