// The teacher of end-to-end distillation (issue 17 item 2, spec vqround §3 step 2): the full-precision
// model's distribution at temperature tau over each calibration sequence, kept as its top k tokens per
// position plus the log-mass of the rest (model/distill_loss.h).
//   stored: computed once, before quantization changes the model, for every sequence (train and
//           held-out); with a cache path it is read from that file when it exists (its key must match:
//           model/teacher_cache.h) and written there otherwise. Memory: sequences x tokens x (8 k + 4)
//           bytes (128 x 2048 tokens at k = 64: 136 MB).
//   online: a second full-precision model (a second mapping of the checkpoint) runs each sequence
//           when it is needed: one more forward per sequence and step, no teacher memory or file.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/context.h"
#include "model/distill_loss.h"
#include "model/forward.h"
#include "model/model.h"
#include "model/sequences.h"

namespace vqr::pipeline {

class DistillTeacher {
 public:
  // Stored. model: the full-precision model (read during the call only). k is capped at the
  // vocabulary. cache_path: empty = no file. Throws vqr::Error: the errors of read_teacher_cache
  // (a key that differs is Status::InvalidArgument naming each field), write_teacher_cache,
  // Forward, and Status::Cancelled.
  static DistillTeacher stored(const model::Model &model, const model::Sequences &sequences, int64_t k,
                               float temperature, const std::string &cache_path, Context *ctx);
  // Online over `model` (which must outlive the teacher), for sequences of up to max_tokens tokens.
  static DistillTeacher online(const model::Model &model, int64_t k, float temperature, int64_t max_tokens);

  // The teacher of sequence `index` (its tokens: `tokens`): the stored one, or computed now (valid
  // until the next call).
  const model::TeacherTopK &of(size_t index, const std::vector<int32_t> &tokens);

  bool is_online() const { return online_ != nullptr; }
  bool from_cache() const { return from_cache_; }
  double seconds() const { return seconds_; }  // building or reading the stored teacher
  int64_t k() const { return k_; }
  // model_content_hash of the teacher when the stored teacher computed it (a cache path), else 0.
  uint64_t model_hash() const { return model_hash_; }

 private:
  int64_t k_ = 0;
  uint64_t model_hash_ = 0;
  float temperature_ = 0;
  bool from_cache_ = false;
  double seconds_ = 0;
  std::vector<model::TeacherTopK> stored_;
  std::unique_ptr<model::Forward> online_;
  std::vector<float> logits_;
  model::TeacherTopK current_;
};

}  // namespace vqr::pipeline
