// Block-by-block, true-sequential quantization of a whole model (sequential_quantizer.h).
#include "pipeline/sequential_quantizer.h"

#include <fnmatch.h>

#include <algorithm>
#include <chrono>
#include <cstring>

#include "core/error.h"
#include "hessian/hessian.h"
#include "model/forward.h"
#include "pipeline/quantize_layer.h"
#include "quant/method_traits.h"

namespace vqr::pipeline {

using model::LinearInput;
using model::LinearKind;

namespace {

// The true-sequential groups of a block (spec gptq_family §1.1), in forward order.
struct Group {
  LinearInput input;
  std::vector<LinearKind> kinds;
};
const Group kGroups[] = {{LinearInput::kAttnNorm, {LinearKind::kWq, LinearKind::kWk, LinearKind::kWv}},
                         {LinearInput::kAttnOut, {LinearKind::kWo}},
                         {LinearInput::kFfnNorm, {LinearKind::kW1, LinearKind::kW3}},
                         {LinearInput::kFfnHidden, {LinearKind::kW2}}};

// Whether a layer's objective involves the full-precision stream (D): its method says so in the
// traits table (GPTAQ, ResComp, the paper's GPTAQ, AutoRound), or GPTQ's exact-target ablation
// asks for it. An unknown method needs none; quantize_layer rejects it.
bool needs_fp_stream(const quant::QuantConfig &c) {
  const quant::MethodTraits *t = quant::find_method_traits(c.method);
  return (t != nullptr && t->needs_fp_stream) || c.exact_target;
}

// Hidden states of every calibration window at the current block boundary.
struct Stream {
  std::vector<std::vector<float>> hidden;
};

}  // namespace

quant::QuantConfig config_for_layer(const PipelineOptions &options, const std::string &name, bool *skip) {
  quant::QuantConfig c = options.config;
  *skip = false;
  for (const LayerOverride &o : options.overrides) {
    if (fnmatch(o.pattern.c_str(), name.c_str(), 0) != 0) continue;
    for (const auto &[param, value] : o.params) quant::set_typed(c, param, value);
    if (o.skip) *skip = true;
  }
  return c;
}

QuantizedModel quantize_sequential(model::Model &model, const std::vector<std::vector<int32_t>> &windows,
                                   const PipelineOptions &options, Context *ctx) {
  const auto start = std::chrono::steady_clock::now();
  const model::ModelConfig &mc = model.config();
  require(!windows.empty(), Status::InvalidArgument, "quantize: no calibration sequences");
  int64_t longest = 0;
  for (const auto &w : windows) {
    require(!w.empty() && (int64_t)w.size() <= mc.seq_len, Status::InvalidArgument,
            "quantize: a calibration sequence has " + std::to_string(w.size()) + " tokens; each needs 1.." +
                std::to_string(mc.seq_len) + " (the model's context)");
    longest = std::max<int64_t>(longest, (int64_t)w.size());
  }

  // Which layers run what, and whether any needs the full-precision stream.
  const int64_t total = (int64_t)mc.n_layers * model::kLinearKindCount;
  bool fp_stream = false;
  for (int l = 0; l < mc.n_layers; ++l)
    for (LinearKind k : model::kAllLinearKinds) {
      bool skip;
      const quant::QuantConfig c = config_for_layer(options, model::Model::linear_name(l, k), &skip);
      fp_stream |= !skip && needs_fp_stream(c);
    }

  model::Forward fwd(model, longest, options.threads);
  const int64_t dim = mc.dim;
  Stream q, fp;
  for (const auto &w : windows) {
    fwd.embed(w.data(), (int64_t)w.size());
    q.hidden.emplace_back(fwd.hidden(), fwd.hidden() + w.size() * dim);
  }
  if (fp_stream) fp = q;

  QuantizedModel out;
  Progress progress(ctx, "model", total);  // cancellation between layers, and the caller's callback
  std::vector<float> x_fp;  // one window's fp input of the group being calibrated
  auto load = [&](const std::vector<float> &h) { std::memcpy(fwd.hidden(), h.data(), h.size() * sizeof(float)); };

  for (int l = 0; l < mc.n_layers; ++l) {
    // The block's original weights, for the fp stream (the model's own get quantized).
    std::vector<std::vector<float>> original;
    const float *orig_ptrs[model::kLinearKindCount] = {};
    if (fp_stream) {
      for (LinearKind k : model::kAllLinearKinds) {
        const model::LinearWeight w = model.linear(l, k);
        original.emplace_back(w.data, w.data + w.rows * w.cols);
      }
      for (int k = 0; k < model::kLinearKindCount; ++k) orig_ptrs[k] = original[(size_t)k].data();
    }

    for (const Group &g : kGroups) {
      std::vector<std::string> names;
      std::vector<quant::QuantConfig> configs;
      std::vector<bool> skips;
      bool any = false, pair = false;
      for (LinearKind k : g.kinds) {
        bool skip;
        names.push_back(model::Model::linear_name(l, k));
        configs.push_back(config_for_layer(options, names.back(), &skip));
        skips.push_back(skip);
        any |= !skip;
        pair |= !skip && needs_fp_stream(configs.back());
      }
      if (!any) {
        for (size_t i = 0; i < g.kinds.size(); ++i) {
          LayerRecord rec;
          rec.name = names[i];
          rec.layer = l;
          rec.kind = g.kinds[i];
          rec.skipped = true;
          rec.config = quant::resolve_presets(configs[i]);
          out.layers.push_back(rec);
          out.results.emplace_back(0, 0, -1, rec.config.bits);
          if (options.on_layer) options.on_layer(out.layers.back(), (int64_t)out.layers.size(), total);
          progress.checkpoint((int64_t)out.layers.size(), (int64_t)out.layers.size() == total);
        }
        continue;
      }

      // One Hessian for the group's input, from every window.
      const int64_t width = mc.input_width(g.input);
      hessian::Hessian h(width, /*f64=*/false, /*asymmetric=*/pair, backend_of(ctx));
      for (size_t w = 0; w < windows.size(); ++w) {
        const int64_t n = (int64_t)windows[w].size();
        // Each pass stops once the group's input has been seen: the rest of the block is not needed.
        if (pair) {
          load(fp.hidden[w]);
          fwd.block(l, n,
                    [&](int, LinearInput input, const float *x, int64_t t, int64_t width_) {
                      if (input != g.input) return model::SinkAction::kContinue;
                      x_fp.assign(x, x + t * width_);
                      return model::SinkAction::kStopBlock;
                    },
                    orig_ptrs);
        }
        load(q.hidden[w]);
        fwd.block(l, n, [&](int, LinearInput input, const float *x, int64_t t, int64_t width_) {
          if (input != g.input) return model::SinkAction::kContinue;
          const TensorView xq = tensor_2d(x, DType::F32, t, width_, 0);
          if (pair) {
            const TensorView xf = tensor_2d(x_fp.data(), DType::F32, t, width_, 0);
            h.add_pair(xq, xf);
          } else {
            h.add(xq);
          }
          return model::SinkAction::kStopBlock;
        });
      }

      for (size_t i = 0; i < g.kinds.size(); ++i) {
        LayerRecord rec;
        rec.name = names[i];
        rec.layer = l;
        rec.kind = g.kinds[i];
        rec.skipped = skips[i];
        rec.config = quant::resolve_presets(configs[i]);
        if (skips[i]) {
          out.results.emplace_back(0, 0, -1, rec.config.bits);
        } else {
          // The model's own dense fp32 weights: no untrusted view to validate (DESIGN §1).
          const model::LinearWeight w = model.linear(l, g.kinds[i]);
          quant::QuantizedLayer result = quantize_layer(ctx, configs[i], w.data, w.rows, w.cols, &h);
          result.dequantize(model.linear_data(l, g.kinds[i]), thread_count(ctx));
          rec.report = result.report;
          out.results.push_back(std::move(result));
        }
        out.layers.push_back(rec);
        if (options.on_layer) options.on_layer(out.layers.back(), (int64_t)out.layers.size(), total);
        progress.checkpoint((int64_t)out.layers.size(), (int64_t)out.layers.size() == total);
      }
    }

    // Both streams through the finished block: quantized weights, and the original ones.
    for (size_t w = 0; w < windows.size(); ++w) {
      const int64_t n = (int64_t)windows[w].size();
      load(q.hidden[w]);
      fwd.block(l, n);
      std::memcpy(q.hidden[w].data(), fwd.hidden(), (size_t)(n * dim) * sizeof(float));
      if (fp_stream) {
        load(fp.hidden[w]);
        fwd.block(l, n, {}, orig_ptrs);
        std::memcpy(fp.hidden[w].data(), fwd.hidden(), (size_t)(n * dim) * sizeof(float));
      }
    }
  }
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return out;
}

}  // namespace vqr::pipeline
