// A random LLaMA-family model of any config for the forward and backward tests: weights scaled so
// activations and logits stay O(1).
#pragma once

#include <cmath>
#include <cstdint>
#include <random>

#include "model/model.h"

namespace vqr_test {

// Matrices and embeddings N(0, 1/in_features) so activations and logits stay O(1); norm gains
// 1 + U(-0.1, 0.1); biases N(0, 0.1^2).
inline void fill_random(vqr::model::Model &m, uint32_t seed) {
  using vqr::model::ModelConfig;
  using vqr::model::TensorId;
  const ModelConfig &c = m.config();
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::uniform_real_distribution<float> ud(-0.1f, 0.1f);
  auto normal = [&](TensorId id, float scale) {
    for (int64_t i = 0; i < m.tensor_floats(id); ++i) m.tensor(id)[i] = scale * nd(rng);
  };
  auto gain = [&](TensorId id) {
    for (int64_t i = 0; i < m.tensor_floats(id); ++i) m.tensor(id)[i] = 1.0f + ud(rng);
  };
  const float sd = 1.0f / std::sqrt(static_cast<float>(c.dim));
  normal(TensorId::kTokenEmbedding, sd);  // tied logits stay O(1): rmsnorm(x) has norm sqrt(dim)
  gain(TensorId::kRmsAtt);
  normal(TensorId::kWq, sd);
  normal(TensorId::kWk, sd);
  normal(TensorId::kWv, sd);
  normal(TensorId::kWo, 1.0f / std::sqrt(static_cast<float>(c.q_dim())));
  gain(TensorId::kRmsFfn);
  normal(TensorId::kW1, sd);
  normal(TensorId::kW2, 1.0f / std::sqrt(static_cast<float>(c.hidden_dim)));
  normal(TensorId::kW3, sd);
  gain(TensorId::kRmsFinal);
  normal(TensorId::kClassifier, sd);  // 0 floats when shared
  normal(TensorId::kBq, 0.1f);
  normal(TensorId::kBk, 0.1f);
  normal(TensorId::kBv, 0.1f);
  gain(TensorId::kQNorm);
  gain(TensorId::kKNorm);
}

// A 2-layer config of the given widths and heads (everything else at ModelConfig's defaults).
inline vqr::model::ModelConfig base_config(int dim, int hidden, int heads, int kv_heads, int vocab, int seq) {
  vqr::model::ModelConfig c;
  c.dim = dim;
  c.hidden_dim = hidden;
  c.n_layers = 2;
  c.n_heads = heads;
  c.n_kv_heads = kv_heads;
  c.vocab_size = vocab;
  c.seq_len = seq;
  return c;
}

}  // namespace vqr_test
