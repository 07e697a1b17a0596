// The weights of a LLaMA-architecture decoder (RMSNorm, RoPE, GQA attention, SwiGLU FFN), or of
// an OPT decoder (ModelConfig::family: LayerNorm with bias, learned positions, ReLU FFN without w3,
// biases on every linear, pre- or post-LN blocks, optional embedding projections), in one
// of two storages (issue 16, DESIGN §3):
// - resident: every tensor in one fp32 arena (a table of sizes from the config, one allocation,
//   pointers into it); what tests build and small checkpoints may use;
// - streamed: only the small tensors (norms, biases) in the arena; each linear weight, the token
//   embedding and an untied classifier are TensorSources (tensor_source.h) read on demand, e.g.
//   from the mapped checkpoint in its own dtype. linear() widens a whole block into a small LRU
//   cache bounded in bytes, so a model larger than memory runs one block at a time.
// Both storages answer the same row readers (read_linear_rows, gather_embedding, ...), which is
// what the forward, the pipeline and the writers use; the raw tensor() pointers of the large
// tensors exist only in resident storage.
// Loaders (llama2c_format.h, hf_checkpoint.h, gguf_model.h) fill the model; the forward pass
// (forward.h) reads it. One thread uses a model at a time (its block cache is not locked).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "model/linear_kinds.h"
#include "model/tensor_source.h"

namespace vqr::model {

// Which coordinates RoPE rotates together inside a head of size HS: llama2.c (and Meta's original
// checkpoints) pair (2j, 2j+1); Hugging Face checkpoints pair (j, j + HS/2) ("rotate_half"). Both
// use frequency theta^(-2j/HS) for pair j; the layouts differ by a fixed row permutation of Wq/Wk.
enum class RopeLayout : int { kInterleaved = 0, kHalf = 1 };

// RoPE frequency scaling from a Hugging Face config's "rope_scaling" (transformers'
// _compute_linear_scaling_rope_parameters / _compute_llama3_parameters).
enum class RopeScaling : int { kNone = 0, kLinear = 1, kLlama3 = 2 };

// The block design. kLlama: RMSNorm, RoPE, SwiGLU (w1 gate, w3 up, w2 down), the optional Qwen /
// Mistral variants below. kOpt (OPTForCausalLM): LayerNorm with weight and bias (norm_eps 1e-5),
// token embedding (optionally of width embed_dim, then project_in to dim) plus a learned position
// embedding whose row for position t is t + kOptPositionOffset, no RoPE, standard multi-head
// attention, FFN w2(relu(w1 x + b1)) + b2 (fc1 = w1, fc2 = w2, no w3), biases on every linear
// (linear_bias), pre-LN blocks or post-LN ones (pre_norm false: x = LN(x + f(x)), and then no final
// norm), project_out to embed_dim before the tied classifier.
enum class BlockFamily : int { kLlama = 0, kOpt = 1 };
inline constexpr int kOptPositionOffset = 2;  // transformers' OPTLearnedPositionalEmbedding.offset

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
  // OPT (family kOpt; the defaults are the LLaMA family's and stay so for it).
  BlockFamily family = BlockFamily::kLlama;
  bool pre_norm = true;      // OPT do_layer_norm_before; false = post-LN blocks (opt-350m)
  bool final_norm = true;    // a norm before the head (OPT: pre_norm and not _remove_final_layer_norm)
  bool linear_bias = false;  // OPT enable_bias: a bias on each of the six linears
  int embed_dim = 0;         // OPT word_embed_proj_dim when it differs from dim (project_in/out); 0 = none

  bool is_opt() const { return family == BlockFamily::kOpt; }
  // The linears of a block: seven with a gated FFN (LLaMA), six without w3 (OPT). Every loop over a
  // block's layers uses this list (linear_kinds.h).
  LinearKindList linear_kinds() const { return linear_kinds_of(family == BlockFamily::kLlama); }
  // Width of the token embedding and classifier rows (embed_dim when set, else dim).
  int embed_width() const { return embed_dim > 0 ? embed_dim : dim; }
  // Rows of OPT's position table (seq_len + kOptPositionOffset); 0 for LLaMA.
  int64_t position_rows() const { return is_opt() ? static_cast<int64_t>(seq_len) + kOptPositionOffset : 0; }

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
// n_heads by n_kv_heads, even head size (LLaMA: RoPE pairs), OPT's consistency (no GQA, RoPE
// scaling, Qwen or Mistral variants; embed_dim >= 0), q_dim() and kv_dim() within int, every tensor size and
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
  // OPT only (family kOpt); 0 floats otherwise. kRmsAtt / kRmsFfn / kRmsFinal hold the LayerNorm
  // weights (kRmsFinal 0 floats without final_norm); the token embedding and the classifier are
  // vocab x embed_width().
  kNormAttBias,         // n_layers x dim: self_attn_layer_norm.bias
  kNormFfnBias,         // n_layers x dim: final_layer_norm.bias of each block
  kNormFinalBias,       // dim (final_norm): the decoder's final_layer_norm.bias
  kBo,                  // n_layers x dim (linear_bias; kBq, kBk, kBv too)
  kB1,                  // n_layers x hidden (linear_bias)
  kB2,                  // n_layers x dim (linear_bias)
  kPositions,           // (seq_len + 2) x dim: embed_positions
  kProjectIn,           // dim x embed_dim (embed_dim > 0)
  kProjectOut,          // embed_dim x dim (embed_dim > 0)
};
inline constexpr int kLlama2cTensorCount = 12;  // kTokenEmbedding .. kClassifier
inline constexpr int kTensorCount = 26;

enum class Storage : int { kResident = 0, kStreamed = 1 };

// True for the tensors a streamed model keeps as TensorSources rather than in its arena: the seven
// linear weights, the token embedding and the classifier.
bool is_streamable(TensorId id);

class Model {
 public:
  // Validates the config (check_model_config) and allocates the zero-filled arena: every tensor
  // (resident), or only the small ones (streamed; the loader then attaches a source for each large
  // tensor with set_linear_source / set_embedding_source / set_classifier_source, and every one must
  // be attached before the model is used). Throws vqr::Error(Status::InvalidArgument) on a bad
  // config, Status::OutOfMemory when the allocation fails.
  explicit Model(const ModelConfig &config, Storage storage = Storage::kResident);

  const ModelConfig &config() const { return config_; }
  Storage storage() const { return storage_; }
  bool streamed() const { return storage_ == Storage::kStreamed; }

  // A copy: resident, the arena duplicated (e.g. the original weights kept beside a quantized
  // copy); streamed, the small tensors duplicated and the sources shared (they are immutable), with
  // an empty block cache of the same budget.
  Model clone() const;

  // Number of floats of a stacked tensor (the size table; the logical size in either storage) and
  // its arena storage. In streamed storage tensor() returns NULL for the large tensors
  // (is_streamable): read them with the row readers below.
  int64_t tensor_floats(TensorId id) const { return sizes_[static_cast<int>(id)]; }
  float *tensor(TensorId id) {
    ++weights_version_;
    return ptrs_[static_cast<int>(id)];
  }
  const float *tensor(TensorId id) const { return ptrs_[static_cast<int>(id)]; }
  // Changes with every way to change a value: a writable tensor() or linear_data() pointer handed
  // out, set_linear_source. A device forward keeps the weights it uploaded while this is unchanged
  // (model/resident_forward.h), so a writable pointer is for writing before the next forward:
  // values written through a pointer fetched before a forward ran must be fetched again.
  uint64_t weights_version() const { return weights_version_; }
  int64_t total_floats() const { return total_floats_; }
  // Bytes of fp32 held now: the arena plus the block cache (what this object adds to the RSS; the
  // sources' own memory, e.g. quantized codes, is in source_bytes()).
  int64_t resident_bytes() const;
  // Sum of the sources' stored_bytes() (0 for a resident model).
  int64_t source_bytes() const;

  // Per-layer views. layer must be in [0, n_layers); throws Status::InvalidArgument otherwise.
  const float *rms_att(int layer) const;  // dim
  const float *rms_ffn(int layer) const;  // dim
  const float *rms_final() const { return tensor(TensorId::kRmsFinal); }
  // Resident storage only (NULL when streamed: use gather_embedding / read_classifier_rows).
  const float *token_embedding() const { return tensor(TensorId::kTokenEmbedding); }
  const float *classifier() const;        // vocab x dim (the embedding when shared)
  // Optional per-layer tensors; NULL when the config does not have them.
  // A linear's bias: wq, wk, wv with qkv_bias; all six with linear_bias (OPT); NULL otherwise.
  const float *bias(int layer, LinearKind kind) const;
  const float *q_norm(int layer) const;                 // head_size (qk_norm)
  const float *k_norm(int layer) const;                 // head_size (qk_norm)
  // OPT: the LayerNorms' biases (dim; NULL for LLaMA, the final one NULL without final_norm), the
  // position table ((seq_len + 2) x dim), project_in (dim x embed_dim) and project_out
  // (embed_dim x dim), NULL when absent.
  const float *norm_bias_att(int layer) const;
  const float *norm_bias_ffn(int layer) const;
  const float *norm_bias_final() const;
  const float *positions() const;
  const float *project_in() const;
  const float *project_out() const;

  // out_features x in_features of a linear kind (the same for every layer).
  int64_t linear_rows(LinearKind kind) const;
  int64_t linear_cols(LinearKind kind) const;
  // The fp32 weight (kind must be one of config().linear_kinds()). Resident: a pointer into the
  // arena, valid for the model's life. Streamed: the block's weights are widened together into the block cache; the pointer stays valid until
  // a linear() call for another block evicts this one (the cache keeps the most recently used
  // blocks within its budget, at least one), set_linear_source on this block, or
  // release_cache(). Throws vqr::Error(Status::OutOfMemory) when a block cannot be allocated, and
  // the sources' errors.
  LinearWeight linear(int layer, LinearKind kind) const;
  // Writable arena storage of the same weight: resident storage only (throws
  // Status::InvalidArgument for a streamed model). Loaders and tests fill weights through it.
  float *linear_data(int layer, LinearKind kind);

  // Row readers, valid in both storages (fp32 out, row-major, rows [r0, r1) of rows x cols):
  // a linear weight (its current source: after set_linear_source, the new one);
  void read_linear_rows(int layer, LinearKind kind, int64_t r0, int64_t r1, float *out) const;
  // embedding rows ids[0..n) (each checked in [0, vocab)), e.g. a sequence's tokens; the embedding
  // and classifier rows are embed_width() wide (dim except OPT with word_embed_proj_dim);
  void gather_embedding(const int32_t *ids, int64_t n, float *out) const;
  // consecutive rows of the token embedding and of the classifier (the embedding when shared).
  void read_embedding_rows(int64_t r0, int64_t r1, float *out) const;
  void read_classifier_rows(int64_t r0, int64_t r1, float *out) const;

  // Replaces a linear weight's values (rows x cols must match): resident, the source is read into
  // the arena at once and not kept; streamed, the source is kept (e.g. a quantized layer's codes,
  // dequantized whenever the block is widened) and the block's cached copy is dropped.
  void set_linear_source(int layer, LinearKind kind, std::shared_ptr<const TensorSource> source);
  // Streamed storage only (the loaders): the embedding's and an untied classifier's source.
  void set_embedding_source(std::shared_ptr<const TensorSource> source);
  void set_classifier_source(std::shared_ptr<const TensorSource> source);
  // The current source of a streamed linear weight (NULL in resident storage).
  const TensorSource *linear_source(int layer, LinearKind kind) const;

  // The block cache's budget in bytes (streamed storage): blocks stay widened while their sum fits;
  // one block is always kept. Default kDefaultCacheBytes. Lowering it evicts at once.
  static constexpr int64_t kDefaultCacheBytes = int64_t{1} << 30;
  void set_cache_budget(int64_t bytes);
  int64_t cache_budget() const { return cache_budget_; }
  // Bytes of fp32 one block's linear weights take (the cache's unit).
  int64_t block_bytes() const;
  // Drops every cached block (and asks the sources to release their pages).
  void release_cache() const;
  // Asks the embedding's and classifier's sources to release their pages (streamed storage; a no-op
  // when resident): the forward calls it after each gather and head, the writers after each vocab
  // tensor, so their row-wise reads do not leave a Llama-3-8B's 2 GB of vocab pages in the RSS.
  void release_vocab() const;

  // "blk.<layer>.<wq|wk|...>", the name used in messages and reports.
  static std::string linear_name(int layer, LinearKind kind);

 private:
  struct CachedBlock;
  void check_layer(int layer) const;
  void check_kind(LinearKind kind) const;  // throws Status::InvalidArgument for w3 of an OPT block
  void require_streamed(const char *what) const;
  const TensorSource &source_of(int layer, LinearKind kind) const;
  const CachedBlock &cached_block(int layer) const;
  void evict_to(int64_t bytes) const;

  ModelConfig config_;
  Storage storage_ = Storage::kResident;
  int64_t sizes_[kTensorCount] = {};
  float *ptrs_[kTensorCount] = {};
  int64_t total_floats_ = 0;
  int64_t arena_floats_ = 0;
  // calloc'd: zeros without touching a page, so a large resident model costs memory only as its
  // loader writes it (std::free through FreeDeleter).
  struct FreeDeleter {
    void operator()(float *p) const;
  };
  std::unique_ptr<float[], FreeDeleter> arena_;
  // Streamed storage: the large tensors' sources ([layer * 7 + kind] for the linears).
  std::vector<std::shared_ptr<const TensorSource>> linear_sources_;
  std::shared_ptr<const TensorSource> embedding_source_, classifier_source_;
  // The block cache, most recently used last.
  mutable std::vector<std::shared_ptr<CachedBlock>> cache_;
  int64_t cache_budget_ = kDefaultCacheBytes;
  uint64_t weights_version_ = 0;
};

}  // namespace vqr::model
