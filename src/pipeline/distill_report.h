// What an end-to-end distillation run reports (end_to_end.h): the held-out evaluations, the per-step
// losses, the kept state and where the time went. QuantizedModel::distill carries it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace vqr::pipeline {

struct DistillEval {
  int64_t step = 0;  // after this many steps (0 = the initialization)
  double kl = 0;     // held-out tau^2 KL(teacher || student) per token, of the hard-rounded student
  double nll = 0;    // held-out next-token NLL per predicted token, of the same student
};

struct DistillReport {
  bool ran = false;              // false: the model was quantized layer by layer only
  int64_t steps = 0;             // optimizer steps (those of a resumed run's first part included)
  int64_t best_step = -1;        // the kept state: after this many steps; -1 = the initialization
  int64_t resumed_from = -1;     // the checkpoint's step when resumed, else -1
  int64_t train_sequences = 0, holdout_sequences = 0;
  int64_t tokens = 0;            // calibration tokens trained on (forward + backward)
  int64_t trainable_params = 0;  // over every trained layer
  int64_t quantized_weights = 0;
  int64_t teacher_k = 0;
  bool teacher_online = false, teacher_from_cache = false;
  double teacher_seconds = 0;  // building (or reading) the stored teacher
  double seconds = 0;          // the training loop, evaluations included (a resumed run's first part too)
  std::vector<double> loss, reg;  // per step: the mean distillation loss of the step's sequences, the
                                  // weighted rounding regularizer
  std::vector<DistillEval> evals;
};

}  // namespace vqr::pipeline
