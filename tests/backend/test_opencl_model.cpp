// A whole model on the OpenCL backend (issue 18 item 4): stories260K quantized with GPTQ (W4, groups
// of 32, 8 x 128 calibration tokens) and evaluated on the first 50 TinyStories paragraphs, once on
// a CPU context and once on an OpenCL one (PoCL in CI). Everything heavy that the backend runs —
// the calibration forward's matmuls and attention products, the Hessian SYRKs, the GPTQ cross-block
// GEMMs, the evaluation forward — differs from the CPU by the summation order of fp32 dot products
// only (relative error <= K u per product, K <= 768 here), which moves a mean NLL near 1.7 by about
// 1e-6; the bound is 1e-4, and it is asserted for the full-precision and quantized models.
// Then VQRound W3 layer-wise and end-to-end (the model's backward on the device), and block-wise
// AutoRound; the learned methods' trained runs end in hard rounding decisions that a rounding-level
// perturbation can flip, so those are held to what their cases derive.
// Through the public C API, as an embedding program would do it.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "model/data_dir.h"
#include "model/text_corpus.h"
#include "opencl_device.h"
#include "vqround/vqround.h"

namespace {

struct Tokens {
  std::vector<int32_t> ids;
  std::vector<int64_t> lengths;
};

// The first `count` paragraphs (model::split_paragraphs) tokenized with BOS, at most `cap` tokens
// each, those of fewer than 2 tokens skipped.
Tokens paragraphs(const vqr_model *m, const std::string &text, int count, int64_t cap) {
  Tokens t;
  for (const std::string &para : vqr::model::split_paragraphs(text)) {
    if ((int)t.lengths.size() == count) break;
    int64_t n = 0;
    vqr_model_tokenize(m, para.c_str(), 1, nullptr, 0, &n);
    std::vector<int32_t> ids((size_t)n);
    EXPECT_EQ(vqr_model_tokenize(m, para.c_str(), 1, ids.data(), n, &n), VQR_OK);
    n = std::min<int64_t>(n, cap);
    if (n < 2) continue;
    t.ids.insert(t.ids.end(), ids.begin(), ids.begin() + n);
    t.lengths.push_back(n);
  }
  return t;
}

double mean_nll(vqr_context *ctx, const vqr_model *m, const Tokens &t) {
  double sum = 0;
  int64_t predicted = 0;
  EXPECT_EQ(vqr_model_eval_nll(ctx, m, t.ids.data(), t.lengths.data(), (int64_t)t.lengths.size(), &sum, &predicted),
            VQR_OK)
      << vqr_last_error();
  return sum / (double)predicted;
}

// (param, value) pairs of one vqr_model_quantize configuration.
using Settings = std::vector<std::pair<vqr_param, int64_t>>;

// stories260K on a CPU context and an OpenCL one (1 thread each), the evaluation paragraphs and the
// calibration windows; skips (or fails under VQR_REQUIRE_OPENCL=1) without a device.
class OpenClModel : public ::testing::Test {
 protected:
  void SetUp() override {
    VQR_DATA_DIR_OR_SKIP(data);
    data_ = data;
    ASSERT_EQ(vqr_context_create(&cpu_), VQR_OK);
    ASSERT_EQ(vqr_context_create(&cl_), VQR_OK);
    vqr_context_set_threads(cpu_, 1);
    vqr_context_set_threads(cl_, 1);
    if (vqr_context_set_backend(cl_, VQR_BACKEND_OPENCL, nullptr) != VQR_OK) {
      const std::string why = vqr_last_error();
      if (vqr_test::opencl_required()) FAIL() << "VQR_REQUIRE_OPENCL=1 but: " << why;
      GTEST_SKIP() << "no OpenCL device: " << why;
    }
    dir_ = data_ + "/models/stories260K/";
    vqr_model *m = load();
    ASSERT_NE(m, nullptr);
    const std::string text = vqr::model::read_text_file(data_ + "/text/tinystories/tinystories_val.txt");
    eval_ = paragraphs(m, text, 50, 512);
    // Calibration: 8 windows of 128 tokens from paragraphs 1000 on (not evaluated).
    const Tokens pool = paragraphs(m, text, 1400, 512);
    vqr_model_free(m);
    int64_t off = 0;
    for (size_t i = 0; i < pool.lengths.size() && calib_.lengths.size() < 8; off += pool.lengths[i], ++i) {
      if (i < 1000 || pool.lengths[i] < 128) continue;
      calib_.ids.insert(calib_.ids.end(), pool.ids.begin() + off, pool.ids.begin() + off + 128);
      calib_.lengths.push_back(128);
    }
    ASSERT_EQ(calib_.lengths.size(), 8u);
    fp32_ = quantized_nll(cpu_, {});
  }
  void TearDown() override {
    vqr_context_free(cpu_);
    vqr_context_free(cl_);
  }

  vqr_model *load() const {
    vqr_model *m = nullptr;
    EXPECT_EQ(vqr_model_load((dir_ + "stories260K.bin").c_str(), (dir_ + "tok512.bin").c_str(), &m), VQR_OK);
    return m;
  }

  // The model quantized with `settings` (none: full precision) on `ctx`; NULL when it did not load.
  vqr_model *quantized(vqr_context *ctx, const Settings &settings) const {
    vqr_model *m = load();
    if (!m || settings.empty()) return m;
    vqr_config *cfg = nullptr;
    EXPECT_EQ(vqr_config_create(&cfg), VQR_OK);
    for (const auto &kv : settings) EXPECT_EQ(vqr_config_set_int(cfg, kv.first, kv.second), VQR_OK) << kv.first;
    EXPECT_EQ(vqr_model_quantize(ctx, m, cfg, calib_.ids.data(), calib_.lengths.data(), 8), VQR_OK)
        << vqr_last_error();
    vqr_config_free(cfg);
    return m;
  }

  // Its mean NLL, evaluated on `ctx` too.
  double quantized_nll(vqr_context *ctx, const Settings &settings) const {
    vqr_model *m = quantized(ctx, settings);
    if (!m) return NAN;
    const double nll = mean_nll(ctx, m, eval_);
    vqr_model_free(m);
    return nll;
  }

  // Quantizes and evaluates on both contexts; the two mean NLLs within `bound`, and (quantized)
  // above full precision.
  void expect_like_the_cpu(const char *what, const Settings &settings, double bound) {
    const double on_cpu = quantized_nll(cpu_, settings), on_cl = quantized_nll(cl_, settings);
    std::printf("%s: cpu %.8f opencl %.8f (diff %.2e)\n", what, on_cpu, on_cl, on_cl - on_cpu);
    EXPECT_NEAR(on_cl, on_cpu, bound) << what;
    if (!settings.empty()) {
      EXPECT_GT(on_cpu, fp32_ + 0.01) << what << ": the quantization did nothing";
    }
  }

  std::string data_, dir_;
  vqr_context *cpu_ = nullptr, *cl_ = nullptr;
  Tokens eval_, calib_;
  double fp32_ = 0;  // the full-precision model's mean NLL on the CPU
};

TEST_F(OpenClModel, FullPrecisionEvaluation) {
  std::printf("opencl context: %s\n", vqr_context_backend(cl_));
  expect_like_the_cpu("fp32", {}, 1e-4);
}

TEST_F(OpenClModel, Gptq) {
  expect_like_the_cpu("gptq w4 g32",
                      {{VQR_PARAM_METHOD, VQR_METHOD_GPTQ}, {VQR_PARAM_BITS, 4}, {VQR_PARAM_GROUP_SIZE, 32},
                       {VQR_PARAM_ALLOW_PARTIAL_GROUP, 1}},  // hidden_dim 172
                      1e-4);
}

// The layer objectives' GEMMs and the codebook kernels on the device too. Its start (GPTQ's
// decisions, no steps) and one step are held to the 1e-4. A trained run ends in hard
// decisions h(a) >= 1/2 of latents that a codebook shares: a latent within rounding of 1/2 flips
// every weight of its codeword component at once, and a flipped layer changes the next blocks'
// inputs, so later blocks flip more. Measured on PoCL (100 steps): the first flip in block 3 of 5
// (one component, 9 weights of w2), 219 of 226,560 weights differing in all (0.1%), the mean NLL
// 6.8e-3 apart (1% of the W3 model's gap to fp32); the same run with the activations staged per
// product happened to meet no near-tie (4e-8). Held to: at most 1% of the weights differ, and the
// NLL within 5% of the gap.
TEST_F(OpenClModel, LayerwiseVqRound) {
  const Settings vq = {{VQR_PARAM_METHOD, VQR_METHOD_VQROUND}, {VQR_PARAM_BITS, 3}};
  for (int64_t steps : {0, 1}) {
    Settings s = vq;
    s.push_back({VQR_PARAM_STEPS, steps});
    expect_like_the_cpu(steps == 0 ? "vqround w3, 0 steps" : "vqround w3, 1 step", s, 1e-4);
  }
  Settings trained = vq;
  trained.push_back({VQR_PARAM_STEPS, 100});
  vqr_model *q[2] = {quantized(cpu_, trained), quantized(cl_, trained)};
  ASSERT_TRUE(q[0] && q[1]);
  int64_t differ = 0, total = 0;
  for (int64_t j = 0; j < vqr_model_linear_count(q[0]); ++j) {
    vqr_tensor a{}, b{};
    ASSERT_EQ(vqr_model_linear(q[0], j, nullptr, &a, nullptr), VQR_OK);
    const std::vector<float> wa((const float *)a.data, (const float *)a.data + a.rows * a.cols);
    ASSERT_EQ(vqr_model_linear(q[1], j, nullptr, &b, nullptr), VQR_OK);
    for (int64_t k = 0; k < a.rows * a.cols; ++k) differ += wa[(size_t)k] != ((const float *)b.data)[k];
    total += a.rows * a.cols;
  }
  const double on_cpu = mean_nll(cpu_, q[0], eval_), on_cl = mean_nll(cl_, q[1], eval_);
  vqr_model_free(q[0]);
  vqr_model_free(q[1]);
  std::printf("vqround w3, 100 steps: %lld of %lld weights differ; cpu %.8f opencl %.8f (diff %.2e, %.2f%% of the gap)\n",
              (long long)differ, (long long)total, on_cpu, on_cl, on_cl - on_cpu,
              100 * std::fabs(on_cl - on_cpu) / (on_cpu - fp32_));
  EXPECT_LE(differ, total / 100);
  EXPECT_LE(std::fabs(on_cl - on_cpu), 0.05 * (on_cpu - fp32_));
  EXPECT_GT(on_cpu, fp32_ + 0.01);
}

// The whole model's backward (ModelBackward) on the device: end-to-end distillation, the trained
// state kept (not the best scored one, which could be the untrained start).
TEST_F(OpenClModel, EndToEndVqRound) {
  expect_like_the_cpu("e2e vqround w3",
                      {{VQR_PARAM_METHOD, VQR_METHOD_VQROUND}, {VQR_PARAM_BITS, 3}, {VQR_PARAM_E2E, 1},
                       {VQR_PARAM_STEPS, 30}, {VQR_PARAM_EVAL_EVERY, 0}, {VQR_PARAM_KEEP_BEST, 0}},
                      1e-4);
}

// Block-wise AutoRound: its start (no steps: the block forward on the device) within the same bound.
// Its training is SignSGD, whose update sign(g) is discontinuous at g = 0: an ulp of reordered sum in
// a near-zero gradient component flips that weight's step, so the two trajectories part (measured on
// PoCL: 1.2e-3 after 5 steps, 1.8e-2 after 10, 4.3e-3 after 30, either side) while the block
// backward itself agrees to 1e-4 of its magnitudes (test_backend_opencl BlockBackwardMatchesTheCpu).
// So the trained runs are held to what does not depend on the trajectory: training lowers the NLL
// from the start on either backend.
TEST_F(OpenClModel, BlockwiseAutoRound) {
  const Settings start = {{VQR_PARAM_METHOD, VQR_METHOD_AUTOROUND}, {VQR_PARAM_BITS, 3}, {VQR_PARAM_BLOCKWISE, 1},
                          {VQR_PARAM_STEPS, 0}};
  expect_like_the_cpu("blockwise autoround w3, 0 steps", start, 1e-4);
  const double at_start = quantized_nll(cpu_, start);
  Settings trained = start;
  trained.back().second = 30;
  const double on_cpu = quantized_nll(cpu_, trained), on_cl = quantized_nll(cl_, trained);
  std::printf("blockwise autoround w3, 30 steps: start %.6f, cpu %.6f, opencl %.6f\n", at_start, on_cpu, on_cl);
  EXPECT_LT(on_cpu, at_start);
  EXPECT_LT(on_cl, at_start);
}

}  // namespace
