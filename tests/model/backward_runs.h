// The library's backward passes run once and their gradients kept, shared by the gradient tests
// (LLaMA in test_block_backward.cpp, OPT in test_opt_model.cpp): one BlockBackward::run on random
// input, and one ModelBackward::run under the next-token NLL.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <vector>

#include "model/block_backward.h"
#include "model/model.h"
#include "model/model_backward.h"

namespace vqr_test {

struct BlockBackwardRun {
  std::vector<float> x, dy, dx;  // T x dim: the input, the output gradient, dL/dx
  std::vector<float> dw[7];      // by LinearKind: dL/dW (rows x cols of that linear), empty if not delivered
  std::vector<int> order;        // the LinearKinds in the order run() delivered them
};

// Draws x then dy (T x dim) from N(0, 1) with mt19937(seed), runs bb (built on m) on `layer`, and
// checks each delivered gradient's shape against the model's linear.
inline BlockBackwardRun run_random_block(vqr::model::BlockBackward &bb, const vqr::model::Model &m, int layer,
                                         int64_t T, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  BlockBackwardRun r;
  r.x.resize((size_t)(T * m.config().dim));
  r.dy.resize(r.x.size());
  r.dx.resize(r.x.size());
  for (float &v : r.x) v = nd(rng);
  for (float &v : r.dy) v = nd(rng);
  bb.run(layer, r.x.data(), T, r.dy.data(), r.dx.data(),
         [&](vqr::model::LinearKind k, const float *g, int64_t rows, int64_t cols) {
           EXPECT_EQ(rows, m.linear_rows(k));
           EXPECT_EQ(cols, m.linear_cols(k));
           r.dw[(int)k].assign(g, g + rows * cols);
           r.order.push_back((int)k);
         });
  return r;
}

struct ModelNllBackward {
  double nll;                          // the library's loss
  std::vector<std::vector<float>> dw;  // dL/dW of each linear, at layer * 7 + LinearKind
};

// One ModelBackward (2 threads) run of m on `tokens` under nll_loss_and_gradient.
inline ModelNllBackward run_model_nll(const vqr::model::Model &m, const std::vector<int32_t> &tokens) {
  const int64_t T = (int64_t)tokens.size();
  ModelNllBackward r{0.0, std::vector<std::vector<float>>((size_t)(m.config().n_layers * 7))};
  vqr::model::ModelBackward mb(m, T, 2);
  r.nll = mb.run(
      tokens.data(), T,
      [&](const float *z, int64_t n, int64_t V, float *dz) {
        return vqr::model::nll_loss_and_gradient(z, tokens.data(), n, V, dz);
      },
      [&](int l, vqr::model::LinearKind k, const float *g, int64_t rows, int64_t cols) {
        r.dw[(size_t)(l * 7 + (int)k)].assign(g, g + rows * cols);
      });
  return r;
}

}  // namespace vqr_test
