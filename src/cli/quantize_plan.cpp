// The dry-run plan of `vqround quantize` (quantize_plan.h).
//
// Per-layer settings: the public API resolves override and skip rules only inside
// vqr_model_quantize (vqr_model_layer_info reads the records of a finished run), so the plan
// applies the rules itself by the header's documented semantics: fnmatch on
// "blk.<block>.<wq|...>", rules in the order given, a later match wins for the same parameter.
// What each method needs (the fp stream, D, its preset step count) comes from vqr_method_info.
//
// Time (spec gptq_family §7, the dense flops of the streamed pipeline of §1.1):
//  - forward: per block, one pass per true-sequential group with a layer to quantize, each
//    stopping at its group's input (q/k/v: none of the block's linears; o: q/k/v and attention;
//    gate/up: q/k/v/o; down: all but w2), then one full pass; each again through the original
//    weights where the fp stream runs. 2 flops per weight per token, plus attention's two
//    matmuls, 2 x L x q_dim per token for windows of L tokens.
//  - hessian: n^2 T per distinct input (SSYRK), plus 2 n^2 T for D where the fp stream runs (GEMM).
//  - sweep, per GPTQ-family layer: the inverse factor 4/3 n^3, the cross-block updates m n^2
//    (twice with D), GPTAQ's P 2 n^3 (TRMM); a learned method: 2 m n^2 per step (--steps, or the
//    preset of vqr_method_info). Block-wise AutoRound (--blockwise) instead: no group passes and no
//    Hessians; the fp block's outputs once (2 flops per weight per token plus attention), then per
//    step a forward and a backward of the block on --block-batch sequences: 6 flops per weight per
//    token (forward, dX, dW) plus attention's forward and the backward's five T x T products.
// The rates come from a short probe through the library (~0.2 s): vqr_hessian_add on a
// 1024 x 1024 f32 batch is an SSYRK of n^2 T flops, and vqr_hessian_add_pair on the same batch
// adds D's GEMM of 2 n^2 T flops, timed as the difference. Loading weights, elementwise passes and
// per-call overheads are left out: the time is a floor, which small models exceed many times.
// Memory, the streamed pipeline's peak: one block's weights in fp32 (x2 with the fp stream: the
// original weights stay for its pass), the calibration hidden states in their storage dtype (x2
// with the fp stream), capped by --max-memory with the rest spilled to a file, the largest Hessian
// (x2 with D), one window's activations (block-wise: plus its inputs and targets and the block
// backward's activations), and the codes kept for the writer.
#include "cli/quantize_plan.h"

#include <fnmatch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cmath>
#include <vector>

#include "cli/names.h"
#include "cli/units.h"
#include "core/json_text.h"

namespace vqr::cli {

namespace {

const char *const kShortNames[] = {"wq", "wk", "wv", "wo", "w1", "w2", "w3"};

struct PlannedLayer {
  std::string name;
  int64_t rows = 0, cols = 0, hessian = -1;
  bool skip = false;
  int64_t method = 0, bits = 0, group = 0;
};

int64_t config_int(const vqr_config *c, vqr_param p) {
  int64_t v = 0;
  check(vqr_config_get_int(c, p, &v));
  return v;
}

vqr_method_facts method_facts(int64_t method) {
  vqr_method_facts f{};
  f.struct_size = sizeof f;
  check(vqr_method_info((vqr_method)method, &f));
  return f;
}

std::vector<PlannedLayer> resolve_layers(const PlanInputs &in) {
  std::vector<PlannedLayer> out;
  const int64_t n = vqr_model_linear_count(in.model);
  for (int64_t i = 0; i < n; ++i) {
    PlannedLayer l;
    const char *name = nullptr;
    vqr_tensor w{};
    check(vqr_model_linear(in.model, i, &name, &w, &l.hessian));
    l.name = name;
    l.rows = w.rows;
    l.cols = w.cols;
    l.method = config_int(in.config, VQR_PARAM_METHOD);
    l.bits = config_int(in.config, VQR_PARAM_BITS);
    l.group = config_int(in.config, VQR_PARAM_GROUP_SIZE);
    for (const OverrideRule &r : *in.rules) {
      if (fnmatch(r.pattern.c_str(), name, 0) != 0) continue;
      l.skip = l.skip || r.skip;
      for (const auto &[param, value] : r.params) {
        if (param == VQR_PARAM_METHOD) l.method = value;
        else if (param == VQR_PARAM_BITS) l.bits = value;
        else if (param == VQR_PARAM_GROUP_SIZE) l.group = value;
      }
    }
    out.push_back(l);
  }
  return out;
}

// Flops per second of this machine's BLAS through the library, the best of three calls each on a
// 1024 x 1024 f32 batch: SSYRK (vqr_hessian_add, n^2 T flops) and GEMM (what
// vqr_hessian_add_pair adds for D, 2 n^2 T flops). About 0.2 s on 2 cores.
struct Rates {
  double syrk = 0, gemm = 0;
};

double best_seconds(vqr_hessian *h, const vqr_tensor &x, bool pair) {
  double best = 1e30;
  for (int rep = 0; rep < 3; ++rep) {
    const auto start = std::chrono::steady_clock::now();
    check(pair ? vqr_hessian_add_pair(h, &x, &x) : vqr_hessian_add(h, &x));
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  return best;
}

Rates measure_rates() {
  const int64_t t = 1024, n = 1024;
  std::vector<float> x((size_t)(t * n));
  for (size_t i = 0; i < x.size(); ++i) x[i] = (float)((i * 2654435761u) % 1000) / 1000.0f - 0.5f;
  const vqr_tensor view = vqr_tensor_2d(x.data(), VQR_DTYPE_F32, t, n, 0);
  vqr_hessian *raw = nullptr;
  check(vqr_hessian_create(n, 0, &raw));
  const HessianPtr h(raw);
  check(vqr_hessian_create(n, VQR_HESSIAN_ASYMMETRIC, &raw));
  const HessianPtr asym(raw);
  const double syrk = best_seconds(h.get(), view, false);
  const double pair = best_seconds(asym.get(), view, true);
  const double flops = (double)n * (double)n * (double)t;
  Rates r;
  r.syrk = flops / std::max(syrk, 1e-9);
  // The difference is noisy on a busy machine; a GEMM is never taken faster than twice the SSYRK
  // rate (the same kernels, each flop of the symmetric half counted once).
  r.gemm = 2 * flops / std::max(pair - syrk, syrk / 2);
  return r;
}

// The per-phase figures of the whole run.
struct Phases {
  double forward = 0, hessian = 0, sweep = 0, distill = 0;
  double total() const { return forward + hessian + sweep + distill; }
};

struct Estimate {
  bool fp_stream = false, exact_target = false;
  int64_t quantized = 0, passes = 0;  // layers quantized; forward passes in all, both streams
  Phases flops, seconds;
  Rates rates;
  double block_fp32 = 0, hidden = 0, hidden_in_memory = 0, spilled = 0, largest_hessian = 0, activations = 0,
         codes = 0, distill = 0;  // distill: the end-to-end run's relaxations, teacher and backward states
  double memory() const { return block_fp32 + hidden_in_memory + largest_hessian + activations + codes + distill; }
};

// The true-sequential groups of a block (spec gptq_family §1.1) as indices into its seven layers
// (wq, wk, wv, wo, w1, w2, w3), in forward order.
const std::vector<std::vector<int>> kGroups = {{0, 1, 2}, {3}, {4, 6}, {5}};

int64_t dtype_bytes(int dtype) { return dtype == VQR_DTYPE_F32 ? 4 : 2; }

// Sweep flops of one layer (m x n) quantized by `method` (the header comments of §7's table).
double sweep_flops(const PlannedLayer &l, const vqr_method_facts &f, int64_t steps) {
  const double m = (double)l.rows, n = (double)l.cols;
  if (f.is_learned) return 2 * m * n * n * (double)(steps >= 0 ? steps : f.preset_steps);
  if (!f.is_sweep) return 0;
  return 4.0 / 3.0 * n * n * n + m * n * n * (f.needs_asymmetric ? 2 : 1) + (f.needs_asymmetric ? 2 * n * n * n : 0);
}

Estimate estimate(const PlanInputs &in, const std::vector<PlannedLayer> &layers) {
  Estimate e;
  const vqr_model_info &info = *in.info;
  const double tokens = (double)in.tokens;
  const bool e2e = config_int(in.config, VQR_PARAM_E2E) != 0;
  // With --e2e the layer-wise part only initializes (no layer-wise steps); --steps are the e2e steps.
  const int64_t steps = e2e ? 0 : config_int(in.config, VQR_PARAM_STEPS);
  e.exact_target = config_int(in.config, VQR_PARAM_EXACT_TARGET) != 0;
  auto needs_fp = [&](const PlannedLayer &l) {
    const vqr_method_facts f = method_facts(l.method);
    return !l.skip && (f.needs_fp_stream || (e.exact_target && f.accepts_exact_target));
  };
  const bool blockwise = config_int(in.config, VQR_PARAM_BLOCKWISE) != 0;
  for (const PlannedLayer &l : layers) e.fp_stream = e.fp_stream || needs_fp(l) || (blockwise && !l.skip);
  const double streams = e.fp_stream ? 2 : 1;
  const double q_dim = (double)info.n_heads * (double)info.head_dim;
  const double attention = 2 * (double)in.longest * q_dim;  // flops per token of one pass
  double syrk = 0, gemm = 0, widest = 0;
  for (int b = 0; b < info.n_layers; ++b) {
    const PlannedLayer *block = &layers[(size_t)b * 7];
    double block_params = 0, prefix = 0;
    for (int j = 0; j < 7; ++j) block_params += (double)block[j].rows * (double)block[j].cols;
    e.block_fp32 = std::max(e.block_fp32, block_params * 4 * streams);
    if (blockwise) {
      const vqr_method_facts f = method_facts(block[0].method);
      const double step_tokens =
          (double)std::min<int64_t>(config_int(in.config, VQR_PARAM_BLOCK_BATCH), in.sequences) * (double)in.longest;
      const double backward_attention = 5 * 2 * (double)in.longest * q_dim;  // per token: five T x T products
      const double block_steps = (double)(steps >= 0 ? steps : f.preset_steps);
      e.flops.sweep += tokens * (2 * block_params + attention) +
                       block_steps * step_tokens * (6 * block_params + attention + backward_attention);
      for (int j = 0; j < 7; ++j) {
        const PlannedLayer &l = block[j];
        ++e.quantized;
        const double scales = (l.group > 0 ? std::ceil((double)l.cols / (double)l.group) : 1) * (double)l.rows;
        e.codes += (double)l.rows * (double)l.cols * (double)l.bits / 8 + scales * 8 + (double)l.cols * 4;
      }
      e.flops.forward += tokens * (2 * block_params + attention) * streams;  // the block's full pass
      e.passes += (int64_t)streams;
      continue;
    }
    for (size_t g = 0; g < kGroups.size(); ++g) {
      bool active = false, pair = false;
      double group_params = 0;
      for (int j : kGroups[g]) {
        const PlannedLayer &l = block[j];
        group_params += (double)l.rows * (double)l.cols;
        if (l.skip) continue;
        active = true;
        pair = pair || needs_fp(l);
        ++e.quantized;
        e.flops.sweep += sweep_flops(l, method_facts(l.method), steps);
        const double scales = (l.group > 0 ? std::ceil((double)l.cols / (double)l.group) : 1) * (double)l.rows;
        // A streamed run parks each layer's codes at `bits` bits (quant::QuantizedLayer::park), with
        // fp32 scales and zeros and the int32 g_idx, until the writer packs them.
        e.codes += (double)l.rows * (double)l.cols * (double)l.bits / 8 + scales * 8 + (double)l.cols * 4;
      }
      if (active) {
        const double n = (double)block[kGroups[g][0]].cols;
        e.flops.forward += tokens * (2 * prefix + (g > 0 ? attention : 0)) * (pair ? 2 : 1);
        e.passes += pair ? 2 : 1;
        syrk += n * n * tokens;
        if (pair) gemm += 2 * n * n * tokens;
        e.largest_hessian = std::max(e.largest_hessian, n * n * 4 * (pair ? 2 : 1));
        widest = std::max(widest, n);
      }
      prefix += group_params;
    }
    e.flops.forward += tokens * (2 * block_params + attention) * streams;  // the block's full pass
    e.passes += (int64_t)streams;
  }
  e.flops.hessian = syrk + gemm;
  e.rates = measure_rates();
  e.seconds.forward = e.flops.forward / e.rates.gemm;
  e.seconds.hessian = syrk / e.rates.syrk + gemm / e.rates.gemm;
  e.seconds.sweep = e.flops.sweep / e.rates.gemm;
  e.hidden = tokens * (double)info.dim * (double)dtype_bytes(in.calib_dtype) * streams;
  e.hidden_in_memory = in.max_memory > 0 ? std::min(e.hidden, (double)in.max_memory) : e.hidden;
  e.spilled = e.hidden - e.hidden_in_memory;
  // Forward scratch of one window (model/forward.h: x, xb, xb2, q, k, v, hb, hb2) in fp32, and the
  // fp stream's copy of a group input.
  const double kv_dim = (double)info.n_kv_heads * (double)info.head_dim, dim = (double)info.dim;
  e.activations = (double)in.longest * 4 *
                  (2 * dim + std::max(dim, q_dim) + q_dim + 2 * kv_dim + 2 * (double)info.hidden_dim +
                   (e.fp_stream ? widest : 0));
  if (e2e) {
    // End-to-end distillation (pipeline/end_to_end.h): the teacher's forward over every sequence,
    // each step's forward, recomputation and backward of e2e_batch sequences (6 flops per weight
    // and token, attention's products twice forward and five times backward over the visible half,
    // the classifier three times), and the held-out scoring at every evaluation.
    const int64_t method = config_int(in.config, VQR_PARAM_METHOD);
    const vqr_method_facts f = method_facts(method);
    const int64_t e2e_steps = config_int(in.config, VQR_PARAM_STEPS);
    const double S = (double)(e2e_steps >= 0 ? e2e_steps : f.preset_steps), T = (double)in.longest;
    const double batch = (double)std::min<int64_t>(config_int(in.config, VQR_PARAM_E2E_BATCH), in.sequences);
    const int64_t every = config_int(in.config, VQR_PARAM_EVAL_EVERY), held_arg = config_int(in.config, VQR_PARAM_HOLDOUT);
    const double held = (double)(held_arg >= 0 ? held_arg : (in.sequences >= 2 ? std::max<int64_t>(1, in.sequences / 8) : 0));
    const double evals = held > 0 ? (every > 0 ? std::floor(S / (double)every) : 0) + 2 : 0;
    double params = 0, quantized = 0;
    for (const PlannedLayer &l : layers) {
      params += (double)l.rows * (double)l.cols;
      if (!l.skip) quantized += (double)l.rows * (double)l.cols;
    }
    const double head = 2 * (double)info.vocab_size * (double)info.dim, layers_n = (double)info.n_layers;
    const double pass = T * (2 * params + layers_n * attention / 2 + head);  // one forward of one sequence
    const double step = batch * T * (6 * params + layers_n * (2 + 5) * attention / 2 + 3 * head);
    e.flops.distill = (double)in.sequences * pass + S * step + evals * held * pass;
    e.seconds.distill = e.flops.distill / e.rates.gemm;
    // Relaxation state per weight (learn/relaxed_rounding.h): VQRound base + zero in fp32, the assignment
    // and its index, the initial codes: ~6.5 bytes; AdaRound adds five fp32 arrays and Adam's two.
    const bool vq = method == VQR_METHOD_VQROUND;
    const double k = (double)std::min<int64_t>(config_int(in.config, VQR_PARAM_TEACHER_TOPK), info.vocab_size);
    const bool online = config_int(in.config, VQR_PARAM_TEACHER_ONLINE) != 0;
    e.distill = quantized * (vq ? 6.5 : 29.0) + (layers_n + 1) * T * (double)info.dim * 4 +
                4 * T * (double)info.vocab_size * 4 + (online ? 0 : (double)in.tokens * (8 * k + 4));
  }
  if (blockwise) {
    // Block-wise AutoRound (pipeline/blockwise_autoround.h): both streams' inputs and the fp block's
    // outputs of every window in fp32, and the block backward's activations of one window
    // (model/block_backward.h: 5 x dim, 5 x q_dim, 5 x kv_dim, 6 x hidden per token) with its
    // attention probabilities and their gradient (a head group's T x T, at most 64 MB).
    const double T = (double)in.longest;
    e.activations += 3 * tokens * dim * 4 +
                     T * 4 * (5 * dim + 5 * q_dim + 5 * kv_dim + 6 * (double)info.hidden_dim) +
                     std::min((double)info.n_heads * T * T * 8, std::max(64.0 * 1024 * 1024, T * T * 8));
  }
  return e;
}

std::string layer_setting(const PlannedLayer &l) {
  if (l.skip) return "skip";
  char buf[96];
  std::snprintf(buf, sizeof buf, "%s %lld-bit g%lld", vqr_method_name((vqr_method)l.method), (long long)l.bits,
                (long long)l.group);
  return buf;
}

void print_text(const PlanInputs &in, const std::vector<PlannedLayer> &layers, const Estimate &e) {
  std::printf("plan for %s (%s), nothing will be computed or written\n", in.info->model_path, in.info->format);
  for (int b = 0; b < in.info->n_layers; ++b) {
    std::printf("block %d:", b);
    for (size_t j = 0; j < 7 && (size_t)b * 7 + j < layers.size(); ++j) {
      const PlannedLayer &l = layers[(size_t)b * 7 + j];
      std::printf("%s %s %lldx%lld %s", j ? "," : "", kShortNames[j], (long long)l.rows, (long long)l.cols,
                  layer_setting(l).c_str());
    }
    std::printf("\n");
  }
  if (!in.rules_text.empty()) std::printf("rules as given: %s\n", in.rules_text.c_str());
  std::printf("totals: %d blocks, %lld of %zu linear layers quantized, calibration %lld sequences = %lld tokens%s\n",
              in.info->n_layers, (long long)e.quantized, layers.size(), (long long)in.sequences,
              (long long)in.tokens, e.fp_stream ? " (with the fp stream)" : "");
  std::printf("flops: forward %.3g (%lld block passes), hessians %.3g, sweeps %.3g, distillation %.3g, total %.3g\n",
              e.flops.forward, (long long)e.passes, e.flops.hessian, e.flops.sweep, e.flops.distill, e.flops.total());
  // A floor, not a forecast: small models (width 64) run far above it on per-call overheads.
  std::printf("time: at least ~%s = forward %s + hessians %s + sweeps %s + distillation %s (the dense flops at SGEMM "
              "%.1f and SSYRK %.1f GFLOP/s measured here; loading, elementwise passes and per-call overheads not "
              "counted)\n",
              format_seconds(e.seconds.total()).c_str(), format_seconds(e.seconds.forward).c_str(),
              format_seconds(e.seconds.hessian).c_str(), format_seconds(e.seconds.sweep).c_str(),
              format_seconds(e.seconds.distill).c_str(), e.rates.gemm / 1e9, e.rates.syrk / 1e9);
  std::printf("memory: ~%s = block fp32 %s%s + hidden states %s (%s%s) + largest hessian %s + activations %s + "
              "codes %s + distillation %s\n",
              format_bytes(e.memory()).c_str(), format_bytes(e.block_fp32).c_str(),
              e.fp_stream ? " (x2, fp stream)" : "", format_bytes(e.hidden_in_memory).c_str(),
              dtype_name(in.calib_dtype),
              e.fp_stream ? ", x2 fp stream" : "", format_bytes(e.largest_hessian).c_str(),
              format_bytes(e.activations).c_str(), format_bytes(e.codes).c_str(), format_bytes(e.distill).c_str());
  if (e.spilled > 0)
    std::printf("spill: hidden states %s capped at %s by --max-memory, %s to a file in %s\n",
                format_bytes(e.hidden).c_str(), format_bytes((double)in.max_memory).c_str(),
                format_bytes(e.spilled).c_str(), in.spill_dir.empty() ? "$TMPDIR or /tmp" : in.spill_dir.c_str());
}

void print_json(const PlanInputs &in, const std::vector<PlannedLayer> &layers, const Estimate &e) {
  std::printf("{\"dry_run\": true, \"model\": %s, \"format\": %s, \"rules\": %s, \"blocks\": [",
              json_string(in.info->model_path).c_str(), json_string(in.info->format).c_str(),
              json_string(in.rules_text).c_str());
  for (int b = 0; b < in.info->n_layers; ++b) {
    std::printf("%s{\"block\": %d, \"layers\": [", b ? ", " : "", b);
    for (size_t j = 0; j < 7 && (size_t)b * 7 + j < layers.size(); ++j) {
      const PlannedLayer &l = layers[(size_t)b * 7 + j];
      std::printf("%s{\"name\": %s, \"rows\": %lld, \"cols\": %lld, \"skip\": %s, \"method\": %s, \"bits\": %lld, "
                  "\"group_size\": %lld}",
                  j ? ", " : "", json_string(l.name).c_str(), (long long)l.rows, (long long)l.cols,
                  l.skip ? "true" : "false", json_string(vqr_method_name((vqr_method)l.method)).c_str(),
                  (long long)l.bits, (long long)l.group);
    }
    std::printf("]}");
  }
  std::printf("], \"totals\": {\"blocks\": %d, \"linear_layers\": %zu, \"quantized_layers\": %lld, "
              "\"calibration_sequences\": %lld, \"calibration_tokens\": %lld, \"fp_stream\": %s}, ",
              in.info->n_layers, layers.size(), (long long)e.quantized, (long long)in.sequences, (long long)in.tokens,
              e.fp_stream ? "true" : "false");
  std::printf("\"estimate\": {\"flops\": {\"forward\": %s, \"hessian\": %s, \"sweep\": %s, \"distill\": %s, "
              "\"total\": %s}, \"block_passes\": %lld, \"rate_flops_per_s\": %s, \"rates\": {\"sgemm\": %s, "
              "\"ssyrk\": %s}, \"seconds\": %s, \"phase_seconds\": {\"forward\": %s, \"hessian\": %s, \"sweep\": %s, "
              "\"distill\": %s}, ",
              json_number(e.flops.forward).c_str(), json_number(e.flops.hessian).c_str(),
              json_number(e.flops.sweep).c_str(), json_number(e.flops.distill).c_str(),
              json_number(e.flops.total()).c_str(), (long long)e.passes, json_number(e.rates.gemm).c_str(),
              json_number(e.rates.gemm).c_str(), json_number(e.rates.syrk).c_str(),
              json_number(e.seconds.total()).c_str(), json_number(e.seconds.forward).c_str(),
              json_number(e.seconds.hessian).c_str(), json_number(e.seconds.sweep).c_str(),
              json_number(e.seconds.distill).c_str());
  std::printf("\"memory_bytes\": {\"block_fp32\": %s, \"hidden_states\": %s, \"hidden_states_in_memory\": %s, "
              "\"spilled\": %s, \"largest_hessian\": %s, \"activations\": %s, \"codes\": %s, \"distill\": %s, "
              "\"total\": %s}, \"calib_dtype\": %s, \"max_memory_bytes\": %lld}}\n",
              json_number(e.block_fp32).c_str(), json_number(e.hidden).c_str(), json_number(e.hidden_in_memory).c_str(),
              json_number(e.spilled).c_str(), json_number(e.largest_hessian).c_str(),
              json_number(e.activations).c_str(), json_number(e.codes).c_str(), json_number(e.distill).c_str(),
              json_number(e.memory()).c_str(),
              json_string(dtype_name(in.calib_dtype)).c_str(),
              (long long)in.max_memory);
}

}  // namespace

void print_quantize_plan(const PlanInputs &in, bool json) {
  const std::vector<PlannedLayer> layers = resolve_layers(in);
  const Estimate e = estimate(in, layers);
  if (json) print_json(in, layers, e);
  else print_text(in, layers, e);
}

}  // namespace vqr::cli
