// Whole-model quantization, block by block (spec gptq_family §1.1, §2.2; DESIGN §1): for each
// decoder block, the true-sequential groups (q/k/v, o, gate/up, down) are calibrated in order on
// the inputs the already-quantized model produces, one Hessian per distinct input, each layer
// quantized by the library's per-layer entry point and its dequantized weights written back into
// the model, so the next group and the next block see the quantized stream. When a layer's method
// needs the full-precision stream too (GPTAQ, ResComp, GPTAQ_PAPER, exact target), a second set
// of hidden states runs alongside through the block's original weights, and the Hessian collects
// (X_q, X_fp) pairs. Memory: the calibration hidden states at one block boundary (one set, or
// two with the fp stream), one block's original weights and one layer's activations.
#pragma once

#include <cstdint>
#include <functional>
#include <utility>
#include <string>
#include <vector>

#include "core/context.h"
#include "core/dtype.h"
#include "model/linear_kinds.h"
#include "model/model.h"
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
  std::vector<LayerRecord> layers;            // in processing order
  std::vector<quant::QuantizedLayer> results;  // the same order; empty entries for skipped layers
  double seconds = 0;
  struct PhaseSeconds { double load = 0, forward = 0, hessian = 0, sweep = 0; } phases;
  int64_t peak_hidden_bytes = 0;
};

// The end of one phase of one block ("load", "forward", "hessian", "sweep"), for progress reports.
struct PhaseEvent { int block; int blocks; const char *phase; double seconds; };

struct PipelineOptions {
  quant::QuantConfig config;  // the default for every layer
  std::vector<LayerOverride> overrides;
  int threads = 0;  // forward-pass threads (0 = all cores); quantization follows the context
  // Called after each layer (on the calling thread): its record, and how many layers of how many
  // are done. May be empty.
  std::function<void(const LayerRecord &, int64_t done, int64_t total)> on_layer;
  DType calib_dtype = DType::F32;
  int64_t max_memory_bytes = 0;
  std::string spill_dir;
  std::function<void(const PhaseEvent&)> on_phase;
};

// The configuration a layer gets: `base` with every matching override applied; *skip set when an
// override skips it.
quant::QuantConfig config_for_layer(const PipelineOptions &options, const std::string &name, bool *skip);

// Quantizes `model` in place (its linear weights become the dequantized quantized weights) on
// calibration sequences `windows` (each run with a fresh context, at most seq_len tokens).
// Throws vqr::Error: Status::InvalidArgument (no windows, a window longer than seq_len, bad
// tokens, a bad override), the per-layer errors of quantize_layer, Status::Cancelled (ctx).
// On an exception the model is left partly quantized: callers that need it intact keep a copy.
QuantizedModel quantize_sequential(model::Model &model, const std::vector<std::vector<int32_t>> &windows,
                                   const PipelineOptions &options, Context *ctx);

}  // namespace vqr::pipeline
