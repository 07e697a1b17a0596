// Gradients through one decoder block of the BLAS-path forward (forward.h), for the end-to-end and
// block-wise learned methods (issue 17 item 1, spec vqround §1.5-1.6, learned_rounding §1.7).
//
// The block is recomputed from its input (activation checkpointing: the caller keeps only the
// block-boundary states), its activations held for one block of T tokens, then differentiated:
//   xn1 = RMSNorm(x) g_att;  q, k, v = xn1 W^T (+ b);  q, k: per-head RMSNorm (Qwen3), RoPE;
//   o = causal (windowed) GQA softmax(q k^T / sqrt(HS)) v;  x1 = x + o Wo^T;
//   xn2 = RMSNorm(x1) g_ffn;  a = silu(xn2 W1^T) * (xn2 W3^T);  y = x1 + a W2^T.
// OPT (ModelConfig::family kOpt; forward.cpp's opt_block): LayerNorm instead of RMSNorm, no RoPE,
// biases on every linear, a = relu(xn2 W1^T + b1), no W3; post-LN blocks normalize x + o Wo^T + bo
// and x1 + a W2^T + b2 instead of the branches' inputs.
// Given dL/dy it returns dL/dx and hands dL/dW of each of the seven linears to a sink, one at a time
// (OC x IC like the weight, valid during the call), so no block's weight gradients are kept: the
// learned methods turn each into their own parameters' gradients at once. Norm gains and biases
// are not trained (they get no gradient). Every product with a weight or an activation matrix is
// one SGEMM; attention's probabilities are recomputed a tile of 128 query rows against its visible
// keys at a time (never the causal triangle beyond it), for as many heads as fit 64 MB.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "backend/backend.h"
#include "model/linear_kinds.h"
#include "model/model.h"

namespace vqr::model {

// RMSNorm's backward for `rows` rows of width n: y = x r g with r = 1 / sqrt(mean(x^2) + eps), so
// dx_i = r g_i dy_i - x_i (r^3 / n) sum_j g_j dy_j x_j (the row sums in double); dx = that, or
// dx += that with accumulate. dx must not alias x or dy. threads: OpenMP threads over the rows.
void rmsnorm_backward(float *dx, bool accumulate, const float *dy, const float *x, const float *g, int64_t rows,
                      int64_t n, float eps, int threads);

// dL/dW of linear `kind`: out_features x in_features, row-major; valid only during the call.
using WeightGradSink = std::function<void(LinearKind kind, const float *dw, int64_t out_features, int64_t in_features)>;

class BlockBackward {
 public:
  // Scratch for sequences of up to max_tokens (1..seq_len) tokens. threads: OpenMP threads of the
  // row passes (0 = all). The model must outlive this object. Throws vqr::Error
  // (Status::InvalidArgument, Status::OutOfMemory).
  // score_bytes: the attention backward's probabilities and their gradients are held for as many
  // heads at once as fit (0 = kScoreBytes); the results do not depend on it.
  static constexpr int64_t kScoreBytes = int64_t{64} << 20;
  BlockBackward(const Model &model, int64_t max_tokens, int threads = 0, int64_t score_bytes = 0);

  // Block `layer` on x (T x dim, one sequence at positions 0..T-1): dx (T x dim, overwritten; must
  // not alias x or dy) = dL/dx for dy = dL/dy (T x dim). sink (may be empty) receives dL/dW in the
  // order w2, w1, w3 (not OPT), wo, wq, wk, wv. weights: when not NULL, the block's weights to differentiate
  // through instead of the model's (indexed by LinearKind), e.g. a block's current soft-quantized
  // weights. Throws vqr::Error(Status::InvalidArgument) for a bad layer or T.
  void run(int layer, const float *x, int64_t T, const float *dy, float *dx, const WeightGradSink &sink = {},
           const float *const *weights = nullptr);

  // run() in two halves, for losses that need the block's output first (block-wise
  // reconstruction): forward computes the block on x (kept by pointer until backward) with the same
  // weights rule, keeps its activations and writes y = block(x) (T x dim; may be NULL); backward
  // then takes dy for that output. Both throw as run does; backward before any forward throws
  // Status::InvalidArgument. The weights must stay valid until backward returns.
  void forward(int layer, const float *x, int64_t T, float *y, const float *const *weights = nullptr);
  void backward(const float *dy, float *dx, const WeightGradSink &sink = {});

  // The backend of the block's GEMMs (default: the CPU backend); a context's backend_of.
  void set_backend(backend::Backend &be) { backend_ = &be; }

 private:
  const Model &model_;
  int64_t max_tokens_;
  int64_t score_bytes_;
  int threads_;
  backend::Backend *backend_ = &backend::cpu();
  std::vector<float> rope_table_;  // rope_table(inv_freq, max_tokens)
  // The last forward(): its block, tokens, input and the seven weights it used.
  int layer_ = -1;
  int64_t tokens_ = 0;
  const float *x_ = nullptr;
  const float *w_[kLinearKindCount] = {};
  // Activations of the recomputed forward (max_tokens rows each) and the gradients' scratch.
  std::vector<float> xn1_, qpre_, kpre_, q_, k_, v_, o_, x1_, xn2_, h1_, h3_, a_;
  std::vector<float> dq_, dk_, dv_, do_, dx1_, dxn_, da_, dh1_, dh3_;
  std::vector<float> x1pre_, ypre_;  // OPT post-LN: the residual sums before their LayerNorms
  std::vector<float> dw_;            // the largest weight gradient
  std::vector<float> probs_, dprobs_, att_;  // a head group's tile x T each, and the forward's attention scratch

  // The OPT block's forward and backward (the same members, OPT's arithmetic).
  void opt_forward(float *y);
  void opt_backward(const float *dy, float *dx, const WeightGradSink &sink);
  // Attention's backward from do_ (and q_, k_, v_ of the forward) into dq_, dk_, dv_.
  void attention_backward();
};

}  // namespace vqr::model
