// GPTQ against RTN on the real linear layers of the shared llama2.c models: the Hessian of every
// layer comes from the fp32 model's own activations on real text (src/model), the quantization
// from the public C API. On real layers GPTQ's proxy loss tr(dW H dW^T) must be below RTN's on
// the same grid, layer by layer, and its report must agree with a direct double-precision
// evaluation of the loss.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "model/data_dir.h"
#include "model/forward.h"
#include "model/llama2c_format.h"
#include "model/text_corpus.h"
#include "model/tokenizer.h"
#include "vqround/vqround.h"

namespace {

using vqr::model::LinearInput;
using vqr::model::LinearKind;

struct HessianDeleter {
  void operator()(vqr_hessian *h) const { vqr_hessian_free(h); }
};
using HessianPtr = std::unique_ptr<vqr_hessian, HessianDeleter>;

// One Hessian per (layer, distinct linear input), from `tokens` calibration tokens of `text`.
struct Calibrated {
  vqr::model::Model model;
  std::map<std::pair<int, int>, HessianPtr> hessians;
};

Calibrated calibrate(const std::string &model_path, const std::string &tok_path, const std::string &text_path,
                     int64_t tokens, int64_t window) {
  Calibrated c{vqr::model::load_llama2c(model_path), {}};
  const auto tok = vqr::model::Tokenizer::load(tok_path, c.model.config().vocab_size);
  const auto paragraphs = vqr::model::split_paragraphs(vqr::model::read_text_file(text_path));
  const auto windows = vqr::model::calibration_windows(tok, paragraphs, tokens, window);
  vqr::model::Forward fwd(c.model, window);
  for (const auto &w : windows)
    fwd.run(w.data(), (int64_t)w.size(), nullptr,
            [&](int layer, LinearInput input, const float *x, int64_t t, int64_t width) {
              auto &h = c.hessians[{layer, (int)input}];
              if (!h) {
                vqr_hessian *raw = nullptr;
                ASSERT_EQ(vqr_hessian_create(width, 0, &raw), VQR_OK) << vqr_last_error();
                h.reset(raw);
              }
              const vqr_tensor view = vqr_tensor_2d(x, VQR_DTYPE_F32, t, width, 0);
              ASSERT_EQ(vqr_hessian_add(h.get(), &view), VQR_OK) << vqr_last_error();
            });
  return c;
}

struct Setting {
  int bits;
  int group_size;
  int act_order;
};

// tr(dW H dW^T) in double, from the dequantized weights and vqr_hessian_read.
double direct_proxy_loss(const vqr_result *r, const vqr::model::LinearWeight &w, const vqr_hessian *h) {
  const int64_t m = w.rows, n = w.cols;
  std::vector<float> deq((size_t)(m * n)), H((size_t)(n * n));
  EXPECT_EQ(vqr_result_dequantize(r, VQR_DTYPE_F32, deq.data(), 0), VQR_OK);
  EXPECT_EQ(vqr_hessian_read(h, H.data(), 0), VQR_OK);
  double total = 0;
  std::vector<double> d((size_t)n);
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) d[(size_t)j] = (double)deq[(size_t)(i * n + j)] - w.data[i * n + j];
    for (int64_t a = 0; a < n; ++a) {
      double s = 0;
      for (int64_t b = 0; b < n; ++b) s += (double)H[(size_t)(a * n + b)] * d[(size_t)b];
      total += d[(size_t)a] * s;
    }
  }
  return total;
}

void check_all_layers(const Calibrated &c, const std::vector<Setting> &settings, bool check_direct) {
  vqr_config *cfg = nullptr;
  ASSERT_EQ(vqr_config_create(&cfg), VQR_OK);
  ASSERT_EQ(vqr_config_set_int(cfg, VQR_PARAM_METHOD, VQR_METHOD_GPTQ), VQR_OK);
  ASSERT_EQ(vqr_config_set_int(cfg, VQR_PARAM_REPORT_LOSS, VQR_REPORT_PROXY_AND_RTN), VQR_OK);  // rtn_proxy_loss
  ASSERT_EQ(vqr_config_set_int(cfg, VQR_PARAM_ALLOW_PARTIAL_GROUP, 1), VQR_OK);
  double sum_gptq = 0, sum_rtn = 0;
  for (const Setting &s : settings) {
    ASSERT_EQ(vqr_config_set_int(cfg, VQR_PARAM_BITS, s.bits), VQR_OK);
    ASSERT_EQ(vqr_config_set_int(cfg, VQR_PARAM_GROUP_SIZE, s.group_size), VQR_OK);
    ASSERT_EQ(vqr_config_set_int(cfg, VQR_PARAM_ACT_ORDER, s.act_order), VQR_OK);
    for (int layer = 0; layer < c.model.config().n_layers; ++layer)
      for (LinearKind kind : vqr::model::kAllLinearKinds) {
        const auto w = c.model.linear(layer, kind);
        const vqr_hessian *h = c.hessians.at({layer, (int)vqr::model::input_of(kind)}).get();
        const vqr_tensor view = vqr_tensor_2d(w.data, VQR_DTYPE_F32, w.rows, w.cols, 0);
        vqr_result *r = nullptr;
        ASSERT_EQ(vqr_quantize_layer(nullptr, cfg, &view, h, &r), VQR_OK) << vqr_last_error();
        vqr_report rep;
        rep.struct_size = sizeof rep;
        ASSERT_EQ(vqr_result_report(r, &rep), VQR_OK);
        const std::string name = vqr::model::Model::linear_name(layer, kind) + " bits " + std::to_string(s.bits) +
                                 " g " + std::to_string(s.group_size) + " act " + std::to_string(s.act_order);
        EXPECT_LT(rep.proxy_loss, rep.rtn_proxy_loss) << name;
        EXPECT_GT(rep.proxy_loss, 0.0) << name;
        if (check_direct) {
          // The report goes through the fp32 Cholesky factor; 1e-4 relative covers fp32 rounding
          // of the triangular product and of H (a few ulps times sqrt(n) accumulation).
          const double direct = direct_proxy_loss(r, w, h);
          EXPECT_NEAR(rep.proxy_loss, direct, 1e-4 * direct) << name;
        }
        sum_gptq += rep.proxy_loss;
        sum_rtn += rep.rtn_proxy_loss;
        vqr_result_free(r);
      }
  }
  vqr_config_free(cfg);
  std::printf("total proxy loss: GPTQ %.6g, RTN %.6g (ratio %.3f)\n", sum_gptq, sum_rtn, sum_gptq / sum_rtn);
}

TEST(GptqRealLayers, Stories260KEveryLayerBeatsRtn) {
  VQR_DATA_DIR_OR_SKIP(data);
  const Calibrated c = calibrate(data + "/models/stories260K/stories260K.bin", data + "/models/stories260K/tok512.bin",
                                 data + "/text/tinystories/tinystories_val.txt", 8192, 256);
  // dim 64, hidden 172: per-channel everywhere; groups of 32 (w2 ends with a partial group of 12).
  check_all_layers(c, {{4, -1, 0}, {3, -1, 0}, {2, -1, 0}, {4, -1, 1}, {3, 32, 0}, {3, 32, 1}, {4, 32, 1}},
                   /*check_direct=*/true);
}

TEST(GptqRealLayers, Gutenberg4MGroup128BeatsRtn) {
  VQR_DATA_DIR_OR_SKIP(data);
  const Calibrated c = calibrate(data + "/models/gutenberg4M/gutenberg4M.bin", data + "/models/gutenberg4M/tok4096.bin",
                                 data + "/text/gutenberg/gutenberg_calib.txt", 4096, 256);
  // dim 256, hidden 768: the LLaMA-style g = 128 setting, with and without act-order.
  check_all_layers(c, {{4, 128, 0}, {3, 128, 1}}, /*check_direct=*/false);
}

}  // namespace
