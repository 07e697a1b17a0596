// Optimizers of the learned-rounding engine: Adam exactly as PyTorch's (bias-corrected moments,
// eps added to the corrected root; spec learned_rounding §3.4, spec vqround §3.5) and SignSGD
// (p -= lr sign(g), sign(0) = 0; spec learned_rounding §1.6). The caller supplies the step's
// learning rate, so schedules live in the trainer.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "core/context.h"
#include "learn/rounding.h"

namespace vqr::learn {

enum class OptimizerKind { kAdam, kSignSgd };

template <typename T>
class Optimizer {
 public:
  Optimizer(OptimizerKind kind, double beta1, double beta2, double eps, const std::vector<ParamGroup<T>> &groups)
      : kind_(kind), beta1_(beta1), beta2_(beta2), eps_(eps) {
    if (kind == OptimizerKind::kAdam)
      for (const auto &g : groups) {
        m_.emplace_back((size_t)g.size, T(0));
        v_.emplace_back((size_t)g.size, T(0));
      }
  }

  // One update of every group with learning rate g.lr * lr_factor.
  void step(const std::vector<ParamGroup<T>> &groups, double lr_factor, int threads) {
    ++t_;
    const double bc1 = 1.0 - std::pow(beta1_, (double)t_), bc2 = 1.0 - std::pow(beta2_, (double)t_);
    for (size_t k = 0; k < groups.size(); ++k) {
      const ParamGroup<T> &g = groups[k];
      const T lr = (T)(g.lr * lr_factor);
      T *p = g.data;
      const T *grad = g.grad;
      const int nt = threads_for(threads, g.size * 8);
      if (kind_ == OptimizerKind::kSignSgd) {
#pragma omp parallel for num_threads(nt) schedule(static)
        for (int64_t i = 0; i < g.size; ++i) p[i] -= grad[i] > T(0) ? lr : (grad[i] < T(0) ? -lr : T(0));
      } else {
        T *m = m_[k].data(), *v = v_[k].data();
        // Moments of parameters whose gradient stays 0 (saturated latents) decay geometrically
        // into subnormals, which cost ~100x per operation; below `tiny` they are flushed to 0
        // (their contribution to the update is far below eps).
        const T tiny = std::numeric_limits<T>::min() * T(1024);
        const T b1 = (T)beta1_, b2 = (T)beta2_, step = (T)(g.lr * lr_factor / bc1), sqrt_bc2 = (T)std::sqrt(bc2),
                eps = (T)eps_;
#pragma omp parallel for num_threads(nt) schedule(static)
        for (int64_t i = 0; i < g.size; ++i) {
          T mi = b1 * m[i] + (T(1) - b1) * grad[i], vi = b2 * v[i] + (T(1) - b2) * grad[i] * grad[i];
          m[i] = std::fabs(mi) < tiny ? T(0) : mi;
          v[i] = vi < tiny ? T(0) : vi;
          p[i] -= step * m[i] / (std::sqrt(v[i]) / sqrt_bc2 + eps);
        }
      }
      if (g.clamp01)
        for (int64_t i = 0; i < g.size; ++i) p[i] = p[i] < T(0) ? T(0) : (p[i] > T(1) ? T(1) : p[i]);
    }
  }

  // The state a training checkpoint saves and restores (pipeline/distill_checkpoint.h): the steps
  // taken (Adam's bias corrections) and each group's first and second moments (empty for SignSGD).
  int64_t steps_taken() const { return t_; }
  void set_steps_taken(int64_t t) { t_ = t; }
  std::vector<std::vector<T>> &first_moments() { return m_; }
  std::vector<std::vector<T>> &second_moments() { return v_; }

 private:
  OptimizerKind kind_;
  double beta1_, beta2_, eps_;
  int64_t t_ = 0;
  std::vector<std::vector<T>> m_, v_;
};

}  // namespace vqr::learn
