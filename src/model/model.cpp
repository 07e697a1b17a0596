// Model arena: the size table, the single allocation, and per-layer views into it.
#include "model/model.h"

#include <cmath>
#include <cstdint>
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

// a * b, or -1 when the product of these non-negative sizes overflows int64.
int64_t checked_mul(int64_t a, int64_t b) {
  int64_t r = 0;
  return __builtin_mul_overflow(a, b, &r) ? -1 : r;
}

// The size table: floats of each stacked tensor. Returns false when a size, their sum or the
// arena's bytes would overflow int64 (a config no file can hold; caught before any allocation).
bool tensor_sizes(const ModelConfig &c, int64_t sizes[kTensorCount], int64_t *total) {
  const int64_t d = c.dim, h = c.hidden_dim, L = c.n_layers;
  const int64_t v = c.vocab_size, kv = c.kv_dim(), qd = c.q_dim(), hs = c.head_size();
  auto mul3 = [](int64_t a, int64_t b, int64_t e) {
    const int64_t ab = checked_mul(a, b);
    return ab < 0 ? -1 : checked_mul(ab, e);
  };
  const int64_t bias = c.qkv_bias ? 1 : 0, norm = c.qk_norm ? 1 : 0;
  auto set = [&](TensorId id, int64_t n) { sizes[static_cast<int>(id)] = n; };
  set(TensorId::kTokenEmbedding, checked_mul(v, d));
  set(TensorId::kRmsAtt, L * d);
  set(TensorId::kWq, mul3(L, qd, d));
  set(TensorId::kWk, mul3(L, kv, d));
  set(TensorId::kWv, mul3(L, kv, d));
  set(TensorId::kWo, mul3(L, d, qd));
  set(TensorId::kRmsFfn, L * d);
  set(TensorId::kW1, mul3(L, h, d));
  set(TensorId::kW2, mul3(L, d, h));
  set(TensorId::kW3, mul3(L, h, d));
  set(TensorId::kRmsFinal, d);
  set(TensorId::kClassifier, c.shared_classifier ? 0 : checked_mul(v, d));
  set(TensorId::kBq, bias * L * qd);
  set(TensorId::kBk, bias * L * kv);
  set(TensorId::kBv, bias * L * kv);
  set(TensorId::kQNorm, norm * L * hs);
  set(TensorId::kKNorm, norm * L * hs);
  *total = 0;
  for (int i = 0; i < kTensorCount; ++i)
    if (sizes[i] < 0 || __builtin_add_overflow(*total, sizes[i], total)) return false;
  return checked_mul(*total, static_cast<int64_t>(sizeof(float))) >= 0;
}

}  // namespace

void check_model_config(const ModelConfig &c) {
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
  // q_dim() and kv_dim() are ints (kv_dim <= q_dim since n_kv_heads <= n_heads).
  const int64_t q_dim = static_cast<int64_t>(c.head_size()) * c.n_heads;
  require(q_dim <= INT32_MAX, Status::InvalidArgument,
          where + "n_heads * head size = " + std::to_string(q_dim) + " does not fit a 32-bit int");
  int64_t sizes[kTensorCount], total = 0;
  require(tensor_sizes(c, sizes, &total), Status::InvalidArgument,
          where + "the weights' size overflows 64-bit arithmetic (dim " + std::to_string(c.dim) + ", hidden_dim " +
              std::to_string(c.hidden_dim) + ", n_layers " + std::to_string(c.n_layers) + ", vocab_size " +
              std::to_string(c.vocab_size) + ")");
}

int ModelConfig::linear_rows(LinearKind kind) const {
  switch (kind) {
    case LinearKind::kWq: return q_dim();
    case LinearKind::kWo:
    case LinearKind::kW2: return dim;
    case LinearKind::kWk:
    case LinearKind::kWv: return kv_dim();
    case LinearKind::kW1:
    case LinearKind::kW3: return hidden_dim;
  }
  return 0;
}

Model::Model(const ModelConfig &config) : config_(config) {
  check_model_config(config_);
  tensor_sizes(config_, sizes_, &total_floats_);
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

int64_t Model::linear_rows(LinearKind kind) const { return config_.linear_rows(kind); }

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
