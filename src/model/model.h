// The weights of a LLaMA-architecture decoder (RMSNorm, RoPE, GQA attention, SwiGLU FFN) held in
// one arena: a table of tensor sizes computed from the config, one allocation, pointers into it.
// Loaders (llama2c_format.h) fill the arena; the forward pass (forward.h) reads it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "model/linear_kinds.h"

namespace vqr::model {

// Which coordinates RoPE rotates together inside a head of size HS: llama2.c (and Meta's original
// checkpoints) pair (2j, 2j+1); Hugging Face checkpoints pair (j, j + HS/2) ("rotate_half"). Both
// use frequency theta^(-2j/HS) for pair j; the layouts differ by a fixed row permutation of Wq/Wk.
enum class RopeLayout : int { kInterleaved = 0, kHalf = 1 };

// RoPE frequency scaling from a Hugging Face config's "rope_scaling" (transformers'
// _compute_linear_scaling_rope_parameters / _compute_llama3_parameters).
enum class RopeScaling : int { kNone = 0, kLinear = 1, kLlama3 = 2 };

struct ModelConfig {
  int dim = 0;         // residual width
  int hidden_dim = 0;  // FFN width
  int n_layers = 0;
  int n_heads = 0;     // query heads
  int n_kv_heads = 0;  // key/value heads (GQA: n_heads is a multiple of it)
  int vocab_size = 0;  // always positive here; llama2.c's sign is turned into shared_classifier
  int seq_len = 0;     // longest context the model was trained for
  bool shared_classifier = true;  // classifier == token embedding
  float norm_eps = 1e-5f;         // RMSNorm epsilon (run.c's constant)
  float rope_theta = 10000.0f;    // RoPE base (run.c's constant)

  // The Hugging Face class of the source ("Qwen2ForCausalLM"); empty for llama2.c files.
  std::string architecture;
  // Architecture variants (defaults = llama2.c). head_dim 0 means dim / n_heads (Qwen3 sets it).
  int head_dim = 0;
  RopeLayout rope_layout = RopeLayout::kInterleaved;
  RopeScaling rope_scaling = RopeScaling::kNone;
  float rope_factor = 1.0f;             // linear and llama3: inv_freq / factor (llama3: long wavelengths)
  float rope_low_freq_factor = 1.0f;    // llama3 only
  float rope_high_freq_factor = 4.0f;   // llama3 only
  int rope_original_context = 8192;     // llama3 only: original_max_position_embeddings
  bool qkv_bias = false;                // Qwen2: biases on wq, wk, wv
  bool qk_norm = false;                 // Qwen3: RMSNorm over each head of q and k, before RoPE
  int sliding_window = 0;               // Mistral: position t sees t - window + 1 .. t; 0 = all

  int head_size() const { return head_dim > 0 ? head_dim : dim / n_heads; }
  int q_dim() const { return head_size() * n_heads; }
  int kv_dim() const { return head_size() * n_kv_heads; }
  // Width of the activation a LinearInput carries (and in_features of the layers reading it).
  int input_width(LinearInput input) const {
    return input == LinearInput::kFfnHidden ? hidden_dim : input == LinearInput::kAttnOut ? q_dim() : dim;
  }
  // out_features of a linear kind (its in_features are input_width(input_of(kind))).
  int linear_rows(LinearKind kind) const;
};

// Validates a config as Model's constructor does (positive sizes, dim divisible by n_heads,
// n_heads by n_kv_heads, even head size, q_dim() and kv_dim() within int, every tensor size and
// their sum within int64 bytes), without allocating: loaders call it before they compare the
// config's tensor shapes with a file's index. Throws vqr::Error(Status::InvalidArgument).
void check_model_config(const ModelConfig &config);

// A linear layer's weight y = W x: rows = out_features (m), cols = in_features (n), row-major.
struct LinearWeight {
  const float *data = nullptr;
  int64_t rows = 0;
  int64_t cols = 0;
};

// The tensors in llama2.c file order; each entry stacks all layers (layer l at l * per_layer).
enum class TensorId : int {
  kTokenEmbedding = 0,  // vocab x dim
  kRmsAtt,              // n_layers x dim
  kWq,                  // n_layers x (q_dim x dim)
  kWk,                  // n_layers x (kv_dim x dim)
  kWv,                  // n_layers x (kv_dim x dim)
  kWo,                  // n_layers x (dim x q_dim)
  kRmsFfn,              // n_layers x dim
  kW1,                  // n_layers x (hidden x dim)
  kW2,                  // n_layers x (dim x hidden)
  kW3,                  // n_layers x (hidden x dim)
  kRmsFinal,            // dim
  kClassifier,          // vocab x dim; 0 floats when shared with the embedding
  // Not in llama2.c files; 0 floats unless the config enables them.
  kBq,                  // n_layers x q_dim (qkv_bias)
  kBk,                  // n_layers x kv_dim (qkv_bias)
  kBv,                  // n_layers x kv_dim (qkv_bias)
  kQNorm,               // n_layers x head_size (qk_norm)
  kKNorm,               // n_layers x head_size (qk_norm)
};
inline constexpr int kLlama2cTensorCount = 12;  // kTokenEmbedding .. kClassifier
inline constexpr int kTensorCount = 17;

class Model {
 public:
  // Validates the config (check_model_config) and allocates the zero-filled arena. Throws
  // vqr::Error(Status::InvalidArgument) on a bad config, Status::OutOfMemory when the allocation
  // fails.
  explicit Model(const ModelConfig &config);

  const ModelConfig &config() const { return config_; }

  // A deep copy (the arena duplicated): e.g. the original weights kept beside a quantized copy.
  Model clone() const;

  // Number of floats of a stacked tensor (the size table) and its storage.
  int64_t tensor_floats(TensorId id) const { return sizes_[static_cast<int>(id)]; }
  float *tensor(TensorId id) { return ptrs_[static_cast<int>(id)]; }
  const float *tensor(TensorId id) const { return ptrs_[static_cast<int>(id)]; }
  int64_t total_floats() const { return total_floats_; }

  // Per-layer views. layer must be in [0, n_layers); throws Status::InvalidArgument otherwise.
  const float *rms_att(int layer) const;  // dim
  const float *rms_ffn(int layer) const;  // dim
  const float *rms_final() const { return tensor(TensorId::kRmsFinal); }
  const float *token_embedding() const { return tensor(TensorId::kTokenEmbedding); }
  const float *classifier() const;        // vocab x dim (the embedding when shared)
  // Optional per-layer tensors; NULL when the config does not have them.
  const float *bias(int layer, LinearKind kind) const;  // wq, wk, wv only (qkv_bias); NULL for others
  const float *q_norm(int layer) const;                 // head_size (qk_norm)
  const float *k_norm(int layer) const;                 // head_size (qk_norm)

  // out_features x in_features of a linear kind (the same for every layer).
  int64_t linear_rows(LinearKind kind) const;
  int64_t linear_cols(LinearKind kind) const;
  LinearWeight linear(int layer, LinearKind kind) const;
  // Writable storage of the same weight, so a pipeline can swap in dequantized weights.
  float *linear_data(int layer, LinearKind kind);

  // "blk.<layer>.<wq|wk|...>", the name used in messages and reports.
  static std::string linear_name(int layer, LinearKind kind);

 private:
  void check_layer(int layer) const;

  ModelConfig config_;
  int64_t sizes_[kTensorCount] = {};
  float *ptrs_[kTensorCount] = {};
  int64_t total_floats_ = 0;
  std::unique_ptr<float[]> arena_;
};

}  // namespace vqr::model
