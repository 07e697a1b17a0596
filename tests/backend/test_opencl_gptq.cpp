// The GPTQ-family sweep's fused in-block kernel (kernels_cl/gptq_sweep.cl) against the CPU tile
// loop (quant/gptq.cpp, the reference), on whatever OpenCL device the machine has (PoCL's CPU
// device in CI).
//
// Two comparisons of whole gptq_quantize runs:
// - Kernel only: a backend that computes everything on the CPU except the in-block sweep, which it
//   hands to the device. Every block's input is then the CPU's, so codes, scales, zeros, g_idx, the
//   rounding split and the damped loss must be bit-identical, for every configuration, however many
//   blocks. It also counts the blocks the device ran, so a configuration that silently fell back
//   to the CPU cannot pass as covered.
// - Whole OpenCL context: the cross-block GEMM runs on the device too and sums in another order, so
//   a later block's input can differ from the CPU's by an ulp, and a code that sat at a rounding tie
//   of the grid can move one step (and the row's later errors with it). Bit-identity is required
//   where there is no cross-block GEMM (n <= block size); elsewhere the differing codes are counted,
//   each must be one grid step away, and their share is bounded (kMaxDifferingShare, measured below).
//
// Without an OpenCL device the tests skip, unless VQR_REQUIRE_OPENCL=1 (CI), where they fail.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "backend/forwarding_backend.h"
#include "backend/opencl/cl_devices.h"
#include "backend/opencl/opencl_backend.h"
#include "backend/select.h"
#include "core/context.h"
#include "core/error.h"
#include "core/splitmix64.h"
#include "hessian/hessian.h"
#include "quant/config.h"
#include "quant/gptq.h"
#include "opencl_device.h"

namespace {

using vqr::backend::Backend;
using vqr::backend::Diag;
using vqr::backend::Op;
using vqr::backend::Side;
using vqr::backend::Triangle;
using vqr::quant::Grid;
using vqr::quant::Method;
using vqr::quant::OuterMode;
using vqr::quant::QuantConfig;
using vqr::quant::QuantizedLayer;


std::vector<float> uniform(int64_t count, uint64_t seed, double scale) {
  vqr::SplitMix64 rng(seed);
  std::vector<float> v((size_t)count);
  for (float &x : v) x = (float)(scale * (2.0 * rng.uniform() - 1.0));
  return v;
}

// A layer: weights and a statistic from t = 2n + 16 random inputs whose columns have different
// magnitudes (so act-order permutes), one dead input column when n > 2, and for the asymmetric
// statistic full-precision inputs that differ from the quantized ones by a little noise.
struct Layer {
  int64_t m, n;
  std::vector<float> w;
  std::unique_ptr<vqr::hessian::Hessian> h;
  Layer(int64_t m_, int64_t n_, bool asymmetric, uint64_t seed) : m(m_), n(n_) {
    const int64_t t = 2 * n + 16;
    w = uniform(m * n, seed, 1.0);
    std::vector<float> x = uniform(t * n, seed + 1, 1.0);
    for (int64_t r = 0; r < t; ++r)
      for (int64_t c = 0; c < n; ++c) x[(size_t)(r * n + c)] *= (n > 2 && c == n / 2) ? 0.0f : 0.25f + (float)(c % 7);
    h = std::make_unique<vqr::hessian::Hessian>(n, false, asymmetric);
    const auto xv = vqr::tensor_2d(x.data(), vqr::DType::F32, t, n, 0);
    if (asymmetric) {
      std::vector<float> xf = uniform(t * n, seed + 2, 0.05);
      for (size_t i = 0; i < xf.size(); ++i) xf[i] += x[i];
      h->add_pair(xv, vqr::tensor_2d(xf.data(), vqr::DType::F32, t, n, 0));
    } else {
      h->add(xv);
    }
  }
};

struct Outcome {
  QuantizedLayer q;
  vqr::quant::RoundingSplit split;
  double loss = NAN;
};

Outcome quantize(Backend *be, const Layer &L, const QuantConfig &c, bool with_split) {
  vqr::Context ctx;
  ctx.backend = be;
  Outcome o;
  const bool loss = vqr::quant::sweep_gives_damped_loss(c);
  o.q = vqr::quant::gptq_quantize(L.w.data(), L.m, L.n, L.h->view(), c, &ctx, 2, nullptr,
                                  with_split ? &o.split : nullptr, loss ? &o.loss : nullptr);
  return o;
}

bool same_bits(const float *a, const float *b, size_t count, size_t *first) {
  for (size_t i = 0; i < count; ++i)
    if (std::memcmp(&a[i], &b[i], 4) != 0) {
      *first = i;
      return false;
    }
  return true;
}

// Codes, scales, zeros, g_idx, the rounding split and the damped loss bit for bit.
void expect_identical(const Outcome &a, const Outcome &b, const std::string &what) {
  ASSERT_EQ(a.q.codes.size(), b.q.codes.size()) << what;
  for (size_t i = 0; i < a.q.codes.size(); ++i)
    ASSERT_EQ(a.q.codes[i], b.q.codes[i]) << what << ": code " << i << " (row " << i / (size_t)a.q.cols << ", column "
                                          << i % (size_t)a.q.cols << ")";
  size_t at = 0;
  ASSERT_EQ(a.q.scales.size(), b.q.scales.size()) << what;
  ASSERT_TRUE(same_bits(a.q.scales.data(), b.q.scales.data(), a.q.scales.size(), &at))
      << what << ": scale " << at << ": " << a.q.scales[at] << " vs " << b.q.scales[at];
  ASSERT_TRUE(same_bits(a.q.zeros.data(), b.q.zeros.data(), a.q.zeros.size(), &at))
      << what << ": zero " << at << ": " << a.q.zeros[at] << " vs " << b.q.zeros[at];
  ASSERT_EQ(a.q.g_idx, b.q.g_idx) << what;
  ASSERT_EQ(a.split.base.size(), b.split.base.size()) << what;
  ASSERT_TRUE(same_bits(a.split.base.data(), b.split.base.data(), a.split.base.size(), &at)) << what << ": base " << at;
  ASSERT_TRUE(same_bits(a.split.residual.data(), b.split.residual.data(), a.split.residual.size(), &at))
      << what << ": residual " << at << ": " << a.split.residual[at] << " vs " << b.split.residual[at];
  if (std::isnan(a.loss)) {
    ASSERT_TRUE(std::isnan(b.loss)) << what;
  } else {
    ASSERT_EQ(std::memcmp(&a.loss, &b.loss, sizeof a.loss), 0)
        << what << ": damped loss " << a.loss << " vs " << b.loss;
  }
}

// One configuration of the family and a label for it.
struct Variant {
  std::string name;
  QuantConfig config;
  bool asymmetric_statistic = false;
};

// The blocks the device runs, by the documented rule (backend/gptq_block_job.h, quant/gptq.cpp):
// all but those where a dynamic group needs the MSE search or ends beyond its block.
int64_t expected_sweep_blocks(const QuantConfig &c, int64_t n) {
  const int64_t B = std::min<int64_t>(c.block_size, n);
  const bool dynamic = c.group_size > 0 && !c.static_groups;
  int64_t count = 0;
  for (int64_t i1 = 0; i1 < n; i1 += B) {
    const int64_t i2 = std::min(n, i1 + B);
    bool device = true;
    for (int64_t q = i1; q < i2 && dynamic; ++q)
      if (q % c.group_size == 0 && (c.mse || std::min(n, q + c.group_size) > i2)) device = false;
    count += device;
  }
  return count;
}

QuantConfig base_config(Method method, int bits, int64_t group, bool sym, bool act_order) {
  QuantConfig c;
  c.method = method;
  c.bits = bits;
  c.group_size = group;
  c.sym = sym;
  c.act_order = act_order;
  return vqr::quant::resolve_presets(c);
}

// Plain GPTQ over bits x groups x sym x act-order, on the V route (symmetric statistic) and the U
// route (an asymmetric statistic makes GPTQ the alpha = 0 member of the family, on U).
std::vector<Variant> gptq_variants(int64_t n) {
  std::vector<Variant> out;
  for (int bits : {2, 3, 4, 8})
    for (int64_t group : {int64_t(-1), int64_t(32), int64_t(64), int64_t(128)})
      for (bool sym : {false, true})
        for (bool act : {false, true})
          for (bool u_route : {false, true}) {
            if (group > n) continue;
            // Every bit width with per-channel and g32; the other groups at 3 and 4 bits.
            if (group > 32 && bits != 3 && bits != 4) continue;
            Variant v;
            v.config = base_config(Method::Gptq, bits, group, sym, act);
            v.asymmetric_statistic = u_route;
            v.name = "gptq b" + std::to_string(bits) + " g" + std::to_string(group) + (sym ? " sym" : " asym") +
                     (act ? " act" : "") + (u_route ? " U" : " V");
            out.push_back(v);
          }
  return out;
}

// Static groups, stale groups, other grids and scale types, the MSE search, block sizes, the
// asymmetric methods and outer modes, and the configurations that fall back.
std::vector<Variant> other_variants(int64_t n) {
  std::vector<Variant> out;
  auto add = [&](const std::string &name, QuantConfig c, bool asym_stat) {
    out.push_back(Variant{name, c, asym_stat});
  };
  QuantConfig c = base_config(Method::Gptq, 4, 32, false, true);
  c.static_groups = true;
  add("static g32 act", c, false);
  c.sym = true;
  add("static g32 act sym U", c, true);
  c = base_config(Method::Gptq, 3, 32, false, false);
  c.stale_groups = true;
  add("stale g32", c, false);
  c.act_order = true;
  add("stale g32 act U", c, true);
  for (Grid g : {Grid::QuaRot, Grid::FullRange})
    for (bool sym : {false, true}) {
      c = base_config(Method::Gptq, 4, 32, sym, true);
      c.grid = g;
      add(std::string(g == Grid::QuaRot ? "quarot" : "full_range") + (sym ? " sym" : " asym") + " g32 act", c, false);
    }
  for (vqr::DType dt : {vqr::DType::F16, vqr::DType::BF16}) {
    c = base_config(Method::Gptq, 4, 32, false, false);
    c.scale_dtype = dt;
    add(std::string(dt == vqr::DType::F16 ? "f16" : "bf16") + " scales g32", c, false);
  }
  c = base_config(Method::Gptq, 4, -1, false, true);
  c.mse = true;  // per-channel: the search runs before the sweep, the sweep on the device
  add("mse per-channel act", c, false);
  c = base_config(Method::Gptq, 4, 32, false, false);
  c.mse = true;  // dynamic groups: the search is inside the sweep, so every block falls back
  add("mse g32 (falls back)", c, false);
  c = base_config(Method::Gptq, 4, 32, false, true);
  c.block_size = 64;
  add("block 64 g32 act", c, false);
  if (n > 64) {
    c = base_config(Method::Gptq, 4, 128, false, false);
    c.block_size = 64;  // groups of 128 cross the blocks they start in: those blocks fall back
    add("block 64 g128 (partly falls back)", c, false);
  }
  c = base_config(Method::Gptq, 3, 48, false, true);  // 128 % 48 != 0: the U route, some groups cross
  add("g48 act (partly falls back)", c, false);
  for (Method method : {Method::Gptaq, Method::ResComp, Method::GptaqPaper})
    for (int64_t group : {int64_t(-1), int64_t(32)}) {
      c = base_config(method, method == Method::ResComp ? 2 : 4, group, true, true);
      add(std::string(method == Method::Gptaq ? "gptaq" : method == Method::ResComp ? "rescomp" : "gptaq-paper") +
              " g" + std::to_string(group),
          c, true);
    }
  c = base_config(Method::ResComp, 3, 32, false, false);  // >= 3 bits: the clamped outer mode
  add("rescomp b3 g32 asym", c, true);
  c = base_config(Method::Gptaq, 4, 32, false, true);
  c.alpha = 0.7;  // not powers of two: products with them round
  c.alpha2 = 0.3;
  c.outer = OuterMode::Prequant;
  add("gptaq alpha 0.7 alpha2 0.3 prequant", c, true);
  c.outer = OuterMode::PrequantClamped;
  add("gptaq alpha 0.7 alpha2 0.3 clamped", c, true);
  return out;
}

const int64_t kShapes[][2] = {{1, 1}, {37, 45}, {100, 128}, {13, 7}, {70, 200}, {45, 300}, {129, 384}};

// Every shape x every variant (GPTQ's and the rest): one symmetric-statistic and one asymmetric
// layer per shape (seeds from `seed`), handed to `check` with the case's name; a fatal failure
// (an ASSERT in `check`) ends the enumeration.
template <typename Check>
void for_each_case(uint64_t seed, const Check &check) {
  for (const auto &shape : kShapes) {
    const int64_t m = shape[0], n = shape[1];
    const Layer sym_layer(m, n, false, seed), asym_layer(m, n, true, seed + 10);
    seed += 20;
    std::vector<Variant> variants = gptq_variants(n);
    for (const Variant &v : other_variants(n)) variants.push_back(v);
    for (const Variant &v : variants) {
      const Layer &L = v.asymmetric_statistic ? asym_layer : sym_layer;
      check(L, v, m, n, v.name + " on " + std::to_string(m) + " x " + std::to_string(n));
      if (::testing::Test::HasFatalFailure()) return;
    }
  }
}

TEST(OpenClGptqSweep, KernelIsBitIdenticalToTheTileLoop) {
  OPENCL_OR_SKIP(be);
  vqr::backend::SplitSweepBackend hybrid(vqr::backend::cpu(), *be);
  int64_t cases = 0, sweep_blocks = 0, all_blocks = 0;
  for_each_case(100, [&](const Layer &L, const Variant &v, int64_t, int64_t n, const std::string &what) {
    const bool split = cases % 3 == 0;
    const Outcome ref = quantize(nullptr, L, v.config, split);
    hybrid.sweep_blocks = 0;
    const Outcome dev = quantize(&hybrid, L, v.config, split);
    expect_identical(ref, dev, what);
    if (::testing::Test::HasFatalFailure()) return;
    const int64_t B = std::min<int64_t>(v.config.block_size, n), blocks = (n + B - 1) / B;
    ASSERT_EQ(hybrid.sweep_blocks, expected_sweep_blocks(v.config, n)) << what << " (" << blocks << " blocks)";
    sweep_blocks += hybrid.sweep_blocks;
    all_blocks += blocks;
    ++cases;
  });
  std::printf("%lld configurations x shapes bit-identical; %lld of %lld blocks ran on the device\n", (long long)cases,
              (long long)sweep_blocks, (long long)all_blocks);
}

// The work-group shapes of other devices (several items per row, with per-column barriers) on this
// one: T = 3 (does not divide the block) and T = 8 (the GPU default).
TEST(OpenClGptqSweep, SeveralItemsPerRowAreBitIdenticalToo) {
  OPENCL_OR_SKIP(be);
  std::string why;
  const auto *dev = vqr::backend::opencl::choose("", "", false, &why);
  ASSERT_NE(dev, nullptr) << why;
  for (const char *threads : {"3", "8"}) {
    setenv("VQR_OPENCL_SWEEP_ROW_THREADS", threads, 1);
    const char *kernels_dir = std::getenv("VQR_OPENCL_KERNELS_DIR");  // as select() reads it
    std::unique_ptr<Backend> shaped = vqr::backend::opencl::make_backend(*dev, kernels_dir ? kernels_dir : "");
    unsetenv("VQR_OPENCL_SWEEP_ROW_THREADS");
    vqr::backend::SplitSweepBackend hybrid(vqr::backend::cpu(), *shaped);
    const Layer sym_layer(70, 200, false, 7), asym_layer(70, 200, true, 8);
    std::vector<Variant> variants;
    for (const Variant &v : gptq_variants(200))
      if (v.config.bits == 3) variants.push_back(v);
    for (const Variant &v : other_variants(200)) variants.push_back(v);
    for (const Variant &v : variants) {
      const Layer &L = v.asymmetric_statistic ? asym_layer : sym_layer;
      const std::string what = v.name + " with " + threads + " items per row";
      const Outcome ref = quantize(nullptr, L, v.config, true);
      const Outcome got = quantize(&hybrid, L, v.config, true);
      expect_identical(ref, got, what);
      if (HasFatalFailure()) return;
    }
    EXPECT_GT(hybrid.sweep_blocks, 0);
  }
}

TEST(OpenClGptqSweep, BadRowThreadsSettingIsRefused) {
  OPENCL_OR_SKIP(be);
  std::string why;
  const auto *dev = vqr::backend::opencl::choose("", "", false, &why);
  ASSERT_NE(dev, nullptr) << why;
  setenv("VQR_OPENCL_SWEEP_ROW_THREADS", "0", 1);
  try {
    vqr::backend::opencl::make_backend(*dev, "");
    ADD_FAILURE() << "0 items per row accepted";
  } catch (const vqr::Error &e) {
    EXPECT_EQ(e.status(), vqr::Status::InvalidArgument);
    EXPECT_NE(std::string(e.what()).find("VQR_OPENCL_SWEEP_ROW_THREADS"), std::string::npos) << e.what();
  }
  unsetenv("VQR_OPENCL_SWEEP_ROW_THREADS");
}

// Whole runs on an OpenCL context against a CPU context. Measured on PoCL (the counts printed
// below): with one block every output is identical; with several, 73 of 9.3 million codes moved,
// every one by one grid step, at most 34 of 49,536 (0.07%) in one case, all of them with the
// symmetric grid: where a device-reordered sum put a value on the other side of a rounding
// boundary it sat within an ulp of. The symmetric grid has such a value in every dynamic group by
// construction: its most negative weight sits at x / s = -maxq / 2 (up to the rounding of s), the
// tie between codes 0 and 1 (16 of the 73 are 0 -> 1); after the first moved code a row's later
// errors differ, so a few more follow. kMaxDifferingShare, about 3x the worst case, bounds the
// share per case.
constexpr double kMaxDifferingShare = 0.002;

TEST(OpenClGptqSweep, WholeRunsMatchTheCpuExceptAtTies) {
  OPENCL_OR_SKIP(be);
  int64_t total = 0, total_differ = 0;
  for_each_case(500, [&](const Layer &L, const Variant &v, int64_t m, int64_t n, const std::string &what) {
    const Outcome ref = quantize(nullptr, L, v.config, false);
    const Outcome dev = quantize(be, L, v.config, false);
    if (n <= v.config.block_size) {
      expect_identical(ref, dev, what + " (one block: no cross-block GEMM)");
      return;
    }
    ASSERT_EQ(ref.q.codes.size(), dev.q.codes.size());
    int64_t differ = 0, far = 0;
    for (size_t i = 0; i < ref.q.codes.size(); ++i)
      if (ref.q.codes[i] != dev.q.codes[i]) {
        ++differ;
        far += std::abs((int)ref.q.codes[i] - (int)dev.q.codes[i]) > 1;
      }
    // The first block's codes see no device arithmetic before them: identical.
    const int64_t first = std::min<int64_t>(n, v.config.block_size);
    for (int64_t r = 0; r < m && !v.config.act_order; ++r)
      for (int64_t c = 0; c < first; ++c)
        ASSERT_EQ(ref.q.codes[(size_t)(r * n + c)], dev.q.codes[(size_t)(r * n + c)]) << what << " row " << r;
    if (differ)
      std::printf("%-40s %4lld x %-4lld %5lld of %6zu codes differ (%lld by more than one step)\n", what.c_str(),
                  (long long)m, (long long)n, (long long)differ, ref.q.codes.size(), (long long)far);
    EXPECT_EQ(far, 0) << what << ": codes moved by more than one grid step";
    EXPECT_LE((double)differ, kMaxDifferingShare * (double)ref.q.codes.size()) << what;
    total += (int64_t)ref.q.codes.size();
    total_differ += differ;
  });
  std::printf("multi-block runs: %lld of %lld codes differ from the cpu\n", (long long)total_differ, (long long)total);
}

}  // namespace
