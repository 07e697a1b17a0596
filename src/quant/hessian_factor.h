// Preprocessing of H for the GPTQ family (spec gptq §1.3): dead columns, act-order permutation,
// damping with automatic retry, and the upper factor U of H_damped^-1 = U^T U computed without
// ever forming H^-1 ("reverse Cholesky": U = (J chol(J H J) J)^-1, one POTRF + one TRTRI).
#pragma once

#include <cstdint>
#include <vector>

#include "core/buffer.h"
#include "core/context.h"
#include "backend/backend.h"
#include "hessian/hessian.h"
#include "quant/config.h"

namespace vqr::quant {

struct HessianFactor {
  int64_t n = 0;
  std::vector<int64_t> perm;       // processing position -> original column
  std::vector<uint8_t> dead;       // per original column: H_jj == 0
  int64_t dead_count = 0;
  std::vector<float> shift;        // per processing position: what was added to the real H_qq
  // U, row-major n x n, upper triangle (strict lower zero), in processing order. Empty when only
  // the Cholesky factor was requested.
  Buffer<float> U;
  // L, row-major n x n lower triangle: chol(J Hp J) = L L^T where Hp is the damped, permuted H.
  // Kept only when requested (for proxy losses): tr(E Hp E^T) = ||(E J) L||^2.
  Buffer<float> L;
  double damp = 0;    // relative damping that succeeded
  double lambda = 0;  // damp * mean(diag H) after the dead fix
  int attempts = 0;
};

// The diagonal block [i1, i2) of U (processing order) from L alone, for the sweep that never forms
// U (gptq.cpp): with V = J L J (Hp = V V^T, U = V^-1) and lo = n - i2, the block of V is
// J L[lo:lo+b, lo:lo+b] J, so U[i1:i2, i1:i2] = J Linv J with Linv = L[lo:lo+b, lo:lo+b]^-1 (the
// diagonal block of a triangular inverse is the inverse of the diagonal block). One b x b TRTRI.
// Writes Linv (b x b row-major lower, strict upper zero) and U's block (b x b row-major upper,
// strict lower zero), b = i2 - i1. f must hold L.
void diagonal_block_inverse(backend::Backend &be, const HessianFactor &f, int64_t i1, int64_t i2, float *Linv,
                            float *Ublock);

// H: the layer statistic (read through its upper triangle). With `act_order` the columns are ordered by
// descending diag(H) (stable). Damping starts at config.damp and grows by damp_increment,
// 3x, 7x, ... on failure. need_inverse = false skips U (then keep_cholesky must be true).
// Throws Error(Status::Numerical) when every attempt fails.
HessianFactor factor_hessian(const hessian::HessianView &H, bool act_order, const QuantConfig &config,
                             bool need_inverse, bool keep_cholesky, const Context *ctx, int threads);

}  // namespace vqr::quant
