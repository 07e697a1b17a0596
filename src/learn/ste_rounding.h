// Straight-through parameterizations: the forward pass already rounds, and round() passes its
// gradient through unchanged (the STE), so the trained objective is the hard one.
//   AutoRound / SignRound, layer-wise (spec learned_rounding §1.2-1.4): a rounding offset V per
//     weight plus per-group min/max clipping multipliers in [0, 1], on one of three quantizers:
//       A  asymmetric (VQR_GRID_GPTQ, sym 0): s = (hi - lo) / maxq, zp = round(-lo / s);
//       C  GPTQ-symmetric (VQR_GRID_GPTQ, sym 1): s = 2 max(|lo|, hi) / maxq, zp = 2^(b-1);
//       B  full range (VQR_GRID_FULL_RANGE): s = m / 2^(b-1) with m the signed larger extreme;
//     lo = w_min min_scale, hi = w_max max_scale from the ORIGINAL group's range (containing 0),
//     s cast to fp16 inside the forward pass and floored at 1e-5 (its sign kept for B).
//     The quantizer's elementwise passes run in the layer's kernels from the backend
//     (backend/rounding_kernels.h); the parameters and SignSGD stay on the host.
//   LoRA-rounding, our own baseline (spec learned_rounding §4): V = 0.5 tanh(A B^T), rank r, on
//     the fixed RTN grid.
#pragma once

#include <memory>

#include "backend/backend.h"
#include "learn/rounding.h"
#include "learn/rounding_init.h"
#include "quant/config.h"

namespace vqr::learn {

// W: m x n fp32. config: bits, group_size, grid/sym (variant), minmax_tuning, lr, minmax_lr.
// `be` makes the layer's kernels (float; double always computes on the CPU) and must outlive the
// rounding. Throws Status::Unsupported for a grid AutoRound does not define (QuaRot).
template <typename T>
std::unique_ptr<Rounding<T>> make_autoround(const float *W, int64_t m, int64_t n, const quant::QuantConfig &config,
                                            int threads, backend::Backend &be = backend::cpu());

// init: the RTN initialization (its grid is kept); seed: for A's random start (B starts at 0);
// `be` runs the low-rank GEMMs and must outlive the rounding.
template <typename T>
std::unique_ptr<Rounding<T>> make_loraround(backend::Backend &be, const float *W, const RoundingInit &init,
                                            const quant::QuantConfig &config, uint64_t seed, int threads);

}  // namespace vqr::learn
