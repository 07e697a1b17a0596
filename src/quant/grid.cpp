// Scale/zero selection for grids (a) and (b), with the MSE clipping search (spec gptq §1.6).
#include "quant/grid.h"

#include <algorithm>
#include <cmath>

#include "core/dtype.h"

namespace vqr::quant {

GridSpec grid_spec(const QuantConfig &config) {
  GridSpec s;
  s.bits = config.bits;
  s.maxq = (1 << config.bits) - 1;
  s.sym = config.sym;
  s.grid = config.grid;
  s.mse = config.mse;
  s.mse_norm = (float)config.mse_norm;
  s.mse_grid = config.mse_grid;
  s.mse_maxshrink = (float)config.mse_maxshrink;
  s.scale_dtype = config.scale_dtype;
  return s;
}

// Grid (a): IST Quantizer.find_params. xmin/xmax are the (possibly shrunk) range ends.
static GroupParams params_gptq(float xmin, float xmax, const GridSpec &spec) {
  GroupParams p;
  p.scale = (xmax - xmin) / (float)spec.maxq;
  p.zero = spec.sym ? (float)((spec.maxq + 1) / 2) : round_half_even(-xmin / p.scale);
  return p;
}

// Grid (b): QuaRot WeightQuantizer. Symmetric: s = absmax / (2^(b-1) - 1), signed codes offset by
// 2^(b-1); asymmetric like grid (a) but with the 1e-5 floor on the range instead of the +-1 fix.
static GroupParams params_quarot(float xmin, float xmax, const GridSpec &spec) {
  GroupParams p;
  if (spec.sym) {
    const int half = (spec.maxq + 1) / 2;  // 2^(b-1)
    const float absmax = std::max(std::max(-xmin, xmax), 1e-5f);
    p.scale = absmax / (float)(half - 1);
    p.zero = (float)half;
  } else {
    p.scale = std::max(xmax - xmin, 1e-5f) / (float)spec.maxq;
    p.zero = round_half_even(-xmin / p.scale);
  }
  return p;
}

// Grid (c): AutoRound's full-range symmetric grid (spec learned_rounding §1.3 B). The extreme of
// larger magnitude maps to code -2^(b-1): s = +a / 2^(b-1) when -xmin > xmax, else -xmax / 2^(b-1).
static GroupParams params_full_range(float xmin, float xmax, const GridSpec &spec) {
  const int half = (spec.maxq + 1) / 2;
  return {full_range_scale(-xmin, xmax, half), (float)half};
}

static GroupParams params_in_f32(float xmin, float xmax, const GridSpec &spec) {
  if (spec.grid == Grid::QuaRot) return params_quarot(xmin, xmax, spec);
  if (spec.grid == Grid::FullRange) return params_full_range(xmin, xmax, spec);
  return params_gptq(xmin, xmax, spec);
}

// VQR_PARAM_SCALE_DTYPE: the scale a checkpoint will store (fp16 for GPTQ, compressed-tensors and
// GGUF blocks), chosen before the codes so that the stored model is the optimized one. The
// asymmetric zero-point is recomputed from the rounded scale, as the grid's own formula would;
// a scale that would round to zero keeps the type's smallest positive normal value.
static GroupParams params_for_range(float xmin, float xmax, const GridSpec &spec) {
  GroupParams p = params_in_f32(xmin, xmax, spec);
  if (spec.scale_dtype == DType::F32 || p.scale == 0.0f || !std::isfinite(p.scale)) return p;
  const bool f16 = spec.scale_dtype == DType::F16;
  float s = f16 ? f16_to_f32(f32_to_f16(p.scale)) : bf16_to_f32(f32_to_bf16(p.scale));
  const float smallest = f16 ? 6.103515625e-05f : 1.17549435e-38f;
  if (!std::isfinite(s)) return p;  // beyond the type's range: nothing exact to store (the exporter says so)
  if (s == 0.0f) s = std::copysign(smallest, p.scale);
  p.scale = s;
  if (!spec.sym) p.zero = std::min(std::max(round_half_even(-xmin / s), 0.0f), (float)spec.maxq);
  return p;
}

// The range the grid quantizes from the weights' range (with 0): the symmetric grids' mirroring
// and grid (a)'s +-1 for an all-zero group.
static void grid_range(float &xmin, float &xmax, const GridSpec &spec) {
  if (spec.grid == Grid::Gptq) {
    if (spec.sym) {
      xmax = std::max(-xmin, xmax);
      if (xmin < 0.0f) xmin = -xmax;  // all-non-negative rows keep xmin = 0 (spec quirk)
    }
    if (xmin == 0.0f && xmax == 0.0f) {
      xmin = -1.0f;
      xmax = 1.0f;
    }
  } else if (spec.grid == Grid::QuaRot && spec.sym) {
    xmax = std::max(-xmin, xmax);
    xmin = -xmax;
  }
}

GroupParams group_params_from_range(float xmin, float xmax, const GridSpec &spec) {
  grid_range(xmin, xmax, spec);
  return params_for_range(xmin, xmax, spec);
}

GroupParams find_group_params(const float *x, int64_t count, const GridSpec &spec) {
  float xmin = 0.0f, xmax = 0.0f;  // the range always contains 0
  for (int64_t j = 0; j < count; ++j) {
    xmin = std::min(xmin, x[j]);
    xmax = std::max(xmax, x[j]);
  }
  grid_range(xmin, xmax, spec);
  GroupParams best = params_for_range(xmin, xmax, spec);
  if (!spec.mse) return best;

  // Clipping search: p = 1 - i/grid for i < floor(maxshrink * grid); err = sum |q(x) - x|^norm.
  double best_err = INFINITY;
  const int candidates = (int)std::floor((double)spec.mse_maxshrink * spec.mse_grid);
  for (int i = 0; i < candidates; ++i) {
    const float shrink = (float)(1.0 - (double)i / spec.mse_grid);
    const GroupParams cand = params_for_range(shrink * xmin, shrink * xmax, spec);
    double err = 0.0;
    for (int64_t j = 0; j < count; ++j) {
      const float q = dequantize_code(quantize_code(x[j], cand, spec.maxq), cand);
      err += std::pow((double)std::fabs(q - x[j]), (double)spec.mse_norm);
    }
    if (err < best_err) {
      best_err = err;
      best = cand;
    }
  }
  return best;
}

}  // namespace vqr::quant
