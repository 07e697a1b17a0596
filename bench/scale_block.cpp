// One decoder block of a real-shaped model for the scale benchmark (scale_block.h).
#include "scale_block.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "bench_common.h"
#include "core/dtype.h"
#include "core/error.h"
#include "io/files.h"
#include "model/hf_checkpoint.h"

namespace vqrbench {

using vqr::io::StDtype;
using vqr::model::LinearKind;
using vqr::model::ModelConfig;
using vqr::model::TensorId;

namespace {

// The published config.json of each preset, the fields the loader reads (the same values as
// scripts/synthetic_checkpoint.py writes), parsed by the loader's own parser.
struct Preset {
  const char *name;
  const char *config_json;
};
const Preset kPresets[] = {
    {"llama-3.2-1b",
     R"({"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_act": "silu", "hidden_size": 2048,
         "intermediate_size": 8192, "num_hidden_layers": 16, "num_attention_heads": 32, "num_key_value_heads": 8,
         "head_dim": 64, "vocab_size": 128256, "max_position_embeddings": 131072, "rms_norm_eps": 1e-05,
         "rope_theta": 500000.0, "rope_scaling": {"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
         "original_max_position_embeddings": 8192, "rope_type": "llama3"}, "tie_word_embeddings": true,
         "attention_bias": false, "mlp_bias": false, "torch_dtype": "bfloat16"})"},
    {"llama-3-8b",
     R"({"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_act": "silu", "hidden_size": 4096,
         "intermediate_size": 14336, "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8,
         "vocab_size": 128256, "max_position_embeddings": 8192, "rms_norm_eps": 1e-05, "rope_theta": 500000.0,
         "rope_scaling": null, "tie_word_embeddings": false, "attention_bias": false, "mlp_bias": false,
         "torch_dtype": "bfloat16"})"},
    {"qwen2-7b",
     R"({"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_act": "silu", "hidden_size": 3584,
         "intermediate_size": 18944, "num_hidden_layers": 28, "num_attention_heads": 28, "num_key_value_heads": 4,
         "vocab_size": 152064, "max_position_embeddings": 131072, "rms_norm_eps": 1e-06, "rope_theta": 1000000.0,
         "sliding_window": 131072, "use_sliding_window": false, "max_window_layers": 28,
         "tie_word_embeddings": false, "torch_dtype": "bfloat16"})"},
};

// Rows of a BF16, F16 or F32 matrix kept elsewhere (a mapped file, or memory this source owns),
// widened to fp32 on demand: what a streaming loader's source does.
class RowsSource final : public vqr::model::TensorSource {
 public:
  // data: rows x cols of `dtype`, row-major, read only; valid while `owned` (may be empty) or the
  // caller's mapping lives. mapped: release() drops the pages from the process.
  RowsSource(const uint8_t *data, StDtype dtype, int64_t rows, int64_t cols, std::vector<uint16_t> owned,
             bool mapped)
      : owned_(std::move(owned)),
        data_(owned_.empty() ? data : reinterpret_cast<const uint8_t *>(owned_.data())),
        dtype_(dtype),
        rows_(rows),
        cols_(cols),
        mapped_(mapped) {}
  int64_t rows() const override { return rows_; }
  int64_t cols() const override { return cols_; }
  int64_t stored_bytes() const override { return rows_ * cols_ * vqr::io::st_dtype_size(dtype_); }

  void read_rows(int64_t r0, int64_t r1, float *out) const override {
    const int64_t n = cols_;
#pragma omp parallel for schedule(static)
    for (int64_t r = r0; r < r1; ++r) {
      float *o = out + (r - r0) * n;
      if (dtype_ == StDtype::kF32) {
        std::memcpy(o, data_ + r * n * 4, static_cast<size_t>(n) * 4);
        continue;
      }
      uint16_t h[256];  // the row in chunks: the mapping has no alignment guarantee
      for (int64_t j0 = 0; j0 < n; j0 += 256) {
        const int64_t len = std::min<int64_t>(256, n - j0);
        std::memcpy(h, data_ + (r * n + j0) * 2, static_cast<size_t>(len) * 2);
        if (dtype_ == StDtype::kBF16)
          for (int64_t j = 0; j < len; ++j) o[j0 + j] = vqr::bf16_to_f32(h[j]);
        else
          for (int64_t j = 0; j < len; ++j) o[j0 + j] = vqr::f16_to_f32(h[j]);
      }
    }
  }

  void release() const override {
    if (!mapped_) return;
    const auto page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
    const auto begin = reinterpret_cast<uintptr_t>(data_);
    const uintptr_t first = (begin + page - 1) / page * page;  // whole pages inside the tensor only
    const uintptr_t last = (begin + static_cast<uintptr_t>(stored_bytes())) / page * page;
    if (last > first) madvise(reinterpret_cast<void *>(first), last - first, MADV_DONTNEED);
  }

 private:
  std::vector<uint16_t> owned_;
  const uint8_t *data_;
  StDtype dtype_;
  int64_t rows_, cols_;
  bool mapped_;
};

// The synthetic weights' distribution (scripts/synthetic_checkpoint.py): Student-t with 4 degrees
// of freedom, z * sqrt(2 / (e1 + e2)), scaled to standard deviation `std` (Var t4 = 2).
float student_t4(Rng &rng, float std) {
  const float e = -std::log1p(-rng.uniform()) - std::log1p(-rng.uniform());
  return rng.normal() * std * std::sqrt(1.0f / std::max(e, 1e-30f));
}

constexpr float kInitStd = 0.02f;    // transformers' initializer_range
constexpr int64_t kOutlierShare = 512;  // 1 in 512 input channels is an outlier
constexpr float kOutlierGain = 8.0f;

// The outlier input channels of width n (at least 2), the same for every tensor of that width.
std::vector<char> outlier_mask(int64_t n, uint64_t seed) {
  std::vector<char> mask(static_cast<size_t>(n), 0);
  Rng rng(seed ^ (0x9E3779B97F4A7C15ull * static_cast<uint64_t>(n)));
  for (int64_t picked = 0, want = std::max<int64_t>(2, n / kOutlierShare); picked < want;) {
    const auto j = static_cast<size_t>(rng.next() % static_cast<uint64_t>(n));
    if (!mask[j]) mask[j] = 1, ++picked;
  }
  return mask;
}

// rows x cols heavy-tailed values as bf16 (tensor number `tensor` of the block), chunks of 64 rows
// generated in parallel from their own seeds (deterministic whatever the thread count).
std::vector<uint16_t> synthetic_bf16(int64_t rows, int64_t cols, uint64_t seed, uint64_t tensor) {
  std::vector<uint16_t> out(static_cast<size_t>(rows * cols));
  const std::vector<char> outlier = outlier_mask(cols, seed);
  const int64_t chunks = (rows + 63) / 64;
#pragma omp parallel for schedule(dynamic)
  for (int64_t c = 0; c < chunks; ++c) {
    Rng rng((seed * 0x100000001B3ull + tensor) * 0x100000001B3ull + static_cast<uint64_t>(c));
    for (int64_t r = c * 64; r < std::min(rows, c * 64 + 64); ++r)
      for (int64_t j = 0; j < cols; ++j) {
        const float v = student_t4(rng, kInitStd) * (outlier[static_cast<size_t>(j)] ? kOutlierGain : 1.0f);
        out[static_cast<size_t>(r * cols + j)] = f32_to_bf16(v);
      }
  }
  return out;
}

}  // namespace

ModelConfig preset_config(const std::string &name) {
  for (const Preset &p : kPresets)
    if (name == p.name) return vqr::model::parse_hf_config(p.config_json, std::string("preset ") + p.name);
  throw std::invalid_argument("unknown preset \"" + name + "\" (known: " + preset_names() + ")");
}

const char *preset_names() { return "llama-3.2-1b, llama-3-8b, qwen2-7b"; }

std::unique_ptr<ScaleBlock> ScaleBlock::from_folder(const std::string &dir, int layer) {
  std::unique_ptr<ScaleBlock> b(new ScaleBlock);
  const std::string config_path = dir + "/" + vqr::model::kHfConfigFileName;
  b->full_ = vqr::model::parse_hf_config(vqr::io::read_file(config_path, "is this a Hugging Face folder?"),
                                         config_path);
  vqr::require(layer >= 0 && layer < b->full_.n_layers, vqr::Status::InvalidArgument,
               dir + ": layer " + std::to_string(layer) + " is outside [0, " + std::to_string(b->full_.n_layers) + ")");
  b->ckpt_ = std::make_unique<vqr::io::SafetensorsCheckpoint>(vqr::io::SafetensorsCheckpoint::open_dir(dir));
  ModelConfig one = b->full_;
  one.n_layers = 1;
  b->model_ = std::make_unique<vqr::model::Model>(one, vqr::model::Storage::kStreamed);
  vqr::model::Model &m = *b->model_;

  // A tensor's mapped rows, its shape checked against the config first (nothing is allocated).
  auto mapped = [&](const std::string &name, int64_t rows, int64_t cols) {
    const vqr::io::SafetensorsFile *file = nullptr;
    const vqr::io::StTensor &t = b->ckpt_->find_required(name, &file);
    vqr::require(t.shape == std::vector<int64_t>{rows, cols}, vqr::Status::Format,
                 dir + ": " + name + " does not have the config's shape [" + std::to_string(rows) + ", " +
                     std::to_string(cols) + "]");
    vqr::require(t.dtype == StDtype::kBF16 || t.dtype == StDtype::kF16 || t.dtype == StDtype::kF32,
                 vqr::Status::Unsupported, dir + ": " + name + " is " + vqr::io::st_dtype_name(t.dtype));
    return std::make_shared<RowsSource>(file->data(t), t.dtype, rows, cols, std::vector<uint16_t>{}, true);
  };
  for (LinearKind k : vqr::model::kAllLinearKinds)
    m.set_linear_source(0, k, mapped(vqr::model::hf_linear_name(one, layer, k), m.linear_rows(k), m.linear_cols(k)));
  b->dtype_ = vqr::io::st_dtype_name(b->ckpt_->find_required(vqr::model::hf_linear_name(one, layer, LinearKind::kWq), nullptr).dtype);
  b->embed_ = mapped("model.embed_tokens.weight", one.vocab_size, one.dim);
  m.set_embedding_source(b->embed_);

  const std::string p = "model.layers." + std::to_string(layer) + ".";
  b->ckpt_->read_f32(p + "input_layernorm.weight", {one.dim}, m.tensor(TensorId::kRmsAtt));
  b->ckpt_->read_f32(p + "post_attention_layernorm.weight", {one.dim}, m.tensor(TensorId::kRmsFfn));
  if (one.qkv_bias) {
    b->ckpt_->read_f32(p + "self_attn.q_proj.bias", {one.q_dim()}, m.tensor(TensorId::kBq));
    b->ckpt_->read_f32(p + "self_attn.k_proj.bias", {one.kv_dim()}, m.tensor(TensorId::kBk));
    b->ckpt_->read_f32(p + "self_attn.v_proj.bias", {one.kv_dim()}, m.tensor(TensorId::kBv));
  }
  if (one.qk_norm) {
    b->ckpt_->read_f32(p + "self_attn.q_norm.weight", {one.head_size()}, m.tensor(TensorId::kQNorm));
    b->ckpt_->read_f32(p + "self_attn.k_norm.weight", {one.head_size()}, m.tensor(TensorId::kKNorm));
  }
  b->description_ = dir + " layer " + std::to_string(layer);
  return b;
}

std::unique_ptr<ScaleBlock> ScaleBlock::synthetic(const ModelConfig &config, uint64_t seed) {
  std::unique_ptr<ScaleBlock> b(new ScaleBlock);
  b->full_ = config;
  b->seed_ = seed;
  ModelConfig one = config;
  one.n_layers = 1;
  b->model_ = std::make_unique<vqr::model::Model>(one, vqr::model::Storage::kStreamed);
  vqr::model::Model &m = *b->model_;
  for (LinearKind k : vqr::model::kAllLinearKinds) {
    const int64_t rows = m.linear_rows(k), cols = m.linear_cols(k);
    std::vector<uint16_t> w = synthetic_bf16(rows, cols, seed, 1 + static_cast<uint64_t>(k));
    m.set_linear_source(0, k, std::make_shared<RowsSource>(nullptr, StDtype::kBF16, rows, cols, std::move(w), false));
  }
  // RMSNorm weights as initialized (ones); Qwen2's biases drawn like the weights.
  for (TensorId id : {TensorId::kRmsAtt, TensorId::kRmsFfn, TensorId::kQNorm, TensorId::kKNorm})
    std::fill(m.tensor(id), m.tensor(id) + m.tensor_floats(id), 1.0f);
  Rng rng(seed);
  for (TensorId id : {TensorId::kBq, TensorId::kBk, TensorId::kBv})
    for (int64_t i = 0; i < m.tensor_floats(id); ++i) m.tensor(id)[i] = student_t4(rng, kInitStd);
  b->description_ = "synthetic block of " + (config.architecture.empty() ? "a model" : config.architecture) +
                    " dim " + std::to_string(config.dim) + " hidden " + std::to_string(config.hidden_dim);
  return b;
}

int64_t ScaleBlock::stored_bytes() const {
  int64_t bytes = 0;
  for (LinearKind k : vqr::model::kAllLinearKinds) bytes += model_->linear_source(0, k)->stored_bytes();
  return bytes;
}

void ScaleBlock::fill_input(float *x, int64_t tokens, uint64_t seed) const {
  const int64_t C = full_.dim;
  if (embed_) {
    Rng rng(seed);
    std::vector<int32_t> ids(static_cast<size_t>(tokens));
    for (auto &id : ids) id = static_cast<int32_t>(rng.next() % static_cast<uint64_t>(full_.vocab_size));
    model_->gather_embedding(ids.data(), tokens, x);
    return;
  }
  const std::vector<char> outlier = outlier_mask(C, seed_);
#pragma omp parallel for schedule(static)
  for (int64_t t = 0; t < tokens; ++t) {
    Rng rng(seed * 0x100000001B3ull + static_cast<uint64_t>(t));
    for (int64_t j = 0; j < C; ++j)
      x[t * C + j] = student_t4(rng, kInitStd) * (outlier[static_cast<size_t>(j)] ? kOutlierGain : 1.0f);
  }
}

}  // namespace vqrbench
