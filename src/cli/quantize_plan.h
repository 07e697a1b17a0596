// `vqround quantize --dry-run`: the plan of a run — per block its linear layers with the method,
// bits and group size each would get (or "skip"), the calibration tokens, and estimates of the
// dense flops, the time at a rate measured on this machine, and the memory — without quantizing.
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
};

// Prints the plan on stdout, as text or as one JSON object.
void print_quantize_plan(const PlanInputs &in, bool json);

}  // namespace vqr::cli
