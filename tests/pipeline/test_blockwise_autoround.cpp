// Block-wise AutoRound (pipeline/blockwise_autoround.h) on a small random model: zero steps give
// each layer AutoRound's own round-to-nearest start, bit for bit; training lowers the block-output
// MSE from that start on the full batch (the best step is kept, so it never ends above it) and the
// hard result reports the kept step's loss; mini-batches cycle through the sequences; arguments are
// checked.
#include <gtest/gtest.h>

#include <cstdio>
#include <random>
#include <vector>

#include "core/error.h"
#include "learn/ste_rounding.h"
#include "model/model.h"
#include "model/random_model.h"
#include "pipeline/blockwise_autoround.h"
#include "quant/config.h"

namespace {

using vqr::model::LinearKind;
using vqr::model::Model;
using vqr::model::ModelConfig;

struct BlockData {
  Model model;
  std::vector<std::vector<float>> x;
  vqr::pipeline::BlockCalibration data;
  explicit BlockData(const ModelConfig &c) : model(c) {
    vqr_test::fill_random(model, 21);
    std::mt19937 rng(22);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    for (int s = 0; s < 4; ++s) {
      x.emplace_back((size_t)(10 * c.dim));
      for (float &v : x.back()) v = nd(rng);
    }
    for (const auto &v : x) {
      data.x_q.push_back(v.data());
      data.x_fp.push_back(v.data());
      data.tokens.push_back(10);
    }
  }
};

ModelConfig small_config() {
  ModelConfig c;
  c.dim = 32, c.hidden_dim = 48, c.n_layers = 2, c.n_heads = 4, c.n_kv_heads = 2, c.vocab_size = 17, c.seq_len = 16;
  return c;
}

vqr::quant::QuantConfig autoround(int64_t steps) {
  vqr::quant::QuantConfig q;
  q.method = vqr::quant::Method::AutoRound;
  q.bits = 3;
  q.group_size = 16;
  q.steps = steps;
  return vqr::quant::resolve_presets(q);
}

TEST(BlockwiseAutoRound, ZeroStepsIsAutoRoundsStart) {
  BlockData s(small_config());
  const auto q = autoround(0);
  const auto out = vqr::pipeline::blockwise_autoround(nullptr, q, s.model, 1, s.data, 4, 1);
  ASSERT_EQ(out.layers.size(), 7u);
  for (LinearKind kind : vqr::model::kAllLinearKinds) {
    const auto w = s.model.linear(1, kind);
    vqr::quant::QuantizedLayer want(w.rows, w.cols, q.group_size, q.bits);
    vqr::learn::make_autoround<float>(w.data, w.rows, w.cols, q, 1)->harden(want);
    const auto &got = out.layers[(size_t)static_cast<int>(kind)];
    EXPECT_EQ(got.codes, want.codes) << static_cast<int>(kind);
    EXPECT_EQ(got.scales, want.scales) << static_cast<int>(kind);
  }
  EXPECT_EQ(out.init_mse, out.final_mse);
  EXPECT_GT(out.init_mse, 0.0);
}

TEST(BlockwiseAutoRound, TrainingLowersTheBlockError) {
  BlockData s(small_config());
  const auto out = vqr::pipeline::blockwise_autoround(nullptr, autoround(60), s.model, 0, s.data, 4, 2);
  std::printf("block MSE: start %.6g, after 60 steps %.6g (best step %lld)\n", out.init_mse, out.final_mse,
              (long long)out.best_step);
  ASSERT_EQ(out.loss.size(), 60u);
  // Full batch: step 0's loss is the start's, and the kept step's loss is the final hard one.
  EXPECT_NEAR(out.loss[0], out.init_mse, 1e-6 * out.init_mse);
  EXPECT_LT(out.final_mse, 0.9 * out.init_mse) << "60 SignSGD steps should cut the block error";
  EXPECT_NEAR(out.final_mse, out.loss[(size_t)out.best_step], 1e-6 * out.final_mse);
  // Mini-batches of one sequence cycle through the four.
  const auto mini = vqr::pipeline::blockwise_autoround(nullptr, autoround(8), s.model, 0, s.data, 1, 2);
  ASSERT_EQ(mini.loss.size(), 8u);
  EXPECT_NE(mini.loss[0], mini.loss[1]);
}

TEST(BlockwiseAutoRound, RejectsBadArguments) {
  BlockData s(small_config());
  auto status = [](auto &&fn) {
    try {
      fn();
    } catch (const vqr::Error &e) {
      return e.status();
    }
    return vqr::Status::Ok;
  };
  auto gptq = autoround(1);
  gptq.method = vqr::quant::Method::Gptq;
  EXPECT_EQ(status([&] { vqr::pipeline::blockwise_autoround(nullptr, gptq, s.model, 0, s.data, 1, 1); }),
            vqr::Status::Unsupported);
  EXPECT_EQ(status([&] { vqr::pipeline::blockwise_autoround(nullptr, autoround(1), s.model, 2, s.data, 1, 1); }),
            vqr::Status::InvalidArgument);
  EXPECT_EQ(status([&] { vqr::pipeline::blockwise_autoround(nullptr, autoround(1), s.model, 0, s.data, 0, 1); }),
            vqr::Status::InvalidArgument);
  auto longer = s.data;
  longer.tokens[0] = 17;
  EXPECT_EQ(status([&] { vqr::pipeline::blockwise_autoround(nullptr, autoround(1), s.model, 0, longer, 1, 1); }),
            vqr::Status::InvalidArgument);
}

}  // namespace
