// The layer proxy loss tr(dW H dW^T) (DESIGN §3.1) from the Cholesky factor of the damped,
// permuted Hessian: with J Hp J = L L^T and Hp = H + diag(shift),
//   tr(dW H dW^T) = ||(dWp J) L||_F^2 - sum_q shift_q ||dWp[:, q]||^2,
// one TRMM (m n^2 / 2 multiply-adds) instead of an m x n x n GEMM, and no extra n x n buffer.
#pragma once

#include <cstdint>

#include "backend/backend.h"
#include "quant/hessian_factor.h"

namespace vqr::quant {

// deq, W: m x n dense fp32 in original column order; f must hold L (keep_cholesky). `be` runs the TRMM.
double proxy_loss(backend::Backend &be, const float *deq, const float *W, int64_t m, int64_t n,
                  const HessianFactor &f, int threads);

}  // namespace vqr::quant
