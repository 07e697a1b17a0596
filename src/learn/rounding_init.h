// Where AdaRound and VQRound start (spec vqround §2, spec learned_rounding §3.2): a grid
// (scales, zeros, g_idx), the floor `base` of each weight in grid units, and the `residual` in
// [0, 1] whose rectified-sigmoid preimage becomes the latent.
//   RTN:  u = W / s, base = floor(u), residual = u - base (AdaRound's V0, VQRound §2.1);
//   GPTQ: base and residual from GPTQ's own sweep (gptq.h RoundingSplit, VQRound §2.2), so the
//         hard rounding of the latents reproduces GPTQ's codes.
// `up` records the initialization's decision per weight (its code is clip(base + 1 + z)), and the
// latents are given exactly that sign, so hardening the untrained latents returns the
// initialization bit for bit (an exact tie f = 0.5 would otherwise round up where RTN rounds to
// even).
#pragma once

#include <cstdint>
#include <vector>

#include "core/buffer.h"
#include "core/context.h"
#include "hessian/hessian.h"
#include "quant/config.h"
#include "quant/quantized_layer.h"

namespace vqr::learn {

struct RoundingInit {
  quant::QuantizedLayer layer;  // the initialization as a result: codes, scales, zeros, g_idx
  Buffer<float> base;           // m x n, integer values
  Buffer<float> residual;       // m x n, in [0, 1]
  std::vector<uint8_t> up;      // m x n, 1 = the initialization rounded up from base
};

// W: m x n fp32. config.init selects RTN or GPTQ (which needs H).
RoundingInit make_rounding_init(const float *W, int64_t m, int64_t n, const hessian::HessianView &H,
                                const quant::QuantConfig &config, Context *ctx, int threads);

// A = h^-1(residual) with sign(A) = the decision in `up` (A >= 0 exactly when up), m x n.
Buffer<float> initial_latents(const RoundingInit &init, int threads);

// Per-weight access to a layer's grid: scale and zero of (row r, column j) through g_idx, from
// row-major m x G copies so a row's lookups stay in one small array.
template <typename T>
struct ElementGrid {
  int64_t m = 0, n = 0, groups = 0;
  T maxq = 0;
  std::vector<T> scale, zero;  // m x G
  std::vector<int32_t> g_idx;  // n

  explicit ElementGrid(const quant::QuantizedLayer &q)
      : m(q.rows), n(q.cols), groups(q.groups), maxq((T)((1 << q.bits) - 1)), scale((size_t)(q.rows * q.groups)),
        zero((size_t)(q.rows * q.groups)), g_idx(q.g_idx) {
    for (int64_t g = 0; g < groups; ++g)
      for (int64_t r = 0; r < m; ++r) {
        scale[(size_t)(r * groups + g)] = (T)q.scales[(size_t)(g * m + r)];
        zero[(size_t)(r * groups + g)] = (T)q.zeros[(size_t)(g * m + r)];
      }
  }
  T s(int64_t r, int64_t j) const { return scale[(size_t)(r * groups + g_idx[(size_t)j])]; }
  T z(int64_t r, int64_t j) const { return zero[(size_t)(r * groups + g_idx[(size_t)j])]; }
};

}  // namespace vqr::learn
