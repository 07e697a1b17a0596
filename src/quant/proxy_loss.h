// The layer proxy loss tr(dW H dW^T) (DESIGN §3.1), two ways. From the Cholesky factor of the
// damped, permuted Hessian: with J Hp J = L L^T and Hp = H + diag(shift),
//   tr(dW H dW^T) = ||(dWp J) L||_F^2 - sum_q shift_q ||dWp[:, q]||^2,
// one TRMM (m n^2 / 2 multiply-adds) instead of an m x n x n GEMM, and no extra n x n buffer.
// Or, for plain GPTQ, from the OBS errors its sweep already computed (O(m n), no BLAS).
#pragma once

#include <cstdint>

#include "backend/backend.h"
#include "quant/hessian_factor.h"
#include "quant/quantized_layer.h"

namespace vqr::quant {

// deq, W: m x n dense fp32 in original column order; f must hold L (keep_cholesky). `be` runs the TRMM.
double proxy_loss(backend::Backend &be, const float *deq, const float *W, int64_t m, int64_t n,
                  const HessianFactor &f, int threads);

// tr(dW H dW^T) from a plain GPTQ sweep's damped loss (gptq.h, sweep_gives_damped_loss):
//   tr(dW H dW^T) = sum_q e_q^2 - lambda sum_{j live} ||Q_j - W_j||^2,
// since the sweep ran on Hd = H + lambda I (dead columns: H_jj := 1 + lambda, and both the
// sweep's weights and Q are 0 there, so they add nothing to either side; H's dead rows are 0).
// One fused O(m n) pass over the codes; no m x n buffer. q: the sweep's result; W: m x n original
// weights; H: the undamped statistic (its zero diagonals mark the dead columns).
double proxy_loss_from_sweep(double damped_loss, const QuantizedLayer &q, const float *W,
                             const hessian::HessianView &H, int threads);

}  // namespace vqr::quant
