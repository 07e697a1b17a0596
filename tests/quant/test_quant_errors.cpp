// Bad inputs to the configuration and to vqr_quantize_layer return the documented status, a
// non-empty vqr_last_error(), and leave the output argument and the config unchanged.
#include <gtest/gtest.h>

#include <limits>

#include "common/test_util.h"

namespace {

using namespace vqrt;

vqr_result *const kSentinel = reinterpret_cast<vqr_result *>(0x10);

// Calls vqr_quantize_layer expecting `want`; checks the message and that *out is untouched.
void expect_quantize_fails(vqr_status want, const vqr_config *cfg, const vqr_tensor *w, const vqr_hessian *h,
                           const char *what) {
  SCOPED_TRACE(what);
  vqr_result *out = kSentinel;
  const vqr_status st = vqr_quantize_layer(nullptr, cfg, w, h, &out);
  EXPECT_EQ(st, want) << "got " << status_text(st);
  EXPECT_STRNE(vqr_last_error(), "") << "no message for a failing call";
  EXPECT_EQ(out, kSentinel) << "*out changed on failure";
  if (out != kSentinel) vqr_result_free(out);
}

TEST(QuantErrors, ConfigSetterRanges) {
  auto cfg = make_config({});
  ASSERT_TRUE(cfg);
  struct Bad {
    vqr_param p;
    int64_t v;
  };
  const Bad bad_ints[] = {{VQR_PARAM_BITS, 1},        {VQR_PARAM_BITS, 9},         {VQR_PARAM_BITS, 0},
                          {VQR_PARAM_GROUP_SIZE, 0},  {VQR_PARAM_GROUP_SIZE, -2},  {VQR_PARAM_GROUP_SIZE, (1ll << 30) + 1},
                          {VQR_PARAM_SYM, 2},         {VQR_PARAM_GRID, 3},         {VQR_PARAM_METHOD, -1},
                          {VQR_PARAM_BLOCK_SIZE, 0},  {VQR_PARAM_DAMP_ATTEMPTS, 0}, {VQR_PARAM_MSE_GRID, 0}};
  for (const Bad &b : bad_ints) {
    int64_t before = -12345;
    ASSERT_EQ(vqr_config_get_int(cfg.get(), b.p, &before), VQR_OK);
    EXPECT_EQ(vqr_config_set_int(cfg.get(), b.p, b.v), VQR_ERR_OUT_OF_RANGE) << "param " << b.p << " = " << b.v;
    EXPECT_STRNE(vqr_last_error(), "");
    int64_t after = -54321;
    ASSERT_EQ(vqr_config_get_int(cfg.get(), b.p, &after), VQR_OK);
    EXPECT_EQ(after, before) << "config changed by a failed set of param " << b.p;
  }
  int64_t bits = 0;
  ASSERT_EQ(vqr_config_get_int(cfg.get(), VQR_PARAM_BITS, &bits), VQR_OK);
  EXPECT_EQ(bits, 4);
  EXPECT_EQ(vqr_config_set_float(cfg.get(), VQR_PARAM_DAMP, -0.1), VQR_ERR_OUT_OF_RANGE);
  EXPECT_EQ(vqr_config_set_float(cfg.get(), VQR_PARAM_DAMP, std::nan("")), VQR_ERR_OUT_OF_RANGE);
  EXPECT_EQ(vqr_config_set_float(cfg.get(), VQR_PARAM_MSE_NORM, 0.5), VQR_ERR_OUT_OF_RANGE);
  EXPECT_EQ(vqr_config_set_float(cfg.get(), VQR_PARAM_BITS, 4.0), VQR_ERR_INVALID_ARGUMENT) << "int param set as float";
  EXPECT_EQ(vqr_config_set_int(cfg.get(), VQR_PARAM_DAMP, 1), VQR_ERR_INVALID_ARGUMENT) << "float param set as int";
  // 150 is no parameter. (A value outside the enum's range, 0..511, is legal from C but undefined
  // behaviour to form in C++17, so that case belongs in the plain-C API tests.)
  EXPECT_EQ(vqr_config_set_int(cfg.get(), (vqr_param)150, 1), VQR_ERR_UNSUPPORTED);
  EXPECT_EQ(vqr_config_set_int(nullptr, VQR_PARAM_BITS, 4), VQR_ERR_INVALID_ARGUMENT);
  // Valid edges are accepted.
  EXPECT_EQ(vqr_config_set_int(cfg.get(), VQR_PARAM_BITS, 2), VQR_OK);
  EXPECT_EQ(vqr_config_set_int(cfg.get(), VQR_PARAM_BITS, 8), VQR_OK);
  EXPECT_EQ(vqr_config_set_int(cfg.get(), VQR_PARAM_GROUP_SIZE, -1), VQR_OK);
  EXPECT_EQ(vqr_config_set_int(cfg.get(), VQR_PARAM_GROUP_SIZE, 1), VQR_OK);
}

class QuantErrorsLayer : public ::testing::Test {
 protected:
  void SetUp() override {
    Rng rng(11);
    w_ = normal_matrix(rng, m_, n_);
    x_ = correlated_activations(rng, 64, n_, 1);
    h_ = make_hessian(x_, 64, n_);
    ASSERT_TRUE(h_);
    rtn_ = make_config({});
    gptq_ = make_config({{VQR_PARAM_METHOD, VQR_METHOD_GPTQ}});
    ASSERT_TRUE(rtn_ && gptq_);
  }
  const int64_t m_ = 6, n_ = 32;
  std::vector<float> w_, x_;
  HessianPtr h_;
  ConfigPtr rtn_, gptq_;
};

TEST_F(QuantErrorsLayer, NonFiniteWeights) {
  for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                    -std::numeric_limits<float>::infinity()}) {
    std::vector<float> w = w_;
    w[(size_t)(3 * n_ + 17)] = bad;
    vqr_tensor t = vqr_tensor_2d(w.data(), VQR_DTYPE_F32, m_, n_, 0);
    expect_quantize_fails(VQR_ERR_NONFINITE, rtn_.get(), &t, nullptr, "RTN, non-finite weight");
    expect_quantize_fails(VQR_ERR_NONFINITE, gptq_.get(), &t, h_.get(), "GPTQ, non-finite weight");
  }
  // f16 Inf / NaN too.
  std::vector<uint16_t> wh((size_t)(m_ * n_));
  for (size_t i = 0; i < wh.size(); ++i) wh[i] = float_to_half(w_[i]);
  wh[5] = 0x7C00;  // +Inf
  vqr_tensor t = vqr_tensor_2d(wh.data(), VQR_DTYPE_F16, m_, n_, 0);
  expect_quantize_fails(VQR_ERR_NONFINITE, rtn_.get(), &t, nullptr, "RTN, f16 Inf");
  wh[5] = 0x7E00;  // NaN
  expect_quantize_fails(VQR_ERR_NONFINITE, rtn_.get(), &t, nullptr, "RTN, f16 NaN");
}

TEST_F(QuantErrorsLayer, NaNInActivationsRejected) {
  std::vector<float> x = x_;
  x[(size_t)(10 * n_ + 4)] = std::nanf("");
  vqr_tensor t = vqr_tensor_2d(x.data(), VQR_DTYPE_F32, 64, n_, 0);
  EXPECT_EQ(vqr_hessian_add(h_.get(), &t), VQR_ERR_NONFINITE);
  EXPECT_STRNE(vqr_last_error(), "");
}

TEST_F(QuantErrorsLayer, ShapesStridesAndPointers) {
  vqr_tensor good = vqr_tensor_2d(w_.data(), VQR_DTYPE_F32, m_, n_, 0);
  vqr_tensor t = good;
  t.row_stride = n_ - 1;
  expect_quantize_fails(VQR_ERR_INVALID_ARGUMENT, rtn_.get(), &t, nullptr, "row_stride < cols");
  t = good;
  t.row_stride = -5;
  expect_quantize_fails(VQR_ERR_INVALID_ARGUMENT, rtn_.get(), &t, nullptr, "negative row_stride");
  t = good;
  t.rows = 0;
  expect_quantize_fails(VQR_ERR_INVALID_ARGUMENT, rtn_.get(), &t, nullptr, "rows = 0");
  t = good;
  t.cols = -3;
  expect_quantize_fails(VQR_ERR_INVALID_ARGUMENT, rtn_.get(), &t, nullptr, "negative cols");
  t = good;
  t.data = nullptr;
  expect_quantize_fails(VQR_ERR_INVALID_ARGUMENT, rtn_.get(), &t, nullptr, "data NULL");
  t = good;
  t.dtype = (vqr_dtype)3;  // no such dtype; within the enum's range (0..3), so defined in C++
  expect_quantize_fails(VQR_ERR_INVALID_ARGUMENT, rtn_.get(), &t, nullptr, "unknown dtype");
  expect_quantize_fails(VQR_ERR_INVALID_ARGUMENT, rtn_.get(), nullptr, nullptr, "w NULL");
  expect_quantize_fails(VQR_ERR_INVALID_ARGUMENT, nullptr, &good, nullptr, "config NULL");
  EXPECT_EQ(vqr_quantize_layer(nullptr, rtn_.get(), &good, nullptr, nullptr), VQR_ERR_INVALID_ARGUMENT)
      << "out NULL";
  EXPECT_STRNE(vqr_last_error(), "");
}

TEST_F(QuantErrorsLayer, GroupSizeNotDividingWidth) {
  auto cfg = make_config({{VQR_PARAM_GROUP_SIZE, 12}});  // 32 % 12 != 0
  ASSERT_TRUE(cfg);
  vqr_tensor t = vqr_tensor_2d(w_.data(), VQR_DTYPE_F32, m_, n_, 0);
  expect_quantize_fails(VQR_ERR_INVALID_ARGUMENT, cfg.get(), &t, nullptr, "RTN, group 12, n 32");
  auto gcfg = make_config({{VQR_PARAM_METHOD, VQR_METHOD_GPTQ}, {VQR_PARAM_GROUP_SIZE, 12}});
  ASSERT_TRUE(gcfg);
  expect_quantize_fails(VQR_ERR_INVALID_ARGUMENT, gcfg.get(), &t, h_.get(), "GPTQ, group 12, n 32");
  // A group larger than the row does not divide it either.
  auto big = make_config({{VQR_PARAM_GROUP_SIZE, 64}});
  ASSERT_TRUE(big);
  expect_quantize_fails(VQR_ERR_INVALID_ARGUMENT, big.get(), &t, nullptr, "RTN, group 64, n 32");
}

TEST_F(QuantErrorsLayer, HessianMismatchedOrMissing) {
  vqr_tensor t = vqr_tensor_2d(w_.data(), VQR_DTYPE_F32, m_, n_, 0);
  vqr_hessian *hw = nullptr;
  ASSERT_EQ(vqr_hessian_create(n_ + 1, 0, &hw), VQR_OK);
  HessianPtr wide(hw);
  std::vector<float> x((size_t)(8 * (n_ + 1)), 1.f);
  vqr_tensor xt = vqr_tensor_2d(x.data(), VQR_DTYPE_F32, 8, n_ + 1, 0);
  ASSERT_EQ(vqr_hessian_add(wide.get(), &xt), VQR_OK);
  expect_quantize_fails(VQR_ERR_INVALID_ARGUMENT, gptq_.get(), &t, wide.get(), "GPTQ, Hessian width n + 1");
  expect_quantize_fails(VQR_ERR_INVALID_ARGUMENT, rtn_.get(), &t, wide.get(), "RTN, Hessian width n + 1");
  expect_quantize_fails(VQR_ERR_INVALID_ARGUMENT, gptq_.get(), &t, nullptr, "GPTQ without Hessian");
  vqr_hessian *he = nullptr;
  ASSERT_EQ(vqr_hessian_create(n_, 0, &he), VQR_OK);
  HessianPtr empty(he);
  expect_quantize_fails(VQR_ERR_INVALID_ARGUMENT, gptq_.get(), &t, empty.get(), "GPTQ with an empty Hessian");
  // An empty batch (T = 0) keeps it empty.
  vqr_tensor x0 = vqr_tensor_2d(x.data(), VQR_DTYPE_F32, 0, n_, 0);
  ASSERT_EQ(vqr_hessian_add(empty.get(), &x0), VQR_OK) << vqr_last_error();
  EXPECT_EQ(vqr_hessian_token_count(empty.get()), 0);
  expect_quantize_fails(VQR_ERR_INVALID_ARGUMENT, gptq_.get(), &t, empty.get(), "GPTQ after a T = 0 batch");
}

TEST_F(QuantErrorsLayer, ResultAccessorsOnNull) {
  EXPECT_EQ(vqr_result_codes(nullptr), nullptr);
  EXPECT_EQ(vqr_result_scales(nullptr), nullptr);
  EXPECT_EQ(vqr_result_zeros(nullptr), nullptr);
  EXPECT_EQ(vqr_result_g_idx(nullptr), nullptr);
  EXPECT_EQ(vqr_result_shape(nullptr, nullptr, nullptr, nullptr, nullptr), VQR_ERR_INVALID_ARGUMENT);
  vqr_report rep;
  rep.struct_size = sizeof rep;
  EXPECT_EQ(vqr_result_report(nullptr, &rep), VQR_ERR_INVALID_ARGUMENT);
  vqr_result_free(nullptr);
  auto r = quantize(rtn_.get(), w_, m_, n_, nullptr);
  ASSERT_TRUE(r);
  std::vector<float> out((size_t)(m_ * n_));
  EXPECT_EQ(vqr_result_dequantize(r.get(), VQR_DTYPE_F32, nullptr, 0), VQR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(vqr_result_dequantize(r.get(), VQR_DTYPE_F32, out.data(), n_ - 1), VQR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(vqr_result_report(r.get(), nullptr), VQR_ERR_INVALID_ARGUMENT);
}

// f16 / bf16 dequantization is the fp32 value rounded to nearest even; a row stride is honoured.
TEST_F(QuantErrorsLayer, DequantizeDtypesAndStride) {
  auto r = quantize(rtn_.get(), w_, m_, n_, nullptr);
  ASSERT_TRUE(r);
  const ResultData d = read_result(r.get());
  const int64_t stride = n_ + 3;
  std::vector<uint16_t> h((size_t)(m_ * stride), 0xFFFF), b((size_t)(m_ * stride), 0xFFFF);
  ASSERT_EQ(vqr_result_dequantize(r.get(), VQR_DTYPE_F16, h.data(), stride), VQR_OK) << vqr_last_error();
  ASSERT_EQ(vqr_result_dequantize(r.get(), VQR_DTYPE_BF16, b.data(), stride), VQR_OK) << vqr_last_error();
  for (int64_t i = 0; i < m_; ++i)
    for (int64_t j = 0; j < stride; ++j) {
      const size_t o = (size_t)(i * stride + j);
      if (j < n_) {
        ASSERT_EQ(h[o], float_to_half(d.deq[(size_t)(i * n_ + j)])) << i << "," << j;
        ASSERT_EQ(b[o], float_to_bf16(d.deq[(size_t)(i * n_ + j)])) << i << "," << j;
      } else {
        ASSERT_EQ(h[o], 0xFFFF) << "stride padding written";
        ASSERT_EQ(b[o], 0xFFFF) << "stride padding written";
      }
    }
}

}  // namespace
