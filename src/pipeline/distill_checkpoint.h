// Checkpoint and resume of end-to-end distillation (issue 17 item 3): the trainer's whole state after
// some step, so that a resumed run continues bit for bit where the interrupted one stopped, and a
// checkpoint made by another run is refused with a message naming what differs.
//
// The key: every setting that shapes the run (name = value pairs: the parameters of the default
// configuration), the teacher model's content hash, the calibration tokens' hash, and a hash of every
// layer's starting state (initial codes and trainable parameters, which depend on the seed and the
// k-means settings). The state: steps done, the optimizer's step count and moments, the parameters,
// the best evaluated state (its step, score and parameters), the per-step losses, the evaluations,
// tokens and seconds so far.
//
// File (little-endian): "VQRDSTL1", u32 version 1, u32 settings count, per setting u32 name length,
// name bytes, f64 value; u64 model hash, u64 tokens hash, u64 start hash; i64 step, i64 optimizer
// steps, i64 tokens, f64 seconds; i64 groups, per group i64 size then f32 params, f32 first moments,
// f32 second moments; i64 best step (-1 = the initialization, -2 = none yet), f64 best score, u8
// best parameters present, then f32 per group; i64 history length, f64 loss[], f64 reg[]; i64
// evaluations, per evaluation i64 step, f64 kl, f64 nll; then u32 CRC-32 of everything before.
// Written atomically; the reader checks every size against the run's own before allocating.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "pipeline/distill_report.h"

namespace vqr::pipeline {

struct DistillKey {
  std::vector<std::pair<std::string, double>> settings;
  uint64_t model_hash = 0, tokens_hash = 0, start_hash = 0;
};

struct DistillState {
  int64_t step = 0, optimizer_steps = 0, tokens = 0;
  double seconds = 0;
  std::vector<std::vector<float>> params, first, second;  // per parameter group
  int64_t best_step = -2;
  double best_score = 0;
  std::vector<std::vector<float>> best_params;  // empty unless best_step >= 1
  std::vector<double> loss, reg;                // per step done
  std::vector<DistillEval> evals;
};

// Throws vqr::Error(Status::Io).
void write_distill_checkpoint(const std::string &path, const DistillKey &key, const DistillState &state);

// Reads a checkpoint of the run whose key is `expected` and whose parameter groups have `sizes`
// values each (moments too when `adam`), at most `max_steps` steps. Throws vqr::Error: Status::Io
// (cannot open), Status::Corrupt (magic, version, sizes, checksum), Status::InvalidArgument
// "<path>: made by another run: <what differs>" naming each differing setting or hash.
DistillState read_distill_checkpoint(const std::string &path, const DistillKey &expected,
                                     const std::vector<int64_t> &sizes, bool adam, int64_t max_steps);

}  // namespace vqr::pipeline
