// Whole-model backward with block checkpointing (model_backward.h).
#include "model/model_backward.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <new>
#include <string>

#include "backend/backend.h"
#include "core/error.h"
#include "model/elementwise.h"
#include "model/layer_norm.h"

namespace vqr::model {

namespace {

// Classifier rows read per GEMM of the head's backward (a streamed classifier is widened per chunk).
constexpr int64_t kClassifierChunkRows = 4096;

}  // namespace

ModelBackward::ModelBackward(const Model &model, int64_t max_tokens, int threads)
    : model_(model),
      max_tokens_(max_tokens),
      forward_(model, max_tokens, threads),
      block_(model, max_tokens, threads),
      threads_(forward_.threads()) {
  const ModelConfig &c = model.config();
  const int64_t T = max_tokens, C = c.dim, V = c.vocab_size, L = c.n_layers, E = std::max<int64_t>(C, c.embed_width());
  try {
    states_.resize((size_t)((L + 1) * T * C));
    logits_.resize((size_t)(T * V));
    dlogits_.resize((size_t)(T * V));
    grad_a_.resize((size_t)(T * C));
    grad_b_.resize((size_t)(T * C));
    xn_.resize((size_t)(T * E));  // OPT with embed_dim: the classifier's input is T x embed_dim
    if (c.embed_dim > 0) proj_.resize((size_t)(T * C));
    classifier_chunk_.resize((size_t)(std::min(V, kClassifierChunkRows) * E));
  } catch (const std::bad_alloc &) {
    throw Error(Status::OutOfMemory, "model backward: cannot allocate the states of " + std::to_string(T) + " tokens");
  }
}

double ModelBackward::run(const int32_t *tokens, int64_t T, const LogitsLoss &loss, const ModelWeightGradSink &sink,
                          const BlockWeights &weights) {
  const ModelConfig &c = model_.config();
  require(T >= 1 && T <= max_tokens_, Status::InvalidArgument,
          "model backward: " + std::to_string(T) + " tokens, outside [1, " + std::to_string(max_tokens_) + "]");
  require(static_cast<bool>(loss), Status::InvalidArgument, "model backward: no loss");
  const int64_t C = c.dim, V = c.vocab_size, L = c.n_layers;
  const size_t state = (size_t)(max_tokens_ * C), bytes = (size_t)(T * C) * sizeof(float);

  // Forward, keeping each block's input and the head's.
  forward_.embed(tokens, T);
  for (int l = 0; l < L; ++l) {
    std::memcpy(&states_[(size_t)l * state], forward_.read_hidden(), bytes);
    forward_.block(l, T, {}, weights ? weights(l) : nullptr);
  }
  std::memcpy(&states_[(size_t)L * state], forward_.read_hidden(), bytes);
  forward_.head(T, logits_.data());
  const double value = loss(logits_.data(), T, V, dlogits_.data());

  // Head: logits = xn Wc^T with xn = RMSNorm(h) g: dxn = dlogits Wc, in classifier row chunks.
  // OPT: xn = project_out(LayerNorm(h)) (each part when present), E = embed_width() wide.
  const float *h = &states_[(size_t)L * state];
  const int64_t E = c.embed_width();
  float *dxn = xn_.data();
  for (int64_t r0 = 0; r0 < V; r0 += kClassifierChunkRows) {
    const int64_t r1 = std::min(V, r0 + kClassifierChunkRows);
    model_.read_classifier_rows(r0, r1, classifier_chunk_.data());
    forward_.backend().gemm(backend::Op::None, backend::Op::None, T, E, r1 - r0, 1.0f, dlogits_.data() + r0, V,
                        classifier_chunk_.data(), E, r0 == 0 ? 0.0f : 1.0f, dxn, E);
  }
  model_.release_vocab();
  float *grad = grad_a_.data(), *next = grad_b_.data();
  if (!c.is_opt()) {
    rmsnorm_backward(grad, false, dxn, h, model_.rms_final(), T, C, c.norm_eps, threads_);
  } else {
    if (c.embed_dim > 0) {  // z = y Pout^T (Pout: E x C): dy = dz Pout
      forward_.backend().gemm(backend::Op::None, backend::Op::None, T, C, E, 1.0f, dxn, E, model_.project_out(), C,
                              0.0f, proj_.data(), C);
      dxn = proj_.data();
    }
    if (c.final_norm)
      layernorm_backward(grad, false, dxn, h, model_.rms_final(), T, C, c.norm_eps, threads_);
    else
      std::memcpy(grad, dxn, bytes);
  }

  // Blocks, last to first, each recomputed from its input.
  for (int l = L - 1; l >= 0; --l) {
    WeightGradSink block_sink;
    if (sink)
      block_sink = [&sink, l](LinearKind kind, const float *dw, int64_t out, int64_t in) { sink(l, kind, dw, out, in); };
    block_.run(l, &states_[(size_t)l * state], T, grad, next, block_sink, weights ? weights(l) : nullptr);
    std::swap(grad, next);
  }
  return value;
}

}  // namespace vqr::model
