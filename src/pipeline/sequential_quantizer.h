// Whole-model quantization, block by block (spec gptq_family §1.1, §2.2; DESIGN §1): for each
// decoder block, the true-sequential groups (q/k/v, o, gate/up, down) are calibrated in order on
// the inputs the already-quantized model produces, one Hessian per distinct input, each layer
// quantized by the library's per-layer entry point and its dequantized weights written back into
// the model, so the next group and the next block see the quantized stream. When a layer's method
// needs the full-precision stream too (GPTAQ, ResComp, GPTAQ_PAPER, exact target), a second set
// of hidden states runs alongside through the block's original weights, and the Hessian collects
// (X_q, X_fp) pairs. Memory: the calibration hidden states at one block boundary (one set, or
// two with the fp stream; hidden_states.h: fp32 or BF16/F16, spilled past a budget), one block's
// original weights and one layer's activations. A streamed model (issue 16) is never widened whole:
// each block is widened into the model's block cache, and each quantized layer becomes the layer's
// source (quantized_source.h, codes parked), so the weights held stay one block in fp32 plus the
// quantized codes.
#pragma once

#include <cstdint>
#include <functional>
#include <utility>
#include <string>
#include <vector>

#include "core/context.h"
#include "core/dtype.h"
#include "model/linear_kinds.h"
#include "hessian/hessian.h"
#include "model/model.h"
#include "pipeline/distill_report.h"
#include "quant/config.h"
#include "quant/quantized_layer.h"

namespace vqr::pipeline {

// Per-layer exceptions to the default configuration, matched in order against the layer name
// "blk.<layer>.<wq|wk|wv|wo|w1|w2|w3>" with shell globbing (fnmatch); later matches override
// earlier ones parameter by parameter (vqr_model_override_int / _float, --override).
struct LayerOverride {
  std::string pattern;
  std::vector<std::pair<quant::Param, double>> params;  // values checked by quant::check_param_value
  bool skip = false;                                 // keep the layer in full precision
};

struct LayerRecord {
  std::string name;
  int layer = 0;
  model::LinearKind kind = model::LinearKind::kWq;
  bool skipped = false;
  quant::QuantConfig config;  // what ran (presets resolved)
  quant::LayerReport report{};
};

struct QuantizedModel {
  std::vector<LayerRecord> layers;  // in processing order
  // The same order; empty entries for skipped layers. Parked (QuantizedLayer::park) when the model
  // is streamed: read the codes through QuantizedLayer::with_codes or grid_codes_of(q, &scratch).
  std::vector<quant::QuantizedLayer> results;
  double seconds = 0;
  // Where the seconds went, summed over blocks (PhaseEvent names the same phases per block):
  // load = widening the block's weights (a streamed model's sources) and copying the originals the
  // fp stream runs on; forward = the embedding and the block forwards over every sequence, with the
  // hidden states' loads and stores (spill I/O included); hessian = Hessian accumulation; sweep =
  // quantize_layer and installing its weights into the model.
  struct PhaseSeconds {
    double load = 0, forward = 0, hessian = 0, sweep = 0;
  } phases;
  // Hidden-state bytes held in memory at peak (both streams, the spilled part excluded).
  int64_t peak_hidden_bytes = 0;
  // End-to-end distillation (VQR_PARAM_E2E, end_to_end.h); ran = false otherwise.
  DistillReport distill;
};

// What PipelineOptions::on_phase hears: when block `block` starts (phase "block", seconds 0), and
// when it ends one event per phase with that phase's seconds in this block ("load", "forward",
// "hessian", "sweep", in this order; QuantizedModel::PhaseSeconds says what each counts).
struct PhaseEvent {
  int block = 0;           // 0-based
  int blocks = 0;          // the model's n_layers
  const char *phase = "";  // a string literal
  double seconds = 0;
  int64_t hidden_bytes = 0;  // hidden-state bytes in memory (QuantizedModel::peak_hidden_bytes so far)
  int64_t model_bytes = 0;   // the model's Model::resident_bytes() now (arena + widened blocks)
};

struct PipelineOptions {
  quant::QuantConfig config;  // the default for every layer
  std::vector<LayerOverride> overrides;
  int threads = 0;  // forward-pass threads (0 = all cores); quantization follows the context
  // Called after each layer (on the calling thread): its record, and how many layers of how many
  // are done. May be empty.
  std::function<void(const LayerRecord &, int64_t done, int64_t total)> on_layer;
  // Called on the calling thread at each PhaseEvent. May be empty.
  std::function<void(const PhaseEvent &)> on_phase;
  // The calibration hidden states (hidden_states.h): stored as F32 (exact, the default), BF16 or
  // F16 (half the bytes; the stream is rounded to nearest even at every block boundary);
  // max_memory_bytes: the bytes they may take in memory (0 = no limit; with the fp stream each of
  // the two sets gets half), the rest spills to an unlinked file in spill_dir (empty = $TMPDIR, or
  // /tmp). quantize_sequential throws Status::InvalidArgument for another dtype or a negative budget.
  DType calib_dtype = DType::F32;
  int64_t max_memory_bytes = 0;
  std::string spill_dir;
  // End-to-end distillation (config.e2e; end_to_end.h): the teacher cache file (empty = the teacher
  // in memory only), the checkpoint file (empty = none) and whether to resume from it; the
  // full-precision model an online teacher runs (config.teacher_online; must outlive the call).
  std::string teacher_cache, checkpoint;
  bool resume = false;
  // Every block's soft weights are kept for the step when they fit this (built once per block and
  // step instead of twice per sequence; the same values either way).
  int64_t soft_cache_bytes = int64_t{256} << 20;
  const model::Model *teacher_model = nullptr;
  // Replaces quantize_layer (quantize_layer.h; same arguments, contract and errors) for every
  // quantized layer when set: end_to_end.h starts its relaxations here.
  std::function<quant::QuantizedLayer(Context *ctx, const quant::QuantConfig &config, int layer,
                                      model::LinearKind kind, const float *W, int64_t m, int64_t n,
                                      const hessian::Hessian *h)>
      layer_quantizer;
};

// The configuration a layer gets: `base` with every matching override applied; *skip set when an
// override skips it.
quant::QuantConfig config_for_layer(const PipelineOptions &options, const std::string &name, bool *skip);

// Quantizes `model` in place (its linear weights become the dequantized quantized weights) on
// calibration sequences `windows` (each run with a fresh context, at most seq_len tokens).
// A streamed model's layers become QuantizedSources over the results (parked); a resident model's
// arena gets the dequantized values, as QuantizedLayer::dequantize computes them.
// Throws vqr::Error: Status::InvalidArgument (no windows, a window longer than seq_len, bad
// tokens, a bad override, bad hidden-state options), the per-layer errors of quantize_layer,
// Status::Cancelled (ctx), HiddenStates' Status::OutOfMemory and Status::Io (the spill file).
// On an exception the model is left partly quantized: callers that need it intact keep a copy.
QuantizedModel quantize_sequential(model::Model &model, const std::vector<std::vector<int32_t>> &windows,
                                   const PipelineOptions &options, Context *ctx);

}  // namespace vqr::pipeline
