// What the scale benchmark measured on one decoder block, and its report: the per-phase table
// (seconds, flops, ratio to the dense floor at the kernel rates of the same run), the
// extrapolation to the whole model at the standard calibration (128 x 2048 tokens; spec gptq §5,
// §7), the issue 16 targets, and the same as JSON.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/model.h"
#include "scale_rates.h"

namespace vqrbench {

// One GPTQ layer: m = out_features, n = in_features. Its dense floor is the Cholesky of the damped
// Hessian (n^3 / 3 at the SPOTRF rate) plus the sweep's cross-block SGEMMs (about m n^2 flops at
// the cross-block rate), bench/README's GPTQ target denominator.
struct LayerTiming {
  std::string name;
  int64_t m = 0, n = 0;
  double seconds = 0;
};

struct ScaleRun {
  // The machine and the source.
  std::string cpu, blas_core, load_before, load_after, source, stored_dtype;
  std::string backend;  // what the forward, Hessians and sweeps ran on (Backend::description)
  vqr::model::ModelConfig config;  // the whole model's
  int64_t tokens = 0;              // calibration tokens run through the block
  int64_t window = 0;              // tokens per window (the attention length)
  int64_t model_tokens = 0;        // the extrapolation's calibration tokens (128 x 2048)
  int64_t model_window = 0;        // and their windows (2048)
  KernelRates before, after;       // rates measured before and after the phases; the floors use their mean

  // Seconds of each phase on the block, at `tokens`.
  double load_s = 0;     // widening the seven weights to fp32 (Model::linear, from the mapping or memory)
  double forward_s = 0;  // Forward::block over all windows, Hessian additions excluded
  double hessian_s = 0;  // Hessian::add of the four inputs
  double gptq_s = 0;     // the seven GPTQ g128 sweeps
  double write_s = 0;    // packing the codes (GPTQ v2 tensors) and writing them as one safetensors file
  // Forward time until each LinearInput was produced (the cost of a partial pass that stops there),
  // and Hessian time per input, summed over windows.
  double reach_s[4] = {};
  double hessian_input_s[4] = {};
  std::vector<LayerTiming> layers;
  // Peak RSS (getrusage) after each phase, bytes: load, forward + Hessian, GPTQ, write.
  int64_t rss_after[4] = {};
  int64_t stored_bytes = 0;   // the seven weights where kept (their own dtype)
  int64_t fp32_bytes = 0;     // the widened block
  int64_t hessian_bytes = 0;  // the four fp32 accumulators
  int64_t packed_bytes = 0;   // the written file
};

// Prints the tables to stdout and, when json_path is not empty, writes the JSON there.
void report(const ScaleRun &run, const std::string &json_path);

}  // namespace vqrbench
