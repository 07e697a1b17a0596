// The layer objective every learned-rounding method minimizes (DESIGN §3.1):
//   L(W') = tr(E H E^T) - 2 tr(E D^T W^T),   E = W' - W,
// the second term only when the Hessian carries D (the asymmetric objective (2/T)||W' X_q -
// W X_fp||^2 up to a constant). Its gradient is dL/dW' = 2 (E H - W D). Both come from one
// m x n x n GEMM per evaluation (E H), never from activations; W D is formed once.
#pragma once

#include <cstdint>

#include "backend/backend.h"
#include "core/buffer.h"
#include "hessian/hessian.h"
#include "learn/objective.h"

namespace vqr::learn {

template <typename T>
class LayerObjective : public Objective<T> {
 public:
  // W: m x n fp32 weights (copied); H: the layer statistic, read once into a full n x n matrix.
  // `be` runs the GEMMs and must outlive the objective.
  LayerObjective(backend::Backend &be, const float *W, int64_t m, int64_t n, const hessian::HessianView &H,
                 int threads);

  // Evaluates at Wq (m x n). G may be NULL; otherwise it receives dL/dW' (m x n).
  // proxy = tr(E H E^T) (= loss without D).
  ObjectiveValue evaluate(const T *Wq, T *G) override;

  int64_t rows() const override { return m_; }
  int64_t cols() const override { return n_; }
  const T *weights() const { return W_.data(); }
  bool asymmetric() const { return !WD_.empty(); }

 private:
  backend::Backend *be_;
  int64_t m_, n_;
  int threads_;
  Buffer<T> W_, H_, WD_;  // W, full H, W D (asymmetric only)
  Buffer<T> E_, EH_;      // scratch: E, and E H when the caller passes no G
};

}  // namespace vqr::learn
