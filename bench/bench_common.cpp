// Shared helpers of the libvqround benchmarks (see bench_common.h): data generators, dtype
// conversion and the OpenBLAS/LAPACKE reference kernels.
#include "bench_common.h"

#include <benchmark/benchmark.h>
#include <cblas.h>
#include <lapacke.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>

namespace vqrbench {

double now_seconds() {
  using clock = std::chrono::steady_clock;
  return std::chrono::duration<double>(clock::now().time_since_epoch()).count();
}

static uint64_t splitmix64(uint64_t &x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

Rng::Rng(uint64_t seed) {
  for (auto &s : s_) s = splitmix64(seed);
}

uint64_t Rng::next() {
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

float Rng::uniform() { return static_cast<float>(next() >> 40) * (1.0f / 16777216.0f); }

float Rng::normal() {
  // Sum of 4 uniforms has mean 2 and variance 1/3; bounded tails are fine for timing data.
  const float s = uniform() + uniform() + uniform() + uniform();
  return (s - 2.0f) * 1.7320508f;
}

ActivationGenerator::ActivationGenerator(int64_t n, uint64_t seed)
    : n_(n), mix_(static_cast<size_t>(r_ * n)), scale_(static_cast<size_t>(n)), rng_(seed) {
  const float inv_sqrt_r = 1.0f / std::sqrt(static_cast<float>(r_));
  for (auto &v : mix_) v = rng_.normal() * inv_sqrt_r;
  for (auto &s : scale_) {
    s = std::exp(0.5f * rng_.normal());
    if (rng_.uniform() < 0.01f) s *= 10.0f;
  }
}

void ActivationGenerator::fill(float *x, int64_t tokens) {
  f_.resize(static_cast<size_t>(tokens * r_));
  for (auto &v : f_) v = rng_.normal();
  for (int64_t i = 0; i < tokens * n_; ++i) x[i] = 0.5f * rng_.normal();
  // x (T x n) += F (T x r) * M (r x n)
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(tokens), static_cast<int>(n_),
              static_cast<int>(r_), 1.0f, f_.data(), static_cast<int>(r_), mix_.data(), static_cast<int>(n_),
              1.0f, x, static_cast<int>(n_));
  for (int64_t t = 0; t < tokens; ++t) {
    float *row = x + t * n_;
    for (int64_t j = 0; j < n_; ++j) row[j] *= scale_[static_cast<size_t>(j)];
  }
}

vqr_status add_generated_tokens(vqr_hessian *h, int64_t n, int64_t tokens, uint64_t seed) {
  ActivationGenerator gen(n, seed);
  const int64_t chunk = 1024;
  std::vector<float> x(static_cast<size_t>(chunk * n));
  vqr_status st = VQR_OK;
  for (int64_t done = 0; st == VQR_OK && done < tokens; done += chunk) {
    const int64_t t = std::min(chunk, tokens - done);
    gen.fill(x.data(), t);
    const vqr_tensor xt = vqr_tensor_2d(x.data(), VQR_DTYPE_F32, t, n, 0);
    st = vqr_hessian_add(h, &xt);
  }
  return st;
}

void fill_weights(float *w, int64_t m, int64_t n, uint64_t seed) {
  Rng rng(seed);
  for (int64_t i = 0; i < m * n; ++i) {
    float v = 0.02f * rng.normal();
    if (rng.uniform() < 0.001f) v *= 10.0f;
    w[i] = v;
  }
}

uint16_t f32_to_f16(float x) {
  uint32_t u;
  std::memcpy(&u, &x, sizeof u);
  const uint32_t sign = (u >> 16) & 0x8000u;
  const uint32_t a = u & 0x7fffffffu;
  if (a >= 0x7f800000u) return static_cast<uint16_t>(sign | 0x7c00u | (a > 0x7f800000u ? 0x200u : 0u));
  if (a >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // >= 65520 rounds to Inf
  if (a < 0x38800000u) {                                                // f16 subnormal range
    if (a < 0x33000000u) return static_cast<uint16_t>(sign);            // below 2^-25: zero
    const uint32_t e = a >> 23;
    const uint32_t mant = (a & 0x7fffffu) | 0x800000u;
    const uint32_t shift = 126u - e;
    uint32_t h = mant >> shift;
    const uint32_t rem = mant & ((1u << shift) - 1u);
    const uint32_t half = 1u << (shift - 1u);
    if (rem > half || (rem == half && (h & 1u))) ++h;
    return static_cast<uint16_t>(sign | h);
  }
  const uint32_t r = a - 0x38000000u;  // rebias exponent 127 -> 15
  return static_cast<uint16_t>(sign | ((r + 0xfffu + ((r >> 13) & 1u)) >> 13));
}

uint16_t f32_to_bf16(float x) {
  uint32_t u;
  std::memcpy(&u, &x, sizeof u);
  return static_cast<uint16_t>((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

void ref_ssyrk(float *c, const float *x, int64_t n, int64_t tokens) {
  cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, static_cast<int>(n), static_cast<int>(tokens), 1.0f, x,
              static_cast<int>(n), 1.0f, c, static_cast<int>(n));
}

int ref_spotrf(float *a, int64_t n) {
  return static_cast<int>(LAPACKE_spotrf(LAPACK_COL_MAJOR, 'L', static_cast<lapack_int>(n), a,
                                         static_cast<lapack_int>(n)));
}

int ref_strtri(float *a, int64_t n) {
  return static_cast<int>(LAPACKE_strtri(LAPACK_COL_MAJOR, 'L', 'N', static_cast<lapack_int>(n), a,
                                         static_cast<lapack_int>(n)));
}

void ref_cross_block_gemms(float *w, const float *err, const float *u, int64_t m, int64_t n, int64_t block) {
  for (int64_t i1 = 0; i1 < n; i1 += block) {
    const int64_t i2 = std::min(i1 + block, n);
    if (i2 == n) break;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(m), static_cast<int>(n - i2),
                static_cast<int>(i2 - i1), -1.0f, err, static_cast<int>(block), u + i1 * n + i2,
                static_cast<int>(n), 1.0f, w + i2, static_cast<int>(n));
  }
}

double cross_block_gemm_flops(int64_t m, int64_t n, int64_t block) {
  double f = 0.0;
  for (int64_t i1 = 0; i1 < n; i1 += block) {
    const int64_t i2 = std::min(i1 + block, n);
    f += 2.0 * static_cast<double>(m) * static_cast<double>(i2 - i1) * static_cast<double>(n - i2);
  }
  return f;
}

bool check(benchmark::State &state, vqr_status st, const char *what) {
  if (st == VQR_OK) return true;
  const std::string msg = std::string(what) + ": " + vqr_status_string(st) + ": " + vqr_last_error();
  state.SkipWithError(msg.c_str());
  return false;
}

vqr_context *shared_context() {
  static vqr_context *ctx = [] {
    vqr_context *c = nullptr;
    return vqr_context_create(&c) == VQR_OK ? c : nullptr;
  }();
  return ctx;
}

}  // namespace vqrbench
