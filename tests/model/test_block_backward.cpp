// The decoder block's backward pass (model/block_backward.h) and the whole model's
// (model/model_backward.h) against central finite differences of
// a double-precision block forward written here (plain loops: RMSNorm, projections with biases,
// per-head q/k norms, RoPE in either layout from the library's cos/sin table, causal GQA attention
// with a sliding window, SwiGLU; the model adds the embedding, final norm, classifier and NLL), on
// tiny random configs of every variant: dL/dx and dL/dW of all seven linears for
// L = sum(R * block(x)) with a random R, and the model's dL/dW under its next-token NLL.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "common/gradient_check.h"
#include "core/error.h"
#include "model/block_backward.h"
#include "model/model_backward.h"
#include "model/elementwise.h"
#include "model/forward.h"
#include "model/model.h"
#include "backward_runs.h"
#include "random_model.h"
#include "reference_linear.h"

namespace {

using vqr::model::BlockBackward;
using vqr::model::LinearKind;
using vqr::model::Model;
using vqr::model::ModelConfig;
using vqr::model::RopeLayout;
using vqr::model::TensorId;
using vqr_test::expect_sampled_gradient;
using vqr_test::reference_linear;
using Vec = std::vector<double>;

// The block's parameters in double (the model's float values, widened).
struct Params {
  Vec w[7];  // by LinearKind
  Vec bq, bk, bv, g_att, g_ffn, qn, kn;
};

Vec widen(const float *p, int64_t n) { return p ? Vec(p, p + n) : Vec(); }

Params params_of(const Model &m, int l) {
  const ModelConfig &c = m.config();
  Params p;
  for (LinearKind k : vqr::model::kAllLinearKinds) {
    const auto lw = m.linear(l, k);
    p.w[static_cast<int>(k)] = widen(lw.data, lw.rows * lw.cols);
  }
  if (c.qkv_bias) {
    p.bq = widen(m.bias(l, LinearKind::kWq), c.q_dim());
    p.bk = widen(m.bias(l, LinearKind::kWk), c.kv_dim());
    p.bv = widen(m.bias(l, LinearKind::kWv), c.kv_dim());
  }
  p.g_att = widen(m.rms_att(l), c.dim);
  p.g_ffn = widen(m.rms_ffn(l), c.dim);
  if (c.qk_norm) {
    p.qn = widen(m.q_norm(l), c.head_size());
    p.kn = widen(m.k_norm(l), c.head_size());
  }
  return p;
}

void rmsnorm(double *y, const double *x, const double *g, int64_t n, double eps) {
  double ss = 0;
  for (int64_t j = 0; j < n; ++j) ss += x[j] * x[j];
  const double r = 1.0 / std::sqrt(ss / (double)n + eps);
  for (int64_t j = 0; j < n; ++j) y[j] = x[j] * r * g[j];
}

// y = block(x) in double.
Vec block_forward(const ModelConfig &c, const Params &p, const Vec &x, int64_t T, const std::vector<float> &table) {
  const int64_t C = c.dim, QD = c.q_dim(), KV = c.kv_dim(), H = c.hidden_dim, NH = c.n_heads, NKV = c.n_kv_heads,
                HS = c.head_size(), half = HS / 2;
  const double eps = c.norm_eps;
  auto W = [&](LinearKind k) -> const Vec & { return p.w[static_cast<int>(k)]; };
  Vec xn((size_t)(T * C));
  for (int64_t t = 0; t < T; ++t) rmsnorm(&xn[(size_t)(t * C)], &x[(size_t)(t * C)], p.g_att.data(), C, eps);
  Vec q = reference_linear(xn, W(LinearKind::kWq), p.bq, T, C, QD),
      k = reference_linear(xn, W(LinearKind::kWk), p.bk, T, C, KV),
      v = reference_linear(xn, W(LinearKind::kWv), p.bv, T, C, KV);
  const int64_t stride = c.rope_layout == RopeLayout::kInterleaved ? 2 : 1;
  const int64_t partner = c.rope_layout == RopeLayout::kInterleaved ? 1 : half;
  for (int64_t t = 0; t < T; ++t)
    for (int64_t h = 0; h < NH + NKV; ++h) {
      double *vec = h < NH ? &q[(size_t)(t * QD + h * HS)] : &k[(size_t)(t * KV + (h - NH) * HS)];
      if (c.qk_norm) rmsnorm(vec, vec, h < NH ? p.qn.data() : p.kn.data(), HS, eps);
      for (int64_t j = 0; j < half; ++j) {
        const int64_t a = j * stride, b = a + partner;
        const double cs = table[(size_t)((t * half + j) * 2)], sn = table[(size_t)((t * half + j) * 2 + 1)];
        const double v0 = vec[a], v1 = vec[b];
        vec[a] = v0 * cs - v1 * sn;
        vec[b] = v0 * sn + v1 * cs;
      }
    }
  const double scale = std::sqrt(static_cast<float>(HS));  // the forward's float sqrt
  Vec o((size_t)(T * QD), 0.0);
  for (int64_t t = 0; t < T; ++t)
    for (int64_t h = 0; h < NH; ++h) {
      const int64_t g = h / (NH / NKV);
      const int64_t first = c.sliding_window > 0 && t >= c.sliding_window ? t - c.sliding_window + 1 : 0;
      Vec s((size_t)(t + 1));
      double mx = -INFINITY, sum = 0;
      for (int64_t u = first; u <= t; ++u) {
        double d = 0;
        for (int64_t i = 0; i < HS; ++i) d += q[(size_t)(t * QD + h * HS + i)] * k[(size_t)(u * KV + g * HS + i)];
        s[(size_t)u] = d / scale;
        mx = std::max(mx, s[(size_t)u]);
      }
      for (int64_t u = first; u <= t; ++u) sum += (s[(size_t)u] = std::exp(s[(size_t)u] - mx));
      for (int64_t u = first; u <= t; ++u)
        for (int64_t i = 0; i < HS; ++i)
          o[(size_t)(t * QD + h * HS + i)] += s[(size_t)u] / sum * v[(size_t)(u * KV + g * HS + i)];
    }
  Vec x1 = reference_linear(o, W(LinearKind::kWo), {}, T, QD, C);
  for (size_t i = 0; i < x1.size(); ++i) x1[i] += x[i];
  Vec xn2((size_t)(T * C));
  for (int64_t t = 0; t < T; ++t) rmsnorm(&xn2[(size_t)(t * C)], &x1[(size_t)(t * C)], p.g_ffn.data(), C, eps);
  Vec h1 = reference_linear(xn2, W(LinearKind::kW1), {}, T, C, H),
      h3 = reference_linear(xn2, W(LinearKind::kW3), {}, T, C, H);
  for (size_t i = 0; i < h1.size(); ++i) h1[i] = h1[i] / (1.0 + std::exp(-h1[i])) * h3[i];
  const Vec y2 = reference_linear(h1, W(LinearKind::kW2), {}, T, H, C);
  for (size_t i = 0; i < x1.size(); ++i) x1[i] += y2[i];
  return x1;
}

// L = sum(R * block(x)) in double.
double block_loss(const ModelConfig &c, const Params &p, const Vec &x, const Vec &R, int64_t T,
                  const std::vector<float> &table) {
  const Vec y = block_forward(c, p, x, T, table);
  double L = 0;
  for (size_t i = 0; i < y.size(); ++i) L += R[i] * y[i];
  return L;
}

// The summed next-token NLL of the whole model in double: embedding rows, every block, the final
// RMSNorm, the classifier, log-softmax.
double model_nll(const Model &m, std::vector<Params> &blocks, const std::vector<int32_t> &tokens,
                 const std::vector<float> &table) {
  const ModelConfig &c = m.config();
  const int64_t T = (int64_t)tokens.size(), C = c.dim, V = c.vocab_size;
  Vec x((size_t)(T * C));
  const float *emb = m.token_embedding();
  for (int64_t t = 0; t < T; ++t)
    for (int64_t j = 0; j < C; ++j) x[(size_t)(t * C + j)] = emb[tokens[(size_t)t] * C + j];
  for (int l = 0; l < c.n_layers; ++l) x = block_forward(c, blocks[(size_t)l], x, T, table);
  const Vec g = widen(m.rms_final(), C), wc = widen(m.classifier(), V * C);
  double nll = 0;
  for (int64_t t = 0; t + 1 < T; ++t) {
    Vec xn((size_t)C);
    rmsnorm(xn.data(), &x[(size_t)(t * C)], g.data(), C, c.norm_eps);
    Vec z((size_t)V);
    double mx = -INFINITY, sum = 0;
    for (int64_t v = 0; v < V; ++v) {
      double d = 0;
      for (int64_t j = 0; j < C; ++j) d += xn[(size_t)j] * wc[(size_t)(v * C + j)];
      z[(size_t)v] = d;
      mx = std::max(mx, d);
    }
    for (double d : z) sum += std::exp(d - mx);
    nll += mx + std::log(sum) - z[(size_t)tokens[(size_t)t + 1]];
  }
  return nll;
}

void check_config(const ModelConfig &c, int64_t T, uint32_t seed, const char *name) {
  std::printf("%s\n", name);
  Model m(c);
  vqr_test::fill_random(m, seed);
  const int layer = c.n_layers - 1;
  BlockBackward bb(m, T, 2);
  const vqr_test::BlockBackwardRun r = vqr_test::run_random_block(bb, m, layer, T, seed + 7);
  const std::vector<float> &x = r.x, &dy = r.dy, &dx = r.dx, *dw = r.dw;
  const std::vector<int> &order = r.order;
  EXPECT_EQ(order, (std::vector<int>{5, 4, 6, 3, 0, 1, 2})) << "w2, w1, w3, wo, wq, wk, wv";
  // Heads one at a time (the smallest score budget) give the same bits as all heads at once.
  {
    BlockBackward one_head(m, T, 2, 1);
    std::vector<float> dx1(x.size());
    std::vector<std::vector<float>> dw1(7);
    one_head.run(layer, x.data(), T, dy.data(), dx1.data(),
                 [&](LinearKind k, const float *g, int64_t r, int64_t cc) { dw1[(size_t)k].assign(g, g + r * cc); });
    EXPECT_EQ(dx1, dx);
    for (int k = 0; k < 7; ++k) EXPECT_EQ(dw1[(size_t)k], dw[k]) << k;
  }
  // forward()'s output is Forward::block's, bit for bit (the same calls), and backward() after it
  // gives run()'s dx.
  {
    std::vector<float> y(x.size()), dx2(x.size());
    bb.forward(layer, x.data(), T, y.data());
    vqr::model::Forward fwd(m, T, 2);
    std::memcpy(fwd.hidden(), x.data(), x.size() * sizeof(float));
    fwd.block(layer, T);
    EXPECT_EQ(0, std::memcmp(y.data(), fwd.hidden(), y.size() * sizeof(float))) << "forward() vs Forward::block";
    bb.backward(dy.data(), dx2.data());
    EXPECT_EQ(dx2, dx);
  }

  Params p = params_of(m, layer);
  Vec xd(x.begin(), x.end());
  const Vec R(dy.begin(), dy.end());
  const std::vector<float> table = vqr::model::rope_table(vqr::model::rope_inverse_frequencies(c), T);
  auto loss = [&] { return block_loss(c, p, xd, R, T, table); };
  expect_sampled_gradient("dx", dx, xd, 24, seed + 1, loss);
  const char *names[7] = {"wq", "wk", "wv", "wo", "w1", "w2", "w3"};
  for (int k = 0; k < 7; ++k) {
    if (T == 1 && (k == 0 || k == 1)) {  // softmax over one key is 1 whatever q and k: no gradient
      EXPECT_EQ(*std::max_element(dw[k].begin(), dw[k].end()), 0.0f) << names[k];
      EXPECT_EQ(*std::min_element(dw[k].begin(), dw[k].end()), 0.0f) << names[k];
      continue;
    }
    expect_sampled_gradient(names[k], dw[k], p.w[k], 16, seed + 10 + k, loss);
  }
}

// The whole model (model_backward.h) under the NLL: dL/dW of every linear of the first and the last
// block against central differences of model_nll, on a tied and an untied classifier.
void check_model(const ModelConfig &c, int64_t T, uint32_t seed, const char *name) {
  std::printf("%s\n", name);
  Model m(c);
  vqr_test::fill_random(m, seed);
  std::mt19937 rng(seed + 3);
  std::uniform_int_distribution<int32_t> pick(0, c.vocab_size - 1);
  std::vector<int32_t> tokens((size_t)T);
  for (int32_t &t : tokens) t = pick(rng);
  const vqr_test::ModelNllBackward r = vqr_test::run_model_nll(m, tokens);
  const double value = r.nll;
  const std::vector<std::vector<float>> &dw = r.dw;
  std::vector<Params> blocks;
  for (int l = 0; l < c.n_layers; ++l) blocks.push_back(params_of(m, l));
  const std::vector<float> table = vqr::model::rope_table(vqr::model::rope_inverse_frequencies(c), T);
  auto loss = [&] { return model_nll(m, blocks, tokens, table); };
  const double want = loss();
  std::printf("  NLL %.9f (double forward %.9f)\n", value, want);
  EXPECT_NEAR(value, want, 1e-4 * std::fabs(want));
  const char *names[7] = {"wq", "wk", "wv", "wo", "w1", "w2", "w3"};
  for (int l : {0, c.n_layers - 1})
    for (int k = 0; k < 7; ++k) {
      const std::string what = "b" + std::to_string(l) + "." + names[k];
      expect_sampled_gradient(what, dw[(size_t)(l * 7 + k)], blocks[(size_t)l].w[k], 8, seed + 20 + 7 * l + k, loss);
    }
}

ModelConfig config(int dim, int hidden, int heads, int kv_heads, int seq) {
  return vqr_test::base_config(dim, hidden, heads, kv_heads, 19, seq);
}

TEST(BlockBackward, Llama2cHalfLayout) { check_config(config(32, 48, 4, 4, 16), 13, 1, "llama2.c-like, MHA, half"); }

TEST(BlockBackward, GqaInterleavedWindowBiasQkNorm) {
  ModelConfig c = config(32, 40, 4, 2, 16);
  c.head_dim = 12;  // q_dim 48 != dim
  c.rope_layout = RopeLayout::kInterleaved;
  c.qkv_bias = true;
  c.qk_norm = true;
  c.sliding_window = 5;
  c.norm_eps = 1e-6f;
  c.rope_theta = 5e5f;
  check_config(c, 14, 2, "GQA 4/2, head_dim 12, interleaved, biases, q/k norms, window 5");
}

TEST(BlockBackward, OneTokenAndRejects) {
  const ModelConfig c = config(16, 24, 2, 1, 8);
  check_config(c, 1, 3, "one token");
  Model m(c);
  vqr_test::fill_random(m, 3);
  BlockBackward bb(m, 4, 1);
  std::vector<float> x(5 * 16, 0.5f), dy(x.size(), 1.0f), dx(x.size());
  auto status = [&](auto &&fn) {
    try {
      fn();
    } catch (const vqr::Error &e) {
      return e.status();
    }
    return vqr::Status::Ok;
  };
  EXPECT_EQ(status([&] { bb.run(0, x.data(), 5, dy.data(), dx.data()); }), vqr::Status::InvalidArgument);
  EXPECT_EQ(status([&] { bb.run(2, x.data(), 4, dy.data(), dx.data()); }), vqr::Status::InvalidArgument);
  EXPECT_EQ(status([&] { bb.run(0, x.data(), 4, dy.data(), x.data()); }), vqr::Status::InvalidArgument);
  EXPECT_EQ(status([&] { BlockBackward(m, 9, 1); }), vqr::Status::InvalidArgument);
}

TEST(ModelBackward, NllGradientsTiedAndUntied) {
  ModelConfig c = config(24, 40, 4, 2, 12);
  c.n_layers = 3;
  c.vocab_size = 23;
  check_model(c, 11, 4, "3 blocks, GQA, tied classifier");
  c.shared_classifier = false;
  c.qk_norm = true;
  c.sliding_window = 4;
  c.rope_layout = RopeLayout::kInterleaved;
  check_model(c, 11, 5, "3 blocks, untied classifier, q/k norms, window 4, interleaved");
}

}  // namespace
