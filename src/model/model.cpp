// Model arena: the size table, the single allocation, and per-layer views into it.
#include "model/model.h"

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include <algorithm>
#include <new>

#include "core/error.h"
#include "core/memory_budget.h"

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
  const int64_t v = c.vocab_size, kv = c.kv_dim(), qd = c.q_dim(), hs = c.head_size(), e = c.embed_width();
  const int64_t opt = c.is_opt() ? 1 : 0, gated = c.is_opt() ? 0 : 1;
  auto mul3 = [](int64_t a, int64_t b, int64_t e) {
    const int64_t ab = checked_mul(a, b);
    return ab < 0 ? -1 : checked_mul(ab, e);
  };
  const int64_t bias = c.qkv_bias || c.linear_bias ? 1 : 0, norm = c.qk_norm ? 1 : 0;
  const int64_t all_bias = c.linear_bias ? 1 : 0, final_norm = c.final_norm ? 1 : 0, proj = c.embed_dim > 0 ? 1 : 0;
  auto set = [&](TensorId id, int64_t n) { sizes[static_cast<int>(id)] = n; };
  set(TensorId::kTokenEmbedding, checked_mul(v, e));
  set(TensorId::kRmsAtt, L * d);
  set(TensorId::kWq, mul3(L, qd, d));
  set(TensorId::kWk, mul3(L, kv, d));
  set(TensorId::kWv, mul3(L, kv, d));
  set(TensorId::kWo, mul3(L, d, qd));
  set(TensorId::kRmsFfn, L * d);
  set(TensorId::kW1, mul3(L, h, d));
  set(TensorId::kW2, mul3(L, d, h));
  set(TensorId::kW3, mul3(gated * L, h, d));
  set(TensorId::kRmsFinal, final_norm * d);
  set(TensorId::kClassifier, c.shared_classifier ? 0 : checked_mul(v, e));
  set(TensorId::kBq, bias * L * qd);
  set(TensorId::kBk, bias * L * kv);
  set(TensorId::kBv, bias * L * kv);
  set(TensorId::kQNorm, norm * L * hs);
  set(TensorId::kKNorm, norm * L * hs);
  set(TensorId::kNormAttBias, opt * L * d);
  set(TensorId::kNormFfnBias, opt * L * d);
  set(TensorId::kNormFinalBias, opt * final_norm * d);
  set(TensorId::kBo, all_bias * L * d);
  set(TensorId::kB1, checked_mul(all_bias * L, h));
  set(TensorId::kB2, all_bias * L * d);
  set(TensorId::kPositions, checked_mul(c.position_rows(), d));
  set(TensorId::kProjectIn, checked_mul(proj * d, e));
  set(TensorId::kProjectOut, checked_mul(proj * d, e));
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
  if (c.is_opt()) {
    require(c.n_kv_heads == c.n_heads && !c.qkv_bias && !c.qk_norm && c.sliding_window == 0 &&
                c.rope_scaling == RopeScaling::kNone && c.embed_dim >= 0 && (c.final_norm ? c.pre_norm : true),
            Status::InvalidArgument,
            where + "an OPT model has plain multi-head attention (no GQA, q/k norms, sliding window or RoPE "
                    "scaling), embed_dim >= 0 and a final norm only with pre-LN blocks");
  } else {
    require(c.pre_norm && c.final_norm && !c.linear_bias && c.embed_dim == 0, Status::InvalidArgument,
            where + "post-LN blocks, biases on every linear and embedding projections are OPT's (family kOpt)");
  }
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
  // RoPE rotates pairs of coordinates inside a head (OPT has no RoPE).
  require(c.is_opt() || c.head_size() % 2 == 0, Status::InvalidArgument,
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

bool is_streamable(TensorId id) {
  switch (id) {
    case TensorId::kTokenEmbedding:
    case TensorId::kWq:
    case TensorId::kWk:
    case TensorId::kWv:
    case TensorId::kWo:
    case TensorId::kW1:
    case TensorId::kW2:
    case TensorId::kW3:
    case TensorId::kClassifier: return true;
    default: return false;
  }
}

// One block's seven linear weights widened to fp32 (streamed storage), one allocation.
struct Model::CachedBlock {
  int layer = -1;
  int64_t bytes = 0;
  std::unique_ptr<float[]> data;
  float *weights[kLinearKindCount] = {};
};

Model::Model(const ModelConfig &config, Storage storage) : config_(config), storage_(storage) {
  check_model_config(config_);
  tensor_sizes(config_, sizes_, &total_floats_);
  const bool streamed = storage_ == Storage::kStreamed;
  for (int i = 0; i < kTensorCount; ++i)
    if (!(streamed && is_streamable(static_cast<TensorId>(i)))) arena_floats_ += sizes_[i];
  // The budget first (core/memory_budget.h): the arena, and for a streamed model the one block it
  // widens at a time. The shapes come from a file's header; a loader has checked them against the
  // file's own tensors, and this bounds what an honest but too large model would commit.
  double block_floats = 0;
  for (int i = 0; streamed && i < kTensorCount; ++i) {
    const auto id = static_cast<TensorId>(i);
    if (is_streamable(id) && id != TensorId::kTokenEmbedding && id != TensorId::kClassifier)
      block_floats += (double)sizes_[i] / std::max(1, config_.n_layers);
  }
  require_memory(nullptr, ((double)arena_floats_ + block_floats) * sizeof(float),
                 std::string(streamed ? "the model's small tensors and one widened block"
                                      : "the model's fp32 weights") +
                     " (dim " + std::to_string(config_.dim) + ", " + std::to_string(config_.n_layers) + " layers, vocab " +
                     std::to_string(config_.vocab_size) + ")");
  arena_.reset(static_cast<float *>(std::calloc(static_cast<size_t>(std::max<int64_t>(arena_floats_, 1)), sizeof(float))));
  require(arena_ != nullptr, Status::OutOfMemory,
          "model weights: cannot allocate " + std::to_string(arena_floats_ * 4) + " bytes");
  float *p = arena_.get();
  for (int i = 0; i < kTensorCount; ++i) {
    if (streamed && is_streamable(static_cast<TensorId>(i))) continue;  // ptrs_[i] stays NULL
    ptrs_[i] = p;
    p += sizes_[i];
  }
  if (streamed) linear_sources_.resize(static_cast<size_t>(config_.n_layers) * kLinearKindCount);
}

void Model::FreeDeleter::operator()(float *p) const { std::free(p); }

void Model::require_streamed(const char *what) const {
  require(streamed(), Status::InvalidArgument, std::string(what) + ": only a streamed model has sources");
}

const TensorSource &Model::source_of(int layer, LinearKind kind) const {
  const auto &s = linear_sources_[static_cast<size_t>(layer) * kLinearKindCount + static_cast<int>(kind)];
  require(s != nullptr, Status::Internal, "streamed model: no source attached for " + linear_name(layer, kind));
  return *s;
}

int64_t Model::block_bytes() const {
  int64_t floats = 0;
  for (LinearKind k : config_.linear_kinds()) floats += linear_rows(k) * linear_cols(k);
  return floats * static_cast<int64_t>(sizeof(float));
}

int64_t Model::resident_bytes() const {
  int64_t bytes = arena_floats_ * static_cast<int64_t>(sizeof(float));
  for (const auto &b : cache_) bytes += b->bytes;
  return bytes;
}

int64_t Model::source_bytes() const {
  int64_t bytes = 0;
  for (const auto &s : linear_sources_) bytes += s ? s->stored_bytes() : 0;
  if (embedding_source_) bytes += embedding_source_->stored_bytes();
  if (classifier_source_) bytes += classifier_source_->stored_bytes();
  return bytes;
}

void Model::evict_to(int64_t bytes) const {
  int64_t held = 0;
  for (const auto &b : cache_) held += b->bytes;
  while (!cache_.empty() && held > bytes) {  // least recently used first
    held -= cache_.front()->bytes;
    cache_.erase(cache_.begin());
  }
}

void Model::set_cache_budget(int64_t bytes) {
  require(bytes >= 0, Status::InvalidArgument, "model: cache budget must be >= 0");
  cache_budget_ = bytes;
  evict_to(std::max(bytes, block_bytes()));
}

void Model::release_cache() const {
  cache_.clear();
  for (const auto &s : linear_sources_)
    if (s) s->release();
  release_vocab();
}

void Model::release_vocab() const {
  if (embedding_source_) embedding_source_->release();
  if (classifier_source_) classifier_source_->release();
}

const Model::CachedBlock &Model::cached_block(int layer) const {
  for (size_t i = 0; i < cache_.size(); ++i) {
    if (cache_[i]->layer != layer) continue;
    std::rotate(cache_.begin() + static_cast<std::ptrdiff_t>(i), cache_.begin() + static_cast<std::ptrdiff_t>(i) + 1,
                cache_.end());  // most recently used last
    return *cache_.back();
  }
  const int64_t bytes = block_bytes();
  evict_to(std::max<int64_t>(cache_budget_ - bytes, 0));  // room for the new block; it is always kept
  auto block = std::make_shared<CachedBlock>();
  block->layer = layer;
  block->bytes = bytes;
  block->data.reset(new (std::nothrow) float[static_cast<size_t>(bytes / static_cast<int64_t>(sizeof(float)))]);
  require(block->data != nullptr, Status::OutOfMemory,
          "model: cannot allocate " + std::to_string(bytes) + " bytes to widen block " + std::to_string(layer));
  float *p = block->data.get();
  for (LinearKind k : config_.linear_kinds()) {
    const TensorSource &s = source_of(layer, k);
    s.read_rows(0, s.rows(), p);
    s.release();  // the fp32 copy is what the forward reads; the source's pages can go
    block->weights[static_cast<int>(k)] = p;
    p += linear_rows(k) * linear_cols(k);
  }
  cache_.push_back(std::move(block));
  return *cache_.back();
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
  if (!config_.qkv_bias && !config_.linear_bias) return nullptr;
  const int64_t at = static_cast<int64_t>(layer) * config_.linear_rows(kind);
  switch (kind) {
    case LinearKind::kWq: return tensor(TensorId::kBq) + at;
    case LinearKind::kWk: return tensor(TensorId::kBk) + at;
    case LinearKind::kWv: return tensor(TensorId::kBv) + at;
    case LinearKind::kWo: return config_.linear_bias ? tensor(TensorId::kBo) + at : nullptr;
    case LinearKind::kW1: return config_.linear_bias ? tensor(TensorId::kB1) + at : nullptr;
    case LinearKind::kW2: return config_.linear_bias ? tensor(TensorId::kB2) + at : nullptr;
    default: return nullptr;
  }
}

const float *Model::norm_bias_att(int layer) const {
  check_layer(layer);
  return config_.is_opt() ? tensor(TensorId::kNormAttBias) + static_cast<int64_t>(layer) * config_.dim : nullptr;
}

const float *Model::norm_bias_ffn(int layer) const {
  check_layer(layer);
  return config_.is_opt() ? tensor(TensorId::kNormFfnBias) + static_cast<int64_t>(layer) * config_.dim : nullptr;
}

const float *Model::norm_bias_final() const {
  return config_.is_opt() && config_.final_norm ? tensor(TensorId::kNormFinalBias) : nullptr;
}

const float *Model::positions() const { return config_.is_opt() ? tensor(TensorId::kPositions) : nullptr; }

const float *Model::project_in() const { return config_.embed_dim > 0 ? tensor(TensorId::kProjectIn) : nullptr; }

const float *Model::project_out() const { return config_.embed_dim > 0 ? tensor(TensorId::kProjectOut) : nullptr; }

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

void Model::check_kind(LinearKind kind) const {
  require(config_.linear_kinds().contains(kind), Status::InvalidArgument,
          std::string("model: ") + config_.architecture + " blocks have no " + linear_kind_name(kind));
}

LinearWeight Model::linear(int layer, LinearKind kind) const {
  check_layer(layer);
  check_kind(kind);
  LinearWeight w;
  w.rows = linear_rows(kind);
  w.cols = linear_cols(kind);
  w.data = streamed() ? cached_block(layer).weights[static_cast<int>(kind)]
                      : tensor(linear_tensor(kind)) + static_cast<int64_t>(layer) * w.rows * w.cols;
  return w;
}

float *Model::linear_data(int layer, LinearKind kind) {
  check_layer(layer);
  check_kind(kind);
  require(!streamed(), Status::InvalidArgument,
          "model: " + linear_name(layer, kind) + " is streamed from its source; replace it with set_linear_source");
  return tensor(linear_tensor(kind)) + static_cast<int64_t>(layer) * linear_rows(kind) * linear_cols(kind);
}

namespace {

void check_rows(int64_t r0, int64_t r1, int64_t rows, const char *what) {
  require(r0 >= 0 && r0 <= r1 && r1 <= rows, Status::InvalidArgument,
          std::string(what) + ": rows [" + std::to_string(r0) + ", " + std::to_string(r1) + ") outside [0, " +
              std::to_string(rows) + ")");
}

}  // namespace

void Model::read_linear_rows(int layer, LinearKind kind, int64_t r0, int64_t r1, float *out) const {
  check_layer(layer);
  check_kind(kind);
  const int64_t rows = linear_rows(kind), cols = linear_cols(kind);
  check_rows(r0, r1, rows, "read_linear_rows");
  if (r0 == r1) return;
  const float *dense = nullptr;
  if (!streamed()) {
    dense = tensor(linear_tensor(kind)) + static_cast<int64_t>(layer) * rows * cols;
  } else {
    for (const auto &b : cache_)
      if (b->layer == layer) dense = b->weights[static_cast<int>(kind)];
  }
  if (dense != nullptr) {
    std::memcpy(out, dense + r0 * cols, static_cast<size_t>((r1 - r0) * cols) * sizeof(float));
  } else {
    source_of(layer, kind).read_rows(r0, r1, out);
  }
}

void Model::read_embedding_rows(int64_t r0, int64_t r1, float *out) const {
  const int64_t C = config_.embed_width();
  check_rows(r0, r1, config_.vocab_size, "read_embedding_rows");
  if (r0 == r1) return;
  if (!streamed()) {
    std::memcpy(out, token_embedding() + r0 * C, static_cast<size_t>((r1 - r0) * C) * sizeof(float));
    return;
  }
  require(embedding_source_ != nullptr, Status::Internal, "streamed model: no source attached for the embedding");
  embedding_source_->read_rows(r0, r1, out);
}

void Model::gather_embedding(const int32_t *ids, int64_t n, float *out) const {
  for (int64_t t = 0; t < n; ++t) {
    require(ids[t] >= 0 && ids[t] < config_.vocab_size, Status::InvalidArgument,
            "token " + std::to_string(ids[t]) + " at position " + std::to_string(t) +
                " is outside the vocabulary [0, " + std::to_string(config_.vocab_size) + ")");
    read_embedding_rows(ids[t], static_cast<int64_t>(ids[t]) + 1, out + t * config_.embed_width());
  }
}

void Model::read_classifier_rows(int64_t r0, int64_t r1, float *out) const {
  if (config_.shared_classifier) return read_embedding_rows(r0, r1, out);
  const int64_t C = config_.embed_width();
  check_rows(r0, r1, config_.vocab_size, "read_classifier_rows");
  if (r0 == r1) return;
  if (!streamed()) {
    std::memcpy(out, tensor(TensorId::kClassifier) + r0 * C, static_cast<size_t>((r1 - r0) * C) * sizeof(float));
    return;
  }
  require(classifier_source_ != nullptr, Status::Internal, "streamed model: no source attached for the classifier");
  classifier_source_->read_rows(r0, r1, out);
}

void Model::set_linear_source(int layer, LinearKind kind, std::shared_ptr<const TensorSource> source) {
  check_layer(layer);
  check_kind(kind);
  ++weights_version_;
  const int64_t rows = linear_rows(kind), cols = linear_cols(kind);
  require(source != nullptr && source->rows() == rows && source->cols() == cols, Status::InvalidArgument,
          "model: a source for " + linear_name(layer, kind) + " must be " + std::to_string(rows) + " x " +
              std::to_string(cols));
  if (!streamed()) {
    source->read_rows(0, rows, linear_data(layer, kind));
    return;
  }
  linear_sources_[static_cast<size_t>(layer) * kLinearKindCount + static_cast<int>(kind)] = source;
  // A cached copy of the block is refreshed in place, so the block's other pointers stay valid.
  for (const auto &b : cache_)
    if (b->layer == layer) source->read_rows(0, rows, b->weights[static_cast<int>(kind)]);
}

void Model::set_embedding_source(std::shared_ptr<const TensorSource> source) {
  require_streamed("set_embedding_source");
  require(source != nullptr && source->rows() == config_.vocab_size && source->cols() == config_.embed_width(),
          Status::InvalidArgument, "model: the embedding's source must be vocab x embed_width");
  embedding_source_ = std::move(source);
}

void Model::set_classifier_source(std::shared_ptr<const TensorSource> source) {
  require_streamed("set_classifier_source");
  require(!config_.shared_classifier, Status::InvalidArgument, "model: the classifier is shared with the embedding");
  require(source != nullptr && source->rows() == config_.vocab_size && source->cols() == config_.embed_width(),
          Status::InvalidArgument, "model: the classifier's source must be vocab x embed_width");
  classifier_source_ = std::move(source);
}

const TensorSource *Model::linear_source(int layer, LinearKind kind) const {
  check_layer(layer);
  if (!streamed()) return nullptr;
  return linear_sources_[static_cast<size_t>(layer) * kLinearKindCount + static_cast<int>(kind)].get();
}

std::string Model::linear_name(int layer, LinearKind kind) {
  return "blk." + std::to_string(layer) + "." + linear_kind_name(kind);
}

Model Model::clone() const {
  Model copy(config_, storage_);
  std::memcpy(copy.arena_.get(), arena_.get(), static_cast<size_t>(arena_floats_) * sizeof(float));
  copy.linear_sources_ = linear_sources_;
  copy.embedding_source_ = embedding_source_;
  copy.classifier_source_ = classifier_source_;
  copy.cache_budget_ = cache_budget_;
  return copy;
}

DenseSource::DenseSource(std::vector<float> values, int64_t rows, int64_t cols)
    : values_(std::move(values)), rows_(rows), cols_(cols) {
  require(rows >= 0 && cols >= 0 && static_cast<int64_t>(values_.size()) == rows * cols, Status::InvalidArgument,
          "DenseSource: values do not hold rows x cols");
}

void DenseSource::read_rows(int64_t r0, int64_t r1, float *out) const {
  check_rows(r0, r1, rows_, "DenseSource");
  std::memcpy(out, values_.data() + r0 * cols_, static_cast<size_t>((r1 - r0) * cols_) * sizeof(float));
}

}  // namespace vqr::model
