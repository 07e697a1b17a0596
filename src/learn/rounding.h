// The parameterization half of the learned-rounding engine (DESIGN §3.3): trainable parameters
// -> the weights W' the objective sees -> gradients of those parameters -> integer codes.
// AdaRound, VQRound, AutoRound and LoRA-rounding differ only here; the trainer (trainer.h), the
// objective (layer_objective.h) and the optimizers (optimizer.h) are shared. A later block-wise
// or end-to-end objective only has to supply dL/dW' for the same interface.
#pragma once

#include <cstdint>
#include <vector>

#include "quant/quantized_layer.h"

namespace vqr::learn {

// One tensor of trainable parameters with its gradient and base learning rate.
template <typename T>
struct ParamGroup {
  T *data = nullptr;
  T *grad = nullptr;
  int64_t size = 0;
  double lr = 0;
  bool clamp01 = false;  // clamped to [0, 1] after every step (AutoRound's min/max scales)
};

template <typename T>
class Rounding {
 public:
  virtual ~Rounding() = default;
  // The trainable tensors; pointers stay valid for the object's life.
  virtual std::vector<ParamGroup<T>> groups() = 0;
  // true: a soft relaxation (AdaRound, VQRound) trained with the rounding regularizer and
  // hardened at the end; false: the forward pass already rounds (straight-through estimator).
  virtual bool relaxed() const = 0;
  // The weights W' (m x n) at the current parameters: soft weights when relaxed, else the
  // fake-quantized ones.
  virtual void forward(T *Wq) = 0;
  // Writes dL/dparams into the groups' grad arrays given G = dL/dW' at the current parameters
  // (after forward). G may be overwritten.
  virtual void backward(T *G) = 0;
  // Relaxed methods: returns weight * sum(1 - |2h - 1|^beta) over the weights and adds its
  // gradient to the grad arrays (call after backward).
  virtual double regularize(double beta, double weight) {
    (void)beta;
    (void)weight;
    return 0;
  }
  // The hard-rounded dequantized weights (m x n) at the current parameters.
  virtual void hard_weights(T *Wq) = 0;
  // Writes the hard codes (and, for methods that learn them, scales and zeros) into `out`, which
  // holds the initialization's layout (groups, g_idx).
  virtual void harden(quant::QuantizedLayer &out) = 0;
};

}  // namespace vqr::learn
