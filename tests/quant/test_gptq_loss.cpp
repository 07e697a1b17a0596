// The proxy losses of vqr_report against tr(dW H dW^T) computed here in double from the
// dequantized weights, the original W and vqr_hessian_read; and GPTQ beating RTN on that loss on
// synthetic heavy-tailed layers (Student-t(3) weights, correlated activations with outlier
// channels scaled 20-50x), at 2, 3 and 4 bits, per channel and g = 32, act-order on and off.
// Also the identity GPTQ's own proxy loss rests on (vqr_report_level): the OBS errors of the sweep
// sum to tr(dW Hd dW^T), checked in double on the textbook reference, and the report taken from
// the sweep against the direct trace.
#include <gtest/gtest.h>

#include "common/test_util.h"
#include "quant/ref_gptq.h"

namespace {

using namespace vqrt;

// Relative tolerance of the reported losses: 1e-4 (the brief's requirement). The loss is a sum of
// m quadratic forms d^T H d >= 0; an fp32 evaluation errs by about sqrt(n) u |d|^2 ||H|| per row,
// which is below 1e-5 relative unless GPTQ has pushed dW far into the small-eigenvalue subspace of
// H (conditioning ~1e2 here). 1e-4 still catches a damped instead of undamped H (1% of the
// diagonal), a missing 2/T or a loss computed on the wrong weights.
constexpr double kLossRtol = 1e-4;

TEST(GptqLoss, ReportedLossesMatchTraceAndGptqBeatsRtn) {
  const int64_t m = 64, n = 128, t = 1024;
  Rng rng(90210);
  std::vector<float> x = correlated_activations(rng, t, n, 4);
  std::vector<float> w = student_t_matrix(rng, m, n, 0.02);
  auto h = make_hessian(x, t, n);
  ASSERT_TRUE(h);
  const std::vector<float> hm = read_hessian(h.get());
  for (int bits : {2, 3, 4})
    for (int64_t g : {(int64_t)-1, (int64_t)32})
      for (bool act : {false, true})
        for (bool sym : {false, true}) {
          if (sym && bits == 2) continue;
          std::ostringstream os;
          os << "bits " << bits << " group " << g << (act ? " act-order" : "") << (sym ? " sym" : " asym");
          SCOPED_TRACE(os.str());
          auto gcfg = make_config({{VQR_PARAM_METHOD, VQR_METHOD_GPTQ},
                                   {VQR_PARAM_REPORT_LOSS, VQR_REPORT_PROXY_AND_RTN},
                                   {VQR_PARAM_BITS, (double)bits},
                                   {VQR_PARAM_GROUP_SIZE, (double)g},
                                   {VQR_PARAM_SYM, sym ? 1.0 : 0.0},
                                   {VQR_PARAM_ACT_ORDER, act ? 1.0 : 0.0}});
          auto rcfg = make_config({{VQR_PARAM_BITS, (double)bits},
                                   {VQR_PARAM_GROUP_SIZE, (double)g},
                                   {VQR_PARAM_SYM, sym ? 1.0 : 0.0}});
          ASSERT_TRUE(gcfg && rcfg);
          auto gr = quantize(gcfg.get(), w, m, n, h.get());
          auto rr = quantize(rcfg.get(), w, m, n, h.get());
          ASSERT_TRUE(gr && rr);
          const ResultData gd = read_result(gr.get()), rd = read_result(rr.get());
          const double gptq_loss = proxy_loss(gd.deq, w, hm, m, n);
          const double rtn_loss = proxy_loss(rd.deq, w, hm, m, n);
          EXPECT_NEAR(gd.report.proxy_loss, gptq_loss, kLossRtol * gptq_loss) << "GPTQ proxy_loss";
          EXPECT_NEAR(gd.report.rtn_proxy_loss, rtn_loss, kLossRtol * rtn_loss) << "GPTQ report's rtn_proxy_loss";
          EXPECT_NEAR(rd.report.proxy_loss, rtn_loss, kLossRtol * rtn_loss) << "RTN proxy_loss";
          EXPECT_NEAR(rd.report.rtn_proxy_loss, rtn_loss, kLossRtol * rtn_loss) << "RTN report's rtn_proxy_loss";
          EXPECT_EQ(rd.report.damp, 0.0) << "RTN reports no damping";
          EXPECT_LT(gptq_loss, rtn_loss) << "GPTQ must reduce the proxy loss below RTN's";
          // The margin seen on such layers is large; a GPTQ that barely beats RTN is broken.
          EXPECT_LT(gptq_loss, 0.9 * rtn_loss);
        }
}

// The identity, in double on the unblocked reference (ref_gptq.h, which never forms U): with U_qq^-2
// the Schur complement of the damped H at q, sum_q (w_q - Q_q)^2 / U_qq^2 = tr(dW Hd dW^T), dW =
// Q - W (dead columns zeroed, both sides), and minus lambda ||dW||^2 it is tr(dW H dW^T) with the
// undamped H. Both sides are O(n^2)-term double sums of O(1) terms: 1e-10 relative is ~1e3 x
// their rounding (n^2 u ~ 2e-12 at n = 40) and a million times below any formula slip.
constexpr double kIdentityRtol = 1e-10;

// A layer whose inputs `dead_a` and `dead_b` are always zero (H_jj = 0: dead columns, spec §1.3).
struct DeadColumnLayer {
  std::vector<float> w, hm;
  HessianPtr h;
};
DeadColumnLayer dead_column_layer(uint64_t seed, int64_t m, int64_t n, int64_t t, int outliers, double w_scale,
                                  int64_t dead_a, int64_t dead_b) {
  DeadColumnLayer l;
  Rng rng(seed);
  std::vector<float> x = correlated_activations(rng, t, n, outliers);
  for (int64_t r = 0; r < t; ++r) x[(size_t)(r * n + dead_a)] = x[(size_t)(r * n + dead_b)] = 0.0f;
  l.w = student_t_matrix(rng, m, n, w_scale);
  l.h = make_hessian(x, t, n);
  if (l.h) l.hm = read_hessian(l.h.get());
  return l;
}

// The sweep settings the two tests below vary. stale_block > 0: dynamic groups read the values at
// the start of each lazy block of that many columns (the library's VQR_PARAM_STALE_GROUPS = 1 with
// its block size).
struct SweepCase {
  int64_t group;
  bool act, stat;
  int64_t stale_block;
  double damp;
  std::string describe() const {
    return "group " + std::to_string(group) + (act ? " act" : "") + (stat ? " static" : "") + " stale " +
           std::to_string(stale_block) + " damp " + std::to_string(damp);
  }
};

TEST(GptqLoss, ObsErrorsSumToTheDampedTrace) {
  const int64_t m = 5, n = 40;
  const DeadColumnLayer l = dead_column_layer(4242, m, n, 96, 2, 0.05, 7, 23);
  ASSERT_TRUE(l.h);
  const std::vector<float> &w = l.w, &hm = l.hm;
  const SweepCase cases[] = {{-1, false, false, 0, 0.01}, {-1, true, false, 0, 0.01}, {8, false, false, 0, 0.01},
                             {8, true, false, 0, 0.1},    {8, true, true, 0, 0.01},   {16, true, false, 12, 0.01}};
  for (const SweepCase &c : cases) {
    SCOPED_TRACE(c.describe());
    GptqRefConfig rc;
    rc.grid = {3, false, 0};
    rc.group = c.group;
    rc.act_order = c.act;
    rc.static_groups = c.stat;
    rc.stale_block = c.stale_block;
    rc.damp = c.damp;
    const GptqRefResult ref = gptq_reference(w, hm, m, n, rc);
    ASSERT_EQ(ref.dead, 2);
    // dW in processing order, the dead-zeroed W on both sides.
    std::vector<double> dwp((size_t)(m * n)), zero((size_t)(m * n), 0.0), hp((size_t)(n * n));
    double dw_sq = 0.0;
    for (int64_t r = 0; r < m; ++r)
      for (int64_t q = 0; q < n; ++q) {
        const int64_t j = ref.perm[(size_t)q];
        const double wj = hm[(size_t)(j * n + j)] == 0.0f ? 0.0 : (double)w[(size_t)(r * n + j)];
        dwp[(size_t)(r * n + q)] = ref.deq[(size_t)(r * n + j)] - wj;
        dw_sq += dwp[(size_t)(r * n + q)] * dwp[(size_t)(r * n + q)];
      }
    for (int64_t a = 0; a < n; ++a)
      for (int64_t b = 0; b < n; ++b) hp[(size_t)(a * n + b)] = hm[(size_t)(ref.perm[a] * n + ref.perm[b])];
    const double damped = proxy_loss(dwp, zero, ref.hd, m, n);
    EXPECT_NEAR(ref.obs_loss, damped, kIdentityRtol * damped);
    // lambda from the damped diagonal of a live column: Hd_qq - H_qq.
    int64_t live = 0;
    while (hp[(size_t)(live * n + live)] == 0.0) ++live;
    const double lambda = ref.hd[(size_t)(live * n + live)] - hp[(size_t)(live * n + live)];
    const double undamped = proxy_loss(dwp, zero, hp, m, n);
    EXPECT_NEAR(ref.obs_loss - lambda * dw_sq, undamped, kIdentityRtol * damped);
    EXPECT_GT(lambda * dw_sq, 1e-3 * undamped) << "premise: the damping term is not negligible";
  }
}

// The library's GPTQ proxy_loss (from the sweep) against the direct double trace, on an awkward
// shape (m = 37, n = 200: a partial row tile, a partial last block of 72 columns) with dead columns,
// act-order, static and stale groups and a strong damping (0.1, so the undamping subtraction is
// large). Tolerance kLossRtol: the errors e_q come from fp32 compensated weights, each off by about
// sqrt(n) u |w| (n fp32 updates, u = 6e-8: 8e-7 |w|); with |w| <= 2^b |w - Q| that is <= 1.4e-5
// relative per term at 4 bits, 3e-5 per squared term, and averaging over m n terms only lowers it;
// the subtraction of lambda ||dW||^2 (measured below 2x here) at most doubles it: 6e-5 < 1e-4.
TEST(GptqLoss, SweepLossMatchesTheTraceAndTheLevels) {
  const int64_t m = 37, n = 200;
  const DeadColumnLayer l = dead_column_layer(777, m, n, 512, 3, 0.02, 3, 150);
  ASSERT_TRUE(l.h);
  const std::vector<float> &w = l.w, &hm = l.hm;
  const SweepCase cases[] = {{-1, false, false, 0, 0.01}, {-1, true, false, 0, 0.1}, {40, true, false, 0, 0.01},
                             {40, true, true, 0, 0.1},    {20, false, false, 128, 0.01}};
  for (const SweepCase &c : cases)
    for (int bits : {2, 4}) {
      SCOPED_TRACE("bits " + std::to_string(bits) + " " + c.describe());
      ResultData at[3];
      for (int level : {1, 2}) {
        auto cfg = make_config({{VQR_PARAM_METHOD, VQR_METHOD_GPTQ},
                                {VQR_PARAM_BITS, (double)bits},
                                {VQR_PARAM_GROUP_SIZE, (double)c.group},
                                {VQR_PARAM_ACT_ORDER, c.act ? 1.0 : 0.0},
                                {VQR_PARAM_STATIC_GROUPS, c.stat ? 1.0 : 0.0},
                                {VQR_PARAM_STALE_GROUPS, c.stale_block > 0 ? 1.0 : 0.0},
                                {VQR_PARAM_DAMP, c.damp},
                                {VQR_PARAM_REPORT_LOSS, (double)level}});
        ASSERT_TRUE(cfg);
        auto r = quantize(cfg.get(), w, m, n, l.h.get());
        ASSERT_TRUE(r);
        at[level] = read_result(r.get());
      }
      const ResultData &d = at[1];
      ASSERT_EQ(d.report.dead_columns, 2);
      const double direct = proxy_loss(d.deq, w, hm, m, n);  // undamped H: dead rows/columns are 0
      EXPECT_NEAR(d.report.proxy_loss, direct, kLossRtol * direct);
      EXPECT_TRUE(std::isnan(d.report.rtn_proxy_loss)) << "level 1 computes no RTN reference";
      EXPECT_EQ(at[2].codes, d.codes);
      EXPECT_EQ(at[2].report.proxy_loss, d.report.proxy_loss) << "level 2 takes GPTQ's loss from the sweep too";
      EXPECT_FALSE(std::isnan(at[2].report.rtn_proxy_loss));
      // Premise of the tolerance: the damped loss is below twice the undamped one.
      double dw_sq = 0.0;
      for (int64_t r = 0; r < m; ++r)
        for (int64_t j = 0; j < n; ++j)
          if (hm[(size_t)(j * n + j)] != 0.0f) {
            const double e = (double)d.deq[(size_t)(r * n + j)] - (double)w[(size_t)(r * n + j)];
            dw_sq += e * e;
          }
      EXPECT_LT(direct + d.report.damp_lambda * dw_sq, 2.0 * direct);
    }
}

TEST(GptqLoss, ReportLossOffGivesNaN) {
  const int64_t m = 8, n = 32, t = 64;
  Rng rng(3);
  std::vector<float> x = correlated_activations(rng, t, n, 1);
  std::vector<float> w = normal_matrix(rng, m, n);
  auto h = make_hessian(x, t, n);
  ASSERT_TRUE(h);
  for (int method : {VQR_METHOD_RTN, VQR_METHOD_GPTQ}) {
    auto cfg = make_config({{VQR_PARAM_METHOD, (double)method}, {VQR_PARAM_REPORT_LOSS, 0}});
    ASSERT_TRUE(cfg);
    auto r = quantize(cfg.get(), w, m, n, h.get());
    ASSERT_TRUE(r);
    const ResultData d = read_result(r.get());
    EXPECT_TRUE(std::isnan(d.report.proxy_loss)) << "method " << method;
    EXPECT_TRUE(std::isnan(d.report.rtn_proxy_loss)) << "method " << method;
  }
  // RTN without a Hessian: NaN as well.
  auto cfg = make_config({});
  ASSERT_TRUE(cfg);
  auto r = quantize(cfg.get(), w, m, n, nullptr);
  ASSERT_TRUE(r);
  const ResultData d = read_result(r.get());
  EXPECT_TRUE(std::isnan(d.report.proxy_loss));
  EXPECT_TRUE(std::isnan(d.report.rtn_proxy_loss));
}

// A report struct smaller than the library's: the library must not write past struct_size.
TEST(GptqLoss, ReportRespectsStructSize) {
  const int64_t m = 4, n = 16;
  Rng rng(4);
  std::vector<float> w = normal_matrix(rng, m, n);
  auto cfg = make_config({});
  ASSERT_TRUE(cfg);
  auto r = quantize(cfg.get(), w, m, n, nullptr);
  ASSERT_TRUE(r);
  struct {
    vqr_report head;
    unsigned char guard[64];
  } buf;
  std::memset(&buf, 0xAB, sizeof buf);
  const size_t small = offsetof(vqr_report, proxy_loss);  // struct_size + method only
  buf.head.struct_size = small;
  ASSERT_EQ(vqr_result_report(r.get(), &buf.head), VQR_OK) << vqr_last_error();
  EXPECT_EQ(buf.head.method, VQR_METHOD_RTN);
  const unsigned char *bytes = reinterpret_cast<const unsigned char *>(&buf);
  for (size_t i = small; i < sizeof buf; ++i) ASSERT_EQ(bytes[i], 0xAB) << "byte " << i << " written past struct_size";
  vqr_report tiny;
  tiny.struct_size = sizeof(size_t) - 1;
  EXPECT_EQ(vqr_result_report(r.get(), &tiny), VQR_ERR_INVALID_ARGUMENT);
}

}  // namespace
