// Model arena: the size table, the single allocation, and per-layer views into it.
#include "model/model.h"

#include <cmath>
#include <cstring>

#include <new>

#include "core/error.h"

namespace vqr::model {

namespace {

TensorId linear_tensor(LinearKind kind) {
  switch (kind) {
    case LinearKind::kWq: return TensorId::kWq;
    case LinearKind::kWk: return TensorId::kWk;
    case LinearKind::kWv: return TensorId::kWv;
    case LinearKind::kWo: return TensorId::kWo;
    case LinearKind::kW1: return TensorId::kW1;
    case LinearKind::kW2: return TensorId::kW2;
    case LinearKind::kW3: return TensorId::kW3;
  }
  throw Error(Status::InvalidArgument, "unknown linear kind");
}

void check_config(const ModelConfig &c) {
  const std::string where = "model config: ";
  require(c.dim > 0 && c.hidden_dim > 0 && c.n_layers > 0 && c.n_heads > 0 && c.n_kv_heads > 0 &&
              c.vocab_size > 0 && c.seq_len > 0,
          Status::InvalidArgument, where + "every size must be positive");
  require(c.head_dim >= 0 && c.sliding_window >= 0, Status::InvalidArgument,
          where + "head_dim and sliding_window must be >= 0");
  require(c.head_dim > 0 || c.dim % c.n_heads == 0, Status::InvalidArgument,
          where + "dim " + std::to_string(c.dim) + " is not a multiple of n_heads " + std::to_string(c.n_heads));
  require(std::isfinite(c.norm_eps) && c.norm_eps > 0.0f && std::isfinite(c.rope_theta) && c.rope_theta > 1.0f,
          Status::InvalidArgument, where + "norm_eps must be > 0 and rope_theta > 1");
  if (c.rope_scaling != RopeScaling::kNone)
    require(std::isfinite(c.rope_factor) && c.rope_factor > 0.0f, Status::InvalidArgument,
            where + "rope scaling factor must be > 0");
  if (c.rope_scaling == RopeScaling::kLlama3)
    require(c.rope_high_freq_factor > c.rope_low_freq_factor && c.rope_low_freq_factor > 0.0f &&
                c.rope_original_context > 0,
            Status::InvalidArgument,
            where + "llama3 rope scaling needs 0 < low_freq_factor < high_freq_factor and original_max_position_embeddings > 0");
  require(c.n_kv_heads <= c.n_heads && c.n_heads % c.n_kv_heads == 0, Status::InvalidArgument,
          where + "n_heads " + std::to_string(c.n_heads) + " is not a multiple of n_kv_heads " +
              std::to_string(c.n_kv_heads));
  // RoPE rotates pairs of coordinates inside a head.
  require(c.head_size() % 2 == 0, Status::InvalidArgument,
          where + "head size " + std::to_string(c.head_size()) + " is odd; RoPE needs pairs");
}

}  // namespace

Model::Model(const ModelConfig &config) : config_(config) {
  check_config(config_);
  const int64_t d = config_.dim, h = config_.hidden_dim, L = config_.n_layers;
  const int64_t v = config_.vocab_size, kv = config_.kv_dim(), qd = config_.q_dim(), hs = config_.head_size();
  sizes_[static_cast<int>(TensorId::kTokenEmbedding)] = v * d;
  sizes_[static_cast<int>(TensorId::kRmsAtt)] = L * d;
  sizes_[static_cast<int>(TensorId::kWq)] = L * qd * d;
  sizes_[static_cast<int>(TensorId::kWk)] = L * kv * d;
  sizes_[static_cast<int>(TensorId::kWv)] = L * kv * d;
  sizes_[static_cast<int>(TensorId::kWo)] = L * d * qd;
  sizes_[static_cast<int>(TensorId::kRmsFfn)] = L * d;
  sizes_[static_cast<int>(TensorId::kW1)] = L * h * d;
  sizes_[static_cast<int>(TensorId::kW2)] = L * d * h;
  sizes_[static_cast<int>(TensorId::kW3)] = L * h * d;
  sizes_[static_cast<int>(TensorId::kRmsFinal)] = d;
  sizes_[static_cast<int>(TensorId::kClassifier)] = config_.shared_classifier ? 0 : v * d;
  const int64_t bias = config_.qkv_bias ? 1 : 0, norm = config_.qk_norm ? 1 : 0;
  sizes_[static_cast<int>(TensorId::kBq)] = bias * L * qd;
  sizes_[static_cast<int>(TensorId::kBk)] = bias * L * kv;
  sizes_[static_cast<int>(TensorId::kBv)] = bias * L * kv;
  sizes_[static_cast<int>(TensorId::kQNorm)] = norm * L * hs;
  sizes_[static_cast<int>(TensorId::kKNorm)] = norm * L * hs;
  for (int64_t s : sizes_) total_floats_ += s;

  arena_.reset(new (std::nothrow) float[static_cast<size_t>(total_floats_)]());
  require(arena_ != nullptr, Status::OutOfMemory,
          "model weights: cannot allocate " + std::to_string(total_floats_ * 4) + " bytes");
  float *p = arena_.get();
  for (int i = 0; i < kTensorCount; ++i) {
    ptrs_[i] = p;
    p += sizes_[i];
  }
}

void Model::check_layer(int layer) const {
  require(layer >= 0 && layer < config_.n_layers, Status::InvalidArgument,
          "layer " + std::to_string(layer) + " is outside [0, " + std::to_string(config_.n_layers) + ")");
}

const float *Model::rms_att(int layer) const {
  check_layer(layer);
  return tensor(TensorId::kRmsAtt) + static_cast<int64_t>(layer) * config_.dim;
}

const float *Model::rms_ffn(int layer) const {
  check_layer(layer);
  return tensor(TensorId::kRmsFfn) + static_cast<int64_t>(layer) * config_.dim;
}

const float *Model::classifier() const {
  return config_.shared_classifier ? tensor(TensorId::kTokenEmbedding) : tensor(TensorId::kClassifier);
}

const float *Model::bias(int layer, LinearKind kind) const {
  check_layer(layer);
  if (!config_.qkv_bias) return nullptr;
  switch (kind) {
    case LinearKind::kWq: return tensor(TensorId::kBq) + static_cast<int64_t>(layer) * config_.q_dim();
    case LinearKind::kWk: return tensor(TensorId::kBk) + static_cast<int64_t>(layer) * config_.kv_dim();
    case LinearKind::kWv: return tensor(TensorId::kBv) + static_cast<int64_t>(layer) * config_.kv_dim();
    default: return nullptr;
  }
}

const float *Model::q_norm(int layer) const {
  check_layer(layer);
  return config_.qk_norm ? tensor(TensorId::kQNorm) + static_cast<int64_t>(layer) * config_.head_size() : nullptr;
}

const float *Model::k_norm(int layer) const {
  check_layer(layer);
  return config_.qk_norm ? tensor(TensorId::kKNorm) + static_cast<int64_t>(layer) * config_.head_size() : nullptr;
}

int64_t Model::linear_rows(LinearKind kind) const {
  switch (kind) {
    case LinearKind::kWq: return config_.q_dim();
    case LinearKind::kWo:
    case LinearKind::kW2: return config_.dim;
    case LinearKind::kWk:
    case LinearKind::kWv: return config_.kv_dim();
    case LinearKind::kW1:
    case LinearKind::kW3: return config_.hidden_dim;
  }
  return 0;
}

int64_t Model::linear_cols(LinearKind kind) const { return config_.input_width(input_of(kind)); }

LinearWeight Model::linear(int layer, LinearKind kind) const {
  check_layer(layer);
  LinearWeight w;
  w.rows = linear_rows(kind);
  w.cols = linear_cols(kind);
  w.data = tensor(linear_tensor(kind)) + static_cast<int64_t>(layer) * w.rows * w.cols;
  return w;
}

float *Model::linear_data(int layer, LinearKind kind) {
  check_layer(layer);
  return tensor(linear_tensor(kind)) + static_cast<int64_t>(layer) * linear_rows(kind) * linear_cols(kind);
}

std::string Model::linear_name(int layer, LinearKind kind) {
  return "blk." + std::to_string(layer) + "." + linear_kind_name(kind);
}

Model Model::clone() const {
  Model copy(config_);
  std::memcpy(copy.arena_.get(), arena_.get(), static_cast<size_t>(total_floats_) * sizeof(float));
  return copy;
}

}  // namespace vqr::model
