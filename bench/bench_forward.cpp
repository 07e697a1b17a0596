// The whole forward on the BLAS path (model/forward.h) against cblas_sgemm doing the same linear
// layers' products, timed alternately in every iteration (DESIGN §4: figures are ratios to the
// machine's own ceiling measured in the same run). Target (issue 16 items 2 and 4): the forward's
// flop rate >= 0.8x the SGEMM rate. Two cases:
// - gutenberg4M, one 256-token window with logits (needs $VQR_DATA_DIR or ../shared/data), also in
//   tokens/s, on both MatmulPaths;
// - one Llama-3.2-1B-shaped decoder block (dim 2048, hidden 8192, 32 heads of 64 on 8 KV heads,
//   random weights), 512 tokens.
// Flops counted: 2 T IC OC per linear (and the classifier), plus attention's two products over the
// causal triangle, 2 NH HS T (T + 1). The SGEMM side runs only the linears (one call per layer on
// the forward's shapes), so the rate ratio charges the forward for attention's lower efficiency.
#include <benchmark/benchmark.h>
#include <cblas.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "model/block_backward.h"
#include "model/forward.h"
#include "model/linear_kinds.h"
#include "model/model_backward.h"
#include "model/llama2c_format.h"
#include "pipeline/sequential_quantizer.h"
#include "quant/config.h"

namespace {

using vqr::model::LinearKind;
using vqr::model::MatmulPath;
using vqr::model::Model;
using vqr::model::ModelConfig;

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// The (in, out) widths of a block's seven linears.
std::vector<std::pair<int64_t, int64_t>> block_shapes(const ModelConfig &c) {
  std::vector<std::pair<int64_t, int64_t>> s;
  for (LinearKind kind : vqr::model::kAllLinearKinds)
    s.emplace_back(c.input_width(vqr::model::input_of(kind)), c.linear_rows(kind));
  return s;
}

// Flops of one block's attention over the causal triangle: Q K^T and P V, NH HS T (T + 1) each.
double attention_flops(const ModelConfig &c, int64_t T) {
  return 2.0 * c.n_heads * c.head_size() * static_cast<double>(T) * (T + 1);
}

// Flops of the linears of `blocks` blocks on T tokens, plus the classifier when `head`.
double linear_flops(const ModelConfig &c, int64_t T, int blocks, bool head) {
  double f = 0;
  for (const auto &[ic, oc] : block_shapes(c)) f += 2.0 * T * ic * oc;
  f *= blocks;
  if (head) f += 2.0 * T * c.dim * static_cast<double>(c.vocab_size);
  return f;
}

// Flops one sequence of T tokens must do in an end-to-end step (model backward with every dW): the
// block linears three times, the untrained classifier twice, per block the forward attention over
// the causal triangle twice (forward and recompute) and the backward's five products over it.
double step_flops(const ModelConfig &c, int64_t T) {
  const double head = linear_flops(c, T, 0, true);
  return 3 * linear_flops(c, T, c.n_layers, false) + 2 * head + c.n_layers * 4.5 * attention_flops(c, T);
}

// The SGEMM side: one cblas_sgemm per linear of `blocks` blocks (and the classifier) on T tokens,
// out = X W^T, on scratch operands of the same shapes.
class SgemmFloor {
 public:
  SgemmFloor(const ModelConfig &c, int64_t T, int blocks, bool head) : T_(T), blocks_(blocks) {
    shapes_ = block_shapes(c);
    if (head) head_ = {c.dim, c.vocab_size};
    int64_t in = 0, w = 0, out = 0;
    for (const auto &[ic, oc] : all()) {
      in = std::max(in, ic), out = std::max(out, oc), w = std::max(w, ic * oc);
    }
    std::mt19937 rng(5);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    x_.resize(static_cast<size_t>(T * in));
    w_.resize(static_cast<size_t>(w));
    y_.resize(static_cast<size_t>(T * out));
    for (float &v : x_) v = nd(rng);
    for (float &v : w_) v = 0.02f * nd(rng);
  }
  void run() {
    for (int b = 0; b < blocks_; ++b)
      for (const auto &[ic, oc] : shapes_) gemm(ic, oc);
    if (head_.first > 0) gemm(head_.first, head_.second);
  }

 private:
  std::vector<std::pair<int64_t, int64_t>> all() const {
    auto s = shapes_;
    if (head_.first > 0) s.push_back(head_);
    return s;
  }
  void gemm(int64_t ic, int64_t oc) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)T_, (int)oc, (int)ic, 1.0f, x_.data(), (int)ic,
                w_.data(), (int)ic, 0.0f, y_.data(), (int)oc);
  }
  int64_t T_;
  int blocks_;
  std::vector<std::pair<int64_t, int64_t>> shapes_;
  std::pair<int64_t, int64_t> head_{0, 0};
  std::vector<float> x_, w_, y_;
};

// Block 0's linears N(0, 1/in_features), norm gains 1, the embedding N(0, 1): a one-block model for
// the block benchmarks.
void fill_block(Model &m, std::mt19937 &rng) {
  std::normal_distribution<float> nd(0.0f, 1.0f);
  for (LinearKind kind : vqr::model::kAllLinearKinds) {
    float *w = m.linear_data(0, kind);
    const float scale = 1.0f / std::sqrt(static_cast<float>(m.linear_cols(kind)));
    for (int64_t i = 0; i < m.linear_rows(kind) * m.linear_cols(kind); ++i) w[i] = scale * nd(rng);
  }
  for (vqr::model::TensorId id : {vqr::model::TensorId::kRmsAtt, vqr::model::TensorId::kRmsFfn,
                                  vqr::model::TensorId::kRmsFinal, vqr::model::TensorId::kTokenEmbedding}) {
    float *p = m.tensor(id);
    for (int64_t i = 0; i < m.tensor_floats(id); ++i) p[i] = id == vqr::model::TensorId::kTokenEmbedding ? nd(rng) : 1.0f;
  }
}

// Times `lib` (after an untimed `prepare`) and the SGEMM floor alternately; sets the counters
// fwd_GFLOPs, sgemm_GFLOPs, vs_sgemm (forward rate / SGEMM rate) and over_sgemm_time (forward time /
// the SGEMMs' time). Returns the seconds `lib` took over all iterations.
template <typename Prepare, typename Lib>
double time_against_sgemm(benchmark::State &state, Prepare &&prepare, Lib &&lib, SgemmFloor &floor, double lib_flops,
                        double sgemm_flops) {
  prepare();
  lib();  // warm-up: first touch, thread pools started
  floor.run();
  double lib_s = 0, ref_s = 0;
  for (auto _ : state) {
    prepare();
    const double t0 = now_seconds();
    lib();
    const double t1 = now_seconds();
    floor.run();
    const double t2 = now_seconds();
    state.SetIterationTime(t1 - t0);
    lib_s += t1 - t0;
    ref_s += t2 - t1;
  }
  const double n = static_cast<double>(state.iterations());
  state.counters["fwd_GFLOPs"] = lib_flops * n / lib_s * 1e-9;
  state.counters["sgemm_GFLOPs"] = sgemm_flops * n / ref_s * 1e-9;
  state.counters["vs_sgemm"] = (lib_flops / lib_s) / (sgemm_flops / ref_s);
  state.counters["over_sgemm_time"] = lib_s / ref_s;
  return lib_s;
}

// gutenberg4M from $VQR_DATA_DIR (else ../shared/data), or nothing with the benchmark skipped.
std::optional<Model> load_gutenberg4m(benchmark::State &state) {
  const char *dir = std::getenv("VQR_DATA_DIR");
  const std::string file = std::string(dir != nullptr ? dir : "../shared/data") + "/models/gutenberg4M/gutenberg4M.bin";
  try {
    return vqr::model::load_llama2c(file);
  } catch (const std::exception &e) {
    state.SkipWithError((file + ": " + e.what()).c_str());
    return std::nullopt;
  }
}

// Args: path (0 = kBlas, 1 = kReference). One 256-token window of gutenberg4M with logits; the
// same pseudo-random tokens for both paths. Counters as above plus tokens_per_s.
void BM_ForwardGutenberg4M(benchmark::State &state) {
  const auto path = state.range(0) == 0 ? MatmulPath::kBlas : MatmulPath::kReference;
  state.SetLabel(path == MatmulPath::kBlas ? "blas" : "reference");
  const std::optional<Model> loaded = load_gutenberg4m(state);
  if (!loaded) return;
  const Model &m = *loaded;
  const ModelConfig &c = m.config();
  const int64_t T = c.seq_len, V = c.vocab_size;
  std::vector<int32_t> tokens(static_cast<size_t>(T));
  std::mt19937 rng(3);
  for (auto &t : tokens) t = static_cast<int32_t>(rng() % static_cast<uint32_t>(V));
  vqr::model::Forward fwd(m, T, 2, path);
  std::vector<float> logits(static_cast<size_t>(T * V));
  SgemmFloor floor(c, T, c.n_layers, true);
  const double linears = linear_flops(c, T, c.n_layers, true);
  const double seconds = time_against_sgemm(
      state, [] {}, [&] { fwd.run(tokens.data(), T, logits.data()); }, floor,
      linears + c.n_layers * attention_flops(c, T), linears);
  state.counters["tokens_per_s"] = static_cast<double>(T) * static_cast<double>(state.iterations()) / seconds;
}

BENCHMARK(BM_ForwardGutenberg4M)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseManualTime();

// One end-to-end step on gutenberg4M (issue 17 item 8): 2048 tokens as 8 windows of 256, each
// ModelBackward::run under the NLL (forward keeping the block states, head and block backward with
// every dW). Flops per window (what the step must do): the block linears three times (forward,
// dX, dW), the classifier twice (forward and dX: it is not trained), each block's forward attention
// (causal triangle) twice (forward and recompute) and the backward's five products per head over
// the same triangle (S, dP, dV, dQ, dK: 2.5 forward attentions). The SGEMM side runs the forward
// GEMMs of the window once per window.
void BM_ModelBackwardGutenberg4M(benchmark::State &state) {
  const std::optional<Model> loaded = load_gutenberg4m(state);
  if (!loaded) return;
  const Model &m = *loaded;
  const ModelConfig &c = m.config();
  const int64_t T = c.seq_len, V = c.vocab_size, windows = 2048 / T;
  std::vector<int32_t> tokens(static_cast<size_t>(windows * T));
  std::mt19937 rng(3);
  for (auto &t : tokens) t = static_cast<int32_t>(rng() % static_cast<uint32_t>(V));
  vqr::model::ModelBackward mb(m, T, 2);
  SgemmFloor floor(c, T, c.n_layers, true);
  const double linears = linear_flops(c, T, c.n_layers, true);
  double checksum = 0;
  const double seconds = time_against_sgemm(
      state, [] {},
      [&] {
        for (int64_t w = 0; w < windows; ++w) {
          const int32_t *ids = tokens.data() + w * T;
          checksum += mb.run(ids, T, [&](const float *z, int64_t n, int64_t v, float *dz) {
            return vqr::model::nll_loss_and_gradient(z, ids, n, v, dz);
          }, [&](int, LinearKind, const float *g, int64_t, int64_t) { checksum += g[0]; });
        }
      },
      floor, windows * step_flops(c, T), linears);
  state.counters["over_floor"] = 1.0 / static_cast<double>(state.counters["vs_sgemm"]);
  state.counters["tokens_per_s"] = static_cast<double>(windows * T) * static_cast<double>(state.iterations()) / seconds;
  benchmark::DoNotOptimize(checksum);
}

BENCHMARK(BM_ModelBackwardGutenberg4M)->Unit(benchmark::kMillisecond)->UseManualTime();

// One step of end-to-end VQRound distillation on gutenberg4M (issue 17 item 8): 2048 tokens per step
// (e2e_batch = 8 windows of 256), W3 g128 from RTN with a K = 4096, D = 8 codebook per layer and a
// stored top-64 teacher, no held-out scoring. Timed: the training loop alone (DistillReport::seconds
// over its steps: each layer's soft weights built twice per sequence, the model's forward with block
// states, the KL and its gradient, the backward, each dW reduced to its codebook's gradient, the
// regularizer and Adam), not the initialization or the teacher. Flops: as BM_ModelBackwardGutenberg4M
// (what the step must do); the SGEMM side as there.
void BM_DistillStepGutenberg4M(benchmark::State &state) {
  const std::optional<Model> loaded = load_gutenberg4m(state);
  if (!loaded) return;
  const ModelConfig &c = loaded->config();
  const int64_t T = c.seq_len, V = c.vocab_size, windows = 2048 / T, steps = 3;
  std::vector<std::vector<int32_t>> seqs((size_t)windows, std::vector<int32_t>((size_t)T));
  std::mt19937 rng(5);
  for (auto &s : seqs)
    for (auto &t : s) t = static_cast<int32_t>(rng() % static_cast<uint32_t>(V));
  vqr::pipeline::PipelineOptions o;
  o.config.method = vqr::quant::Method::VqRound;
  o.config.bits = 3;
  o.config.group_size = 128;
  o.config.e2e = true;
  o.config.steps = steps;
  o.config.e2e_batch = windows;
  o.config.holdout = 0;
  o.config.eval_every = 0;
  o.config.kmeans_iters = 5;
  o.threads = 2;
  SgemmFloor floor(c, T, c.n_layers, true);
  const double linears = linear_flops(c, T, c.n_layers, true);
  floor.run();
  double lib_s = 0, ref_s = 0;
  for (auto _ : state) {
    Model m = loaded->clone();
    const vqr::pipeline::QuantizedModel q = vqr::pipeline::quantize_sequential(m, seqs, o, nullptr);
    const double per_step = q.distill.seconds / static_cast<double>(steps);
    const double t0 = now_seconds();
    for (int64_t w = 0; w < windows; ++w) floor.run();
    ref_s += now_seconds() - t0;
    lib_s += per_step;
    state.SetIterationTime(per_step);
  }
  const double n = static_cast<double>(state.iterations());
  const double lib_flops = windows * step_flops(c, T);
  state.counters["fwd_GFLOPs"] = lib_flops * n / lib_s * 1e-9;
  state.counters["sgemm_GFLOPs"] = windows * linears * n / ref_s * 1e-9;
  state.counters["vs_sgemm"] = (lib_flops / lib_s) / (windows * linears / ref_s);
  state.counters["over_floor"] = 1.0 / static_cast<double>(state.counters["vs_sgemm"]);
  state.counters["tokens_per_s"] = static_cast<double>(windows * T) * n / lib_s;
}

BENCHMARK(BM_DistillStepGutenberg4M)->Unit(benchmark::kMillisecond)->UseManualTime()->Iterations(2);

// One Llama-3.2-1B-shaped block (rope theta 5e5, half layout), 512 tokens, on the BLAS path: the
// block alone (Forward::block on the embedded tokens, restored before each call outside timing).
void BM_ForwardBlockLlama1B(benchmark::State &state) {
  ModelConfig c;
  c.dim = 2048, c.hidden_dim = 8192, c.n_layers = 1, c.n_heads = 32, c.n_kv_heads = 8, c.vocab_size = 256;
  c.seq_len = 512, c.rope_theta = 5e5f, c.rope_layout = vqr::model::RopeLayout::kHalf, c.shared_classifier = true;
  const int64_t T = c.seq_len;
  Model m(c);
  std::mt19937 rng(11);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  fill_block(m, rng);
  std::vector<int32_t> tokens(static_cast<size_t>(T));
  for (auto &t : tokens) t = static_cast<int32_t>(rng() % static_cast<uint32_t>(c.vocab_size));
  vqr::model::Forward fwd(m, T, 2, MatmulPath::kBlas);
  fwd.embed(tokens.data(), T);
  const std::vector<float> x0(fwd.hidden(), fwd.hidden() + T * c.dim);
  SgemmFloor floor(c, T, 1, false);
  const double linears = linear_flops(c, T, 1, false);
  time_against_sgemm(
      state, [&] { std::memcpy(fwd.hidden(), x0.data(), x0.size() * sizeof(float)); }, [&] { fwd.block(0, T); },
      floor, linears + attention_flops(c, T), linears);
}

BENCHMARK(BM_ForwardBlockLlama1B)->Unit(benchmark::kMillisecond)->UseManualTime();

// One step of the end-to-end and block-wise learned methods on a Llama-3-8B-shaped block (dim 4096,
// hidden 14336, 32 heads of 128 on 8 KV heads), 2048 tokens (issue 17 item 8): BlockBackward::run
// recomputes the block's forward and differentiates it (dx and the seven dW). Flops: the linears
// three times (the forward, dX = dY W, dW = dY^T X), the forward's attention over the causal
// triangle and the backward's five products per head over the same triangle (S, dP, dV, dQ, dK). The
// SGEMM side runs the block's seven forward GEMMs three times (the same flops as the linears).
void BM_BlockBackwardLlama8B(benchmark::State &state) {
  ModelConfig c;
  c.dim = 4096, c.hidden_dim = 14336, c.n_layers = 1, c.n_heads = 32, c.n_kv_heads = 8, c.vocab_size = 256;
  c.seq_len = 2048, c.rope_theta = 5e5f, c.rope_layout = vqr::model::RopeLayout::kHalf, c.shared_classifier = true;
  const int64_t T = c.seq_len;
  Model m(c);
  std::mt19937 rng(13);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  fill_block(m, rng);
  std::vector<float> x(static_cast<size_t>(T * c.dim)), dy(x.size()), dx(x.size());
  for (float &v : x) v = nd(rng);
  for (float &v : dy) v = nd(rng);
  vqr::model::BlockBackward bb(m, T, 2);
  SgemmFloor floor(c, T, 1, false);
  const double linears = linear_flops(c, T, 1, false);
  double checksum = 0;
  time_against_sgemm(
      state, [] {}, [&] { bb.run(0, x.data(), T, dy.data(), dx.data(), [&](LinearKind, const float *g, int64_t, int64_t) { checksum += g[0]; }); },
      floor, 3 * linears + 3.5 * attention_flops(c, T), linears);
  // over_floor: the step's time over all its flops at the SGEMM rate measured beside it (target
  // <= 1.5, issue 17 item 8) = 1 / vs_sgemm.
  state.counters["over_floor"] = 1.0 / static_cast<double>(state.counters["vs_sgemm"]);
  state.counters.erase("over_sgemm_time");
  benchmark::DoNotOptimize(checksum);
}

BENCHMARK(BM_BlockBackwardLlama8B)->Unit(benchmark::kMillisecond)->UseManualTime()->Iterations(3);

}  // namespace
