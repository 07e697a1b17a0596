// Shared helpers for the C-API oracle tests: deterministic random numbers, RAII owners of vqr_*
// objects, a tiny double-precision dense linear algebra (Cholesky, solve), half/bfloat16
// conversion, NMSE and first-difference reporting. Independent of the library's internals: it
// uses only vqround.h, so the tests compare the library against code written here.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "vqround/vqround.h"

namespace vqrt {

// ---------------------------------------------------------------------------------------------
// Random numbers: xoshiro256** seeded by splitmix64, Box-Muller normals. Written here (not
// <random> distributions) so that sequences are identical on every standard library, which the
// fixed-seed exact-code comparisons rely on.
// ---------------------------------------------------------------------------------------------
class Rng {
 public:
  explicit Rng(uint64_t seed) {
    uint64_t x = seed;
    for (auto &si : s_) {
      x += 0x9E3779B97F4A7C15ull;
      uint64_t z = x;
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
      si = z ^ (z >> 31);
    }
  }
  uint64_t next() {
    const uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }
  // Uniform in [0, 1) with 53 random bits.
  double uniform() { return (next() >> 11) * (1.0 / 9007199254740992.0); }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  // Integer in [lo, hi] (inclusive).
  int64_t integer(int64_t lo, int64_t hi) { return lo + (int64_t)(next() % (uint64_t)(hi - lo + 1)); }
  double normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    double u1 = 0.0;
    while (u1 <= 0.0) u1 = uniform();
    const double u2 = uniform();
    const double r = std::sqrt(-2.0 * std::log(u1));
    spare_ = r * std::sin(2.0 * M_PI * u2);
    has_spare_ = true;
    return r * std::cos(2.0 * M_PI * u2);
  }
  // Student-t with an integer number of degrees of freedom: z / sqrt(chi2_nu / nu).
  double student_t(int nu) {
    const double z = normal();
    double chi2 = 0.0;
    for (int i = 0; i < nu; ++i) {
      const double g = normal();
      chi2 += g * g;
    }
    return z / std::sqrt(chi2 / nu);
  }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
  bool has_spare_ = false;
  double spare_ = 0.0;
};

inline std::vector<float> normal_matrix(Rng &rng, int64_t rows, int64_t cols, double sigma = 1.0) {
  std::vector<float> v((size_t)(rows * cols));
  for (auto &x : v) x = (float)(sigma * rng.normal());
  return v;
}

// Calibration-like activations, T x n: correlated channels (a shared factor plus a short moving
// average of i.i.d. normals) and `outliers` channels scaled by 20..50 (spread evenly over the
// channels), as in LLM layer inputs.
inline std::vector<float> correlated_activations(Rng &rng, int64_t t, int64_t n, int outliers) {
  std::vector<double> z((size_t)(n + 2));
  std::vector<float> x((size_t)(t * n));
  std::vector<double> gain((size_t)n, 1.0);
  for (int k = 0; k < outliers; ++k) gain[(size_t)((k * 7919 + 3) % n)] = 20.0 + 30.0 * (k + 1) / (outliers + 1);
  for (int64_t r = 0; r < t; ++r) {
    const double common = rng.normal();
    for (auto &v : z) v = rng.normal();
    for (int64_t j = 0; j < n; ++j)
      x[(size_t)(r * n + j)] =
          (float)(gain[(size_t)j] * (z[(size_t)j + 2] + 0.6 * z[(size_t)j + 1] + 0.3 * z[(size_t)j] + 0.5 * common));
  }
  return x;
}

inline std::vector<float> student_t_matrix(Rng &rng, int64_t rows, int64_t cols, double scale, int nu = 3) {
  std::vector<float> v((size_t)(rows * cols));
  for (auto &x : v) x = (float)(scale * rng.student_t(nu));
  return v;
}

// ---------------------------------------------------------------------------------------------
// RAII owners and small API conveniences.
// ---------------------------------------------------------------------------------------------
struct ConfigDeleter {
  void operator()(vqr_config *c) const { vqr_config_free(c); }
};
struct HessianDeleter {
  void operator()(vqr_hessian *h) const { vqr_hessian_free(h); }
};
struct ResultDeleter {
  void operator()(vqr_result *r) const { vqr_result_free(r); }
};
struct ContextDeleter {
  void operator()(vqr_context *c) const { vqr_context_free(c); }
};
using ConfigPtr = std::unique_ptr<vqr_config, ConfigDeleter>;
using HessianPtr = std::unique_ptr<vqr_hessian, HessianDeleter>;
using ResultPtr = std::unique_ptr<vqr_result, ResultDeleter>;
using ContextPtr = std::unique_ptr<vqr_context, ContextDeleter>;

// "status -5 (numerical ...): <last error>" for assertion messages.
inline std::string status_text(vqr_status st) {
  std::ostringstream os;
  os << "status " << (int)st << " (" << vqr_status_string(st) << "): " << vqr_last_error();
  return os.str();
}

#define VQRT_ASSERT_OK(expr)                                                   \
  do {                                                                         \
    vqr_status vqrt_st_ = (expr);                                              \
    ASSERT_EQ(vqrt_st_, VQR_OK) << #expr << " -> " << ::vqrt::status_text(vqrt_st_); \
  } while (0)

// A parameter assignment for make_config: integer or float, by the parameter's own kind.
struct Param {
  vqr_param param;
  double value;
};

// Creates a config with the given parameters set; returns nullptr (and records a gtest failure)
// when a setter fails. Integer/float setter chosen from vqr_param_bounds.
inline ConfigPtr make_config(std::initializer_list<Param> params) {
  vqr_config *c = nullptr;
  vqr_status st = vqr_config_create(&c);
  if (st != VQR_OK) {
    ADD_FAILURE() << "vqr_config_create: " << status_text(st);
    return nullptr;
  }
  ConfigPtr cfg(c);
  for (const Param &p : params) {
    vqr_bounds b;
    b.struct_size = sizeof b;
    st = vqr_param_bounds(p.param, &b);
    if (st != VQR_OK) {
      ADD_FAILURE() << "vqr_param_bounds(" << (int)p.param << "): " << status_text(st);
      return nullptr;
    }
    st = b.is_float ? vqr_config_set_float(c, p.param, p.value)
                    : vqr_config_set_int(c, p.param, (int64_t)p.value);
    if (st != VQR_OK) {
      ADD_FAILURE() << "setting param " << (int)p.param << " = " << p.value << ": " << status_text(st);
      return nullptr;
    }
  }
  return cfg;
}

// Builds a Hessian accumulator from one T x n fp32 batch.
inline HessianPtr make_hessian(const std::vector<float> &x, int64_t t, int64_t n, unsigned flags = 0) {
  vqr_hessian *h = nullptr;
  vqr_status st = vqr_hessian_create(n, flags, &h);
  if (st != VQR_OK) {
    ADD_FAILURE() << "vqr_hessian_create: " << status_text(st);
    return nullptr;
  }
  HessianPtr hp(h);
  vqr_tensor xt = vqr_tensor_2d(x.data(), VQR_DTYPE_F32, t, n, 0);
  st = vqr_hessian_add(h, &xt);
  if (st != VQR_OK) {
    ADD_FAILURE() << "vqr_hessian_add: " << status_text(st);
    return nullptr;
  }
  return hp;
}

inline std::vector<float> read_hessian(const vqr_hessian *h) {
  const int64_t n = vqr_hessian_width(h);
  std::vector<float> out((size_t)(n * n), std::nanf(""));
  vqr_status st = vqr_hessian_read(h, out.data(), 0);
  if (st != VQR_OK) ADD_FAILURE() << "vqr_hessian_read: " << status_text(st);
  return out;
}

// Runs vqr_quantize_layer on an fp32 m x n matrix; nullptr (with a gtest failure) on error.
inline ResultPtr quantize(const vqr_config *cfg, const std::vector<float> &w, int64_t m, int64_t n,
                          const vqr_hessian *h, vqr_context *ctx = nullptr) {
  vqr_tensor wt = vqr_tensor_2d(w.data(), VQR_DTYPE_F32, m, n, 0);
  vqr_result *r = nullptr;
  vqr_status st = vqr_quantize_layer(ctx, cfg, &wt, h, &r);
  if (st != VQR_OK) {
    ADD_FAILURE() << "vqr_quantize_layer: " << status_text(st);
    return nullptr;
  }
  return ResultPtr(r);
}

// Everything a result exposes, copied out.
struct ResultData {
  int64_t m = 0, n = 0, groups = 0;
  int bits = 0;
  std::vector<uint8_t> codes;   // m x n
  std::vector<float> scales;    // G x m
  std::vector<float> zeros;     // G x m
  std::vector<int32_t> g_idx;   // n
  std::vector<float> deq;       // m x n, from vqr_result_dequantize (f32)
  vqr_report report{};
};

inline ResultData read_result(const vqr_result *r) {
  ResultData d;
  vqr_status st = vqr_result_shape(r, &d.m, &d.n, &d.groups, &d.bits);
  if (st != VQR_OK) {
    ADD_FAILURE() << "vqr_result_shape: " << status_text(st);
    return d;
  }
  const size_t mn = (size_t)(d.m * d.n), gm = (size_t)(d.groups * d.m);
  const uint8_t *c = vqr_result_codes(r);
  const float *s = vqr_result_scales(r);
  const float *z = vqr_result_zeros(r);
  const int32_t *g = vqr_result_g_idx(r);
  if (!c || !s || !z || !g) {
    ADD_FAILURE() << "a result accessor returned NULL";
    return d;
  }
  d.codes.assign(c, c + mn);
  d.scales.assign(s, s + gm);
  d.zeros.assign(z, z + gm);
  d.g_idx.assign(g, g + d.n);
  d.deq.assign(mn, std::nanf(""));
  st = vqr_result_dequantize(r, VQR_DTYPE_F32, d.deq.data(), 0);
  if (st != VQR_OK) ADD_FAILURE() << "vqr_result_dequantize: " << status_text(st);
  d.report.struct_size = sizeof(vqr_report);
  st = vqr_result_report(r, &d.report);
  if (st != VQR_OK) ADD_FAILURE() << "vqr_result_report: " << status_text(st);
  return d;
}

// ---------------------------------------------------------------------------------------------
// Comparisons that print the first differing entries and the largest difference.
// ---------------------------------------------------------------------------------------------
template <class A, class B>
::testing::AssertionResult arrays_equal(const char *what, const A *a, const B *b, size_t count,
                                        int64_t cols = 0, int max_print = 8) {
  size_t ndiff = 0;
  double maxd = 0.0;
  size_t maxi = 0;
  std::ostringstream os;
  for (size_t i = 0; i < count; ++i) {
    if (!((double)a[i] == (double)b[i])) {
      if ((int)ndiff < max_print) {
        os << "\n  " << what << "[" << i;
        if (cols > 0) os << " = (" << i / (size_t)cols << ", " << i % (size_t)cols << ")";
        os << "]: got " << +a[i] << ", want " << +b[i];
      }
      const double d = std::fabs((double)a[i] - (double)b[i]);
      if (ndiff == 0 || d > maxd || std::isnan(d)) {
        maxd = d;
        maxi = i;
      }
      ++ndiff;
    }
  }
  if (ndiff == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << what << ": " << ndiff << " of " << count
                                       << " entries differ; largest |diff| = " << maxd << " at " << maxi
                                       << os.str();
}

template <class A, class B>
::testing::AssertionResult vectors_equal(const char *what, const std::vector<A> &a, const std::vector<B> &b,
                                         int64_t cols = 0) {
  if (a.size() != b.size())
    return ::testing::AssertionFailure() << what << ": sizes " << a.size() << " vs " << b.size();
  return arrays_equal(what, a.data(), b.data(), a.size(), cols);
}

// |a_i - b_i| <= atol + rtol |b_i| for all i (NaN never passes).
template <class A, class B>
::testing::AssertionResult vectors_near(const char *what, const std::vector<A> &a, const std::vector<B> &b,
                                        double rtol, double atol, int64_t cols = 0, int max_print = 8) {
  if (a.size() != b.size())
    return ::testing::AssertionFailure() << what << ": sizes " << a.size() << " vs " << b.size();
  size_t ndiff = 0, maxi = 0;
  double maxd = 0.0;
  std::ostringstream os;
  for (size_t i = 0; i < a.size(); ++i) {
    const double d = std::fabs((double)a[i] - (double)b[i]);
    const double d_or_inf = std::isnan(d) ? INFINITY : d;
    if (d_or_inf > maxd || i == 0) {
      maxd = d_or_inf;
      maxi = i;
    }
    if (!(d <= atol + rtol * std::fabs((double)b[i]))) {
      if ((int)ndiff < max_print) {
        os << "\n  " << what << "[" << i;
        if (cols > 0) os << " = (" << i / (size_t)cols << ", " << i % (size_t)cols << ")";
        os << "]: got " << a[i] << ", want " << b[i] << " (|diff| " << d << ")";
      }
      ++ndiff;
    }
  }
  if (ndiff == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << what << ": " << ndiff << " of " << a.size()
                                       << " entries outside tolerance (rtol " << rtol << ", atol " << atol
                                       << "); largest |diff| = " << maxd << " at " << maxi << os.str();
}

// Normalized mean squared error sum (a - b)^2 / sum b^2 (b is the reference).
template <class A, class B>
double nmse(const std::vector<A> &a, const std::vector<B> &b) {
  double num = 0.0, den = 0.0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    const double d = (double)a[i] - (double)b[i];
    num += d * d;
    den += (double)b[i] * (double)b[i];
  }
  return den > 0.0 ? num / den : num;
}

// ---------------------------------------------------------------------------------------------
// Dense double linear algebra (row-major, n x n), written for the tests.
// ---------------------------------------------------------------------------------------------
// In-place lower Cholesky factor A = L L^T (upper part left untouched). False if not SPD.
inline bool cholesky(std::vector<double> &a, int64_t n) {
  for (int64_t j = 0; j < n; ++j) {
    double d = a[j * n + j];
    for (int64_t k = 0; k < j; ++k) d -= a[j * n + k] * a[j * n + k];
    if (!(d > 0.0)) return false;
    d = std::sqrt(d);
    a[j * n + j] = d;
    for (int64_t i = j + 1; i < n; ++i) {
      double s = a[i * n + j];
      for (int64_t k = 0; k < j; ++k) s -= a[i * n + k] * a[j * n + k];
      a[i * n + j] = s / d;
    }
  }
  return true;
}

// Solves (L L^T) x = b in place given the lower factor from cholesky().
inline void cholesky_solve(const std::vector<double> &l, int64_t n, double *b) {
  for (int64_t i = 0; i < n; ++i) {
    double s = b[i];
    for (int64_t k = 0; k < i; ++k) s -= l[i * n + k] * b[k];
    b[i] = s / l[i * n + i];
  }
  for (int64_t i = n - 1; i >= 0; --i) {
    double s = b[i];
    for (int64_t k = i + 1; k < n; ++k) s -= l[k * n + i] * b[k];
    b[i] = s / l[i * n + i];
  }
}

// Inverse of an SPD matrix through Cholesky; false if not SPD.
inline bool spd_inverse(const std::vector<double> &a, int64_t n, std::vector<double> &inv) {
  std::vector<double> l = a;
  if (!cholesky(l, n)) return false;
  inv.assign((size_t)(n * n), 0.0);
  std::vector<double> col((size_t)n);
  for (int64_t j = 0; j < n; ++j) {
    std::fill(col.begin(), col.end(), 0.0);
    col[(size_t)j] = 1.0;
    cholesky_solve(l, n, col.data());
    for (int64_t i = 0; i < n; ++i) inv[i * n + j] = col[(size_t)i];
  }
  return true;
}

// H = (2/T) X^T X in double from a T x n fp32 batch.
inline std::vector<double> hessian_ref(const std::vector<float> &x, int64_t t, int64_t n) {
  std::vector<double> h((size_t)(n * n), 0.0);
  for (int64_t r = 0; r < t; ++r)
    for (int64_t i = 0; i < n; ++i) {
      const double xi = x[r * n + i];
      if (xi == 0.0) continue;
      for (int64_t j = 0; j < n; ++j) h[i * n + j] += xi * (double)x[r * n + j];
    }
  if (t > 0)
    for (auto &v : h) v *= 2.0 / (double)t;
  return h;
}

// tr(dW H dW^T) with dW = A - B (m x n), H n x n, all in double.
template <class TA, class TB, class TH>
double proxy_loss(const std::vector<TA> &a, const std::vector<TB> &b, const std::vector<TH> &h, int64_t m,
                  int64_t n) {
  double total = 0.0;
  std::vector<double> d((size_t)n);
  for (int64_t r = 0; r < m; ++r) {
    for (int64_t j = 0; j < n; ++j) d[(size_t)j] = (double)a[r * n + j] - (double)b[r * n + j];
    for (int64_t i = 0; i < n; ++i) {
      double s = 0.0;
      for (int64_t j = 0; j < n; ++j) s += (double)h[i * n + j] * d[(size_t)j];
      total += d[(size_t)i] * s;
    }
  }
  return total;
}

// ---------------------------------------------------------------------------------------------
// Half precision and bfloat16, round to nearest even, written here.
// ---------------------------------------------------------------------------------------------
inline uint32_t float_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
inline float bits_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

inline uint16_t float_to_half(float f) {
  const uint32_t x = float_bits(f);
  const uint32_t sign = (x >> 16) & 0x8000u;
  const uint32_t abs = x & 0x7FFFFFFFu;
  if (abs > 0x7F800000u) return (uint16_t)(sign | 0x7E00u);  // NaN
  if (abs >= 0x477FF000u) return (uint16_t)(sign | 0x7C00u);  // >= 65520 rounds to Inf
  if (abs < 0x38800000u) {                                    // below 2^-14: subnormal or zero
    // value = abs_f; half subnormal unit 2^-24. Compute round(abs_f * 2^24) with ties to even.
    const double v = (double)bits_float(abs) * 16777216.0;
    double r = std::nearbyint(v);  // FE_TONEAREST: ties to even
    return (uint16_t)(sign | (uint32_t)r);
  }
  // Normal: re-bias exponent, round mantissa from 23 to 10 bits, ties to even (a carry into the
  // exponent is the correct result).
  uint32_t h = ((abs >> 13) - ((127u - 15u) << 10));
  const uint32_t rem = abs & 0x1FFFu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) ++h;
  return (uint16_t)(sign | h);
}

inline float half_to_float(uint16_t h) {
  const uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
  const uint32_t e = (h >> 10) & 0x1Fu, mant = h & 0x3FFu;
  if (e == 0) {
    const float v = std::ldexp((float)mant, -24);
    return sign ? -v : v;
  }
  if (e == 31) return bits_float(sign | 0x7F800000u | (mant << 13));
  return bits_float(sign | ((e + 127u - 15u) << 23) | (mant << 13));
}

inline uint16_t float_to_bf16(float f) {
  const uint32_t x = float_bits(f);
  if ((x & 0x7FFFFFFFu) > 0x7F800000u) return (uint16_t)((x >> 16) | 0x40u);
  const uint32_t lsb = (x >> 16) & 1u;
  return (uint16_t)((x + 0x7FFFu + lsb) >> 16);
}
inline float bf16_to_float(uint16_t b) { return bits_float((uint32_t)b << 16); }

// ---------------------------------------------------------------------------------------------
// CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), bitwise.
// ---------------------------------------------------------------------------------------------
inline uint32_t crc32(const uint8_t *p, size_t len) {
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < len; ++i) {
    c ^= p[i];
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
  }
  return c ^ 0xFFFFFFFFu;
}

}  // namespace vqrt
