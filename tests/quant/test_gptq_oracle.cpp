// GPTQ through the public C API against independent oracles (spec gptq §1.3-§1.7, §8): identity
// Hessian gives RTN; block-size invariance; the unblocked per-column OBS reference in double
// (quant/ref_gptq.h) with act-order and static/dynamic groups; g_idx; singular Hessians (damping
// retry) and dead columns.
#include <gtest/gtest.h>

#include <cstdio>
#include <numeric>

#include "common/ref_quant.h"
#include "common/test_util.h"
#include "quant/ref_gptq.h"

namespace {

using namespace vqrt;

// Tolerances. Codes, zeros and g_idx are compared exactly everywhere, against the double reference
// up to near-tie replay (reference_for below).
// Scales of dynamic groups are computed from compensated weights, whose fp32 values carry the
// accumulated rounding of up to n rank-1/GEMM updates: about n u relative with u = 2^-24, i.e.
// 1.3e-5 for n = 224 and 1e-5 for n = 160. Tolerances are 2-3x that.
constexpr double kBlockScaleRtol = 4e-5;  // block-size invariance, n <= 224
constexpr double kRefScaleRtol = 2e-5;    // library vs the double reference, n <= 160
// Identical codes leave only the scale differences above: NMSE <= (2e-5)^2 = 4e-10 < 1e-9.
constexpr double kRefDeqNmse = 1e-9;

struct GptqCase {
  int bits = 4;
  bool sym = false;
  int grid = 0;
  int64_t group = -1;
  bool act_order = false;
  bool static_groups = false;
  bool stale = false;  // VQR_PARAM_STALE_GROUPS = 1 (default lazy block 128)
  bool partial = false;  // VQR_PARAM_ALLOW_PARTIAL_GROUP = 1
  bool f64 = false;      // accumulate the Hessian with VQR_HESSIAN_F64
};

std::string describe(const GptqCase &c) {
  std::ostringstream os;
  os << "bits " << c.bits << (c.sym ? " sym" : " asym") << " grid " << (c.grid ? "(b)" : "(a)") << " group "
     << c.group << (c.act_order ? " act-order" : "") << (c.static_groups ? " static" : "")
     << (c.stale ? " stale" : "") << (c.partial ? " partial" : "") << (c.f64 ? " f64" : "");
  return os.str();
}

ConfigPtr gptq_config(const GptqCase &c, std::initializer_list<Param> extra = {}) {
  auto cfg = make_config({{VQR_PARAM_METHOD, VQR_METHOD_GPTQ},
                          {VQR_PARAM_BITS, (double)c.bits},
                          {VQR_PARAM_SYM, c.sym ? 1.0 : 0.0},
                          {VQR_PARAM_GRID, (double)c.grid},
                          {VQR_PARAM_GROUP_SIZE, (double)c.group},
                          {VQR_PARAM_ACT_ORDER, c.act_order ? 1.0 : 0.0},
                          {VQR_PARAM_STATIC_GROUPS, c.static_groups ? 1.0 : 0.0},
                          {VQR_PARAM_STALE_GROUPS, c.stale ? 1.0 : 0.0},
                          {VQR_PARAM_ALLOW_PARTIAL_GROUP, c.partial ? 1.0 : 0.0}});
  if (!cfg) return cfg;
  for (const Param &p : extra) {
    vqr_bounds b;
    b.struct_size = sizeof b;
    if (vqr_param_bounds(p.param, &b) != VQR_OK) return nullptr;
    vqr_status st = b.is_float ? vqr_config_set_float(cfg.get(), p.param, p.value)
                               : vqr_config_set_int(cfg.get(), p.param, (int64_t)p.value);
    if (st != VQR_OK) {
      ADD_FAILURE() << "param " << (int)p.param << ": " << status_text(st);
      return nullptr;
    }
  }
  return cfg;
}

// Runs GPTQ on (w, h) with case c and reads the whole result into *out. False (with a gtest
// failure recorded) when the config or the call fails; callers ASSERT_TRUE on it.
bool run_gptq(const GptqCase &c, const std::vector<float> &w, int64_t m, int64_t n, const vqr_hessian *h,
              ResultData *out) {
  auto cfg = gptq_config(c);
  if (!cfg) {
    ADD_FAILURE() << "config: " << vqr_last_error();
    return false;
  }
  auto r = quantize(cfg.get(), w, m, n, h);
  if (!r) {
    ADD_FAILURE() << "vqr_quantize_layer: " << vqr_last_error();
    return false;
  }
  *out = read_result(r.get());
  return true;
}


ConfigPtr rtn_config(const GptqCase &c) {
  return make_config({{VQR_PARAM_BITS, (double)c.bits},
                      {VQR_PARAM_SYM, c.sym ? 1.0 : 0.0},
                      {VQR_PARAM_GRID, (double)c.grid},
                      {VQR_PARAM_GROUP_SIZE, (double)c.group}});
}

// ---------------------------------------------------------------------------------------------
// 1. H = I: no off-diagonal coupling, so GPTQ must return exactly the RTN codes and parameters.
// X holds each scaled unit vector a e_i once (T = n rows) with a^2 = n / 2, so
// H = (2/T) X^T X = (2/n)(n/2) I = I exactly for n in {8, 32, 50, 128}.
// ---------------------------------------------------------------------------------------------
TEST(GptqOracle, IdentityHessianGivesRtn) {
  Rng rng(2024);
  for (int64_t n : {(int64_t)32, (int64_t)50, (int64_t)128}) {
    const double a = std::sqrt((double)n / 2.0);
    ASSERT_EQ(a, std::floor(a));
    std::vector<float> x((size_t)(n * n), 0.f);
    for (int64_t i = 0; i < n; ++i) x[(size_t)(i * n + i)] = (float)a;
    auto h = make_hessian(x, n, n);
    ASSERT_TRUE(h);
    std::vector<float> hm = read_hessian(h.get());
    std::vector<float> eye((size_t)(n * n), 0.f);
    for (int64_t i = 0; i < n; ++i) eye[(size_t)(i * n + i)] = 1.f;
    ASSERT_TRUE(vectors_equal("H (premise: exactly I)", hm, eye, n));
    const int64_t m = 12;
    std::vector<float> w = normal_matrix(rng, m, n, 0.2);
    std::vector<int64_t> groups{-1};
    if (n % 16 == 0) groups.push_back(16);
    if (n % 32 == 0) groups.push_back(32);
    for (int64_t g : groups)
      for (bool sym : {false, true})
        for (int bits : {3, 4})
          for (bool act : {false, true}) {
            GptqCase c;
            c.bits = bits;
            c.sym = sym;
            c.group = g;
            c.act_order = act;
            SCOPED_TRACE("n " + std::to_string(n) + " " + describe(c));
            auto gcfg = gptq_config(c, {{VQR_PARAM_REPORT_LOSS, VQR_REPORT_PROXY_AND_RTN}});
            auto rcfg = rtn_config(c);
            ASSERT_TRUE(gcfg && rcfg);
            auto gr = quantize(gcfg.get(), w, m, n, h.get());
            auto rr = quantize(rcfg.get(), w, m, n, nullptr);
            ASSERT_TRUE(gr && rr);
            ResultData gd = read_result(gr.get()), rd = read_result(rr.get());
            EXPECT_EQ(gd.report.method, VQR_METHOD_GPTQ);
            EXPECT_TRUE(vectors_equal("codes", gd.codes, rd.codes, n));
            EXPECT_TRUE(vectors_equal("scales", gd.scales, rd.scales, m));
            EXPECT_TRUE(vectors_equal("zeros", gd.zeros, rd.zeros, m));
            EXPECT_TRUE(vectors_equal("g_idx", gd.g_idx, rd.g_idx));
            // Same codes and H = I: both losses are sum (Q - W)^2; 1e-6 relative covers fp32 sums.
            EXPECT_NEAR(gd.report.proxy_loss, gd.report.rtn_proxy_loss, 1e-6 * gd.report.rtn_proxy_loss);
          }
  }
}

// The double reference's configuration for a library case (default damping 0.01).
GptqRefConfig ref_config_of(const GptqCase &c) {
  GptqRefConfig rc;
  rc.grid = {c.bits, c.sym, c.grid};
  rc.group = c.group;
  rc.act_order = c.act_order;
  rc.static_groups = c.static_groups;
  rc.damp = 0.01;
  rc.stale_block = c.stale ? 128 : 0;
  return rc;
}

// The double reference for the library's result d (section 3 derives the near-tie bound): taken
// plainly and, only if the codes differ, again replaying d's decisions at near ties (recorded as a
// test property, near_tie_replays_<k>).
GptqRefResult reference_for(const ResultData &d, const std::vector<float> &w, const std::vector<float> &hm, int64_t m,
                            int64_t n, GptqRefConfig rc) {
  GptqRefResult plain = gptq_reference(w, hm, m, n, rc);
  if (plain.codes == d.codes) return plain;
  rc.hint = &d.codes;
  GptqRefResult again = gptq_reference(w, hm, m, n, rc);
  static int replay_events = 0;
  ::testing::Test::RecordProperty("near_tie_replays_" + std::to_string(++replay_events),
                                  std::to_string(again.replayed));
  std::printf("near-tie replay: %lld decisions taken from the library (smallest margin %.3g scale units)\n",
              (long long)again.replayed, again.min_tie_margin);
  return again;
}

// ---------------------------------------------------------------------------------------------
// 2. Block-size invariance (spec §1.4, §8 check 1): block sizes 1, 4, 7, 128 give the same codes;
// with STALE_GROUPS = 0 this holds for groups smaller than the block too. Scales fixed before the
// sweep (per channel, static groups) are bit-identical; dynamic-group scales come from compensated
// weights whose fp32 sums depend on the blocking (kBlockScaleRtol).
// ---------------------------------------------------------------------------------------------
TEST(GptqOracle, BlockSizeInvariance) {
  struct Shape {
    int64_t n, group;
  };
  const Shape shapes[] = {{201, -1}, {224, 32}, {216, 8}};
  const int64_t m = 12, t = 512;
  uint64_t seed = 31;
  for (const Shape &s : shapes)
    for (bool act : {false, true})
      for (bool stat : {false, true}) {
        if (stat && s.group < 0) continue;
        Rng rng(seed++);
        std::vector<float> x = correlated_activations(rng, t, s.n, 3);
        std::vector<float> w = student_t_matrix(rng, m, s.n, 0.05);
        auto h = make_hessian(x, t, s.n);
        ASSERT_TRUE(h);
        GptqCase c;
        c.group = s.group;
        c.act_order = act;
        c.static_groups = stat;
        SCOPED_TRACE("n " + std::to_string(s.n) + " " + describe(c));
        ResultData ref;
        for (int block : {128, 1, 4, 7}) {
          SCOPED_TRACE("block " + std::to_string(block));
          auto cfg = gptq_config(c, {{VQR_PARAM_BLOCK_SIZE, (double)block}});
          ASSERT_TRUE(cfg);
          auto r = quantize(cfg.get(), w, m, s.n, h.get());
          ASSERT_TRUE(r);
          ResultData d = read_result(r.get());
          if (block == 128) {
            ref = d;
            continue;
          }
          EXPECT_TRUE(vectors_equal("g_idx", d.g_idx, ref.g_idx));
          // Two blockings are two fp32 summation orders: where a compensated weight sits within
          // their rounding of a boundary, each may round its own way, and the flip moves the rest
          // of its row (and, with dynamic groups, later groups' parameters). Then each run must be
          // the double reference's answer up to near-tie replay (section 3's bound, n <= 224).
          const ResultData *want = &ref;
          ResultData replayed;
          if (d.codes != ref.codes) {
            const std::vector<float> hm = read_hessian(h.get());
            const GptqRefResult a = reference_for(ref, w, hm, m, s.n, ref_config_of(c));
            EXPECT_TRUE(vectors_equal("codes (block 128) vs reference", ref.codes, a.codes, s.n));
            const GptqRefResult b = reference_for(d, w, hm, m, s.n, ref_config_of(c));
            replayed.codes = b.codes;
            replayed.zeros = b.zeros;
            replayed.scales = b.scales;
            want = &replayed;
          }
          EXPECT_TRUE(vectors_equal("codes", d.codes, want->codes, s.n));
          EXPECT_TRUE(vectors_equal("zeros", d.zeros, want->zeros, m));
          if (s.group < 0 || stat)
            EXPECT_TRUE(vectors_equal("scales", d.scales, ref.scales, m));
          else
            EXPECT_TRUE(vectors_near("scales", d.scales, want->scales, kBlockScaleRtol, 0.0, m));
        }
      }
}

// ---------------------------------------------------------------------------------------------
// 3. GPTQ equals the unblocked per-column OBS reference in double (quant/ref_gptq.h).
// Codes must be identical up to near ties: the reference runs in double and the library in fp32
// with BLAS, whose kernels (OpenBLAS Haswell, SkylakeX, ...) sum in different orders, so a weight
// that lands within those rounding errors of a rounding boundary may go either way, and a flip
// changes every later column of its row. reference_for replays the library's decision there.
// Bound of a legitimate disagreement, in scale units: w / s with |w / s| <= 2^b = 16 carries the
// scale's relative error (kRefScaleRtol, 2e-5: 3.2e-4) plus the compensated weight's (n u, 1e-5
// for n <= 160: 1.6e-4), together < 5e-4 < tie_eps = 1e-3. Every other code must match.
// Scales: kRefScaleRtol; dequantized weights: NMSE < kRefDeqNmse.
// ---------------------------------------------------------------------------------------------
void check_against_reference(const GptqCase &c, int64_t m, int64_t n, uint64_t seed, int64_t t = 256) {
  SCOPED_TRACE("m " + std::to_string(m) + " n " + std::to_string(n) + " seed " + std::to_string(seed) + " " +
               describe(c));
  Rng rng(seed);
  std::vector<float> x = correlated_activations(rng, t, n, 3);
  std::vector<float> w = student_t_matrix(rng, m, n, 0.05);
  auto h = make_hessian(x, t, n, c.f64 ? VQR_HESSIAN_F64 : 0u);
  ASSERT_TRUE(h);
  const std::vector<float> hm = read_hessian(h.get());
  ResultData d;
  ASSERT_TRUE(run_gptq(c, w, m, n, h.get(), &d));
  GptqRefResult ref = reference_for(d, w, hm, m, n, ref_config_of(c));
  if (c.act_order) {
    // The premise of the act-order cases: the permutation is not the identity.
    bool moved = false;
    for (int64_t q = 0; q < n; ++q) moved |= ref.perm[(size_t)q] != q;
    ASSERT_TRUE(moved);
  }
  ASSERT_EQ(d.groups, (int64_t)ref.scales.size() / m);
  EXPECT_TRUE(vectors_equal("g_idx", d.g_idx, ref.g_idx));
  EXPECT_TRUE(vectors_equal("codes", d.codes, ref.codes, n));
  EXPECT_TRUE(vectors_equal("zeros", d.zeros, ref.zeros, m));
  EXPECT_TRUE(vectors_near("scales", d.scales, ref.scales, kRefScaleRtol, 0.0, m));
  const double e = nmse(d.deq, ref.deq);
  EXPECT_LT(e, kRefDeqNmse) << "NMSE of dequantized weights vs the reference";
  // The report: first factorization succeeds with the default damping; lambda = 0.01 mean diag H.
  double mean_diag = 0.0;
  for (int64_t j = 0; j < n; ++j) mean_diag += hm[(size_t)(j * n + j)];
  mean_diag /= (double)n;
  EXPECT_EQ(d.report.method, VQR_METHOD_GPTQ);
  EXPECT_EQ(d.report.damp_attempts, 1);
  EXPECT_NEAR(d.report.damp, 0.01, 1e-9);
  // lambda from an fp32 mean of n diagonal entries: relative error <= n u ~ 1e-5 for n <= 160.
  EXPECT_NEAR(d.report.damp_lambda, 0.01 * mean_diag, 1e-5 * 0.01 * mean_diag);
  EXPECT_EQ(d.report.dead_columns, 0);
}

TEST(GptqOracle, MatchesUnblockedObsReferencePerChannel) {
  for (bool act : {false, true})
    for (bool sym : {false, true}) {
      GptqCase c;
      c.sym = sym;
      c.act_order = act;
      check_against_reference(c, 24, 40, 101);
    }
  GptqCase c3;
  c3.bits = 3;
  c3.grid = 1;
  c3.sym = true;
  c3.act_order = true;
  check_against_reference(c3, 24, 40, 102);
  GptqCase c2;
  c2.bits = 2;
  check_against_reference(c2, 24, 40, 103);
}

TEST(GptqOracle, MatchesUnblockedObsReferenceGroups) {
  for (bool act : {false, true})
    for (bool stat : {false, true}) {
      GptqCase c;
      c.group = 32;
      c.act_order = act;
      c.static_groups = stat;
      check_against_reference(c, 16, 96, 201);
    }
  // Groups smaller than the lazy block, starting mid-block (STALE_GROUPS = 0 reads updated weights).
  GptqCase c8;
  c8.group = 8;
  c8.act_order = true;
  c8.bits = 3;
  check_against_reference(c8, 16, 96, 202);
  GptqCase cb;
  cb.group = 32;
  cb.grid = 1;
  cb.sym = true;
  cb.act_order = true;
  check_against_reference(cb, 16, 96, 203);
  // A partial last group (n = 100, g = 32: 32, 32, 32, 4), dynamic and static, with act-order.
  for (bool stat : {false, true}) {
    GptqCase cp;
    cp.group = 32;
    cp.partial = true;
    cp.act_order = true;
    cp.static_groups = stat;
    check_against_reference(cp, 16, 100, 204);
  }
  // A Hessian accumulated in fp64.
  GptqCase cf;
  cf.group = 32;
  cf.act_order = true;
  cf.f64 = true;
  check_against_reference(cf, 16, 96, 205);
}

// STALE_GROUPS = 1 reproduces the reference quirk (spec §1.5): with groups smaller than the lazy
// block (128), a group starting mid-block reads the weights as of the block start. n = 160 spans
// two blocks. The same reference with stale_block = 0 differs in hundreds of codes here, so this
// separates the two modes.
TEST(GptqOracle, StaleGroupsReproduceReferenceQuirk) {
  for (int64_t g : {(int64_t)8, (int64_t)32})
    for (bool act : {false, true}) {
      GptqCase c;
      c.group = g;
      c.act_order = act;
      c.stale = true;
      c.bits = 3;
      check_against_reference(c, 12, 160, 301);
    }
}

// ---------------------------------------------------------------------------------------------
// 4. g_idx (spec §1.7): j / g without act-order and with static groups; invperm[j] / g with
// act-order and dynamic groups, where perm is the stable descending sort of diag(H); the result's
// dequantization gathers scales through g_idx.
// ---------------------------------------------------------------------------------------------
TEST(GptqOracle, GIdxFollowsProcessingOrder) {
  Rng rng(77);
  const int64_t m = 8, n = 64, t = 256, g = 16;
  std::vector<float> x = correlated_activations(rng, t, n, 4);
  // Two equal-diagonal columns (identical inputs except sign) exercise the stable tie order.
  for (int64_t r = 0; r < t; ++r) x[(size_t)(r * n + 9)] = -x[(size_t)(r * n + 20)];
  std::vector<float> w = normal_matrix(rng, m, n, 0.1);
  auto h = make_hessian(x, t, n);
  ASSERT_TRUE(h);
  const std::vector<float> hm = read_hessian(h.get());
  std::vector<int64_t> perm((size_t)n), invperm((size_t)n);
  std::iota(perm.begin(), perm.end(), 0);
  std::stable_sort(perm.begin(), perm.end(),
                   [&](int64_t a, int64_t b) { return hm[(size_t)(a * n + a)] > hm[(size_t)(b * n + b)]; });
  for (int64_t q = 0; q < n; ++q) invperm[(size_t)perm[(size_t)q]] = q;
  for (bool act : {false, true})
    for (bool stat : {false, true}) {
      GptqCase c;
      c.group = g;
      c.act_order = act;
      c.static_groups = stat;
      SCOPED_TRACE(describe(c));
      ResultData d;
      ASSERT_TRUE(run_gptq(c, w, m, n, h.get(), &d));
      std::vector<int32_t> want((size_t)n);
      for (int64_t j = 0; j < n; ++j) want[(size_t)j] = (int32_t)(((act && !stat) ? invperm[(size_t)j] : j) / g);
      EXPECT_TRUE(vectors_equal("g_idx", d.g_idx, want));
      std::vector<float> gathered((size_t)(m * n));
      for (int64_t rr = 0; rr < m; ++rr)
        for (int64_t j = 0; j < n; ++j) {
          const int64_t k = want[(size_t)j];
          gathered[(size_t)(rr * n + j)] =
              d.scales[(size_t)(k * m + rr)] * ((float)d.codes[(size_t)(rr * n + j)] - d.zeros[(size_t)(k * m + rr)]);
        }
      EXPECT_TRUE(vectors_equal("dequantized vs gathered scale*(code-zero)", d.deq, gathered, n));
    }
}

// ---------------------------------------------------------------------------------------------
// 5. Singular and dead-column Hessians (spec §1.3, §6.1).
// X (T = 16 rows, a power of two, integer entries 4): columns 0..5 are 4 at rows j and j + 8;
// columns 6 and 7 are identical (4 at rows 6 and 14). H = (2/16) S is exact in fp32: 4 I except
// H_67 = H_76 = 4, exactly singular, and every Cholesky ordering meets the pivot 4 - 2*2 = 0.
// ---------------------------------------------------------------------------------------------
std::vector<float> singular_activations(int64_t &t, int64_t &n) {
  t = 16;
  n = 8;
  std::vector<float> x((size_t)(t * n), 0.f);
  for (int64_t j = 0; j < 6; ++j) {
    x[(size_t)(j * n + j)] = 4.f;
    x[(size_t)((j + 8) * n + j)] = 4.f;
  }
  for (int64_t j = 6; j < 8; ++j) {
    x[(size_t)(6 * n + j)] = 4.f;
    x[(size_t)(14 * n + j)] = 4.f;
  }
  return x;
}

TEST(GptqOracle, SingularHessianUsesDampingRetry) {
  int64_t t, n;
  const std::vector<float> x = singular_activations(t, n);
  auto h = make_hessian(x, t, n);
  ASSERT_TRUE(h);
  const std::vector<float> hm = read_hessian(h.get());
  std::vector<float> want_h((size_t)(n * n), 0.f);
  for (int64_t j = 0; j < n; ++j) want_h[(size_t)(j * n + j)] = 4.f;
  want_h[(size_t)(6 * n + 7)] = want_h[(size_t)(7 * n + 6)] = 4.f;
  ASSERT_TRUE(vectors_equal("H (premise: exact singular matrix)", hm, want_h, n));
  Rng rng(8);
  const int64_t m = 6;
  std::vector<float> w = normal_matrix(rng, m, n, 0.3);
  GptqCase c;
  {
    SCOPED_TRACE("damp 0: first factorization fails, the retry with damp + increment succeeds");
    auto cfg = gptq_config(c, {{VQR_PARAM_DAMP, 0.0}});
    ASSERT_TRUE(cfg);
    auto r = quantize(cfg.get(), w, m, n, h.get());
    ASSERT_TRUE(r);
    ResultData d = read_result(r.get());
    EXPECT_GT(d.report.damp, 0.0);
    EXPECT_GT(d.report.damp_attempts, 1);
    EXPECT_EQ(d.report.damp_attempts, 2) << "damp 0 fails, damp 0 + 0.01 succeeds";
    EXPECT_NEAR(d.report.damp, 0.01, 1e-9);
    EXPECT_NEAR(d.report.damp_lambda, 0.04, 1e-7) << "0.01 x mean diag (4)";
    GptqRefConfig rc;
    rc.damp = d.report.damp;
    GptqRefResult ref = reference_for(d, w, hm, m, n, rc);
    EXPECT_TRUE(vectors_equal("codes vs reference at the final damping", d.codes, ref.codes, n));
  }
  {
    SCOPED_TRACE("default damp: first attempt succeeds");
    ResultData d;
    ASSERT_TRUE(run_gptq(c, w, m, n, h.get(), &d));
    EXPECT_EQ(d.report.damp_attempts, 1);
    EXPECT_NEAR(d.report.damp, 0.01, 1e-9);
  }
  for (Param p : {Param{VQR_PARAM_DAMP_INCREMENT, 0.0}, Param{VQR_PARAM_DAMP_ATTEMPTS, 1}}) {
    SCOPED_TRACE("damp 0 and no useful retry: VQR_ERR_NUMERICAL");
    auto cfg = gptq_config(c, {{VQR_PARAM_DAMP, 0.0}, p});
    ASSERT_TRUE(cfg);
    vqr_tensor wt = vqr_tensor_2d(w.data(), VQR_DTYPE_F32, m, n, 0);
    vqr_result *sentinel = reinterpret_cast<vqr_result *>(0x1);
    vqr_result *out = sentinel;
    EXPECT_EQ(vqr_quantize_layer(nullptr, cfg.get(), &wt, h.get(), &out), VQR_ERR_NUMERICAL);
    EXPECT_STRNE(vqr_last_error(), "");
    EXPECT_EQ(out, sentinel) << "a failed call must leave *out unchanged";
  }
}

// Dead columns (H_jj == 0): counted in the report, zeroed, and quantized to code == zero.
TEST(GptqOracle, DeadColumnsQuantizeToZero) {
  Rng rng(4242);
  const int64_t m = 10, n = 48, t = 128;
  std::vector<float> x = correlated_activations(rng, t, n, 2);
  const int64_t dead[] = {5, 17, 30};
  for (int64_t r = 0; r < t; ++r)
    for (int64_t j : dead) x[(size_t)(r * n + j)] = 0.f;
  auto h = make_hessian(x, t, n);
  ASSERT_TRUE(h);
  const std::vector<float> hm = read_hessian(h.get());
  std::vector<float> w = normal_matrix(rng, m, n, 0.2);
  for (int64_t g : {(int64_t)-1, (int64_t)16})
    for (bool act : {false, true})
      for (bool sym : {false, true}) {
        GptqCase c;
        c.group = g;
        c.act_order = act;
        c.sym = sym;
        SCOPED_TRACE(describe(c));
        ResultData d;
        ASSERT_TRUE(run_gptq(c, w, m, n, h.get(), &d));
        EXPECT_EQ(d.report.dead_columns, 3);
        const double loss = proxy_loss(d.deq, w, hm, m, n);  // undamped H: dead rows/columns are 0
        EXPECT_NEAR(d.report.proxy_loss, loss, 1e-4 * loss);
        for (int64_t j : dead)
          for (int64_t rr = 0; rr < m; ++rr) {
            const int64_t k = d.g_idx[(size_t)j];
            EXPECT_EQ((float)d.codes[(size_t)(rr * n + j)], d.zeros[(size_t)(k * m + rr)]) << "row " << rr << " col " << j;
            EXPECT_EQ(d.deq[(size_t)(rr * n + j)], 0.0f) << "row " << rr << " col " << j;
          }
        // With groups, the reference (dead columns zeroed before any parameter is computed) must
        // agree. Per channel, implementations may take the row range before zeroing (IST does),
        // so only the invariants above are checked there.
        if (g > 0) {
          GptqRefConfig rc;
          rc.grid = {4, sym, 0};
          rc.group = g;
          rc.act_order = act;
          GptqRefResult ref = reference_for(d, w, hm, m, n, rc);
          EXPECT_EQ(ref.dead, 3);
          EXPECT_TRUE(vectors_equal("codes vs reference", d.codes, ref.codes, n));
        }
      }
}

}  // namespace
