// Finite inputs that overflow fp32 inside the library (issue 20): each is reported as
// VQR_ERR_NONFINITE where it first appears, naming the place, and never returns VQR_OK with NaN
// losses or codes read from NaN (a NaN cast to uint8_t, undefined behaviour the sanitizer build
// traps). Public C API only, with hand-made statistics whose overflow follows from the format's
// arithmetic: 1e30^2 = 1e60 is past FLT_MAX = 3.4e38.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "common/serialized_hessian.h"
#include "common/test_util.h"

namespace {

using namespace vqrt;

constexpr int64_t kN = 16, kM = 4, kT = 48;

std::string last_error() { return vqr_last_error(); }

bool mentions(const std::string &text, const std::string &needle) { return text.find(needle) != std::string::npos; }

// A well-conditioned statistic and weights of width kN.
struct Layer {
  std::vector<float> w, x;
  Layer() {
    Rng rng(5);
    w = normal_matrix(rng, kM, kN);
    x = correlated_activations(rng, kT, kN, 1);
  }
};

TEST(Overflow, HessianAddRefusesAFiniteBatchWhoseSquaresOverflowFp32) {
  const Layer l;
  HessianPtr h = make_hessian(l.x, kT, kN);
  ASSERT_TRUE(h);
  const std::vector<float> before = read_hessian(h.get());
  std::vector<float> x = l.x;
  x[(size_t)(3 * kN + 7)] = 1e30f;  // finite, but x^2 = 1e60
  const vqr_tensor t = vqr_tensor_2d(x.data(), VQR_DTYPE_F32, kT, kN, 0);
  EXPECT_EQ(vqr_hessian_add(h.get(), &t), VQR_ERR_NONFINITE);
  EXPECT_TRUE(mentions(last_error(), "column 7")) << last_error();
  EXPECT_EQ(read_hessian(h.get()), before) << "a refused batch changed H";
  EXPECT_EQ(vqr_hessian_token_count(h.get()), kT);
  // The largest column sum an fp32 accumulator takes is 1.7e38 (half of FLT_MAX): 1.3e19^2 passes,
  // a second such batch does not.
  std::vector<float> big((size_t)kN, 0.0f);
  big[2] = 1.3e19f;
  const vqr_tensor b = vqr_tensor_2d(big.data(), VQR_DTYPE_F32, 1, kN, 0);
  EXPECT_EQ(vqr_hessian_add(h.get(), &b), VQR_OK) << last_error();
  EXPECT_EQ(vqr_hessian_add(h.get(), &b), VQR_ERR_NONFINITE);
  EXPECT_TRUE(mentions(last_error(), "column 2")) << last_error();
  // bf16 holds fp32's range: the same guard applies to it.
  std::vector<uint16_t> bf((size_t)kN, 0);
  bf[9] = float_to_bf16(1e30f);
  const vqr_tensor tb = vqr_tensor_2d(bf.data(), VQR_DTYPE_BF16, 1, kN, 0);
  EXPECT_EQ(vqr_hessian_add(h.get(), &tb), VQR_ERR_NONFINITE);
  EXPECT_TRUE(mentions(last_error(), "column 9")) << last_error();
  // An fp64 accumulator holds it, and its H (2/T x^2 = 2e60/T) is what fp32 cannot represent.
  HessianPtr h64 = make_hessian(l.x, kT, kN, VQR_HESSIAN_F64);
  ASSERT_TRUE(h64);
  EXPECT_EQ(vqr_hessian_add(h64.get(), &t), VQR_OK) << last_error();
}

TEST(Overflow, AddPairRefusesAnOverflowingDifferenceAndLeavesDUnchanged) {
  const Layer l;
  HessianPtr h = make_hessian(l.x, kT, kN, VQR_HESSIAN_ASYMMETRIC);
  ASSERT_TRUE(h);
  std::vector<float> d_before((size_t)(kN * kN)), d_after((size_t)(kN * kN));
  ASSERT_EQ(vqr_hessian_read_d(h.get(), d_before.data(), 0), VQR_OK);
  const std::vector<float> h_before = read_hessian(h.get());
  std::vector<float> xq = l.x, xf = l.x;
  xf[(size_t)(5 * kN + 11)] = 2e19f;  // x_fp - x_q: (2e19)^2 = 4e38 > FLT_MAX; x_q itself is tame
  const vqr_tensor tq = vqr_tensor_2d(xq.data(), VQR_DTYPE_F32, kT, kN, 0);
  const vqr_tensor tf = vqr_tensor_2d(xf.data(), VQR_DTYPE_F32, kT, kN, 0);
  EXPECT_EQ(vqr_hessian_add_pair(h.get(), &tq, &tf), VQR_ERR_NONFINITE);
  EXPECT_TRUE(mentions(last_error(), "x_fp - x_q") && mentions(last_error(), "column 11")) << last_error();
  ASSERT_EQ(vqr_hessian_read_d(h.get(), d_after.data(), 0), VQR_OK);
  EXPECT_EQ(d_after, d_before);
  EXPECT_EQ(read_hessian(h.get()), h_before);
}

TEST(Overflow, MergeThatWouldOverflowIsRefusedWhole) {
  std::vector<float> x((size_t)kN, 0.0f);
  x[4] = 1.3e19f;  // S_44 = 1.69e38 each: two sum to 3.4e38 (finite), three to Inf
  HessianPtr a = make_hessian(x, 1, kN), b = make_hessian(x, 1, kN), c = make_hessian(x, 1, kN);
  ASSERT_TRUE(a && b && c);
  ASSERT_EQ(vqr_hessian_merge(a.get(), b.get()), VQR_OK) << last_error();
  const std::vector<float> before = read_hessian(a.get());
  EXPECT_EQ(vqr_hessian_merge(a.get(), c.get()), VQR_ERR_NONFINITE);
  EXPECT_TRUE(mentions(last_error(), "S[4][4]")) << last_error();
  EXPECT_EQ(read_hessian(a.get()), before);
  EXPECT_EQ(vqr_hessian_token_count(a.get()), 2);
}

// The serialized form of an asymmetric accumulator with D's entries replaced by `d` (finite), the
// checksum recomputed: bytes another program could write.
std::vector<uint8_t> with_huge_d(const Layer &l, float d) {
  HessianPtr h = make_hessian(l.x, kT, kN, VQR_HESSIAN_ASYMMETRIC);
  std::vector<uint8_t> b = serialize_hessian(h.get());
  const size_t d_off = kHessianHeader + (size_t)(kN * (kN + 1) / 2) * 4;
  for (int64_t i = 0; i < kN * kN; ++i) put_le<float>(b, d_off + 4 * (size_t)i, (i % 3 == 0 ? d : -d));
  put_le<uint32_t>(b, b.size() - 4, crc32(b.data(), b.size() - 4));
  return b;
}

TEST(Overflow, DeserializeNamesANonFiniteEntry) {
  const Layer l;
  std::vector<uint8_t> b = with_huge_d(l, 1.0f);
  const size_t d_off = kHessianHeader + (size_t)(kN * (kN + 1) / 2) * 4;
  put_le<float>(b, d_off + 4 * (size_t)(2 * kN + 3), INFINITY);
  put_le<uint32_t>(b, b.size() - 4, crc32(b.data(), b.size() - 4));
  vqr_hessian *out = nullptr;
  EXPECT_EQ(vqr_hessian_deserialize(b.data(), b.size(), &out), VQR_ERR_NONFINITE);
  EXPECT_TRUE(mentions(last_error(), "D[2][3]")) << last_error();
  EXPECT_EQ(out, nullptr);
}

// GPTAQ's sweep forms Phat = D U-ish products: D entries of 1e38 overflow there, and the NaN used
// to become code 0 (through an undefined cast) with VQR_OK.
TEST(Overflow, GptaqSweepOverflowFromAHugeFiniteDIsReported) {
  const Layer l;
  const std::vector<uint8_t> b = with_huge_d(l, 3e38f);
  vqr_hessian *raw = nullptr;
  ASSERT_EQ(vqr_hessian_deserialize(b.data(), b.size(), &raw), VQR_OK) << last_error();
  HessianPtr h(raw);
  for (const int sym : {0, 1}) {
    SCOPED_TRACE(sym ? "symmetric grid" : "asymmetric grid");
    ConfigPtr cfg = make_config({{VQR_PARAM_METHOD, VQR_METHOD_GPTAQ}, {VQR_PARAM_SYM, (double)sym}});
    ASSERT_TRUE(cfg);
    const vqr_tensor w = vqr_tensor_2d(l.w.data(), VQR_DTYPE_F32, kM, kN, 0);
    vqr_result *res = nullptr;
    EXPECT_EQ(vqr_quantize_layer(nullptr, cfg.get(), &w, h.get(), &res), VQR_ERR_NONFINITE);
    EXPECT_TRUE(mentions(last_error(), "row ")) << last_error();
    EXPECT_EQ(res, nullptr);
    if (res) vqr_result_free(res);
  }
}

// A symmetric statistic near FLT_MAX (finite, accepted) drives every method's losses past fp32:
// AdaRound returned VQR_OK with a NaN proxy loss.
TEST(Overflow, EveryMethodReportsAnOverflowingStatisticInsteadOfNaNLosses) {
  const Layer l;
  std::vector<float> x((size_t)(kT * kN));
  Rng rng(9);
  for (float &v : x) v = (float)(rng.normal() * 1.2e18);  // S_jj about 48 x 1.44e36 = 7e37 < 1.7e38
  HessianPtr h = make_hessian(x, kT, kN);
  ASSERT_TRUE(h);
  std::vector<float> w = l.w;
  for (float &v : w) v *= 1e20f;  // dW H dW^T ~ 1e40 x 1e36: past fp32 and the proxy's products
  const vqr_tensor t = vqr_tensor_2d(w.data(), VQR_DTYPE_F32, kM, kN, 0);
  for (const vqr_method method : {VQR_METHOD_GPTQ, VQR_METHOD_ADAROUND, VQR_METHOD_AUTOROUND, VQR_METHOD_VQROUND}) {
    SCOPED_TRACE(vqr_method_name(method));
    ConfigPtr cfg = make_config({{VQR_PARAM_METHOD, (double)method}, {VQR_PARAM_STEPS, 20}, {VQR_PARAM_CODEBOOK_SIZE, 4}});
    ASSERT_TRUE(cfg);
    vqr_result *res = nullptr;
    const vqr_status st = vqr_quantize_layer(nullptr, cfg.get(), &t, h.get(), &res);
    if (st == VQR_OK) {
      vqr_report rep{};
      rep.struct_size = sizeof rep;
      ASSERT_EQ(vqr_result_report(res, &rep), VQR_OK);
      EXPECT_TRUE(std::isfinite(rep.proxy_loss)) << "VQR_OK with proxy_loss " << rep.proxy_loss;
      vqr_result_free(res);
    } else {
      std::printf("%s: %s: %s\n", vqr_method_name(method), status_text(st).c_str(), last_error().c_str());
      EXPECT_TRUE(st == VQR_ERR_NONFINITE || st == VQR_ERR_NUMERICAL) << status_text(st) << ": " << last_error();
      EXPECT_EQ(res, nullptr);
    }
  }
}

}  // namespace
