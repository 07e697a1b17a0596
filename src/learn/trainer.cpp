// The shared training loop (trainer.h).
#include "learn/trainer.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "core/buffer.h"
#include "core/error.h"

namespace vqr::learn {

// Hard evaluations of a relaxed method per run (keep_best): each costs about one step.
constexpr int64_t kHardEvaluations = 20;

double beta_at(const TrainSchedule &s, int64_t step) {
  // A final hold compresses the schedule into the first (1 - final_hold) of the steps.
  const double T = (1.0 - s.final_hold) * (double)std::max<int64_t>(s.steps, 1);
  const double t = std::min((double)step, T);
  switch (s.beta_schedule) {
    case quant::BetaSchedule::HoldLinear:  // spec vqround §1.7: hold, then start - (start - end) t / T
      return (double)t <= s.beta_hold * T ? s.beta_start : s.beta_start - (s.beta_start - s.beta_end) * (double)t / T;
    case quant::BetaSchedule::Linear:
    case quant::BetaSchedule::Cosine:
    default: {
      const double span = std::max((1.0 - s.warmup) * T, 1.0);
      double r = ((double)t - s.warmup * T) / span;
      r = r < 0 ? 0 : (r > 1 ? 1 : r);
      if (s.beta_schedule == quant::BetaSchedule::Linear) return s.beta_end + (s.beta_start - s.beta_end) * (1.0 - r);
      return s.beta_end + 0.5 * (s.beta_start - s.beta_end) * (1.0 + std::cos(M_PI * r));
    }
  }
}

bool regularizer_on(const TrainSchedule &s, int64_t t) {
  return s.reg_weight > 0 && (double)t >= s.warmup * (double)s.steps;
}

template <typename T>
TrainOutcome train(Rounding<T> &rounding, Objective<T> &objective, const TrainSchedule &s, Context *ctx,
                   int threads) {
  const int64_t count = objective.rows() * objective.cols();
  Buffer<T> Wq((size_t)count), G((size_t)count);
  const std::vector<ParamGroup<T>> groups = rounding.groups();
  Optimizer<T> optimizer(s.optimizer, s.beta1, s.beta2, s.eps, groups);
  // Straight-through methods train the hard objective itself: keep the lowest-loss step. Relaxed
  // methods train a soft one: with keep_best, their hard rounding is evaluated every
  // `hard_interval` steps and at the end, and the best of those is kept.
  const bool track_best = s.keep_best && !rounding.relaxed();
  const bool track_hard = s.keep_best && rounding.relaxed() && s.steps > 0;
  const int64_t hard_interval = std::max<int64_t>(1, s.steps / kHardEvaluations);
  std::vector<std::vector<T>> best_params;
  double best_loss = std::numeric_limits<double>::infinity();

  auto snapshot = [&] {
    best_params.resize(groups.size());
    for (size_t k = 0; k < groups.size(); ++k) best_params[k].assign(groups[k].data, groups[k].data + groups[k].size);
  };

  TrainOutcome out;
  out.best_step = s.steps;
  out.loss.reserve((size_t)s.steps);
  out.reg.reserve((size_t)s.steps);
  Progress progress(ctx, s.stage, s.steps);
  for (int64_t t = 0; t < s.steps; ++t) {
    rounding.forward(Wq.data());
    const ObjectiveValue v = objective.evaluate(Wq.data(), G.data());
    rounding.backward(G.data());
    const double reg =
        rounding.relaxed() && regularizer_on(s, t) ? rounding.regularize(beta_at(s, t), s.reg_weight) : 0.0;
    // A diverged step (a loss or regularizer overflowing fp32/fp64) is reported at once: the
    // parameters it updates would all turn NaN, and their rounding would silently read as code 0.
    require(std::isfinite(v.loss) && std::isfinite(reg), Status::NonFinite,
            "training step " + std::to_string(t) + ": the " + (std::isfinite(v.loss) ? "regularizer" : "loss") +
                " is NaN or Inf (the layer's statistic overflows, or VQR_PARAM_LR is too large for it)");
    out.loss.push_back(v.loss);
    out.reg.push_back(reg);
    if (track_best && v.loss < best_loss) {
      best_loss = v.loss;
      out.best_step = t;
      snapshot();
    }
    const double lr_factor = s.linear_decay ? 1.0 - (double)t / (double)s.steps : 1.0;
    optimizer.step(groups, lr_factor, threads);
    if (track_hard && ((t + 1) % hard_interval == 0 || t + 1 == s.steps)) {
      rounding.hard_weights(Wq.data());
      const ObjectiveValue hard = objective.evaluate(Wq.data(), nullptr);
      if (hard.loss < best_loss) {  // strict: later ties keep the earlier parameters
        best_loss = hard.loss;
        out.best_step = t + 1;
        snapshot();
      }
    }
    progress.checkpoint(t + 1, t + 1 == s.steps, v.loss + reg);
  }
  if ((track_best || track_hard) && !best_params.empty())
    for (size_t k = 0; k < groups.size(); ++k)
      std::memcpy(groups[k].data, best_params[k].data(), sizeof(T) * (size_t)groups[k].size);
  if (track_best && s.steps == 0) out.best_step = -1;
  rounding.hard_weights(Wq.data());
  out.hard = objective.evaluate(Wq.data(), nullptr);
  require(std::isfinite(out.hard.loss), Status::NonFinite,
          "training: the loss of the final hard rounding is NaN or Inf (the layer's statistic overflows)");
  return out;
}

template TrainOutcome train<float>(Rounding<float> &, Objective<float> &, const TrainSchedule &, Context *,
                                   int);
template TrainOutcome train<double>(Rounding<double> &, Objective<double> &, const TrainSchedule &,
                                    Context *, int);

}  // namespace vqr::learn
