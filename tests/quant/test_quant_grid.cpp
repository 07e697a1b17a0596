// The quantizer grids of spec gptq §1.6 through RTN and the public C API only: hand-computed
// cases with exact half-to-even ties (grids (a) and (b), asym and sym, 2/3/4/8 bits, per-channel
// and grouped), all-zero and all-positive rows, random rows against the fp32 reference of
// common/ref_quant.h, the MSE clipping search, f16/bf16/strided inputs and partial groups.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "common/ref_quant.h"
#include "common/test_util.h"

namespace {

using namespace vqrt;

// Scales vs the fp32 reference: 1 ulp (2^-23 relative, rounded up) so that an implementation may
// evaluate (xmax - xmin) / maxq as (xmax - xmin) * (1 / maxq). Codes and zeros are exact.
constexpr double kScaleRtol = 1.2e-7;
// Dequantized (library) vs scale * (code - zero) from the reference parameters: identical codes and
// 1-ulp scales give NMSE <= (1.2e-7)^2 ~ 1.4e-14 < 1e-12.
constexpr double kDeqNmse = 1e-12;
// MSE search: two candidates whose errors agree to this relative amount may be ordered differently
// by an fp32 error sum (80 x len terms, relative error ~ len u = 4e-6 for len = 64) and the double
// sum here; 1e-5 covers that and nothing more.
constexpr double kMseTieRtol = 1e-5;

// Half-to-even rounding of a value that is an exact integer or half-integer, by integer logic
// (independent of the FPU rounding mode).
int64_t rint_half_even_exact(double x) {
  const double t = 2.0 * x;
  const int64_t ti = (int64_t)t;
  EXPECT_EQ((double)ti, t) << "pattern value " << x << " is not a half-integer";
  if (ti % 2 == 0) return ti / 2;
  const int64_t k = (int64_t)std::floor(x);
  return (k % 2 == 0) ? k : k + 1;
}

// One hand-designed group: values in units of the scale (scale 1 before the 2^k factor), and the
// zero-point derived by hand from the spec formulas.
struct Variant {
  double lo, hi;   // the values that set the range (both present in the group)
  double zero;     // expected zero-point
  const char *what;
};

std::vector<Variant> variants_for(int bits, bool sym, int grid) {
  const double maxq = (double)((1 << bits) - 1), h = (double)(1 << (bits - 1));
  std::vector<Variant> v;
  if (!sym) {
    // s = (hi - lo) / maxq = 1; z = rint(-lo).
    v.push_back({-2.5, maxq - 2.5, 2.0, "asym [-2.5, maxq-2.5]: z = rint(2.5) = 2 (tie to even)"});
    v.push_back({0.0, maxq, 0.0, "asym [0, maxq]: z = 0"});
    v.push_back({-(maxq - 2.5), 2.5, maxq - 3.0, "asym [-(maxq-2.5), 2.5]: z = rint(maxq-2.5) = maxq-3"});
    v.push_back({-maxq, 0.0, maxq, "asym [-maxq, 0]: z = maxq"});
  } else if (grid == 0) {
    // Grid (a) sym: s = 2 absmax / maxq, z = 2^(b-1); absmax = maxq/2 gives s = 1.
    const double a = maxq / 2.0;
    v.push_back({-a, a, h, "sym(a) [-maxq/2, maxq/2]"});
    v.push_back({-a, 0.0, h, "sym(a) all <= 0"});
    v.push_back({-1.0, a, h, "sym(a) max side sets absmax"});
    // All >= 0: xmin stays 0, so s = xmax / maxq (spec: wastes half the grid); xmax = maxq.
    v.push_back({0.0, maxq, h, "sym(a) all >= 0: xmin stays 0, s = xmax/maxq"});
  } else {
    // Grid (b) sym: s = absmax / (2^(b-1) - 1), codes offset by z = 2^(b-1).
    const double a = h - 1.0;
    v.push_back({-a, a, h, "sym(b) [-A, A]"});
    v.push_back({0.0, a, h, "sym(b) all >= 0"});
    v.push_back({-a, 0.0, h, "sym(b) all <= 0"});
    v.push_back({-1.0, a, h, "sym(b) max side sets absmax"});
  }
  return v;
}

// len values of a variant: lo, hi, then half-integers and integers of [lo, hi] spread evenly.
std::vector<double> variant_values(const Variant &v, int64_t len) {
  std::vector<double> out{v.lo, v.hi};
  const int64_t count = (int64_t)std::llround(2.0 * (v.hi - v.lo)) + 1;  // lo, lo+0.5, ..., hi
  for (int64_t i = 0; (int64_t)out.size() < len; ++i) {
    const int64_t idx = (len - 2 > 1) ? (i * (count - 1)) / (len - 3) : 0;
    out.push_back(v.lo + 0.5 * (double)(idx % count));
  }
  return out;
}

struct GridCase {
  int bits;
  bool sym;
  int grid;
};

std::string case_name(const GridCase &c, int64_t group) {
  std::ostringstream os;
  os << "bits " << c.bits << (c.sym ? " sym" : " asym") << " grid " << (c.grid ? "(b)" : "(a)") << " group "
     << group;
  return os.str();
}

// Builds the hand-computed matrix: m rows, each row made of groups of `gl` values, group k of row
// r is variant (r + k) % 4 scaled by 2^e with e from a small list; expected codes, scales, zeros.
void run_hand_case(const GridCase &c, bool grouped) {
  const int64_t gl = c.bits == 8 ? 64 : 32;  // group length: enough room for the ties
  const int64_t groups = grouped ? 3 : 1;
  const int64_t m = 4, n = gl * groups;
  const int exps[] = {0, -1, 3, -4, 1};
  const auto vars = variants_for(c.bits, c.sym, c.grid);
  const int maxq = (1 << c.bits) - 1;
  std::vector<float> w((size_t)(m * n));
  std::vector<uint8_t> want_codes((size_t)(m * n));
  std::vector<float> want_scales((size_t)(groups * m)), want_zeros((size_t)(groups * m));
  for (int64_t r = 0; r < m; ++r)
    for (int64_t k = 0; k < groups; ++k) {
      const Variant &v = vars[(size_t)((r + k) % 4)];
      const double s = std::ldexp(1.0, exps[(r + 2 * k) % 5]);
      const auto vals = variant_values(v, gl);
      for (int64_t i = 0; i < gl; ++i) {
        const int64_t j = k * gl + i;
        w[r * n + j] = (float)(vals[(size_t)i] * s);
        int64_t code = rint_half_even_exact(vals[(size_t)i]) + (int64_t)v.zero;
        code = std::min<int64_t>(std::max<int64_t>(code, 0), maxq);
        want_codes[r * n + j] = (uint8_t)code;
      }
      want_scales[k * m + r] = (float)s;
      want_zeros[k * m + r] = (float)v.zero;
    }
  auto cfg = make_config({{VQR_PARAM_BITS, (double)c.bits},
                          {VQR_PARAM_SYM, c.sym ? 1.0 : 0.0},
                          {VQR_PARAM_GRID, (double)c.grid},
                          {VQR_PARAM_GROUP_SIZE, grouped ? (double)gl : -1.0}});
  ASSERT_TRUE(cfg);
  auto res = quantize(cfg.get(), w, m, n, nullptr);
  ASSERT_TRUE(res);
  ResultData d = read_result(res.get());
  SCOPED_TRACE(case_name(c, grouped ? gl : -1));
  ASSERT_EQ(d.m, m);
  ASSERT_EQ(d.n, n);
  ASSERT_EQ(d.groups, groups);
  ASSERT_EQ(d.bits, c.bits);
  EXPECT_TRUE(vectors_equal("scales", d.scales, want_scales, m));
  EXPECT_TRUE(vectors_equal("zeros", d.zeros, want_zeros, m));
  EXPECT_TRUE(vectors_equal("codes", d.codes, want_codes, n));
  std::vector<int32_t> want_gidx((size_t)n);
  for (int64_t j = 0; j < n; ++j) want_gidx[(size_t)j] = (int32_t)(j / gl);
  EXPECT_TRUE(vectors_equal("g_idx", d.g_idx, want_gidx));
  // Dequantized = scale * (code - zero), exactly (one fp32 rounding of an exact product here).
  std::vector<float> want_deq((size_t)(m * n));
  for (int64_t r = 0; r < m; ++r)
    for (int64_t j = 0; j < n; ++j) {
      const int64_t k = j / gl;
      want_deq[r * n + j] = want_scales[k * m + r] * ((float)want_codes[r * n + j] - want_zeros[k * m + r]);
    }
  EXPECT_TRUE(vectors_equal("dequantized", d.deq, want_deq, n));
  EXPECT_EQ(d.report.method, VQR_METHOD_RTN);
  EXPECT_TRUE(std::isnan(d.report.proxy_loss)) << "no Hessian: proxy_loss must be NaN";
}

TEST(QuantGrid, HandComputedTiesAllGridsBitsAndGroups) {
  for (int grid : {0, 1})
    for (bool sym : {false, true})
      for (int bits : {2, 3, 4, 8})
        for (bool grouped : {false, true}) run_hand_case({bits, sym, grid}, grouped);
}

// The literal example: row [0..15, 2.5, 3.5, 0.5, 14.5] with 4-bit asym has s = 1, z = 0, and the
// ties go to the even neighbour: 2.5 -> 2, 3.5 -> 4, 0.5 -> 0, 14.5 -> 14.
TEST(QuantGrid, LiteralFourBitAsymTies) {
  std::vector<float> w;
  for (int i = 0; i < 16; ++i) w.push_back((float)i);
  for (float t : {2.5f, 3.5f, 0.5f, 14.5f}) w.push_back(t);
  auto cfg = make_config({{VQR_PARAM_BITS, 4}});
  ASSERT_TRUE(cfg);
  auto res = quantize(cfg.get(), w, 1, (int64_t)w.size(), nullptr);
  ASSERT_TRUE(res);
  ResultData d = read_result(res.get());
  std::vector<uint8_t> want{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 2, 4, 0, 14};
  EXPECT_TRUE(vectors_equal("codes", d.codes, want));
  EXPECT_EQ(d.scales[0], 1.0f);
  EXPECT_EQ(d.zeros[0], 0.0f);
}

// Literal sym examples. Grid (a), 4-bit, absmax 7.5: s = 1, z = 8; 7.5 -> rint 8 -> 16 clamps to
// 15 (dequant 7), -7.5 -> -8 -> 0, 2.5 -> 10, 3.5 -> 12, -0.5 -> 8. Grid (b), 4-bit, absmax 7:
// s = 1, z = 8; 2.5 -> 10, -2.5 -> 6, -7 -> 1, 7 -> 15.
TEST(QuantGrid, LiteralFourBitSymTies) {
  {
    std::vector<float> w{7.5f, -7.5f, 2.5f, 3.5f, -0.5f, 1.0f, -2.5f, 0.0f};
    auto cfg = make_config({{VQR_PARAM_BITS, 4}, {VQR_PARAM_SYM, 1}});
    ASSERT_TRUE(cfg);
    auto res = quantize(cfg.get(), w, 1, 8, nullptr);
    ASSERT_TRUE(res);
    ResultData d = read_result(res.get());
    EXPECT_TRUE(vectors_equal("codes (a)", d.codes, std::vector<uint8_t>{15, 0, 10, 12, 8, 9, 6, 8}));
    EXPECT_EQ(d.scales[0], 1.0f);
    EXPECT_EQ(d.zeros[0], 8.0f);
    EXPECT_EQ(d.deq[0], 7.0f) << "+absmax is clipped to 7 s on grid (a)";
  }
  {
    std::vector<float> w{7.f, -7.f, 2.5f, -2.5f, 3.5f, -0.5f, 0.5f, 0.0f};
    auto cfg = make_config({{VQR_PARAM_BITS, 4}, {VQR_PARAM_SYM, 1}, {VQR_PARAM_GRID, 1}});
    ASSERT_TRUE(cfg);
    auto res = quantize(cfg.get(), w, 1, 8, nullptr);
    ASSERT_TRUE(res);
    ResultData d = read_result(res.get());
    EXPECT_TRUE(vectors_equal("codes (b)", d.codes, std::vector<uint8_t>{15, 1, 10, 6, 12, 8, 8, 8}));
    EXPECT_EQ(d.scales[0], 1.0f);
    EXPECT_EQ(d.zeros[0], 8.0f);
  }
}

// All-positive row with sym on grid (a): xmin stays 0, s = xmax / maxq, z = 2^(b-1), so values
// above (2^(b-1) - 1) s clamp (spec gptq §1.6 edge case).
TEST(QuantGrid, AllPositiveRowSymGridA) {
  std::vector<float> w{0.5f, 1.f, 3.5f, 7.f, 7.5f, 15.f};
  auto cfg = make_config({{VQR_PARAM_BITS, 4}, {VQR_PARAM_SYM, 1}});
  ASSERT_TRUE(cfg);
  auto res = quantize(cfg.get(), w, 1, 6, nullptr);
  ASSERT_TRUE(res);
  ResultData d = read_result(res.get());
  EXPECT_EQ(d.scales[0], 1.0f);
  EXPECT_EQ(d.zeros[0], 8.0f);
  // rint(x) + 8: 0.5 -> 8, 1 -> 9, 3.5 -> 12, 7 -> 15, 7.5 -> 16 -> 15, 15 -> 23 -> 15.
  EXPECT_TRUE(vectors_equal("codes", d.codes, std::vector<uint8_t>{8, 9, 12, 15, 15, 15}));
}

// All-zero rows: grid (a) uses xmin = -1, xmax = +1: s = 2/maxq; asym z = rint(1/s) in fp32,
// sym z = 2^(b-1). Codes equal the zero-point and the dequantized row is 0. For grid (b) the spec
// does not state the all-zero scale, so only codes == zero and deq == 0 are checked.
TEST(QuantGrid, AllZeroRows) {
  for (int grid : {0, 1})
    for (bool sym : {false, true})
      for (int bits : {2, 3, 4, 8}) {
        SCOPED_TRACE(case_name({bits, sym, grid}, 8));
        const int64_t m = 2, n = 16;
        std::vector<float> w((size_t)(m * n), 0.f);
        for (int64_t j = 8; j < 16; ++j) w[(size_t)j] = (float)(j - 11);  // row 0, group 1: not zero
        auto cfg = make_config({{VQR_PARAM_BITS, (double)bits},
                                {VQR_PARAM_SYM, sym ? 1.0 : 0.0},
                                {VQR_PARAM_GRID, (double)grid},
                                {VQR_PARAM_GROUP_SIZE, 8}});
        ASSERT_TRUE(cfg);
        auto res = quantize(cfg.get(), w, m, n, nullptr);
        ASSERT_TRUE(res);
        ResultData d = read_result(res.get());
        const float maxq = (float)((1 << bits) - 1);
        for (int64_t r = 0; r < m; ++r)
          for (int64_t k = 0; k < 2; ++k) {
            if (r == 0 && k == 1) continue;
            const float s = d.scales[(size_t)(k * m + r)], z = d.zeros[(size_t)(k * m + r)];
            for (int64_t j = k * 8; j < k * 8 + 8; ++j) {
              EXPECT_EQ((float)d.codes[(size_t)(r * n + j)], z) << "row " << r << " col " << j;
              EXPECT_EQ(d.deq[(size_t)(r * n + j)], 0.0f) << "row " << r << " col " << j;
            }
            if (grid == 0) {
              const float want_s = 2.0f / maxq;
              const float want_z = sym ? (float)(1 << (bits - 1)) : std::nearbyint(1.0f / want_s);
              EXPECT_EQ(s, want_s) << "row " << r << " group " << k;
              EXPECT_EQ(z, want_z) << "row " << r << " group " << k;
            }
          }
      }
}

// Random rows against the fp32 reference quantizer (common/ref_quant.h).
TEST(QuantGrid, RandomRowsMatchReference) {
  Rng rng(12345);
  const int64_t m = 8, n = 96;
  for (int grid : {0, 1})
    for (bool sym : {false, true})
      for (int bits : {2, 3, 4, 8})
        for (int64_t group : {(int64_t)-1, (int64_t)32}) {
          const GridCase c{bits, sym, grid};
          SCOPED_TRACE(case_name(c, group));
          std::vector<float> w = normal_matrix(rng, m, n, 0.05);
          for (int64_t j = 0; j < n; ++j) w[(size_t)(3 * n + j)] = std::fabs(w[(size_t)(3 * n + j)]);  // all >= 0
          for (int64_t j = 0; j < n; ++j) w[(size_t)(5 * n + j)] = -std::fabs(w[(size_t)(5 * n + j)]);  // all <= 0
          auto cfg = make_config({{VQR_PARAM_BITS, (double)bits},
                                  {VQR_PARAM_SYM, sym ? 1.0 : 0.0},
                                  {VQR_PARAM_GRID, (double)grid},
                                  {VQR_PARAM_GROUP_SIZE, (double)group}});
          ASSERT_TRUE(cfg);
          auto res = quantize(cfg.get(), w, m, n, nullptr);
          ASSERT_TRUE(res);
          ResultData d = read_result(res.get());
          const int64_t gs = group > 0 ? group : n, G = n / gs;
          ASSERT_EQ(d.groups, G);
          GridSpec gspec{bits, sym, grid};
          std::vector<float> ws((size_t)(G * m)), wz((size_t)(G * m)), wdeq((size_t)(m * n));
          std::vector<uint8_t> wc((size_t)(m * n));
          for (int64_t r = 0; r < m; ++r)
            for (int64_t k = 0; k < G; ++k) {
              const QParams p = grid_params(&w[(size_t)(r * n + k * gs)], gs, gspec);
              ws[(size_t)(k * m + r)] = p.scale;
              wz[(size_t)(k * m + r)] = p.zero;
              for (int64_t j = k * gs; j < (k + 1) * gs; ++j) {
                const int code = quant_code(w[(size_t)(r * n + j)], p, bits);
                wc[(size_t)(r * n + j)] = (uint8_t)code;
                wdeq[(size_t)(r * n + j)] = dequant(code, p);
              }
            }
          EXPECT_TRUE(vectors_near("scales", d.scales, ws, kScaleRtol, 0.0, m));
          EXPECT_TRUE(vectors_equal("zeros", d.zeros, wz, m));
          EXPECT_TRUE(vectors_equal("codes", d.codes, wc, n));
          for (uint8_t code : d.codes) ASSERT_LE((int)code, (1 << bits) - 1);
          // The library's own dequantization must be scale * (code - zero) from its own outputs.
          std::vector<float> self_deq((size_t)(m * n));
          for (int64_t r = 0; r < m; ++r)
            for (int64_t j = 0; j < n; ++j) {
              const int64_t k = d.g_idx[(size_t)j];
              self_deq[(size_t)(r * n + j)] =
                  d.scales[(size_t)(k * m + r)] * ((float)d.codes[(size_t)(r * n + j)] - d.zeros[(size_t)(k * m + r)]);
            }
          EXPECT_TRUE(vectors_equal("dequantized vs scale*(code-zero)", d.deq, self_deq, n));
          EXPECT_LT(nmse(d.deq, wdeq), kDeqNmse);
        }
}

// MSE clipping search (norm 2.4, grid 100, maxshrink 0.8): the library's parameters must be one of
// the 80 candidates, the candidate the reference picks (strictly smaller error, p = 1 first) unless
// the two candidates' errors agree to kMseTieRtol (fp32 vs double error sums can then pick
// either), and the codes must be rint(x / s) + z with the library's own s and z.
TEST(QuantGrid, MseClipSearchMatchesReferenceLoop) {
  Rng rng(777);
  const int64_t m = 6, n = 64;
  for (int grid : {0, 1})
    for (bool sym : {false, true})
      for (int bits : {3, 4})
        for (int64_t group : {(int64_t)-1, (int64_t)32}) {
          SCOPED_TRACE(case_name({bits, sym, grid}, group) + " mse");
          std::vector<float> w((size_t)(m * n));
          for (auto &x : w) x = (float)(0.02 * rng.student_t(3));
          w[(size_t)(0 * n + 5)] = 0.9f;  // outliers: clipping clearly pays
          w[(size_t)(1 * n + 40)] = -0.7f;
          auto cfg = make_config({{VQR_PARAM_BITS, (double)bits},
                                  {VQR_PARAM_SYM, sym ? 1.0 : 0.0},
                                  {VQR_PARAM_GRID, (double)grid},
                                  {VQR_PARAM_GROUP_SIZE, (double)group},
                                  {VQR_PARAM_MSE, 1}});
          ASSERT_TRUE(cfg);
          auto res = quantize(cfg.get(), w, m, n, nullptr);
          ASSERT_TRUE(res);
          ResultData d = read_result(res.get());
          const int64_t gs = group > 0 ? group : n, G = n / gs;
          ASSERT_EQ(d.groups, G);
          GridSpec gspec{bits, sym, grid};
          int shrunk = 0;
          for (int64_t r = 0; r < m; ++r)
            for (int64_t k = 0; k < G; ++k) {
              const float *x = &w[(size_t)(r * n + k * gs)];
              const MseSearch s = mse_search(x, gs, gspec, 2.4, 100, 0.8);
              ASSERT_EQ(s.candidates.size(), 80u);
              const float ls = d.scales[(size_t)(k * m + r)], lz = d.zeros[(size_t)(k * m + r)];
              int found = -1;
              double bestrel = INFINITY;
              for (size_t i = 0; i < s.candidates.size(); ++i) {
                const double rel = std::fabs((double)ls - s.candidates[i].scale) / s.candidates[i].scale;
                if (rel < bestrel) {
                  bestrel = rel;
                  found = (int)i;
                }
              }
              // Candidates are 1% apart in p; 1e-5 only absorbs fp32 evaluation order.
              ASSERT_LT(bestrel, 1e-5) << "row " << r << " group " << k << ": scale " << ls
                                       << " is not a candidate of the search";
              if (found != s.best) {
                const double e_lib = s.errors[(size_t)found], e_ref = s.errors[(size_t)s.best];
                EXPECT_LE(std::fabs(e_lib - e_ref), kMseTieRtol * e_ref)
                    << "row " << r << " group " << k << ": library picked candidate " << found << " (err " << e_lib
                    << "), reference " << s.best << " (err " << e_ref << ")";
              }
              EXPECT_EQ(lz, s.candidates[(size_t)found].zero) << "row " << r << " group " << k;
              shrunk += found > 0;
              const QParams lp{ls, lz};
              for (int64_t j = 0; j < gs; ++j)
                ASSERT_EQ((int)d.codes[(size_t)(r * n + k * gs + j)], quant_code(x[j], lp, bits))
                    << "row " << r << " col " << k * gs + j;
            }
          EXPECT_GT(shrunk, 0) << "no row chose a clipped range; the search seems inactive";
        }
}

// f16 and bf16 weights quantize exactly as their fp32 values; a strided view as the contiguous one.
TEST(QuantGrid, HalfBf16AndStridedInputs) {
  Rng rng(99);
  const int64_t m = 5, n = 48, stride = 53;
  std::vector<float> w = normal_matrix(rng, m, n, 0.1);
  std::vector<uint16_t> wh((size_t)(m * n)), wb((size_t)(m * n));
  std::vector<float> wfh((size_t)(m * n)), wfb((size_t)(m * n)), wstr((size_t)(m * stride), NAN);
  for (size_t i = 0; i < w.size(); ++i) {
    wh[i] = float_to_half(w[i]);
    wfh[i] = half_to_float(wh[i]);
    wb[i] = float_to_bf16(w[i]);
    wfb[i] = bf16_to_float(wb[i]);
  }
  for (int64_t r = 0; r < m; ++r)
    for (int64_t j = 0; j < n; ++j) wstr[(size_t)(r * stride + j)] = w[(size_t)(r * n + j)];
  auto cfg = make_config({{VQR_PARAM_BITS, 3}, {VQR_PARAM_GROUP_SIZE, 16}});
  ASSERT_TRUE(cfg);
  auto run = [&](const void *data, vqr_dtype dt, int64_t rs) {
    vqr_tensor t = vqr_tensor_2d(data, dt, m, n, rs);
    vqr_result *r = nullptr;
    vqr_status st = vqr_quantize_layer(nullptr, cfg.get(), &t, nullptr, &r);
    EXPECT_EQ(st, VQR_OK) << status_text(st);
    ResultPtr p(r);
    return r ? read_result(r) : ResultData{};
  };
  const ResultData ref_h = read_result(quantize(cfg.get(), wfh, m, n, nullptr).get());
  const ResultData ref_b = read_result(quantize(cfg.get(), wfb, m, n, nullptr).get());
  const ResultData ref_f = read_result(quantize(cfg.get(), w, m, n, nullptr).get());
  const ResultData got_h = run(wh.data(), VQR_DTYPE_F16, 0);
  const ResultData got_b = run(wb.data(), VQR_DTYPE_BF16, 0);
  const ResultData got_s = run(wstr.data(), VQR_DTYPE_F32, stride);
  EXPECT_TRUE(vectors_equal("f16 codes", got_h.codes, ref_h.codes, n));
  EXPECT_TRUE(vectors_equal("f16 scales", got_h.scales, ref_h.scales, m));
  EXPECT_TRUE(vectors_equal("bf16 codes", got_b.codes, ref_b.codes, n));
  EXPECT_TRUE(vectors_equal("bf16 scales", got_b.scales, ref_b.scales, m));
  EXPECT_TRUE(vectors_equal("strided codes", got_s.codes, ref_f.codes, n));
  EXPECT_TRUE(vectors_equal("strided scales", got_s.scales, ref_f.scales, m));
}

// ALLOW_PARTIAL_GROUP = 1: n = 40, g = 16 gives groups of 16, 16, 8 with g_idx = j / 16.
TEST(QuantGrid, PartialLastGroup) {
  Rng rng(5);
  const int64_t m = 3, n = 40, g = 16;
  std::vector<float> w = normal_matrix(rng, m, n);
  auto cfg = make_config({{VQR_PARAM_BITS, 4}, {VQR_PARAM_GROUP_SIZE, (double)g}, {VQR_PARAM_ALLOW_PARTIAL_GROUP, 1}});
  ASSERT_TRUE(cfg);
  auto res = quantize(cfg.get(), w, m, n, nullptr);
  ASSERT_TRUE(res);
  ResultData d = read_result(res.get());
  ASSERT_EQ(d.groups, 3);
  GridSpec gspec{4, false, 0};
  std::vector<uint8_t> wc((size_t)(m * n));
  std::vector<float> ws((size_t)(3 * m));
  for (int64_t r = 0; r < m; ++r)
    for (int64_t k = 0; k < 3; ++k) {
      const int64_t len = std::min(g, n - k * g);
      const QParams p = grid_params(&w[(size_t)(r * n + k * g)], len, gspec);
      ws[(size_t)(k * m + r)] = p.scale;
      for (int64_t j = k * g; j < k * g + len; ++j)
        wc[(size_t)(r * n + j)] = (uint8_t)quant_code(w[(size_t)(r * n + j)], p, 4);
    }
  std::vector<int32_t> want_gidx((size_t)n);
  for (int64_t j = 0; j < n; ++j) want_gidx[(size_t)j] = (int32_t)(j / g);
  EXPECT_TRUE(vectors_equal("g_idx", d.g_idx, want_gidx));
  EXPECT_TRUE(vectors_near("scales", d.scales, ws, kScaleRtol, 0.0, m));
  EXPECT_TRUE(vectors_equal("codes", d.codes, wc, n));
}

}  // namespace
