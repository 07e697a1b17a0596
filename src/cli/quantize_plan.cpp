// The dry-run plan of `vqround quantize` (quantize_plan.h).
//
// Per-layer settings: the public API resolves override and skip rules only inside
// vqr_model_quantize (vqr_model_layer_info reads the records of a finished run), so the plan
// applies the rules itself by the header's documented semantics: fnmatch on
// "blk.<block>.<wq|...>", rules in the order given, a later match wins for the same parameter.
//
// Estimates (spec gptq_family §7, the dense flops of calibration):
//  - forward: 2 x (parameters of the linear layers) x tokens, twice when a method needs the
//    full-precision stream (the header's "Needs an asymmetric Hessian": GPTAQ, ResComp,
//    GPTAQ_PAPER; no public accessor exposes this); attention and elementwise work are left out.
//  - Hessians: n^2 x tokens per distinct linear input (vqr_model_linear's hessian_index), plus
//    2 n^2 x tokens for D with the fp stream.
//  - sweeps: ~ m n^2 per GPTQ-family layer; a learned method: 2 m n^2 per step when --steps is
//    given (its preset step count is not public, so it is then left out and said so).
// The rate is measured here by timing vqr_hessian_add on a 2048 x 1024 f32 batch (an SSYRK of
// n^2 x T flops), so the time scales with this machine. Memory: the weights in fp32 as loaded,
// the calibration hidden states (tokens x dim x 4 bytes, x2 with the fp stream), the largest
// Hessian (n^2 x 4 bytes).
#include "cli/quantize_plan.h"

#include <fnmatch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>

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

bool is_sweep(int64_t method) {
  return method == VQR_METHOD_GPTQ || method == VQR_METHOD_GPTAQ || method == VQR_METHOD_RESCOMP ||
         method == VQR_METHOD_GPTAQ_PAPER;
}
bool needs_fp_stream(int64_t method) {
  return method == VQR_METHOD_GPTAQ || method == VQR_METHOD_RESCOMP || method == VQR_METHOD_GPTAQ_PAPER;
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

// Flops per second of this machine's SSYRK through the library: the best of three
// vqr_hessian_add calls on a 2048 x 1024 f32 batch (n^2 x T flops each).
double measure_rate() {
  const int64_t t = 2048, n = 1024;
  std::vector<float> x((size_t)(t * n));
  for (size_t i = 0; i < x.size(); ++i) x[i] = (float)((i * 2654435761u) % 1000) / 1000.0f - 0.5f;
  vqr_hessian *raw = nullptr;
  check(vqr_hessian_create(n, 0, &raw));
  const HessianPtr h(raw);
  vqr_tensor view{};
  view.data = x.data();
  view.dtype = VQR_DTYPE_F32;
  view.rows = t;
  view.cols = n;
  view.row_stride = n;
  double best = 1e30;
  for (int rep = 0; rep < 3; ++rep) {
    const auto start = std::chrono::steady_clock::now();
    check(vqr_hessian_add(h.get(), &view));
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  return (double)n * (double)n * (double)t / std::max(best, 1e-9);
}

struct Estimate {
  bool fp_stream = false, learned_unestimated = false;
  double forward = 0, hessian = 0, sweep = 0, rate = 0;
  double weights = 0, hidden = 0, largest_hessian = 0;
  int64_t quantized = 0;
  double flops() const { return forward + hessian + sweep; }
  double seconds() const { return flops() / rate; }
  double memory() const { return weights + hidden + largest_hessian; }
};

Estimate estimate(const PlanInputs &in, const std::vector<PlannedLayer> &layers) {
  Estimate e;
  const double tokens = (double)in.tokens;
  const int64_t steps = config_int(in.config, VQR_PARAM_STEPS);
  std::map<int64_t, int64_t> hessian_width;  // distinct linear inputs that a quantized layer reads
  double linear_params = 0;
  int64_t widest = 0;
  for (const PlannedLayer &l : layers) {
    linear_params += (double)l.rows * (double)l.cols;
    if (l.skip) continue;
    ++e.quantized;
    e.fp_stream = e.fp_stream || needs_fp_stream(l.method);
    hessian_width[l.hessian] = l.cols;
    widest = std::max(widest, l.cols);
    const double mn2 = (double)l.rows * (double)l.cols * (double)l.cols;
    if (is_sweep(l.method)) e.sweep += mn2;
    else if (l.method != VQR_METHOD_RTN) {
      if (steps > 0) e.sweep += 2 * mn2 * (double)steps;
      else e.learned_unestimated = true;
    }
  }
  const double streams = e.fp_stream ? 2 : 1;
  e.forward = 2 * linear_params * tokens * streams;
  for (const auto &[index, n] : hessian_width) e.hessian += (double)n * (double)n * tokens * (e.fp_stream ? 3 : 1);
  e.rate = measure_rate();
  e.weights = (double)in.info->parameters * 4;
  e.hidden = tokens * (double)in.info->dim * 4 * streams;
  e.largest_hessian = (double)widest * (double)widest * 4;
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
  std::printf("flops: forward %.3g, hessians %.3g, sweeps %.3g%s, total %.3g\n", e.forward, e.hessian, e.sweep,
              e.learned_unestimated ? " (learned steps at their preset: not counted)" : "", e.flops());
  // A floor, not a forecast: the dense flops at the SSYRK rate. Small models (width 64) run far
  // above it on per-call overheads and attention, which the count leaves out.
  std::printf("time: at least ~%s (the dense flops at %.1f GFLOP/s, vqr_hessian_add SSYRK measured here)\n",
              format_seconds(e.seconds()).c_str(), e.rate / 1e9);
  std::printf("memory: ~%s = weights fp32 %s + hidden states %s + largest hessian %s\n",
              format_bytes(e.memory()).c_str(), format_bytes(e.weights).c_str(), format_bytes(e.hidden).c_str(),
              format_bytes(e.largest_hessian).c_str());
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
  std::printf("\"estimate\": {\"flops\": {\"forward\": %s, \"hessian\": %s, \"sweep\": %s, \"total\": %s}, "
              "\"learned_steps_counted\": %s, \"rate_flops_per_s\": %s, \"seconds\": %s, \"memory_bytes\": "
              "{\"weights\": %s, \"hidden_states\": %s, \"largest_hessian\": %s, \"total\": %s}}}\n",
              json_number(e.forward).c_str(), json_number(e.hessian).c_str(), json_number(e.sweep).c_str(),
              json_number(e.flops()).c_str(), e.learned_unestimated ? "false" : "true", json_number(e.rate).c_str(),
              json_number(e.seconds()).c_str(), json_number(e.weights).c_str(), json_number(e.hidden).c_str(),
              json_number(e.largest_hessian).c_str(), json_number(e.memory()).c_str());
}

}  // namespace

void print_quantize_plan(const PlanInputs &in, bool json) {
  const std::vector<PlannedLayer> layers = resolve_layers(in);
  const Estimate e = estimate(in, layers);
  if (json) print_json(in, layers, e);
  else print_text(in, layers, e);
}

}  // namespace vqr::cli
