// The uniform quantizer grids of spec gptq §1.6. Every grid is represented the same way: a
// per-(row, group) scale s and integer zero-point z, codes c = clamp(rne(x / s) + z, 0, 2^b - 1),
// values s * (c - z). The grids differ only in how (s, z) are chosen from a slice of weights:
//   grid (a) VQR_GRID_GPTQ   — IST GPTQ / AutoGPTQ / GPTQModel (range always contains 0);
//   grid (b) VQR_GRID_QUAROT — QuaRot's WeightQuantizer (GPTAQ / ResComp repositories); its
//            signed symmetric codes [-2^(b-1), 2^(b-1) - 1] are stored offset by z = 2^(b-1);
//   grid (c) VQR_GRID_FULL_RANGE — AutoRound's full-range symmetric grid (spec learned_rounding
//            §1.3 B), stored the same way; its scale can be negative.
#pragma once

#include <cmath>
#include <cstdint>

#include "quant/config.h"

namespace vqr::quant {

struct GridSpec {
  int bits = 4;
  int maxq = 15;  // 2^bits - 1: the largest code
  bool sym = false;
  Grid grid = Grid::Gptq;
  bool mse = false;
  float mse_norm = 2.4f;
  int mse_grid = 100;
  float mse_maxshrink = 0.8f;
  DType scale_dtype = DType::F32;  // scales rounded to this storage type (VQR_PARAM_SCALE_DTYPE)
};

GridSpec grid_spec(const QuantConfig &config);

struct GroupParams {
  float scale;
  float zero;  // an integer in [0, maxq], kept as float like GPTQ does
};

// Round half to even for the quantizer's range. |v| is clamped to 2^12 first (any such value
// saturates the clamp to [0, 255] anyway), so the 1.5 * 2^23 trick is exact: adding it forces
// rounding at the units place under the default round-to-nearest-even mode.
inline float round_half_even(float v) {
  v = v > 4096.0f ? 4096.0f : (v < -4096.0f ? -4096.0f : v);
  // Without -ffast-math (never used here) the compiler may not fold (v + m) - m.
  const float m = 12582912.0f;
  return (v + m) - m;
}

// Code of x as a float: clamp(rne(x / s) + z, 0, maxq). Division, not a reciprocal product, as
// the references compute it (the two can differ in the last bit and flip a tie). Branch-free so
// that loops over rows vectorize. A NaN (from a NaN x or scale) gives code 0, never NaN: the
// callers cast codes to uint8_t, undefined for NaN; the sweeps and trainers detect the NaN
// itself and fail with Status::NonFinite.
inline float quantize_code_f(float x, float scale, float zero, float maxq) {
  const float c = round_half_even(x / scale) + zero;
  return c >= 0.0f ? (c > maxq ? maxq : c) : 0.0f;
}

inline int quantize_code(float x, const GroupParams &p, int maxq) {
  return (int)quantize_code_f(x, p.scale, p.zero, (float)maxq);
}

inline float dequantize_code(int code, const GroupParams &p) { return p.scale * ((float)code - p.zero); }

// Scale of the full-range symmetric grid from the negative and positive range magnitudes
// a = -min >= 0, c = max >= 0: m = a if c < a else -c, s = m / half, |s| floored at 1e-5 keeping
// its sign (spec learned_rounding §1.3 B). -0 (an all-zero group) floors to -1e-5.
inline float full_range_scale(float a, float c, int half) {
  const float s = (c < a ? a : -c) / (float)half;
  if (s >= 1e-5f || s <= -1e-5f) return s;
  return std::signbit(s) ? -1e-5f : 1e-5f;
}

// Chooses (s, z) for the `count` weights x[0..count) (contiguous) per the grid and, when
// spec.mse is set, the clipping search of spec gptq §1.6 (strictly smaller error wins, so the
// unclipped range wins ties).
GroupParams find_group_params(const float *x, int64_t count, const GridSpec &spec);

// What find_group_params chooses without the MSE search (spec.mse is ignored) for weights whose
// running range is [xmin, xmax]: xmin = min(0, x...), xmax = max(0, x...) taken as
// `xmin = x < xmin ? x : xmin` and `xmax = xmax < x ? x : xmax` from 0 (the order of the values does
// not matter). For callers that find the range of many rows at once (the GPTQ sweep's tiles).
GroupParams group_params_from_range(float xmin, float xmax, const GridSpec &spec);

}  // namespace vqr::quant
