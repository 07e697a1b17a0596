// A textbook OPT forward in double precision (plain loops over the model's float values, widened)
// and random OPT models, for the OPT forward, backward, loading and pipeline tests. The forward
// follows transformers' modeling_opt as a reader would write it from the paper: token embedding,
// project_in, position row t + 2, pre-LN or post-LN blocks (LayerNorm with bias, q/k/v/out
// projections with biases, causal softmax(q k^T / sqrt(head size)) v, fc2(relu(fc1 x))), final
// LayerNorm, project_out, classifier.
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "model/model.h"
#include "random_model.h"
#include "reference_linear.h"

namespace vqr_test {

using OptVec = std::vector<double>;

// A small OPT config: pre-LN, biases, tied classifier (everything else set by the caller).
inline vqr::model::ModelConfig opt_config(int dim, int hidden, int heads, int layers, int vocab, int seq) {
  vqr::model::ModelConfig c = base_config(dim, hidden, heads, heads, vocab, seq);
  c.n_layers = layers;
  c.architecture = "OPTForCausalLM";
  c.family = vqr::model::BlockFamily::kOpt;
  c.linear_bias = true;
  c.pre_norm = true;
  c.final_norm = true;
  return c;
}

// fill_random plus OPT's tensors: LayerNorm biases and linear biases N(0, 0.1^2), positions and
// projections N(0, 1/width).
inline void fill_random_opt(vqr::model::Model &m, uint32_t seed) {
  using vqr::model::TensorId;
  fill_random(m, seed);
  const vqr::model::ModelConfig &c = m.config();
  std::mt19937 rng(seed + 1000);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::uniform_real_distribution<float> ud(-0.1f, 0.1f);
  auto normal = [&](TensorId id, float scale) {
    for (int64_t i = 0; i < m.tensor_floats(id); ++i) m.tensor(id)[i] = scale * nd(rng);
  };
  for (TensorId id : {TensorId::kNormAttBias, TensorId::kNormFfnBias, TensorId::kNormFinalBias, TensorId::kBo,
                      TensorId::kB1, TensorId::kB2})
    normal(id, 0.1f);
  normal(TensorId::kPositions, 1.0f / std::sqrt((float)c.dim));
  normal(TensorId::kProjectIn, 1.0f / std::sqrt((float)c.embed_width()));
  normal(TensorId::kProjectOut, 1.0f / std::sqrt((float)c.dim));
  if (c.embed_dim > 0) normal(TensorId::kTokenEmbedding, 1.0f);  // project_in keeps its output O(1)
}

inline OptVec opt_widen(const float *p, int64_t n) { return p ? OptVec(p, p + n) : OptVec(); }

// One block's parameters in double.
struct OptBlock {
  OptVec w[7], b[7];  // by LinearKind (w3 empty)
  OptVec g1, b1, g2, b2;
};

inline OptBlock opt_block_of(const vqr::model::Model &m, int l) {
  const vqr::model::ModelConfig &c = m.config();
  OptBlock p;
  for (vqr::model::LinearKind k : c.linear_kinds()) {
    const auto lw = m.linear(l, k);
    p.w[(int)k] = opt_widen(lw.data, lw.rows * lw.cols);
    p.b[(int)k] = opt_widen(m.bias(l, k), lw.rows);
  }
  p.g1 = opt_widen(m.rms_att(l), c.dim);
  p.b1 = opt_widen(m.norm_bias_att(l), c.dim);
  p.g2 = opt_widen(m.rms_ffn(l), c.dim);
  p.b2 = opt_widen(m.norm_bias_ffn(l), c.dim);
  return p;
}

// LayerNorm of each row of x (T x C).
inline OptVec opt_layernorm(const OptVec &x, const OptVec &g, const OptVec &b, int64_t T, int64_t C, double eps) {
  OptVec y(x.size());
  for (int64_t t = 0; t < T; ++t) {
    double mean = 0, var = 0;
    for (int64_t j = 0; j < C; ++j) mean += x[(size_t)(t * C + j)];
    mean /= (double)C;
    for (int64_t j = 0; j < C; ++j) var += (x[(size_t)(t * C + j)] - mean) * (x[(size_t)(t * C + j)] - mean);
    const double r = 1.0 / std::sqrt(var / (double)C + eps);
    for (int64_t j = 0; j < C; ++j)
      y[(size_t)(t * C + j)] = (x[(size_t)(t * C + j)] - mean) * r * g[(size_t)j] + b[(size_t)j];
  }
  return y;
}

// One OPT block on x (T x dim, one sequence).
inline OptVec opt_block_forward(const vqr::model::ModelConfig &c, const OptBlock &p, const OptVec &x, int64_t T) {
  const int64_t C = c.dim, H = c.hidden_dim, NH = c.n_heads, HS = c.head_size();
  const double eps = c.norm_eps;
  using K = vqr::model::LinearKind;
  const OptVec a = c.pre_norm ? opt_layernorm(x, p.g1, p.b1, T, C, eps) : x;
  const OptVec q = reference_linear(a, p.w[(int)K::kWq], p.b[(int)K::kWq], T, C, C);
  const OptVec k = reference_linear(a, p.w[(int)K::kWk], p.b[(int)K::kWk], T, C, C);
  const OptVec v = reference_linear(a, p.w[(int)K::kWv], p.b[(int)K::kWv], T, C, C);
  OptVec o((size_t)(T * C), 0.0);
  for (int64_t h = 0; h < NH; ++h)
    for (int64_t t = 0; t < T; ++t) {
      OptVec s((size_t)(t + 1));
      double mx = -1e300, sum = 0;
      for (int64_t u = 0; u <= t; ++u) {
        double d = 0;
        for (int64_t j = 0; j < HS; ++j) d += q[(size_t)(t * C + h * HS + j)] * k[(size_t)(u * C + h * HS + j)];
        s[(size_t)u] = d / std::sqrt((double)HS);
        mx = std::max(mx, s[(size_t)u]);
      }
      for (double &e : s) sum += (e = std::exp(e - mx));
      for (int64_t u = 0; u <= t; ++u)
        for (int64_t j = 0; j < HS; ++j) o[(size_t)(t * C + h * HS + j)] += s[(size_t)u] / sum * v[(size_t)(u * C + h * HS + j)];
    }
  OptVec r = reference_linear(o, p.w[(int)K::kWo], p.b[(int)K::kWo], T, C, C);
  for (size_t i = 0; i < r.size(); ++i) r[i] += x[i];
  if (!c.pre_norm) r = opt_layernorm(r, p.g1, p.b1, T, C, eps);
  const OptVec f = c.pre_norm ? opt_layernorm(r, p.g2, p.b2, T, C, eps) : r;
  OptVec hid = reference_linear(f, p.w[(int)K::kW1], p.b[(int)K::kW1], T, C, H);
  for (double &e : hid) e = e > 0 ? e : 0;
  OptVec y = reference_linear(hid, p.w[(int)K::kW2], p.b[(int)K::kW2], T, H, C);
  for (size_t i = 0; i < y.size(); ++i) y[i] += r[i];
  if (!c.pre_norm) y = opt_layernorm(y, p.g2, p.b2, T, C, eps);
  return y;
}

// Logits (T x vocab) of one sequence; `blocks` (when not NULL) replaces the model's block weights.
inline OptVec opt_logits(const vqr::model::Model &m, const std::vector<int32_t> &tokens,
                         const std::vector<OptBlock> *blocks = nullptr) {
  const vqr::model::ModelConfig &c = m.config();
  const int64_t T = (int64_t)tokens.size(), C = c.dim, E = c.embed_width(), V = c.vocab_size;
  OptVec e((size_t)(T * E));
  std::vector<float> row((size_t)E);
  for (int64_t t = 0; t < T; ++t) {
    m.read_embedding_rows(tokens[(size_t)t], tokens[(size_t)t] + 1, row.data());
    for (int64_t j = 0; j < E; ++j) e[(size_t)(t * E + j)] = row[(size_t)j];
  }
  OptVec x = c.embed_dim > 0 ? reference_linear(e, opt_widen(m.project_in(), C * E), {}, T, E, C) : e;
  for (int64_t t = 0; t < T; ++t)
    for (int64_t j = 0; j < C; ++j) x[(size_t)(t * C + j)] += m.positions()[(t + 2) * C + j];
  for (int l = 0; l < c.n_layers; ++l)
    x = opt_block_forward(c, blocks ? (*blocks)[(size_t)l] : opt_block_of(m, l), x, T);
  if (c.final_norm) x = opt_layernorm(x, opt_widen(m.rms_final(), C), opt_widen(m.norm_bias_final(), C), T, C, c.norm_eps);
  if (c.embed_dim > 0) x = reference_linear(x, opt_widen(m.project_out(), C * E), {}, T, C, E);
  std::vector<float> cls((size_t)(V * E));
  m.read_classifier_rows(0, V, cls.data());
  return reference_linear(x, OptVec(cls.begin(), cls.end()), {}, T, E, V);
}

}  // namespace vqr_test
