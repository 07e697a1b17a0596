// Block-by-block, true-sequential quantization of a whole model (sequential_quantizer.h).
#include "pipeline/sequential_quantizer.h"
#include "backend/backend.h"

#include <fnmatch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>

#include "core/error.h"
#include "hessian/hessian.h"
#include "model/forward.h"
#include "pipeline/blockwise_autoround.h"
#include "pipeline/end_to_end.h"
#include "pipeline/hidden_states.h"
#include "pipeline/resident_batch.h"
#include "pipeline/quantize_layer.h"
#include "pipeline/quantized_source.h"
#include "quant/method_traits.h"

namespace vqr::pipeline {

using model::LinearInput;
using model::LinearKind;

namespace {

// The true-sequential groups of a block (spec gptq_family §1.1), in forward order: one per
// distinct linear input, with the config's linears (LLaMA: q/k/v, o, gate/up, down; OPT: q/k/v,
// out_proj, fc1, fc2).
struct Group {
  LinearInput input;
  std::vector<LinearKind> kinds;
};
std::vector<Group> block_groups(const model::ModelConfig &c) {
  std::vector<Group> groups;
  for (LinearInput input : {LinearInput::kAttnNorm, LinearInput::kAttnOut, LinearInput::kFfnNorm, LinearInput::kFfnHidden}) {
    Group g{input, {}};
    for (LinearKind k : c.linear_kinds())
      if (model::input_of(k) == input) g.kinds.push_back(k);
    groups.push_back(std::move(g));
  }
  return groups;
}

// Whether a layer's objective involves the full-precision stream (D): its method says so in the
// traits table (GPTAQ, ResComp, the paper's GPTAQ, AutoRound), or GPTQ's exact-target ablation
// asks for it. An unknown method needs none; quantize_layer rejects it.
bool needs_fp_stream(const quant::QuantConfig &c) {
  const quant::MethodTraits *t = quant::find_method_traits(c.method);
  return (t != nullptr && t->needs_fp_stream) || c.exact_target || c.blockwise;
}

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// The phases of one block, in PhaseEvent order.
void report_block(const PipelineOptions &o, const model::Model &model, int block, int64_t hidden_bytes,
                  const QuantizedModel::PhaseSeconds &t, QuantizedModel::PhaseSeconds *total) {
  total->load += t.load;
  total->forward += t.forward;
  total->hessian += t.hessian;
  total->sweep += t.sweep;
  if (!o.on_phase) return;
  const std::pair<const char *, double> phases[] = {
      {"load", t.load}, {"forward", t.forward}, {"hessian", t.hessian}, {"sweep", t.sweep}};
  for (const auto &[name, seconds] : phases)
    o.on_phase(PhaseEvent{block, model.config().n_layers, name, seconds, hidden_bytes, model.resident_bytes()});
}

}  // namespace

namespace {

// Both streams through the finished block l (quantized weights, and the original ones), then the
// block's phase report.
void finish_block(model::Model &model, int l, const std::vector<std::vector<int32_t>> &windows,
                  const std::vector<int64_t> &lengths, HiddenStates &q, HiddenStates *fp, model::Forward &fwd,
                  const float *const *orig_ptrs, const PipelineOptions &options, QuantizedModel::PhaseSeconds &t,
                  QuantizedModel &out) {
  const auto forwarding = Clock::now();
  for (size_t w = 0; w < windows.size(); ++w) {
    const int64_t n = lengths[w];
    q.load(w, fwd.load_hidden());
    fwd.block(l, n);
    q.store(w, fwd.read_hidden());
    if (fp) {
      fp->load(w, fwd.load_hidden());
      fwd.block(l, n, {}, orig_ptrs);
      fp->store(w, fwd.read_hidden());
    }
  }
  t.forward += seconds_since(forwarding);
  report_block(options, model, l, out.peak_hidden_bytes, t, &out.phases);
}

// Whether block l is reconstructed as a whole (VQR_PARAM_BLOCKWISE): then the seven linears run
// the default AutoRound configuration together, so no per-layer override may touch them.
bool block_is_blockwise(const model::Model &model, const PipelineOptions &options, int l) {
  bool any = false, overridden = false;
  for (LinearKind k : model.config().linear_kinds()) {
    bool skip;
    const std::string name = model::Model::linear_name(l, k);
    any |= config_for_layer(options, name, &skip).blockwise && !skip;
    for (const LayerOverride &o : options.overrides) overridden |= fnmatch(o.pattern.c_str(), name.c_str(), 0) == 0;
  }
  if (!any) return false;
  require(!overridden && options.config.blockwise && options.config.method == quant::Method::AutoRound,
          Status::InvalidArgument,
          "quantize: block " + std::to_string(l) +
              ": block-wise reconstruction trains the seven linears together with the default AutoRound "
              "configuration; per-layer overrides (skips included) cannot apply to its layers");
  return true;
}

// Block-wise AutoRound of block l (blockwise_autoround.h) on both streams' inputs, each layer then
// installed and recorded in the usual processing order.
void quantize_block_jointly(model::Model &model, int l, const std::vector<std::vector<int32_t>> &windows,
                            const std::vector<int64_t> &lengths, HiddenStates &q, HiddenStates &fp,
                            const PipelineOptions &options, Context *ctx, int64_t total,
                            QuantizedModel::PhaseSeconds &t, QuantizedModel &out, Progress &progress) {
  const model::ModelConfig &mc = model.config();
  bool skip;
  const quant::QuantConfig config =
      quant::resolve_presets(config_for_layer(options, model::Model::linear_name(l, LinearKind::kWq), &skip));
  // The block's inputs on both streams, for every window (twice the hidden states of one block
  // boundary, in memory for the training's passes).
  const auto loading = Clock::now();
  std::vector<std::vector<float>> xq(windows.size()), xf(windows.size());
  BlockCalibration data;
  for (size_t w = 0; w < windows.size(); ++w) {
    xq[w].resize((size_t)(lengths[w] * mc.dim));
    xf[w].resize((size_t)(lengths[w] * mc.dim));
    q.load(w, xq[w].data());
    fp.load(w, xf[w].data());
    data.x_q.push_back(xq[w].data());
    data.x_fp.push_back(xf[w].data());
    data.tokens.push_back(lengths[w]);
  }
  t.load += seconds_since(loading);
  const auto training = Clock::now();
  BlockwiseOutcome trained = blockwise_autoround(ctx, config, model, l, data, config.block_batch, thread_count(ctx));
  for (const Group &g : block_groups(mc))
    for (LinearKind k : g.kinds) {
      quant::QuantizedLayer &result = trained.layers[(size_t)k];
      install_quantized(model, l, k, result, thread_count(ctx));
      LayerRecord rec;
      rec.name = model::Model::linear_name(l, k);
      rec.layer = l;
      rec.kind = k;
      rec.config = config;
      rec.report = result.report;
      rec.report.proxy_loss = rec.report.rtn_proxy_loss = rec.report.init_proxy_loss = NAN;  // no layer objective
      out.results.push_back(std::move(result));
      out.layers.push_back(rec);
      if (options.on_layer) options.on_layer(out.layers.back(), (int64_t)out.layers.size(), total);
      progress.checkpoint((int64_t)out.layers.size(), (int64_t)out.layers.size() == total);
    }
  t.sweep += seconds_since(training);
  char line[200];
  std::snprintf(line, sizeof line, "blk.%d: block-wise AutoRound, block output MSE %.6g -> %.6g (best step %lld)", l,
                trained.init_mse, trained.final_mse, (long long)trained.best_step);
  log_message(ctx, LogLevel::Info, line);
}

// Runs fn(); a vqr::Error it throws comes out with `where` (a layer's name) in front, so that a
// whole-model run names the layer whose statistic or result failed (a NaN, an overflow, a failed
// factorization). Cancellation passes unchanged: it is no layer's fault.
template <class Fn>
auto naming(const std::string &where, Fn &&fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const Error &e) {
    if (e.status() == Status::Cancelled) throw;
    throw Error(e.status(), where + ": " + e.what());
  }
}

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
  if (options.config.e2e) return quantize_end_to_end(model, windows, options, ctx);
  const auto start = Clock::now();
  const model::ModelConfig &mc = model.config();
  require(!windows.empty(), Status::InvalidArgument, "quantize: no calibration sequences");
  std::vector<int64_t> lengths;
  for (const auto &w : windows) {
    require(!w.empty() && (int64_t)w.size() <= mc.seq_len, Status::InvalidArgument,
            "quantize: a calibration sequence has " + std::to_string(w.size()) + " tokens; each needs 1.." +
                std::to_string(mc.seq_len) + " (the model's context)");
    lengths.push_back((int64_t)w.size());
  }
  const int64_t longest = *std::max_element(lengths.begin(), lengths.end());
  require(options.calib_dtype == DType::F32 || options.calib_dtype == DType::BF16 || options.calib_dtype == DType::F16,
          Status::InvalidArgument, "quantize: the calibration dtype must be F32, BF16 or F16");
  require(options.max_memory_bytes >= 0, Status::InvalidArgument,
          "quantize: the memory budget must be >= 0 bytes (0 = no limit)");

  // Which layers run what, and whether any needs the full-precision stream.
  const int64_t total = (int64_t)mc.n_layers * mc.linear_kinds().size();
  const std::vector<Group> groups = block_groups(mc);
  bool fp_stream = false;
  for (int l = 0; l < mc.n_layers; ++l)
    for (LinearKind k : mc.linear_kinds()) {
      bool skip;
      const quant::QuantConfig c = config_for_layer(options, model::Model::linear_name(l, k), &skip);
      fp_stream |= !skip && needs_fp_stream(c);
    }

  model::Forward fwd(model, longest, options.threads);
  fwd.set_backend(backend_of(ctx));
  QuantizedModel out;
  // The hidden states of both streams start as the embeddings; the two sets share the budget.
  const int64_t budget = options.max_memory_bytes == 0 ? kNoMemoryLimit : options.max_memory_bytes / (fp_stream ? 2 : 1);
  HiddenStates q(lengths, mc.dim, options.calib_dtype, budget, options.spill_dir);
  std::unique_ptr<HiddenStates> fp;
  if (fp_stream) fp = std::make_unique<HiddenStates>(lengths, mc.dim, options.calib_dtype, budget, options.spill_dir);
  out.peak_hidden_bytes = q.memory_bytes() + (fp ? fp->memory_bytes() : 0);
  const auto embedding = Clock::now();
  for (size_t w = 0; w < windows.size(); ++w) {
    fwd.embed(windows[w].data(), lengths[w]);
    q.store(w, fwd.read_hidden());
    if (fp) fp->store(w, fwd.read_hidden());
  }
  out.phases.forward += seconds_since(embedding);

  Progress progress(ctx, "model", total);  // cancellation between layers, and the caller's callback
  std::vector<float> x_fp;  // one window's fp input of the group being calibrated
  std::vector<float> original;  // the block's original weights, for the fp stream

  for (int l = 0; l < mc.n_layers; ++l) {
    if (options.on_phase)
      options.on_phase(PhaseEvent{l, mc.n_layers, "block", 0.0, out.peak_hidden_bytes, model.resident_bytes()});
    QuantizedModel::PhaseSeconds t;  // this block's
    const auto loading = Clock::now();
    // A streamed model widens the whole block on its first linear() (model.h); the forwards and
    // the sweeps below read that copy, which install_quantized refreshes layer by layer.
    if (model.streamed()) model.linear(l, LinearKind::kWq);
    // The block's original weights for the fp stream, read before any is replaced.
    const float *orig_ptrs[model::kLinearKindCount] = {};
    if (fp_stream) {
      original.resize((size_t)(model.block_bytes() / (int64_t)sizeof(float)));
      float *p = original.data();
      for (LinearKind k : mc.linear_kinds()) {
        model.read_linear_rows(l, k, 0, model.linear_rows(k), p);
        orig_ptrs[(int)k] = p;
        p += model.linear_rows(k) * model.linear_cols(k);
      }
    }
    t.load += seconds_since(loading);

    if (block_is_blockwise(model, options, l)) {
      quantize_block_jointly(model, l, windows, lengths, q, *fp, options, ctx, total, t, out, progress);
      finish_block(model, l, windows, lengths, q, fp.get(), fwd, orig_ptrs, options, t, out);
      continue;
    }

    // One group at a time: its statistics, then (true-sequential) its layers, so the next group's
    // statistics see them quantized; all at once (VQR_PARAM_TRUE_SEQUENTIAL 0): every group's
    // statistics from the unquantized block first, then every layer.
    struct Pending {
      const Group *g;
      std::vector<std::string> names;
      std::vector<quant::QuantConfig> configs;
      std::vector<bool> skips;
      std::unique_ptr<hessian::Hessian> h;
    };
    std::vector<Pending> pending;
    auto quantize_group = [&](Pending &pg) {
      const Group &g = *pg.g;
      for (size_t i = 0; i < g.kinds.size(); ++i) {
        LayerRecord rec;
        rec.name = pg.names[i];
        rec.layer = l;
        rec.kind = g.kinds[i];
        rec.skipped = pg.skips[i];
        rec.config = quant::resolve_presets(pg.configs[i]);
        if (pg.skips[i]) {
          out.results.emplace_back(0, 0, -1, rec.config.bits);
        } else {
          const auto sweeping = Clock::now();
          // The model's own dense fp32 weights: no untrusted view to validate (DESIGN §1).
          const model::LinearWeight w = model.linear(l, g.kinds[i]);
          quant::QuantizedLayer result = naming(rec.name, [&] {
            return options.layer_quantizer
                       ? options.layer_quantizer(ctx, pg.configs[i], l, g.kinds[i], w.data, w.rows, w.cols, pg.h.get())
                       : quantize_layer(ctx, pg.configs[i], w.data, w.rows, w.cols, pg.h.get());
          });
          install_quantized(model, l, g.kinds[i], result, thread_count(ctx));
          t.sweep += seconds_since(sweeping);
          rec.report = result.report;
          out.results.push_back(std::move(result));
        }
        out.layers.push_back(rec);
        if (options.on_layer) options.on_layer(out.layers.back(), (int64_t)out.layers.size(), total);
        progress.checkpoint((int64_t)out.layers.size(), (int64_t)out.layers.size() == total);
      }
      pg.h.reset();
    };
    for (const Group &g : groups) {
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
      if (!any) {  // every layer of the group skipped: no statistics
        pending.push_back(Pending{&g, std::move(names), std::move(configs), std::move(skips), nullptr});
        if (options.config.true_sequential) {
          quantize_group(pending.back());
          pending.clear();
        }
        continue;
      }

      // One Hessian for the group's input, from every window.
      const int64_t width = mc.input_width(g.input);
      auto hp = std::make_unique<hessian::Hessian>(width, /*f64=*/false, /*asymmetric=*/pair, backend_of(ctx));
      hessian::Hessian &h = *hp;
      const auto calibrating = Clock::now();
      double accumulating = 0;  // the part of the passes spent in the Hessian
      std::string inputs_of = "the input of " + names[0];
      for (size_t i = 1; i < names.size(); ++i) inputs_of += ", " + names[i];
      naming(inputs_of, [&] {
        for (size_t w = 0; w < windows.size(); ++w) {
          const int64_t n = lengths[w];
          // Each pass stops once the group's input has been seen: the rest of the block is not needed.
          if (pair) {
            fp->load(w, fwd.load_hidden());
            fwd.block(l, n,
                      [&](int, LinearInput input, const model::LinearBatch &x) {
                        if (input != g.input) return model::SinkAction::kContinue;
                        x_fp.assign(x.host(), x.host() + x.rows() * x.width());
                        return model::SinkAction::kStopBlock;
                      },
                      orig_ptrs);
          }
          q.load(w, fwd.load_hidden());
          fwd.block(l, n, [&](int, LinearInput input, const model::LinearBatch &x) {
            if (input != g.input) return model::SinkAction::kContinue;
            const auto adding = Clock::now();
            if (pair) {
              const TensorView xq = tensor_2d(x.host(), DType::F32, x.rows(), x.width(), 0);
              const TensorView xf = tensor_2d(x_fp.data(), DType::F32, x.rows(), x.width(), 0);
              h.add_pair(xq, xf);
            } else {
              add_linear_batch(h, x);  // on a device forward, where the batch lies
            }
            accumulating += seconds_since(adding);
            return model::SinkAction::kStopBlock;
          });
        }
      });
      t.hessian += accumulating;
      t.forward += seconds_since(calibrating) - accumulating;
      pending.push_back(Pending{&g, std::move(names), std::move(configs), std::move(skips), std::move(hp)});
      if (options.config.true_sequential) {
        quantize_group(pending.back());
        pending.clear();
      }
    }
    for (Pending &pg : pending) quantize_group(pg);

    finish_block(model, l, windows, lengths, q, fp.get(), fwd, orig_ptrs, options, t, out);
  }
  out.seconds = seconds_since(start);
  char line[320];
  std::snprintf(line, sizeof line,
                "quantize: %d blocks in %.1f s (load %.1f, forward %.1f, hessian %.1f, sweep %.1f); hidden states "
                "%lld bytes in memory, %lld spilled",
                mc.n_layers, out.seconds, out.phases.load, out.phases.forward, out.phases.hessian, out.phases.sweep,
                (long long)out.peak_hidden_bytes, (long long)(q.spilled_bytes() + (fp ? fp->spilled_bytes() : 0)));
  log_message(ctx, LogLevel::Info, line);
  return out;
}

}  // namespace vqr::pipeline
