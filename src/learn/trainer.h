// The training loop of the learned-rounding engine (DESIGN §3.3), shared by every
// parameterization: forward -> objective and gradient -> backward -> regularizer -> optimizer
// step, with the learning-rate and beta schedules of the specs, progress/cancellation per step,
// per-step history, and the best-iteration rule of AutoRound (spec learned_rounding §1.7 3b: the
// parameters used in the forward pass with the lowest loss, i.e. before that step's update).
#pragma once

#include <cstdint>
#include <vector>

#include "core/context.h"
#include "learn/objective.h"
#include "learn/optimizer.h"
#include "learn/rounding.h"

namespace vqr::learn {

struct TrainSchedule {
  int64_t steps = 0;
  OptimizerKind optimizer = OptimizerKind::kAdam;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  bool linear_decay = false;  // lr_t = lr (1 - t / steps), torch LinearLR(1 -> 0) (AutoRound)
  // Rounding regularizer (relaxed methods): weight (already per-element when requested), off
  // while t < warmup * steps, exponent beta(t) by vqr_beta_schedule.
  double reg_weight = 0;
  double warmup = 0;
  quant::BetaSchedule beta_schedule = quant::BetaSchedule::Cosine;
  double beta_start = 20, beta_end = 2, beta_hold = 0.1;
  // The schedule runs over the first (1 - final_hold) of the steps and beta stays at beta_end for the
  // rest (0: the references' schedules, which end at the last step).
  double final_hold = 0;
  // Straight-through methods: keep the parameters of the lowest-loss step. Relaxed methods: keep
  // the parameters whose hard rounding scored best among 20 evenly spaced evaluations.
  bool keep_best = true;
  const char *stage = "train";
};

// beta(t) of the schedule (spec learned_rounding §3.3, spec vqround §1.7), and whether the
// regularizer is on at step t.
double beta_at(const TrainSchedule &s, int64_t t);
bool regularizer_on(const TrainSchedule &s, int64_t t);

struct TrainOutcome {
  std::vector<double> loss, reg;  // per step: objective and weighted regularizer
  int64_t best_step = 0;          // the kept parameters: as used in step t (straight-through) or
                                  // after t steps (relaxed); steps = the final ones; -1 = none
  ObjectiveValue hard;            // the objective of the hard rounding of the kept parameters
};

template <typename T>
TrainOutcome train(Rounding<T> &rounding, Objective<T> &objective, const TrainSchedule &schedule,
                   Context *ctx, int threads);

}  // namespace vqr::learn
