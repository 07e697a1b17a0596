// The asymmetric-calibration pieces of the GPTQ-family sweep (spec gptq §2, §3, §9):
// the projection Phat = triu1(D U^T) U of GPTAQ/ResComp, and the pre-corrected target
// W* = W (I + D H_damped^-1) of our exact-target ablation. Both work in processing order.
#pragma once

#include <cstdint>

#include "backend/backend.h"
#include "core/buffer.h"
#include "hessian/hessian.h"
#include "quant/hessian_factor.h"

namespace vqr::quant {

// D permuted to processing order, with the columns of dead inputs zeroed (spec §2.4), n x n.
Buffer<float> permuted_d(const hessian::HessianView &H, const HessianFactor &f, int threads);

// Phat = triu1(Dp U^T) U (unscaled; the sweep applies alpha), n x n strictly upper, through two
// triangular products (TRMM), never H^-1. Row q holds D_{q,F} (H_{F,F})^-1 on F = {q+1, ...}
// (spec §2.3). Consumes Dp. `be` runs the TRMMs.
Buffer<float> asymmetry_projection(backend::Backend &be, Buffer<float> Dp, const HessianFactor &f);

// Wp (m x n, processing order) += (Wp Dp) U^T U, i.e. Wp := Wp (I + Dp H_damped^-1).
void apply_exact_target(backend::Backend &be, float *Wp, int64_t m, const Buffer<float> &Dp, const HessianFactor &f);

}  // namespace vqr::quant
