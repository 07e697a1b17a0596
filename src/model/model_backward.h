// Gradients of a loss on the logits through the whole model (issue 17 item 1): the forward keeps
// only the block-boundary states (n_layers + 1 rows of T x dim: activation checkpointing), the
// caller's loss turns the logits into dL/dlogits, and the backward runs the head (final RMSNorm and
// classifier, which is not trained) and then the blocks from the last to the first, each recomputed
// from its boundary state by BlockBackward, handing dL/dW of every linear to a sink as it goes.
// Peak memory: the boundary states, one block's activations (block_backward.h), T x vocab logits and
// their gradient. Resident or streamed models (the classifier read in row chunks).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "model/block_backward.h"
#include "model/forward.h"
#include "model/model.h"
#include "model/nll.h"  // nll_loss_and_gradient, the usual LogitsLoss

namespace vqr::model {

// Fills dlogits (T x vocab) with dL/dlogits for the logits (T x vocab) of one sequence and returns L.
using LogitsLoss = std::function<double(const float *logits, int64_t T, int64_t vocab, float *dlogits)>;
// dL/dW of linear `kind` of block `layer` (out x in, row-major, valid during the call).
using ModelWeightGradSink =
    std::function<void(int layer, LinearKind kind, const float *dw, int64_t out_features, int64_t in_features)>;
// The seven weights (indexed by LinearKind) block `layer` computes with instead of the model's, e.g.
// the current soft-quantized weights of a learned rounding; NULL = the model's. Called before the
// block's forward and again before its recomputation in the backward; the pointers must stay valid
// until the next call.
using BlockWeights = std::function<const float *const *(int layer)>;


class ModelBackward {
 public:
  // Scratch for sequences of up to max_tokens tokens (1..seq_len); threads as Forward's. The model
  // must outlive this object. Throws vqr::Error (Status::InvalidArgument, Status::OutOfMemory).
  ModelBackward(const Model &model, int64_t max_tokens, int threads = 0);

  // One sequence (tokens[0..T), fresh context): forward, loss(logits) -> L and dL/dlogits, backward.
  // sink (may be empty) gets every linear's dL/dW, blocks from the last to the first and within a
  // block in BlockBackward's order. Returns L. Throws vqr::Error(Status::InvalidArgument) for T or a
  // token out of range, and what loss, sink or weights throw. weights (may be empty): BlockWeights.
  double run(const int32_t *tokens, int64_t T, const LogitsLoss &loss, const ModelWeightGradSink &sink = {},
             const BlockWeights &weights = {});

  // The backend of every GEMM of the forward and backward (default: the CPU backend).
  void set_backend(backend::Backend &be) {
    forward_.set_backend(be);
    block_.set_backend(be);
  }

 private:
  const Model &model_;
  int64_t max_tokens_;
  Forward forward_;
  BlockBackward block_;
  int threads_;
  std::vector<float> states_;   // (n_layers + 1) x max_tokens x dim: each block's input, then the head's
  std::vector<float> logits_, dlogits_, grad_a_, grad_b_, xn_, classifier_chunk_;
  std::vector<float> proj_;  // OPT with embed_dim: the gradient behind project_out (T x dim)
};

}  // namespace vqr::model
