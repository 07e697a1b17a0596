// fp32 forward pass of a LLaMA-architecture model over one token sequence, written llm.c-style as
// plain loops that compute what llama2.c run.c computes (same RMSNorm, RoPE, attention softmax and
// SwiGLU). The linear layers run as one SGEMM each on the token batch and attention as per-head
// GEMMs over query tiles (MatmulPath::kBlas, the default), or both in run.c's per-output
// accumulation order (kReference), whose logits match run.c's bit for bit. The elementwise passes
// (RMSNorm, RoPE, SwiGLU, bias and residual adds) are run.c's loops on kReference and OpenMP row
// passes with the adds folded into the SGEMMs on kBlas (elementwise.h states the rounding bound).
// It can also hand the real input of every linear layer to a caller-supplied sink, one
// sequence at a time, so calibration memory does not grow with the number of tokens. On a device
// backend the kBlas blocks run on resident activations (resident_forward.h).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "backend/backend.h"
#include "model/linear_kinds.h"
#include "model/matmul.h"
#include "model/model.h"

namespace vqr::model {

// Receives the input of the linear layers that read `input` in block `layer`: x is tokens x width
// row-major (width = dim, or hidden_dim for kFfnHidden). x is valid only during the call. Called on
// the thread that called Forward::run, in forward order (layer 0 kAttnNorm, kAttnOut, kFfnNorm,
// kFfnHidden, layer 1 ...). It may throw; the exception leaves Forward::run.
using ActivationSink =
    std::function<void(int layer, LinearInput input, const float *x, int64_t tokens, int64_t width)>;

// One linear layer's input as Forward::block hands it to a sink: rows x width fp32, row-major,
// valid during the call only. On a device backend (resident_forward.h) the values are in device
// memory, and host() downloads them on its first call; a sink that can work where they are (the
// Hessian's SYRK, pipeline/resident_batch.h) reads device() instead and nothing crosses the bus.
class LinearBatch {
 public:
  // Host values (the host path).
  LinearBatch(const float *host, int64_t rows, int64_t width) : host_(host), rows_(rows), width_(width) {}
  // Device values at element `offset` of `buffer` (dense), owned by `backend`; host() downloads
  // them into `staging` (rows x width floats).
  LinearBatch(const backend::DeviceBuffer &buffer, int64_t offset, backend::Backend &backend, float *staging,
              int64_t rows, int64_t width)
      : rows_(rows), width_(width), device_(&buffer), offset_(offset), backend_(&backend), staging_(staging) {}

  int64_t rows() const { return rows_; }
  int64_t width() const { return width_; }
  // The values in host memory. Throws vqr::Error on a device failure.
  const float *host() const;
  // The device buffer that holds them (NULL on the host path), their element offset in it, and the
  // backend that owns it.
  const backend::DeviceBuffer *device() const { return device_; }
  int64_t device_offset() const { return offset_; }
  backend::Backend *device_backend() const { return backend_; }

 private:
  mutable const float *host_ = nullptr;
  int64_t rows_, width_;
  const backend::DeviceBuffer *device_ = nullptr;
  int64_t offset_ = 0;
  backend::Backend *backend_ = nullptr;
  float *staging_ = nullptr;
};

// What a block sink tells Forward::block after it has seen one linear input.
enum class SinkAction {
  kContinue,   // compute the rest of the block
  kStopBlock,  // the caller has what it needs: return now, the rest of the block is not computed
};
// The sink of one Forward::block call: as ActivationSink, and it may end the block early (a
// calibration pass that needs one layer's input stops there). After a stop hidden() holds a
// partly updated residual stream that the caller must not use.
using BlockSink = std::function<SinkAction(int layer, LinearInput input, const LinearBatch &x)>;

// RoPE's per-pair inverse frequencies (head_size / 2 values): theta^(-2j/HS) computed in float as
// run.c does, then the config's linear or llama3 scaling.
std::vector<float> rope_inverse_frequencies(const ModelConfig &config);

class ResidentForward;

class Forward {
 public:
  // Scratch for sequences of up to max_tokens (1..seq_len) tokens, from one allocation.
  // threads: OpenMP threads for the row loops (0 = omp_get_max_threads()); set per parallel
  // region, never globally; the BLAS path's SGEMMs use the BLAS library's own threads. path: the
  // linear layers' and attention's arithmetic (matmul.h, attention.h); two Forwards agree bit for
  // bit only on the same path.
  // The model must outlive this object.
  // Throws vqr::Error(Status::InvalidArgument, Status::OutOfMemory).
  // batch_tokens (0 = max_tokens): rows of scratch for several sequences packed together
  // (set_segments), each still at most max_tokens long.
  Forward(const Model &model, int64_t max_tokens, int threads = 0, MatmulPath path = MatmulPath::kBlas,
          int64_t batch_tokens = 0);
  ~Forward();
  Forward(const Forward &) = delete;
  Forward &operator=(const Forward &) = delete;

  int64_t max_tokens() const { return max_tokens_; }
  int64_t batch_tokens() const { return rows_; }

  // Packs several sequences into one pass: the next embed/block/head calls take n = the sum of
  // `lengths` rows, sequence i in rows [sum of lengths before i, + lengths[i]) at positions 0..len-1,
  // attending only within itself. The linear layers and elementwise passes then run once on the
  // whole batch (taller GEMMs: what makes short windows of a small model fast), RoPE and attention
  // per sequence. Each row's arithmetic is the single sequence's except the SGEMMs' blocking order
  // (matmul.h; the kReference path is unchanged bit for bit). An empty list (the default) is one
  // sequence of n tokens. Throws Status::InvalidArgument for a length outside [1, max_tokens] or a
  // sum above batch_tokens.
  void set_segments(std::vector<int64_t> lengths);
  // The backend the kBlas path's SGEMMs run on (default: the CPU backend). On a device backend
  // (one whose buffers are not host memory, backend.h) the blocks run on resident activations
  // (resident_forward.h): the residual stream stays on the device from block to block and is
  // downloaded only when hidden(), read_hidden() or head() needs it; the results differ from the
  // CPU's by summation order and the device's exp only. resident = false keeps the host passes and
  // stages each product's operands instead (what bench/ compares the resident blocks against).
  // Throws vqr::Error on a device failure.
  void set_backend(backend::Backend &be, bool resident = true);
  backend::Backend &backend() const { return *backend_; }
  int threads() const { return threads_; }
  const Model &model() const { return model_; }  // the OpenMP threads of the row passes (resolved: >= 1)
  MatmulPath path() const { return path_; }

  // Runs tokens[0..n) at positions 0..n-1 with a fresh context (no state is carried between
  // calls), or, after set_segments with a non-empty list, the packed sequences (n = their sum),
  // each from position 0. logits: n x vocab, overwritten; nullptr skips the classifier
  // (calibration only needs the linear inputs). sink: may be empty.
  // Throws vqr::Error(Status::InvalidArgument) for n outside [1, max_tokens] (without segments),
  // n other than the segments' sum (with them), or a token id outside [0, vocab_size).
  void run(const int32_t *tokens, int64_t n, float *logits, const ActivationSink &sink = {});

  // The same pass in pieces, for callers that keep hidden states between blocks (the sequential
  // quantizer runs one block at a time over many sequences). The residual stream of the current
  // n tokens is hidden() (batch_tokens() x dim, rows 0..n-1 valid). With segments set, each call's
  // n must be their sum.
  // embed: validates the tokens (as run) and writes their embeddings into hidden().
  void embed(const int32_t *tokens, int64_t n);
  // block: hidden() = block `layer` applied to hidden() for n tokens, unless the sink (may be
  // empty) stops it. `weights`, when not NULL, replaces the model's seven linear weights of this
  // block (indexed by LinearKind), e.g. a block's full-precision copy while the model holds its
  // quantized weights.
  void block(int layer, int64_t n, const BlockSink &sink = {}, const float *const *weights = nullptr);
  // head: final RMSNorm and classifier on hidden(); logits n x vocab.
  void head(int64_t n, float *logits);
  // The residual stream in host memory, for writing (a caller loading hidden states) or reading; on
  // a device forward it is downloaded first when the device's copy is newer, and uploaded again
  // before the next block.
  float *hidden();
  // The same for reading only: a device forward keeps its copy (no upload before the next block).
  const float *read_hidden();
  // The host buffer for writing a new stream (rows x dim) before the next block, without fetching
  // the current one: what a caller that loads saved hidden states uses.
  float *load_hidden();

 private:
  // Throws Status::InvalidArgument unless n fits: [1, max_tokens] without segments, their sum with.
  void require_rows(int64_t n, const char *what) const;
  // out (T x OC, overwrite) = inp (T x IC) w^T on this Forward's path.
  void linear(float *out, const float *inp, const float *w, int64_t T, int64_t IC, int64_t OC);
  // out (T x OC, overwrite) = inp w^T + bias (OC; NULL: none): on kBlas the bias starts the SGEMM.
  void linear_bias(float *out, const float *inp, const float *w, const float *bias, int64_t T, int64_t IC,
                   int64_t OC);
  // x (T x OC, accumulate) += inp w^T, the residual connection: on kBlas x starts the SGEMM; on
  // kReference the product goes through scratch (T x OC) and is added as run.c does.
  void linear_residual(float *x, float *scratch, const float *inp, const float *w, int64_t T, int64_t IC,
                       int64_t OC);
  // OPT's embedding, block and head (forward.cpp states the block).
  void opt_embed(const int32_t *tokens, int64_t n);
  void opt_block(int layer, int64_t n, const std::vector<int64_t> &seqs, const BlockSink &sink,
                 const float *const *weights);
  void opt_head(int64_t n, float *logits);
  // logits (n x vocab, overwrite) = x (n x width, the classifier's row width) times the classifier.
  void classify(const float *x, int64_t n, int64_t width, float *logits);
  // out (rows x width, overwrite; may alias inp) = RMSNorm(inp) * weight on this Forward's path.
  void rmsnorm(float *out, const float *inp, const float *weight, int64_t rows, int64_t width);

  const Model &model_;
  int64_t max_tokens_;
  int64_t rows_;                    // scratch rows: max(max_tokens, batch_tokens)
  std::vector<int64_t> segments_;   // set_segments; empty = one sequence
  int64_t packed_rows_ = 0;         // the sum of segments_
  int threads_;
  MatmulPath path_;
  backend::Backend *backend_;
  std::unique_ptr<ResidentForward> resident_;  // set_backend on a device backend, kBlas path
  std::unique_ptr<float[]> arena_;
  // Views into arena_ (per-token rows):
  float *x_;    // T x dim, residual stream
  float *xb_;   // T x max(dim, q_dim), normed input / attention output / w2 output
  float *xb2_;  // T x dim, wo output
  float *q_;    // T x q_dim
  float *k_;    // T x kv_dim
  float *v_;    // T x kv_dim
  float *hb_;   // T x hidden, w1 output, then silu(w1 x) * w3 x
  float *hb2_;  // T x hidden, w3 output
  float *att_;  // attention scratch (attention_scratch_floats): weights per thread, or score tiles
  float *mm_;   // reference-path matmul scratch: the transposed input of the current matmul
  std::vector<float> inv_freq_;  // rope_inverse_frequencies(config)
  std::vector<float> rope_table_;  // kBlas: rope_table(inv_freq_, max_tokens), built once
  // A streamed model's classifier rows, widened kClassifierChunkRows at a time (head()).
  static constexpr int64_t kClassifierChunkRows = 4096;
  std::vector<float> classifier_chunk_;
};

}  // namespace vqr::model
