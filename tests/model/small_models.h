// Small random LLaMA-family models for the format and writer tests: the shapes (dim 64, FFN 96,
// 2 layers, GQA 4/2 heads, synthetic_files.h's 275-piece vocabulary, an untied classifier) and
// weights N(0, 0.125^2) with norm gains 1 + N(0, 0.1^2).
#pragma once

#include <cstdint>
#include <random>
#include <string>

#include "model/model.h"

namespace vqr_test {

// llama2.c's conventions when arch is empty; else a Hugging Face class with the half RoPE layout,
// epsilon 1e-6 and theta 10^6 (Qwen-like). Biases and q/k norms are the caller's to switch on.
inline vqr::model::ModelConfig small_config(const std::string &arch) {
  vqr::model::ModelConfig c;
  c.dim = 64;
  c.hidden_dim = 96;
  c.n_layers = 2;
  c.n_heads = 4;
  c.n_kv_heads = 2;
  c.vocab_size = 275;
  c.seq_len = 32;
  c.architecture = arch;
  c.shared_classifier = false;
  if (!arch.empty()) {
    c.rope_layout = vqr::model::RopeLayout::kHalf;
    c.norm_eps = 1e-6f;
    c.rope_theta = 1000000.0f;
  }
  return c;
}

inline vqr::model::Model random_model(const vqr::model::ModelConfig &c, uint32_t seed) {
  using vqr::model::TensorId;
  vqr::model::Model m(c);
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  for (int i = 0; i < vqr::model::kTensorCount; ++i) {
    const TensorId id = static_cast<TensorId>(i);
    const bool norm = id == TensorId::kRmsAtt || id == TensorId::kRmsFfn || id == TensorId::kRmsFinal ||
                      id == TensorId::kQNorm || id == TensorId::kKNorm;
    float *p = m.tensor(id);
    for (int64_t k = 0; k < m.tensor_floats(id); ++k) p[k] = norm ? 1.0f + 0.1f * nd(rng) : 0.125f * nd(rng);
  }
  return m;
}

}  // namespace vqr_test
