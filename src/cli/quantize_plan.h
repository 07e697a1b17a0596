// `vqround quantize --dry-run`: the plan of a run — per block its linear layers with the method,
// bits and group size each would get (or "skip"), the calibration tokens, and estimates of the
// dense flops and time per phase at BLAS rates measured on this machine, and of the streamed
// pipeline's peak memory — without quantizing.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "cli/library.h"

namespace vqr::cli {

// One --override entry: a layer-name pattern with parameters, or a skip.
struct OverrideRule {
  std::string pattern;
  std::vector<std::pair<vqr_param, int64_t>> params;
  bool skip = false;
};

struct PlanInputs {
  const vqr_model *model;
  const vqr_model_info *info;
  const vqr_config *config;                 // method, bits, group size, steps of the run
  const std::vector<OverrideRule> *rules;   // in the order given
  std::string rules_text;                   // --override as given
  int64_t sequences, tokens;                // calibration
  int64_t longest;                          // tokens of the longest calibration sequence
  int calib_dtype;                          // vqr_dtype of the stored hidden states
  int64_t max_memory;                       // their budget in bytes, 0 = none (--max-memory)
  std::string spill_dir;                    // --spill-dir as given ("" = $TMPDIR or /tmp)
};

// Prints the plan on stdout, as text or as one JSON object.
void print_quantize_plan(const PlanInputs &in, bool json);

}  // namespace vqr::cli
