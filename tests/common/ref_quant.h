// Reference quantizer grids of spec gptq §1.6, written from the spec for the tests: grid (a)
// (IST GPTQ / AutoGPTQ / GPTQModel) and grid (b) (QuaRot WeightQuantizer), asym and sym, with the
// MSE clipping search. Scale and zero-point arithmetic is fp32 as the spec prescribes; rounding is
// half-to-even (std::nearbyint under the default FE_TONEAREST).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

namespace vqrt {

struct GridSpec {
  int bits = 4;
  bool sym = false;
  int grid = 0;  // 0 = (a) VQR_GRID_GPTQ, 1 = (b) VQR_GRID_QUAROT
};

// One row's (or one group's) parameters. Codes are stored unsigned for both grids: grid (b) sym
// codes are offset by zero = 2^(b-1) (vqround.h, VQR_GRID_QUAROT).
struct QParams {
  float scale = 0.f;
  float zero = 0.f;
};

inline int maxq_unsigned(int bits) { return (1 << bits) - 1; }

// Integer code of x: clamp(rint(x / s) + z, 0, 2^b - 1). x / s is evaluated in the precision of
// X (float for the grid tests, double for the GPTQ reference).
template <class X>
inline int quant_code(X x, QParams p, int bits) {
  const double r = std::nearbyint((double)(x / (X)p.scale)) + (double)p.zero;
  const double maxq = (double)maxq_unsigned(bits);
  return (int)std::min(std::max(r, 0.0), maxq);
}

// Near-tie replay for the double references of the GPTQ family (ref_gptq.h, ref_gptaq.h), which
// the library (fp32, BLAS) must match code for code. The code of x on grid p; where x / s lies
// within tie_eps scale units of a rounding boundary and `hint` (the library's code of this entry,
// -1 for none) is one of the two neighbouring codes, that code instead. fp32 and double may round
// such a value apart (which way depends on the BLAS kernels' summation order), and one flip
// changes every later column of the row; replaying it keeps the comparison exact everywhere else.
// min_margin: the closest approach to a boundary (scale units) over entries whose neighbouring
// codes differ; replayed: how many replays changed the double rounding's code.
inline int replayable_code(double x, QParams p, int bits, int hint, double tie_eps, double &min_margin,
                           int64_t &replayed) {
  int c = quant_code(x, p, bits);
  const double t = x / (double)p.scale;
  const double maxq = (double)maxq_unsigned(bits);
  const double lo = std::min(std::max(std::floor(t) + p.zero, 0.0), maxq);
  const double hi = std::min(std::max(std::ceil(t) + p.zero, 0.0), maxq);
  if (lo == hi) return c;  // both neighbours clamp to the same code: no tie can matter
  const double margin = std::fabs(t - std::floor(t) - 0.5);
  min_margin = std::min(min_margin, margin);
  if (hint >= 0 && margin < tie_eps && (hint == (int)lo || hint == (int)hi) && hint != c) {
    c = hint;
    ++replayed;
  }
  return c;
}

inline float dequant(int code, QParams p) { return p.scale * ((float)code - p.zero); }

// Min/max parameters of spec gptq §1.6 for the slice x[0..len) (fp32 arithmetic). `shrink` = p
// scales the range (MSE candidates); 1 for plain min/max. The range-setting steps (including 0,
// sym adjustment, all-zero fix) happen before the shrink, as in the reference Quantizer.
template <class X>
inline QParams grid_params(const X *x, int64_t len, const GridSpec &g, double shrink = 1.0) {
  float xmin = 0.f, xmax = 0.f;
  for (int64_t i = 0; i < len; ++i) {
    const float v = (float)x[i];
    xmin = std::min(xmin, v);
    xmax = std::max(xmax, v);
  }
  QParams p;
  if (g.grid == 0) {
    const float maxq = (float)maxq_unsigned(g.bits);
    if (g.sym) {
      xmax = std::max(std::fabs(xmin), xmax);
      if (xmin < 0.f) xmin = -xmax;
    }
    if (xmin == 0.f && xmax == 0.f) {
      xmin = -1.f;
      xmax = 1.f;
    }
    const float xmin1 = (float)(shrink * xmin), xmax1 = (float)(shrink * xmax);
    p.scale = (xmax1 - xmin1) / maxq;
    p.zero = g.sym ? (float)((maxq_unsigned(g.bits) + 1) / 2) : std::nearbyint(-xmin1 / p.scale);
  } else {
    if (g.sym) {
      const float maxq = (float)((1 << (g.bits - 1)) - 1);
      const float amax = std::max(std::max(std::fabs(xmin), xmax), 1e-5f);
      p.scale = (float)(shrink * amax) / maxq;
      p.zero = (float)(1 << (g.bits - 1));
    } else {
      const float maxq = (float)maxq_unsigned(g.bits);
      const float xmin1 = (float)(shrink * xmin), xmax1 = (float)(shrink * xmax);
      p.scale = std::max(xmax1 - xmin1, 1e-5f) / maxq;
      p.zero = std::nearbyint(-xmin1 / p.scale);
    }
  }
  return p;
}

// sum_i |q(x_i) - x_i|^norm in double for given parameters.
template <class X>
inline double quant_error(const X *x, int64_t len, QParams p, int bits, double norm) {
  double e = 0.0;
  for (int64_t i = 0; i < len; ++i) {
    const double d = (double)dequant(quant_code(x[i], p, bits), p) - (double)x[i];
    e += std::pow(std::fabs(d), norm);
  }
  return e;
}

struct MseSearch {
  std::vector<QParams> candidates;  // candidate i has shrink p = 1 - i / grid
  std::vector<double> errors;
  int best = 0;  // first index with the strictly smallest error
};

// The MSE clipping search of spec gptq §1.6: candidates p = 1 - i/grid for
// i < floor(maxshrink * grid); keep the candidate with strictly smaller error (p = 1 wins ties).
template <class X>
inline MseSearch mse_search(const X *x, int64_t len, const GridSpec &g, double norm, int grid,
                            double maxshrink) {
  MseSearch s;
  const int count = (int)std::floor(maxshrink * grid);
  double best = std::numeric_limits<double>::infinity();
  for (int i = 0; i < count; ++i) {
    const double p = 1.0 - (double)i / grid;
    const QParams q = grid_params(x, len, g, p);
    const double e = quant_error(x, len, q, g.bits, norm);
    s.candidates.push_back(q);
    s.errors.push_back(e);
    if (e < best) {
      best = e;
      s.best = i;
    }
  }
  return s;
}

}  // namespace vqrt
