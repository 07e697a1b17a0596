// The learned-rounding kernels on the OpenCL device (backend/opencl/cl_rounding.h) against their
// CPU twin (backend/cpu/cpu_rounding.cpp), kernel by kernel over many layouts, then whole AdaRound,
// VQRound and AutoRound quantizations through the C API on a context set to OpenCL.
//
// Tolerances, from the arithmetic (u = 2^-24; one ulp of x is at most 2u|x|). The kernels keep the
// twin's operation order with FP_CONTRACT OFF and correctly rounded division, so the only
// operations whose results may differ are exp and pow:
// - exp: the device's is within 3 ulp (OpenCL 1.2 full profile, §7.4), the host's expf within 1,
//   so e = exp(-a) differs by <= 8u e. Through t = 1 + e (<= 10u t after both roundings),
//   s = 1/t (<= 12u s), y = s (zeta - gamma) + gamma (<= 14u 1.2 s + 2u |y| <= 19u): kHBound = 24u
//   absolute on h = clip(y, 0, 1).
// - h' = (zeta - gamma) s (1 - s): 14u from the first factor, 12u s / (1 - s) + 2u from the
//   second, where s <= 11/12 wherever h' != 0 (y <= 1), so <= 132u; 2u for the product: 150u, and
//   kHpRel = 160u relative.
// - Where y lies within 2 kHBound of 0 or 1 the two sides may clip differently (h' = 0 on one
//   only): such latents are left out of the comparison and counted (a handful per million).
// - W' = s (clip(bz + h) - z) adds 2u (|v| + 1) per rounding of the sum and of the difference;
//   AdaRound's grad = (G s) h' and VQRound's grad = acc h' (acc, the per-codeword sum in ascending
//   member order, is the same on both sides) add 4u relative to kHpRel.
// - pow: the device's within 16 ulp, the host's powf within 1: 36u relative on p = |2h - 1|^beta,
//   plus beta |2h - 1|^(beta - 1) times the 2 kHBound + 2u of |2h - 1| (first order); the
//   derivative -2 beta p / |2h - 1| likewise with (beta + 1) of them (reg_bounds below).
// - The regularizer's total: per-term bounds plus the device's 64-leaf float tree (6u of the
//   magnitude sum) and VQRound's weight count product (u).
// - AutoRound (signround.cl) has no exp or pow: with correctly rounded division every output is
//   the CPU's bit for bit, which the test demands.
// NaN/Inf parity is checked before any tolerance; host outputs carry guard entries on both sides
// that must stay untouched. Measured on PoCL (each test prints its table): the largest difference
// is 0.75 of its bound (AdaRound's regularizer gradient), the others below 0.45; 96-100% of the
// outputs are bit-identical.
// Without an OpenCL device the tests skip, unless VQR_REQUIRE_OPENCL=1.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "backend/opencl/cl_devices.h"
#include "backend/opencl/cl_headers.h"
#include "backend/rectified_sigmoid.h"
#include "backend/rounding_kernels.h"
#include "backend/select.h"
#include "common/test_util.h"
#include "core/context.h"
#include "core/error.h"
#include "core/splitmix64.h"
#include "opencl_device.h"

namespace {

using namespace vqr::backend;


constexpr double kU = 0x1p-24;
constexpr double kHBound = 24 * kU;
constexpr double kHpRel = 160 * kU;

// A host output with guard entries on both sides that must survive the call.
struct Guarded {
  static constexpr size_t kGuard = 16;
  static constexpr uint32_t kPattern = 0x7fc0de5au;  // a quiet NaN with a payload
  std::vector<float> v;
  size_t n;
  explicit Guarded(size_t count, float fill = 0.0f) : v(count + 2 * kGuard), n(count) {
    float g;
    std::memcpy(&g, &kPattern, 4);
    std::fill(v.begin(), v.end(), g);
    std::fill(v.begin() + kGuard, v.begin() + kGuard + n, fill);
  }
  float *data() { return v.data() + kGuard; }
  const float &operator[](size_t i) const { return v[kGuard + i]; }
  bool intact() const {
    for (size_t i = 0; i < kGuard; ++i) {
      uint32_t a, b;
      std::memcpy(&a, &v[i], 4);
      std::memcpy(&b, &v[kGuard + n + i], 4);
      if (a != kPattern || b != kPattern) return false;
    }
    return true;
  }
};

template <typename T>
bool same_bits(T a, T b) {
  return std::memcmp(&a, &b, sizeof(T)) == 0;
}

// Device value against CPU value with a tolerance; keeps the largest difference, its ratio to
// the tolerance and the first failures for the message.
struct Compare {
  std::string what;
  size_t count = 0, identical = 0, skipped = 0, fails = 0;
  double max_abs = 0, max_ratio = 0;
  std::string first;

  explicit Compare(std::string w) : what(std::move(w)) {}
  void skip() { ++skipped; }
  template <typename T>
  void add(size_t i, T dev, T cpu, double tol) {
    ++count;
    if (same_bits(dev, cpu)) {
      ++identical;
      return;
    }
    const bool parity = std::isfinite(dev) == std::isfinite(cpu) && std::isnan(dev) == std::isnan(cpu);
    const double d = std::fabs((double)dev - (double)cpu);
    if (parity && std::isfinite(d)) {
      max_abs = std::max(max_abs, d);
      if (tol > 0) max_ratio = std::max(max_ratio, d / tol);
    }
    if (!parity || !(d <= tol)) {
      if (fails++ < 6) {
        char buf[200];
        std::snprintf(buf, sizeof buf, "\n  %s[%zu]: device %.9g, cpu %.9g, |diff| %.3g, tolerance %.3g", what.c_str(),
                      i, (double)dev, (double)cpu, d, tol);
        first += buf;
      }
    }
  }
  ::testing::AssertionResult result() const {
    if (fails == 0) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << what << ": " << fails << " of " << count << " outside tolerance"
                                         << first;
  }
};

// Per-kernel maxima over every case of a test, printed at its end.
struct Summary {
  struct Row {
    std::string name;
    size_t count = 0, identical = 0, skipped = 0;
    double max_abs = 0, max_ratio = 0;
  };
  std::vector<Row> rows;
  void add(const Compare &c) {
    auto it = std::find_if(rows.begin(), rows.end(), [&](const Row &r) { return r.name == c.what; });
    if (it == rows.end()) {
      rows.push_back({c.what});
      it = rows.end() - 1;
    }
    it->count += c.count;
    it->identical += c.identical;
    it->skipped += c.skipped;
    it->max_abs = std::max(it->max_abs, c.max_abs);
    it->max_ratio = std::max(it->max_ratio, c.max_ratio);
  }
  void print() const {
    for (const Row &r : rows)
      std::printf("%-22s %9zu compared, %6.2f%% bit-identical, %zu skipped at a clip edge, max |diff| %.3g = %.3f of "
                  "the bound\n",
                  r.name.c_str(), r.count, r.count ? 100.0 * (double)r.identical / (double)r.count : 100.0,
                  r.skipped, r.max_abs, r.max_ratio);
  }
};

// --- layouts -------------------------------------------------------------------------------------

// A relaxed layer: scales (some negative, as the full-range grid has), integer zeros and floors
// whose sum reaches a step beyond both clamp bounds, g_idx contiguous or permuted (act order).
struct RelaxedData {
  int64_t m, n, G;
  float maxq;
  std::vector<float> bz, scale, zero;
  std::vector<int32_t> g_idx;

  RelaxedLayout<float> layout(int threads) const {
    RelaxedLayout<float> l;
    l.m = m;
    l.n = n;
    l.groups = G;
    l.maxq = maxq;
    l.bz = bz.data();
    l.scale = scale.data();
    l.zero = zero.data();
    l.g_idx = g_idx.data();
    l.threads = threads;
    return l;
  }
};

RelaxedData make_relaxed(int64_t m, int64_t n, int64_t gs, int bits, bool permuted, uint64_t seed) {
  vqr::SplitMix64 rng(seed);
  RelaxedData d;
  d.m = m;
  d.n = n;
  const int64_t g = gs > 0 ? gs : n;
  d.G = (n + g - 1) / g;
  d.maxq = (float)((1 << bits) - 1);
  d.g_idx.resize((size_t)n);
  for (int64_t j = 0; j < n; ++j) d.g_idx[(size_t)j] = (int32_t)(j / g);
  if (permuted)
    for (int64_t j = n - 1; j > 0; --j)
      std::swap(d.g_idx[(size_t)j], d.g_idx[(size_t)(rng.next() % (uint64_t)(j + 1))]);
  d.scale.resize((size_t)(m * d.G));
  d.zero.resize((size_t)(m * d.G));
  for (size_t k = 0; k < d.scale.size(); ++k) {
    d.scale[k] = (float)((0.005 + 0.1 * rng.uniform()) * (rng.uniform() < 0.1 ? -1 : 1));
    d.zero[k] = (float)(rng.next() % (uint64_t)(d.maxq + 1));
  }
  d.bz.resize((size_t)(m * n));
  for (auto &v : d.bz) v = (float)((int64_t)(rng.next() % (uint64_t)(d.maxq + 3)) - 1);  // -1 .. maxq + 1
  return d;
}

// Latents over both clip regions (|a| > ln 11), a few exact zeros and exact-ish ties.
std::vector<float> random_latents(size_t count, uint64_t seed) {
  vqr::SplitMix64 rng(seed);
  std::vector<float> a(count);
  for (auto &v : a) {
    const double r = rng.uniform();
    v = r < 0.02 ? 0.0f : (float)(8.0 * rng.uniform() - 4.0);
  }
  return a;
}

// Whether y = sigmoid(a)(zeta - gamma) + gamma lies so close to 0 or 1 that the two sides may
// clip differently (see the header).
bool near_clip(float a) {
  const double y = 1.0 / (1.0 + std::exp(-(double)a)) * (kZeta - kGamma) + kGamma;
  return std::fabs(y) <= 2 * kHBound || std::fabs(y - 1) <= 2 * kHBound;
}

// VQRound's assignment over count weights in D-vectors: random codewords (some K unused), the
// CSR in ascending member order and the weights behind each entry, as the engine builds them.
struct VqData {
  int64_t K, L;
  int D;
  std::vector<int32_t> idx;
  std::vector<int64_t> offsets, members;
  std::vector<float> wc;

  VqLayout<float> layout() const {
    VqLayout<float> v;
    v.K = K;
    v.L = L;
    v.D = D;
    v.idx = idx.data();
    v.offsets = offsets.data();
    v.members = members.data();
    v.weight_count = wc.data();
    return v;
  }
};

VqData make_vq(int64_t count, int D, int64_t K, uint64_t seed) {
  vqr::SplitMix64 rng(seed);
  VqData v;
  v.D = D;
  v.L = (count + D - 1) / D;
  v.K = std::min(K, v.L);
  v.idx.resize((size_t)v.L);
  for (auto &k : v.idx) k = (int32_t)(rng.next() % (uint64_t)v.K);
  v.offsets.assign((size_t)v.K + 1, 0);
  for (int32_t k : v.idx) ++v.offsets[(size_t)k + 1];
  for (int64_t k = 0; k < v.K; ++k) v.offsets[(size_t)k + 1] += v.offsets[(size_t)k];
  v.members.resize((size_t)v.L);
  std::vector<int64_t> fill(v.offsets.begin(), v.offsets.end() - 1);
  for (int64_t l = 0; l < v.L; ++l) v.members[(size_t)fill[(size_t)v.idx[(size_t)l]]++] = l;
  v.wc.assign((size_t)(v.K * D), 0.0f);
  for (int64_t e = 0; e < count; ++e) v.wc[(size_t)(v.idx[(size_t)(e / D)] * D + e % D)] += 1.0f;
  return v;
}

// --- tolerances ----------------------------------------------------------------------------------

// W' = s (clip(bz + h) - z) given the CPU's h and W'.
double soft_weight_tol(float s, float bz, float h, float z, float w) {
  const double v = (double)bz + h;
  return std::fabs(s) * (kHBound + 2 * kU * (std::fabs(v) + 1) + 2 * kU * (std::fabs(v - z) + 1)) +
         2 * kU * std::fabs(w);
}

// The regularizer's per-entry bounds (header) at the CPU's h, h' for beta >= 2: on the term
// 1 - |2h - 1|^beta and on its gradient contribution w dh h'.
struct RegBounds {
  double term, delta;
};
RegBounds reg_bounds(float h, float hp, double beta, double w) {
  const double bu = 2 * kHBound + 2 * kU;
  const double a = std::fabs(2.0 * h - 1.0) + bu;
  const double p = std::pow(a, beta);
  const double flush = 1e-30;  // one side may flush a power below FLT_MIN * 1024 to 0
  const double term = beta * std::pow(a, beta - 1) * bu + 36 * kU * p + 2 * kU + flush;
  const double dh_mag = 2 * beta * std::pow(a, beta - 1);
  const double dh = 2 * beta * ((beta + 1) * bu * std::pow(a, beta - 2) + 36 * kU * std::pow(a, beta - 1)) +
                    8 * kU * dh_mag + flush;
  const double delta = std::fabs(w) * (dh * hp + dh_mag * hp * kHpRel) + 4 * kU * std::fabs(w) * dh_mag * hp;
  return {term, delta};
}

struct RelaxedShape {
  int64_t m, n, gs;
  int bits;
  bool permuted;
};
// Tiny, odd, not multiples of any work-group, groups of 32/64/128 and per channel, a partial last
// group, act-order g_idx, and one layer above the CPU's OpenMP threshold (64K weights).
const RelaxedShape kRelaxedShapes[] = {{1, 1, -1, 2, false},   {1, 1, 32, 4, false},     {3, 5, -1, 3, false},
                                       {7, 13, 32, 4, false},  {13, 64, 32, 2, false},   {64, 64, 64, 3, false},
                                       {65, 63, 32, 4, false}, {130, 70, -1, 3, false},  {33, 257, 128, 4, false},
                                       {96, 160, 32, 3, true}, {200, 384, 128, 2, false}, {300, 513, 64, 4, true}};

// --- AdaRound ------------------------------------------------------------------------------------

TEST(OpenClRounding, AdaRoundForwardBackwardRegularizeMatchTheCpu) {
  OPENCL_OR_SKIP(be);
  Summary sum;
  uint64_t seed = 1;
  for (const RelaxedShape &sh : kRelaxedShapes) {
    SCOPED_TRACE("m " + std::to_string(sh.m) + " n " + std::to_string(sh.n) + " group " + std::to_string(sh.gs));
    const RelaxedData d = make_relaxed(sh.m, sh.n, sh.gs, sh.bits, sh.permuted, seed++);
    const size_t count = (size_t)(sh.m * sh.n);
    auto cpu = cpu_adaround_kernels<float>(d.layout(2));
    auto dev = be->make_adaround_kernels(d.layout(2));
    const std::vector<float> A = random_latents(count, seed++);

    Guarded wc(count), wd(count);
    cpu->forward(wc.data(), A.data());
    dev->forward(wd.data(), A.data());
    ASSERT_TRUE(wd.intact()) << "forward wrote outside W'";
    std::vector<float> h(count), hp(count);
    for (size_t i = 0; i < count; ++i) vqr::backend::rsig_and_grad(A[i], &h[i], &hp[i]);
    Compare cw("adaround W'");
    for (size_t i = 0; i < count; ++i) {
      if (near_clip(A[i])) {
        cw.skip();
        continue;
      }
      const int64_t r = (int64_t)i / sh.n, j = (int64_t)i % sh.n;
      const size_t k = (size_t)(r * d.G + d.g_idx[(size_t)j]);
      cw.add(i, wd[i], wc[i], soft_weight_tol(d.scale[k], d.bz[i], h[i], d.zero[k], wc[i]));
    }
    EXPECT_TRUE(cw.result());
    sum.add(cw);

    vqr::SplitMix64 rng(seed++);
    std::vector<float> G(count);
    for (auto &g : G) g = (float)(2.0 * rng.uniform() - 1.0);
    Guarded gc(count), gd(count);
    cpu->backward(gc.data(), G.data());
    dev->backward(gd.data(), G.data());
    ASSERT_TRUE(gd.intact()) << "backward wrote outside grad";
    Compare cg("adaround dL/dA");
    for (size_t i = 0; i < count; ++i) {
      if (near_clip(A[i])) {
        cg.skip();
        continue;
      }
      const int64_t r = (int64_t)i / sh.n, j = (int64_t)i % sh.n;
      const float s = d.scale[(size_t)(r * d.G + d.g_idx[(size_t)j])];
      cg.add(i, gd[i], gc[i], (kHpRel + 4 * kU) * std::fabs((double)G[i] * s * hp[i]) + 1e-38);
    }
    EXPECT_TRUE(cg.result());
    sum.add(cg);

    for (double beta : {2.0, 3.7, 20.0}) {
      const double w = 0.013;
      Guarded rc(count), rd(count);  // the same starting gradient on both sides: the CPU's
      std::copy(gc.data(), gc.data() + count, rc.data());
      std::copy(gc.data(), gc.data() + count, rd.data());
      const double tc = cpu->regularize(rc.data(), beta, w);
      const double td = dev->regularize(rd.data(), beta, w);
      ASSERT_TRUE(rd.intact()) << "regularize wrote outside grad";
      Compare cr("adaround reg grad");
      double term_tol = 0, term_mag = 0;
      for (size_t i = 0; i < count; ++i) {
        const RegBounds b = reg_bounds(h[i], hp[i], beta, w);
        term_tol += b.term;
        term_mag += 1.0;
        if (near_clip(A[i])) {
          cr.skip();
          continue;
        }
        cr.add(i, rd[i], rc[i], b.delta + 2 * kU * std::fabs((double)rc[i]) + 1e-38);
      }
      EXPECT_TRUE(cr.result()) << "beta " << beta;
      sum.add(cr);
      Compare ct("adaround reg total");
      ct.add(0, td, tc, std::fabs(w) * (term_tol + 8 * kU * term_mag));
      EXPECT_TRUE(ct.result()) << "beta " << beta;
      sum.add(ct);
    }
  }
  sum.print();
}

// --- VQRound -------------------------------------------------------------------------------------

TEST(OpenClRounding, VqRoundForwardBackwardRegularizeMatchTheCpu) {
  OPENCL_OR_SKIP(be);
  Summary sum;
  uint64_t seed = 100;
  struct VqCase {
    int D;
    int64_t K;
  };
  // D dividing m n or not (padded last vector), one codeword, a few, and one per vector.
  const VqCase cases[] = {{1, 1}, {3, 5}, {8, 64}, {16, 7}, {8, 1 << 30}, {5, 4096}};
  for (const RelaxedShape &sh : kRelaxedShapes)
    for (const VqCase &vc : cases) {
      SCOPED_TRACE("m " + std::to_string(sh.m) + " n " + std::to_string(sh.n) + " group " + std::to_string(sh.gs) +
                   " D " + std::to_string(vc.D) + " K " + std::to_string(vc.K));
      const RelaxedData d = make_relaxed(sh.m, sh.n, sh.gs, sh.bits, sh.permuted, seed++);
      const size_t count = (size_t)(sh.m * sh.n);
      const VqData v = make_vq((int64_t)count, vc.D, vc.K, seed++);
      const size_t kd = (size_t)(v.K * v.D);
      auto cpu = cpu_vqround_kernels<float>(d.layout(2), v.layout());
      auto dev = be->make_vqround_kernels(d.layout(2), v.layout());
      const std::vector<float> C = random_latents(kd, seed++);
      std::vector<float> h(kd), hp(kd);
      for (size_t i = 0; i < kd; ++i) vqr::backend::rsig_and_grad(C[i], &h[i], &hp[i]);
      auto entry = [&](size_t e) { return (size_t)(v.idx[e / (size_t)v.D] * v.D + (int)(e % (size_t)v.D)); };

      Guarded wc(count), wd(count);
      cpu->forward(wc.data(), C.data());
      dev->forward(wd.data(), C.data());
      ASSERT_TRUE(wd.intact()) << "forward wrote outside W'";
      Compare cw("vqround W'");
      for (size_t e = 0; e < count; ++e) {
        if (near_clip(C[entry(e)])) {
          cw.skip();
          continue;
        }
        const int64_t r = (int64_t)e / sh.n, j = (int64_t)e % sh.n;
        const size_t k = (size_t)(r * d.G + d.g_idx[(size_t)j]);
        cw.add(e, wd[e], wc[e], soft_weight_tol(d.scale[k], d.bz[e], h[entry(e)], d.zero[k], wc[e]));
      }
      EXPECT_TRUE(cw.result());
      sum.add(cw);

      vqr::SplitMix64 rng(seed++);
      std::vector<float> G(count);
      for (auto &g : G) g = (float)(2.0 * rng.uniform() - 1.0);
      std::vector<float> G_cpu = G, G_dev = G;  // the CPU scales its copy in place
      Guarded gc(kd), gd(kd);
      cpu->backward(gc.data(), G_cpu.data());
      dev->backward(gd.data(), G_dev.data());
      ASSERT_TRUE(gd.intact()) << "backward wrote outside grad";
      Compare cg("vqround dL/dC");
      for (size_t i = 0; i < kd; ++i) {
        if (near_clip(C[i])) {
          cg.skip();
          continue;
        }
        cg.add(i, gd[i], gc[i], (kHpRel + 4 * kU) * std::fabs((double)gc[i]) + 1e-38);
      }
      EXPECT_TRUE(cg.result());
      sum.add(cg);

      for (double beta : {2.0, 20.0}) {
        const double w = 0.7;
        Guarded rc(kd), rd(kd);
        std::copy(gc.data(), gc.data() + kd, rc.data());
        std::copy(gc.data(), gc.data() + kd, rd.data());
        const double tc = cpu->regularize(rc.data(), beta, w);
        const double td = dev->regularize(rd.data(), beta, w);
        ASSERT_TRUE(rd.intact()) << "regularize wrote outside grad";
        Compare cr("vqround reg grad");
        double term_tol = 0, term_mag = 0;
        for (size_t i = 0; i < kd; ++i) {
          const RegBounds b = reg_bounds(h[i], hp[i], beta, w * v.wc[i]);
          term_tol += v.wc[i] * b.term;
          term_mag += v.wc[i];
          if (near_clip(C[i])) {
            cr.skip();
            continue;
          }
          cr.add(i, rd[i], rc[i], b.delta + 2 * kU * std::fabs((double)rc[i]) + 1e-38);
        }
        EXPECT_TRUE(cr.result()) << "beta " << beta;
        sum.add(cr);
        Compare ct("vqround reg total");
        ct.add(0, td, tc, std::fabs(w) * (term_tol + 8 * kU * term_mag));
        EXPECT_TRUE(ct.result()) << "beta " << beta;
        sum.add(ct);
      }
    }
  sum.print();
}

// The per-codeword reduction runs in a fixed sequential order on the device: the same call twice
// gives the same bits, and where h and h' are the same on both sides (C = 0, below) the gradient is
// the CPU's bit for bit, so the device sums in the CPU's order.
TEST(OpenClRounding, VqRoundReductionIsDeterministicAndInCpuOrder) {
  OPENCL_OR_SKIP(be);
  const RelaxedData d = make_relaxed(301, 97, 32, 4, false, 7);
  const size_t count = (size_t)(301 * 97);
  const VqData v = make_vq((int64_t)count, 6, 9, 8);
  const size_t kd = (size_t)(v.K * v.D);
  auto cpu = cpu_vqround_kernels<float>(d.layout(1), v.layout());
  auto dev = be->make_vqround_kernels(d.layout(1), v.layout());
  // C = 0 exactly: h = 0.5, h' = 0.3 on every implementation (exp(0) = 1 exactly, 1/2 exact,
  // 0.5 * 1.2f - 0.1f and 1.2f * 0.5 * 0.5 are the same roundings everywhere).
  const std::vector<float> C(kd, 0.0f);
  std::vector<float> W(count);
  cpu->forward(W.data(), C.data());
  dev->forward(W.data(), C.data());
  vqr::SplitMix64 rng(9);
  std::vector<float> G(count);
  for (auto &g : G) g = (float)(2.0 * rng.uniform() - 1.0);
  std::vector<float> G1 = G, G2 = G, G3 = G, a(kd), b(kd), c(kd);
  cpu->backward(a.data(), G1.data());
  dev->backward(b.data(), G2.data());
  dev->backward(c.data(), G3.data());
  for (size_t i = 0; i < kd; ++i) {
    ASSERT_TRUE(same_bits(b[i], c[i])) << "entry " << i << " differs between two device runs";
    ASSERT_TRUE(same_bits(b[i], a[i])) << "entry " << i << ": device " << b[i] << ", cpu " << a[i];
  }
}

// --- AutoRound -----------------------------------------------------------------------------------

bool correctly_rounded_division() {
  std::string why;
  const auto *dev = vqr::backend::opencl::choose("", "", false, &why);
  if (!dev) return false;
  cl_device_fp_config fp = 0;
  clGetDeviceInfo((cl_device_id)dev->device_id, CL_DEVICE_SINGLE_FP_CONFIG, sizeof fp, &fp, nullptr);
  return (fp & CL_FP_CORRECTLY_ROUNDED_DIVIDE_SQRT) != 0;
}

TEST(OpenClRounding, SignRoundForwardBackwardEqualTheCpuBitForBit) {
  OPENCL_OR_SKIP(be);
  if (!correctly_rounded_division())
    GTEST_SKIP() << "the device has no correctly rounded fp32 division: AutoRound's W / s may differ in the last "
                    "bits, and the bit-for-bit check does not apply";
  struct Shape {
    int64_t m, n, gs;
  };
  // Per channel (gs = n), groups of 32/64/128, a partial last group, a group wider than the row.
  const Shape shapes[] = {{1, 1, -1}, {3, 5, 32},   {7, 13, -1},   {13, 64, 32},   {65, 63, 32},
                          {64, 200, 64}, {33, 257, 128}, {130, 70, 128}, {300, 512, 128}, {96, 160, -1}};
  size_t compared = 0;
  uint64_t seed = 500;
  for (const Shape &sh : shapes)
    for (SignRoundVariant variant : {SignRoundVariant::Asym, SignRoundVariant::GptqSym, SignRoundVariant::FullRange})
      for (int bits : {2, 4, 8})
        for (bool minmax : {false, true}) {
          SCOPED_TRACE("m " + std::to_string(sh.m) + " n " + std::to_string(sh.n) + " group " +
                       std::to_string(sh.gs) + " variant " + std::to_string((int)variant) + " bits " +
                       std::to_string(bits) + " minmax " + std::to_string(minmax));
          vqr::SplitMix64 rng(seed++);
          const int64_t m = sh.m, n = sh.n, gs = sh.gs > 0 ? sh.gs : n, G = (n + gs - 1) / gs;
          const size_t count = (size_t)(m * n), mg = (size_t)(m * G);
          std::vector<float> W(count), V(count), mn(mg), mx(mg), wmin(mg, 0.0f), wmax(mg, 0.0f);
          for (int64_t r = 0; r < m; ++r)
            for (int64_t j = 0; j < n; ++j) {
              // Outliers, and the second row all zero (the scale floor).
              const double x = (2.0 * rng.uniform() - 1.0) * (rng.uniform() < 0.03 ? 1.0 : 0.05);
              const float w = r == 1 ? 0.0f : (float)x;
              W[(size_t)(r * n + j)] = w;
              const size_t k = (size_t)(r * G + j / gs);
              wmin[k] = std::min(wmin[k], w);
              wmax[k] = std::max(wmax[k], w);
            }
          for (auto &x : V) x = (float)(rng.uniform() - 0.5);
          for (size_t k = 0; k < mg; ++k) {
            const double r = rng.uniform();
            mn[k] = r < 0.1 ? 1.0f : r < 0.15 ? 0.0f : (float)(0.5 + 0.5 * rng.uniform());
            mx[k] = r < 0.2 ? 1.0f : (float)(0.5 + 0.5 * rng.uniform());
          }
          SignRoundLayout<float> l;
          l.m = m;
          l.n = n;
          l.group_size = gs;
          l.groups = G;
          l.variant = variant;
          l.maxq = (float)((1 << bits) - 1);
          l.half = (float)(1 << (bits - 1));
          l.minmax = minmax;
          l.W = W.data();
          l.wmin = wmin.data();
          l.wmax = wmax.data();
          l.threads = 2;
          auto cpu = cpu_signround_kernels<float>(l);
          auto dev = be->make_signround_kernels(l);
          Guarded wc(count), wd(count);
          cpu->forward(wc.data(), V.data(), mn.data(), mx.data());
          dev->forward(wd.data(), V.data(), mn.data(), mx.data());
          ASSERT_TRUE(wd.intact());
          std::vector<float> G_(count);
          for (auto &g : G_) g = (float)(2.0 * rng.uniform() - 1.0);
          Guarded vc(count), vd(count), nc(mg), nd(mg), xc(mg), xd(mg);
          cpu->backward(vc.data(), nc.data(), xc.data(), G_.data());
          dev->backward(vd.data(), nd.data(), xd.data(), G_.data());
          ASSERT_TRUE(vd.intact() && nd.intact() && xd.intact());
          for (size_t i = 0; i < count; ++i) {
            ASSERT_TRUE(same_bits(wd[i], wc[i])) << "W' " << i << ": device " << wd[i] << ", cpu " << wc[i];
            ASSERT_TRUE(same_bits(vd[i], vc[i])) << "dL/dV " << i << ": device " << vd[i] << ", cpu " << vc[i];
          }
          for (size_t k = 0; k < mg; ++k) {
            ASSERT_TRUE(same_bits(nd[k], nc[k])) << "dL/dmin " << k << ": device " << nd[k] << ", cpu " << nc[k];
            ASSERT_TRUE(same_bits(xd[k], xc[k])) << "dL/dmax " << k << ": device " << xd[k] << ", cpu " << xc[k];
          }
          compared += 2 * count + 2 * mg;
        }
  std::printf("autoround: %zu outputs, all bit-identical to the cpu\n", compared);
}

// --- end to end ----------------------------------------------------------------------------------

// Whole quantizations through the C API, a CPU context against one set to OpenCL: the device runs
// the objective's GEMMs (and VQRound's k-means distances) as well as these kernels, so the
// trajectories part by rounding-level differences, and a code may end up on the other side where a
// latent hardens near 0. keep_best is off, so the codes are the trained ones and not the start's
// (each case also checks that training changed a share of the codes: 0.8-51% here). Measured on
// PoCL: 0 of the 24,576 codes differ in each of the 12 cases. The thresholds (0.5% for AdaRound and
// VQRound, 2% for AutoRound, whose SignSGD follows gradient signs and so can amplify one flipped
// sign) leave room for devices whose exp and GEMM order differ more from the host's.
TEST(OpenClRounding, EndToEndCodesMatchTheCpuExceptAFewFlips) {
  OPENCL_OR_SKIP(be);
  vqrt::Rng rng(42);
  const int64_t m = 96, n = 256, t = 4 * n;
  const std::vector<float> w = vqrt::student_t_matrix(rng, m, n, 0.05);
  const std::vector<float> x = vqrt::correlated_activations(rng, t, n, 3);
  const vqrt::HessianPtr h = vqrt::make_hessian(x, t, n);
  vqr_context *cpu_raw = nullptr, *cl_raw = nullptr;
  VQRT_ASSERT_OK(vqr_context_create(&cpu_raw));
  VQRT_ASSERT_OK(vqr_context_create(&cl_raw));
  const vqrt::ContextPtr cpu_ctx(cpu_raw), cl_ctx(cl_raw);
  VQRT_ASSERT_OK(vqr_context_set_backend(cl_raw, VQR_BACKEND_OPENCL, nullptr));
  struct Case {
    const char *name;
    int method, init, grid, sym, steps;
    double max_share;
  };
  const Case cases[] = {
      {"adaround rtn", VQR_METHOD_ADAROUND, VQR_INIT_RTN, VQR_GRID_GPTQ, 0, 400, 0.005},
      {"adaround gptq", VQR_METHOD_ADAROUND, VQR_INIT_GPTQ, VQR_GRID_GPTQ, 0, 400, 0.005},
      {"vqround rtn", VQR_METHOD_VQROUND, VQR_INIT_RTN, VQR_GRID_GPTQ, 0, 400, 0.005},
      {"vqround gptq", VQR_METHOD_VQROUND, VQR_INIT_GPTQ, VQR_GRID_GPTQ, 0, 400, 0.005},
      {"autoround asym", VQR_METHOD_AUTOROUND, VQR_INIT_RTN, VQR_GRID_GPTQ, 0, 200, 0.02},
      {"autoround full range", VQR_METHOD_AUTOROUND, VQR_INIT_RTN, VQR_GRID_FULL_RANGE, 1, 200, 0.02},
  };
  for (const Case &c : cases)
    for (int64_t gs : {int64_t(-1), int64_t(32)}) {
      SCOPED_TRACE(std::string(c.name) + " group " + std::to_string(gs));
      auto run = [&](vqr_context *ctx, int steps) -> vqrt::ResultData {
        std::vector<vqrt::Param> params = {{VQR_PARAM_METHOD, (double)c.method}, {VQR_PARAM_BITS, 3},
                                           {VQR_PARAM_GROUP_SIZE, (double)gs},   {VQR_PARAM_GRID, (double)c.grid},
                                           {VQR_PARAM_SYM, (double)c.sym},       {VQR_PARAM_STEPS, (double)steps},
                                           {VQR_PARAM_KEEP_BEST, 0}};
        if (c.method != VQR_METHOD_AUTOROUND) params.push_back({VQR_PARAM_INIT, (double)c.init});
        if (c.method == VQR_METHOD_VQROUND) params.push_back({VQR_PARAM_CODEBOOK_SIZE, 256});
        vqr_config *cfg = nullptr;
        if (vqr_config_create(&cfg) != VQR_OK) return {};
        const vqrt::ConfigPtr owned(cfg);
        for (const vqrt::Param &p : params) {
          vqr_bounds b;
          b.struct_size = sizeof b;
          if (vqr_param_bounds(p.param, &b) != VQR_OK ||
              (b.is_float ? vqr_config_set_float(cfg, p.param, p.value)
                          : vqr_config_set_int(cfg, p.param, (int64_t)p.value)) != VQR_OK) {
            ADD_FAILURE() << "param " << (int)p.param << ": " << vqr_last_error();
            return {};
          }
        }
        const vqrt::ResultPtr r = vqrt::quantize(cfg, w, m, n, h.get(), ctx);
        return r ? vqrt::read_result(r.get()) : vqrt::ResultData{};
      };
      auto share_differing = [](const vqrt::ResultData &a, const vqrt::ResultData &b, int64_t *far) {
        int64_t differ = 0;
        *far = 0;
        for (size_t i = 0; i < a.codes.size(); ++i)
          if (a.codes[i] != b.codes[i]) {
            ++differ;
            *far += std::abs((int)a.codes[i] - (int)b.codes[i]) > 1;
          }
        return (double)differ / (double)std::max<size_t>(1, a.codes.size());
      };
      const vqrt::ResultData start = run(cpu_raw, 0);
      const auto t0 = std::chrono::steady_clock::now();
      const vqrt::ResultData a = run(cpu_raw, c.steps);
      const auto t1 = std::chrono::steady_clock::now();
      const vqrt::ResultData b = run(cl_raw, c.steps);
      const auto t2 = std::chrono::steady_clock::now();
      ASSERT_EQ(a.codes.size(), (size_t)(m * n));
      ASSERT_EQ(b.codes.size(), a.codes.size());
      int64_t far = 0, moved_far = 0;
      const double moved = share_differing(start, a, &moved_far);
      const double share = share_differing(a, b, &far);
      std::printf("%-22s group %3lld: training moved %5.2f%% of the codes; %5.3f%% differ between cpu and opencl "
                  "(%lld by more than one step); cpu %.0f ms, opencl %.0f ms\n",
                  c.name, (long long)gs, 100 * moved, 100 * share, (long long)far,
                  std::chrono::duration<double, std::milli>(t1 - t0).count(),
                  std::chrono::duration<double, std::milli>(t2 - t1).count());
      EXPECT_GT(moved, 0.001) << "training changed (almost) nothing: the comparison says little";
      EXPECT_LE(share, c.max_share);
      if (c.method != VQR_METHOD_AUTOROUND) {
        EXPECT_EQ(far, 0) << "a relaxed method's code moved by more than one step";
      }
      EXPECT_TRUE(std::isfinite(b.report.proxy_loss));
      EXPECT_LE(b.report.proxy_loss, 1.25 * a.report.proxy_loss + 1e-12);
    }
}

// Not a check: per-call time of each kernel on a 2048 x 2048 layer, CPU (all threads) and device.
TEST(OpenClRounding, TimingOfOneStepPrinted) {
  OPENCL_OR_SKIP(be);
  const int64_t m = 2048, n = 2048;
  const size_t count = (size_t)(m * n);
  const RelaxedData d = make_relaxed(m, n, 128, 4, false, 77);
  const VqData v = make_vq((int64_t)count, 8, 4096, 78);
  const std::vector<float> A = random_latents(count, 79), C = random_latents((size_t)(v.K * v.D), 80);
  std::vector<float> W(count), G(count, 0.25f), grad(count), cgrad((size_t)(v.K * v.D));
  auto time_ms = [](auto &&f) {
    f();  // warm up (kernel cache, first touch)
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < 3; ++i) f();
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / 3;
  };
  const int threads = vqr::thread_count(nullptr);
  for (int side = 0; side < 2; ++side) {
    auto ada = side ? be->make_adaround_kernels(d.layout(threads)) : cpu_adaround_kernels<float>(d.layout(threads));
    auto vq = side ? be->make_vqround_kernels(d.layout(threads), v.layout())
                   : cpu_vqround_kernels<float>(d.layout(threads), v.layout());
    const double fa = time_ms([&] { ada->forward(W.data(), A.data()); });
    const double ba = time_ms([&] { ada->backward(grad.data(), G.data()); });
    const double ra = time_ms([&] { ada->regularize(grad.data(), 10.0, 0.01); });
    const double fv = time_ms([&] { vq->forward(W.data(), C.data()); });
    const double bv = time_ms([&] {
      std::vector<float> g = G;
      vq->backward(cgrad.data(), g.data());
    });
    std::printf("%s (%d threads): adaround forward %.1f ms, backward %.1f ms, regularize %.1f ms; vqround forward "
                "%.1f ms, backward %.1f ms\n",
                side ? be->description().c_str() : "cpu", threads, fa, ba, ra, fv, bv);
  }
}

}  // namespace
