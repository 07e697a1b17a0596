// vqround_bench_opencl: the OpenCL backend against the CPU backend on the same operations, timed
// alternately in every iteration so that a shared, noisy machine slows both alike (DESIGN §4).
// Issue 18 item 5. Each benchmark reports the device's rate, the CPU's (OpenBLAS: the machine's own
// SGEMM/SSYRK ceiling) and their ratio; on PoCL (a CPU OpenCL device) the ratio measures what the
// portable kernels cost against OpenBLAS on the same cores, on a GPU what the device buys.
//   BM_Sgemm/m/n/k          C = A B^T through each backend's gemm (host operands staged per call)
//   BM_Hessian/n/T          the Hessian accumulator (device-resident S) against the CPU's SSYRK
//   BM_GptqSweep/m/n        a whole GPTQ W4 g128 sweep on a fixed Hessian, on each context
//   BM_BlockForward/C/H/T   one LLaMA block's forward (C = dim, H = hidden, heads of 128, GQA 4:1)
//                           over T tokens: the CPU Forward, the device with each product's
//                           operands staged and the elementwise passes on the host, and the
//                           device with the activations resident (model/resident_forward.h);
//                           the stream is loaded before and read after each, as the pipeline does
// Shapes: small ones by default (PoCL on 2 cores finishes in about a minute); VQR_BENCH_GPU=1 adds
// the GPU shapes (Hessian n = 4096 over 262,144 tokens in batches of 8192; GPTQ 4096 x 4096
// and 14336 x 4096). VQR_FP32_PEAK_TFLOPS (the device's fp32 peak) adds vs_peak to the Hessian rows.
// Device: VQR_OPENCL_PLATFORM / VQR_OPENCL_DEVICE as for the library (default: first GPU, else the
// first device).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "backend/select.h"
#include "bench_common.h"
#include "core/context.h"
#include "core/error.h"
#include "hessian/hessian.h"
#include "model/forward.h"
#include "model/model.h"
#include "quant/config.h"
#include "quant/gptq.h"

namespace {

vqr::backend::Backend *device() {
  static vqr::backend::Backend *be = [] {
    try {
      return vqr::backend::select(vqr::backend::Kind::OpenCl, "", "", nullptr);
    } catch (const vqr::Error &e) {
      std::fprintf(stderr, "vqround_bench_opencl: %s\n", e.what());
      return (vqr::backend::Backend *)nullptr;
    }
  }();
  return be;
}

void BM_Sgemm(benchmark::State &state) {
  vqr::backend::Backend *be = device();
  if (!be) return state.SkipWithError("no OpenCL device");
  const int64_t m = state.range(0), n = state.range(1), k = state.range(2);
  std::vector<float> a((size_t)(m * k)), b((size_t)(n * k)), c((size_t)(m * n)), r((size_t)(m * n));
  vqrbench::fill_weights(a.data(), m, k, 1);
  vqrbench::fill_weights(b.data(), n, k, 2);
  using vqr::backend::Op;
  auto run = [&](vqr::backend::Backend &x, float *out) {
    x.gemm(Op::None, Op::Trans, m, n, k, 1.0f, a.data(), k, b.data(), k, 0.0f, out, n);
  };
  run(*be, c.data());  // warm-up: kernels built, buffers grown
  run(vqr::backend::cpu(), r.data());
  double dev_s = 0, cpu_s = 0;
  for (auto _ : state) {
    const double t0 = vqrbench::now_seconds();
    run(*be, c.data());
    const double t1 = vqrbench::now_seconds();
    run(vqr::backend::cpu(), r.data());
    const double t2 = vqrbench::now_seconds();
    state.SetIterationTime(t1 - t0);
    dev_s += t1 - t0;
    cpu_s += t2 - t1;
  }
  const double flops = 2.0 * (double)m * (double)n * (double)k * (double)state.iterations();
  state.counters["cl_GFLOPs"] = flops / dev_s * 1e-9;
  state.counters["cpu_GFLOPs"] = flops / cpu_s * 1e-9;
  state.counters["cl_vs_cpu"] = cpu_s / dev_s;
  state.SetLabel(be->description());
}

// One iteration: `batches` batches of T tokens into a fresh accumulator on each backend; the device
// accumulator keeps S resident, the CPU one is SSYRK into host memory.
void BM_Hessian(benchmark::State &state) {
  vqr::backend::Backend *be = device();
  if (!be) return state.SkipWithError("no OpenCL device");
  const int64_t n = state.range(0), tokens = state.range(1), batch = std::min<int64_t>(tokens, 8192);
  const int64_t batches = (tokens + batch - 1) / batch;
  std::vector<float> x((size_t)(batch * n));
  vqrbench::ActivationGenerator(n, 7).fill(x.data(), batch);
  const vqr::TensorView view = vqr::tensor_2d(x.data(), vqr::DType::F32, batch, n, 0);
  auto run = [&](vqr::backend::Backend &b) {
    vqr::hessian::Hessian h(n, false, false, b);
    for (int64_t i = 0; i < batches; ++i) h.add(view);
    return h.view().at(0, 0);  // reads S back: the device result is complete
  };
  run(*be);
  double dev_s = 0, cpu_s = 0;
  for (auto _ : state) {
    const double t0 = vqrbench::now_seconds();
    benchmark::DoNotOptimize(run(*be));
    const double t1 = vqrbench::now_seconds();
    benchmark::DoNotOptimize(run(vqr::backend::cpu()));
    const double t2 = vqrbench::now_seconds();
    state.SetIterationTime(t1 - t0);
    dev_s += t1 - t0;
    cpu_s += t2 - t1;
  }
  // SYRK flops: n (n + 1) per token (the upper triangle, a multiply and an add each).
  const double flops = (double)n * (double)(n + 1) * (double)(batch * batches) * (double)state.iterations();
  state.counters["cl_GFLOPs"] = flops / dev_s * 1e-9;
  state.counters["cpu_ssyrk_GFLOPs"] = flops / cpu_s * 1e-9;
  state.counters["cl_vs_cpu"] = cpu_s / dev_s;
  if (const char *peak = std::getenv("VQR_FP32_PEAK_TFLOPS"))
    state.counters["vs_peak"] = flops / dev_s * 1e-12 / std::atof(peak);
  state.SetLabel(be->description());
}

void BM_GptqSweep(benchmark::State &state) {
  vqr::backend::Backend *be = device();
  if (!be) return state.SkipWithError("no OpenCL device");
  const int64_t m = state.range(0), n = state.range(1), tokens = 2 * n;
  std::vector<float> w((size_t)(m * n)), x((size_t)(tokens * n));
  vqrbench::fill_weights(w.data(), m, n, 3);
  vqrbench::ActivationGenerator(n, 4).fill(x.data(), tokens);
  vqr::hessian::Hessian h(n, false);
  h.add(vqr::tensor_2d(x.data(), vqr::DType::F32, tokens, n, 0));
  vqr::quant::QuantConfig qc;
  qc.method = vqr::quant::Method::Gptq;
  qc.bits = 4;
  qc.group_size = 128;
  qc = vqr::quant::resolve_presets(qc);
  vqr::Context on_device, on_cpu;
  on_device.backend = be;
  auto run = [&](vqr::Context &ctx) {
    return vqr::quant::gptq_quantize(w.data(), m, n, h.view(), qc, &ctx, vqr::thread_count(&ctx), nullptr);
  };
  run(on_device);
  double dev_s = 0, cpu_s = 0;
  for (auto _ : state) {
    const double t0 = vqrbench::now_seconds();
    benchmark::DoNotOptimize(run(on_device).codes.data());
    const double t1 = vqrbench::now_seconds();
    benchmark::DoNotOptimize(run(on_cpu).codes.data());
    const double t2 = vqrbench::now_seconds();
    state.SetIterationTime(t1 - t0);
    dev_s += t1 - t0;
    cpu_s += t2 - t1;
  }
  state.counters["cl_s"] = dev_s / (double)state.iterations();
  state.counters["cpu_s"] = cpu_s / (double)state.iterations();
  state.counters["cl_vs_cpu"] = cpu_s / dev_s;
  state.SetLabel(be->description());
}

// A one-block model of dim C, hidden H, heads of 128 (64 below C = 512), GQA 4:1, T tokens of
// context: weights of rows of norm ~1 (bench_common), gains 1.
vqr::model::Model block_model(int64_t C, int64_t H, int64_t T) {
  vqr::model::ModelConfig c;
  c.dim = (int)C;
  c.hidden_dim = (int)H;
  c.n_layers = 1;
  const int64_t head = C >= 512 ? 128 : 64;
  c.n_heads = (int)(C / head);
  c.n_kv_heads = std::max(1, c.n_heads / 4);
  c.vocab_size = 256;
  c.seq_len = (int)T;
  c.rope_theta = 500000.0f;
  vqr::model::Model m(c);
  uint64_t seed = 10;
  for (vqr::model::LinearKind k : vqr::model::kAllLinearKinds)
    vqrbench::fill_weights(m.linear_data(0, k), m.linear_rows(k), m.linear_cols(k), ++seed);
  for (vqr::model::TensorId id : {vqr::model::TensorId::kRmsAtt, vqr::model::TensorId::kRmsFfn})
    for (int64_t i = 0; i < m.tensor_floats(id); ++i) m.tensor(id)[i] = 1.0f;
  return m;
}

void BM_BlockForward(benchmark::State &state) {
  vqr::backend::Backend *be = device();
  if (!be) return state.SkipWithError("no OpenCL device");
  const int64_t C = state.range(0), H = state.range(1), T = state.range(2);
  const vqr::model::Model m = block_model(C, H, T);
  const vqr::model::ModelConfig &c = m.config();
  vqr::model::Forward cpu(m, T), staged(m, T), resident(m, T);
  staged.set_backend(*be, /*resident=*/false);
  resident.set_backend(*be);
  std::vector<float> x((size_t)(T * C)), out((size_t)(T * C));
  vqrbench::ActivationGenerator(C, 5).fill(x.data(), T);
  auto run = [&](vqr::model::Forward &f) {
    std::memcpy(f.load_hidden(), x.data(), x.size() * sizeof(float));
    f.block(0, T);
    std::memcpy(out.data(), f.read_hidden(), out.size() * sizeof(float));  // waits for the device
  };
  for (auto *f : {&cpu, &staged, &resident}) run(*f);  // warm-up: kernels built, weights uploaded
  double cpu_s = 0, staged_s = 0, resident_s = 0;
  for (auto _ : state) {
    const double t0 = vqrbench::now_seconds();
    run(resident);
    const double t1 = vqrbench::now_seconds();
    run(staged);
    const double t2 = vqrbench::now_seconds();
    run(cpu);
    const double t3 = vqrbench::now_seconds();
    state.SetIterationTime(t1 - t0);
    resident_s += t1 - t0;
    staged_s += t2 - t1;
    cpu_s += t3 - t2;
  }
  // The seven products (2 T per weight) and attention's two causal products (about T^2 q_dim each
  // way counting the masked half of the diagonal tiles as done).
  const double QD = (double)c.q_dim(), KV = (double)c.kv_dim(), Tf = (double)T;
  const double flops = (2 * Tf * (2 * C * QD + 2 * C * KV + 3 * C * (double)H) + 2 * Tf * Tf * QD) *
                       (double)state.iterations();
  state.counters["resident_GFLOPs"] = flops / resident_s * 1e-9;
  state.counters["staged_GFLOPs"] = flops / staged_s * 1e-9;
  state.counters["cpu_GFLOPs"] = flops / cpu_s * 1e-9;
  state.counters["resident_vs_staged"] = staged_s / resident_s;
  state.counters["resident_vs_cpu"] = cpu_s / resident_s;
  state.SetLabel(be->description());
}

void register_all() {
  const bool gpu = std::getenv("VQR_BENCH_GPU") && std::string(std::getenv("VQR_BENCH_GPU")) == "1";
  auto *g = benchmark::RegisterBenchmark("BM_Sgemm", BM_Sgemm)->ArgNames({"m", "n", "k"})->Args({1024, 1024, 1024});
  auto *h = benchmark::RegisterBenchmark("BM_Hessian", BM_Hessian)->ArgNames({"n", "T"})->Args({1024, 16384});
  auto *s = benchmark::RegisterBenchmark("BM_GptqSweep", BM_GptqSweep)->ArgNames({"m", "n"})->Args({1024, 1024});
  auto *f = benchmark::RegisterBenchmark("BM_BlockForward", BM_BlockForward)
                ->ArgNames({"C", "H", "T"})
                ->Args({512, 1536, 512});
  if (gpu) {
    g->Args({4096, 4096, 4096})->Args({8192, 14336, 4096});
    h->Args({4096, 262144});
    s->Args({4096, 4096})->Args({14336, 4096});
    f->Args({4096, 14336, 2048});
  }
  for (auto *b : {g, h, s, f}) b->UseManualTime()->Unit(benchmark::kMillisecond);
}

}  // namespace

int main(int argc, char **argv) {
  register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("vqr_build_info", vqr_build_info());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
