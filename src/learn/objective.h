// What the learned-rounding trainer minimizes (trainer.h): a loss of the weights W' a
// parameterization produces (rounding.h), with its gradient dL/dW'. The layer objective
// (layer_objective.h) is one; a block's output reconstruction (pipeline/block_objective.h) is
// another, over the seven layers' weights concatenated.
#pragma once

#include <cstdint>

namespace vqr::learn {

struct ObjectiveValue {
  double loss = 0;   // L(W'), what the optimizer minimizes
  double proxy = 0;  // the report's proxy loss (the layer objective: tr(E H E^T))
};

template <typename T>
class Objective {
 public:
  virtual ~Objective() = default;
  // W' is rows x cols (rows() * cols() values).
  virtual int64_t rows() const = 0;
  virtual int64_t cols() const = 0;
  // Evaluates at Wq. G may be NULL; otherwise it receives dL/dW'.
  virtual ObjectiveValue evaluate(const T *Wq, T *G) = 0;
};

}  // namespace vqr::learn
