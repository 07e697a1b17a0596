// Forward pass, following llama2.c run.c forward() line by line but over a whole sequence:
// each linear layer is one matmul over every position (one SGEMM, or run.c's loop order: the
// Forward's MatmulPath), attention lets position t see positions 0..t (per-tile GEMMs, or run.c's
// loops: attention.h). Dimension letters:
// T tokens, C = dim, KV = kv_dim, H = hidden_dim, V = vocab, NH heads of size HS.
#include "model/forward.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <new>

#include "backend/backend.h"
#include "core/error.h"
#include "model/attention.h"
#include "model/elementwise.h"
#include "model/layer_norm.h"
#include "model/matmul.h"
#include "model/resident_forward.h"

namespace vqr::model {

std::vector<float> rope_inverse_frequencies(const ModelConfig &c) {
  const int64_t HS = c.head_size();
  std::vector<float> inv(static_cast<size_t>(HS / 2));
  for (int64_t j = 0; j < HS / 2; ++j)  // run.c: 1 / powf(theta, head_dim / head_size), head_dim = 2j
    inv[j] = 1.0f / std::pow(c.rope_theta, static_cast<float>(2 * j) / static_cast<float>(HS));
  if (c.rope_scaling == RopeScaling::kLinear) {
    for (float &f : inv) f /= c.rope_factor;
  } else if (c.rope_scaling == RopeScaling::kLlama3) {
    // transformers _compute_llama3_parameters, in float: long wavelengths divided by factor, short
    // ones kept, the band between interpolated by smooth = (ctx / wavelen - low) / (high - low).
    const float pi = 3.14159265358979323846f;
    const float ctx = static_cast<float>(c.rope_original_context);
    const float low_wavelen = ctx / c.rope_low_freq_factor;
    const float high_wavelen = ctx / c.rope_high_freq_factor;
    for (float &f : inv) {
      const float wavelen = 2.0f * pi / f;
      if (wavelen > low_wavelen) {
        f = f / c.rope_factor;
      } else if (!(wavelen < high_wavelen)) {
        const float smooth = (ctx / wavelen - c.rope_low_freq_factor) /
                             (c.rope_high_freq_factor - c.rope_low_freq_factor);
        f = (1.0f - smooth) * f / c.rope_factor + smooth * f;
      }
    }
  }
  return inv;
}

Forward::Forward(const Model &model, int64_t max_tokens, int threads, MatmulPath path, int64_t batch_tokens)
    : model_(model), max_tokens_(max_tokens), rows_(std::max(max_tokens, batch_tokens)), path_(path), backend_(&backend::cpu()) {
  const ModelConfig &c = model.config();
  require(max_tokens >= 1 && max_tokens <= c.seq_len, Status::InvalidArgument,
          "forward: max_tokens " + std::to_string(max_tokens) + " is outside [1, seq_len " +
              std::to_string(c.seq_len) + "]");
  require(threads >= 0, Status::InvalidArgument, "forward: threads must be >= 0");
  require(batch_tokens >= 0, Status::InvalidArgument, "forward: batch_tokens must be >= 0");
  threads_ = threads > 0 ? threads : omp_get_max_threads();
  // Row buffers hold a packed batch (rows_); attention's scratch one sequence (max_tokens).
  const int64_t T = rows_, C = c.dim, QD = c.q_dim(), KV = c.kv_dim(), H = c.hidden_dim;
  // xb_ holds normed inputs (C), attention outputs (QD) and OPT's narrow embeddings (embed_width)
  const int64_t CQ = std::max<int64_t>({C, QD, c.embed_width()});
  // Table of sizes, one allocation (in the order of the members).
  const int64_t mm = path == MatmulPath::kReference ? matmul_scratch_floats(T, std::max(CQ, H)) : 0;
  const int64_t sizes[] = {T * C, T * CQ, T * C, T * QD, T * KV, T * KV, T * H, T * H, attention_scratch_floats(path, max_tokens, c.n_heads, threads_), mm};
  float **slots[] = {&x_, &xb_, &xb2_, &q_, &k_, &v_, &hb_, &hb2_, &att_, &mm_};
  int64_t total = 0;
  for (int64_t s : sizes) total += s;
  arena_.reset(new (std::nothrow) float[static_cast<size_t>(total)]);
  require(arena_ != nullptr, Status::OutOfMemory,
          "forward: cannot allocate " + std::to_string(total * 4) + " bytes of activations");
  float *p = arena_.get();
  for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); ++i) {
    *slots[i] = p;
    p += sizes[i];
  }
  inv_freq_ = rope_inverse_frequencies(c);
  if (path == MatmulPath::kBlas) rope_table_ = rope_table(inv_freq_, max_tokens);
}

void Forward::set_segments(std::vector<int64_t> lengths) {
  int64_t sum = 0;
  for (int64_t n : lengths) {
    require(n >= 1 && n <= max_tokens_, Status::InvalidArgument,
            "forward: a packed sequence has " + std::to_string(n) + " tokens, outside [1, " +
                std::to_string(max_tokens_) + "]");
    sum += n;
  }
  require(sum <= rows_, Status::InvalidArgument,
          "forward: packed sequences of " + std::to_string(sum) + " tokens exceed the " + std::to_string(rows_) +
              " rows of this Forward");
  segments_ = std::move(lengths);
  packed_rows_ = sum;
}

Forward::~Forward() = default;

void Forward::set_backend(backend::Backend &be, bool resident) {
  if (resident_) resident_->sync_to_host(x_);  // the stream stays the caller's across the switch
  resident_.reset();
  backend_ = &be;
  // The resident blocks (resident_forward.h) are LLaMA's; an OPT model runs the host passes with
  // the backend's GEMMs.
  if (!resident || path_ != MatmulPath::kBlas || be.host_memory() || model_.config().is_opt()) return;
  std::unique_ptr<backend::ForwardKernels> kernels = be.make_forward_kernels();
  if (kernels)
    resident_ = std::make_unique<ResidentForward>(model_, be, std::move(kernels), rows_, max_tokens_, rope_table_);
}

float *Forward::hidden() {
  if (resident_) {
    resident_->sync_to_host(x_);
    resident_->host_changed();
  }
  return x_;
}

float *Forward::load_hidden() {
  if (resident_) resident_->host_changed();
  return x_;
}

const float *Forward::read_hidden() {
  if (resident_) resident_->sync_to_host(x_);
  return x_;
}

const float *LinearBatch::host() const {
  if (!host_) {
    device_->download((size_t)offset_ * sizeof(float), staging_, (size_t)(rows_ * width_) * sizeof(float));
    host_ = staging_;
  }
  return host_;
}

void Forward::linear(float *out, const float *inp, const float *w, int64_t T, int64_t IC, int64_t OC) {
  if (path_ == MatmulPath::kBlas) {
    // The model floor's compute goes through the seam (DESIGN §1): the context's backend.
    matmul_forward_blas(*backend_, out, inp, w, T, IC, OC);
  } else {
    matmul_forward(out, mm_, inp, w, T, IC, OC, threads_);
  }
}

void Forward::linear_bias(float *out, const float *inp, const float *w, const float *bias, int64_t T, int64_t IC,
                          int64_t OC) {
  if (bias == nullptr) {
    linear(out, inp, w, T, IC, OC);
  } else if (path_ == MatmulPath::kBlas) {  // the bias is the SGEMM's start value (elementwise.h)
    fill_rows(out, bias, T, OC, threads_);
    matmul_accumulate_blas(*backend_, out, inp, w, T, IC, OC);
  } else {
    linear(out, inp, w, T, IC, OC);
    bias_forward(out, bias, T, OC);
  }
}

void Forward::linear_residual(float *x, float *scratch, const float *inp, const float *w, int64_t T, int64_t IC,
                              int64_t OC) {
  if (path_ == MatmulPath::kBlas) {  // the residual stream is the SGEMM's start value (elementwise.h)
    matmul_accumulate_blas(*backend_, x, inp, w, T, IC, OC);
  } else {
    linear(scratch, inp, w, T, IC, OC);
    residual_forward(x, scratch, T * OC);
  }
}

void Forward::rmsnorm(float *out, const float *inp, const float *weight, int64_t rows, int64_t width) {
  const float eps = model_.config().norm_eps;
  if (path_ == MatmulPath::kBlas) {
    rmsnorm_rows(out, inp, weight, rows, width, eps, threads_);
  } else {
    rmsnorm_forward(out, inp, weight, rows, width, eps);
  }
}

void Forward::run(const int32_t *tokens, int64_t n, float *logits, const ActivationSink &sink) {
  embed(tokens, n);
  BlockSink observe;  // the whole pass runs: the caller's sink only observes
  if (sink)
    observe = [&sink](int layer, LinearInput input, const LinearBatch &x) {
      sink(layer, input, x.host(), x.rows(), x.width());
      return SinkAction::kContinue;
    };
  for (int l = 0; l < model_.config().n_layers; ++l) block(l, n, observe);
  if (logits != nullptr) head(n, logits);
}

void Forward::require_rows(int64_t n, const char *what) const {
  if (segments_.empty())
    require(n >= 1 && n <= max_tokens_, Status::InvalidArgument,
            std::string("forward: ") + what + " on " + std::to_string(n) + " tokens, outside [1, " +
                std::to_string(max_tokens_) + "]");
  else
    require(n == packed_rows_, Status::InvalidArgument,
            std::string("forward: ") + what + " on " + std::to_string(n) + " tokens, but the packed sequences hold " +
                std::to_string(packed_rows_));
}

void Forward::embed(const int32_t *tokens, int64_t n) {
  const ModelConfig &c = model_.config();
  require(tokens != nullptr, Status::InvalidArgument, "forward: tokens is NULL");
  require_rows(n, "embed");
  for (int64_t t = 0; t < n; ++t)
    require(tokens[t] >= 0 && tokens[t] < c.vocab_size, Status::InvalidArgument,
            "forward: token " + std::to_string(tokens[t]) + " at position " + std::to_string(t) +
                " is outside the vocabulary [0, " + std::to_string(c.vocab_size) + ")");
  if (c.is_opt()) {
    opt_embed(tokens, n);
    return;
  }
  model_.gather_embedding(tokens, n, x_);  // row-wise: a streamed embedding is never widened whole
  model_.release_vocab();
  if (resident_) resident_->host_changed();
}

// OPT: x = project_in(embedding) (when embed_dim is set) + the position rows t + 2 of each sequence.
void Forward::opt_embed(const int32_t *tokens, int64_t n) {
  const ModelConfig &c = model_.config();
  const int64_t C = c.dim, E = c.embed_width();
  if (model_.project_in() != nullptr) {
    model_.gather_embedding(tokens, n, xb_);
    linear(x_, xb_, model_.project_in(), n, E, C);
  } else {
    model_.gather_embedding(tokens, n, x_);
  }
  model_.release_vocab();
  const std::vector<int64_t> one{n};
  int64_t start = 0;
  for (int64_t len : segments_.empty() ? one : segments_) {  // positions restart in each packed sequence
    add_position_rows(x_ + start * C, model_.positions(), len, C, kOptPositionOffset);
    start += len;
  }
}

void Forward::block(int l, int64_t n, const BlockSink &sink, const float *const *weights) {
  const ModelConfig &c = model_.config();
  require(l >= 0 && l < c.n_layers, Status::InvalidArgument, "forward: block " + std::to_string(l) + " is out of range");
  require_rows(n, "block");
  // The packed sequences (set_segments), or one of n tokens: RoPE and attention run per sequence.
  const std::vector<int64_t> one{n};
  const std::vector<int64_t> &seqs = segments_.empty() ? one : segments_;
  if (resident_) {
    // A sink's host() downloads into xb2_ and the buffers after it: xb2_, q_, k_, v_, hb_ and hb2_
    // are contiguous in the arena (rows_ x (dim + q_dim + 2 kv_dim + 2 hidden) floats), which the
    // device path does not use, and hold any linear input (at most max(dim, q_dim, hidden) wide).
    resident_->block(l, n, seqs, x_, xb2_, sink, weights);
    return;
  }
  if (c.is_opt()) {
    opt_block(l, n, seqs, sink, weights);
    return;
  }
  const int64_t T = n, C = c.dim, QD = c.q_dim(), KV = c.kv_dim(), H = c.hidden_dim, NH = c.n_heads,
                NKV = c.n_kv_heads, HS = c.head_size();
  auto W = [&](LinearKind kind) { return weights ? weights[static_cast<int>(kind)] : model_.linear(l, kind).data; };
  auto stop = [&](LinearInput input, const float *x, int64_t width) {
    return sink && sink(l, input, LinearBatch(x, T, width)) == SinkAction::kStopBlock;
  };

  // attention
  rmsnorm(xb_, x_, model_.rms_att(l), T, C);
  if (stop(LinearInput::kAttnNorm, xb_, C)) return;
  auto bias = [&](LinearKind kind) { return c.qkv_bias ? model_.bias(l, kind) : nullptr; };
  linear_bias(q_, xb_, W(LinearKind::kWq), bias(LinearKind::kWq), T, C, QD);
  linear_bias(k_, xb_, W(LinearKind::kWk), bias(LinearKind::kWk), T, C, KV);
  linear_bias(v_, xb_, W(LinearKind::kWv), bias(LinearKind::kWv), T, C, KV);
  if (path_ != MatmulPath::kBlas && c.qk_norm) {  // Qwen3: RMSNorm over each head, one weight shared by heads
    rmsnorm(q_, q_, model_.q_norm(l), T * NH, HS);
    rmsnorm(k_, k_, model_.k_norm(l), T * NKV, HS);
  }
  int64_t start = 0;
  for (int64_t len : seqs) {  // positions restart at 0 in each packed sequence
    float *q = q_ + start * QD, *k = k_ + start * KV, *v = v_ + start * KV, *out = xb_ + start * QD;
    if (path_ == MatmulPath::kBlas) {
      qk_norm_rope_rows(q, k, rope_table_.data(), c.qk_norm ? model_.q_norm(l) : nullptr,
                        c.qk_norm ? model_.k_norm(l) : nullptr, c.norm_eps, len, NH, NKV, HS, c.rope_layout, threads_);
      attention_forward_blas(*backend_, out, att_, q, k, v, len, HS, NH, NKV, c.sliding_window, threads_);
    } else {
      rope_forward(q, k, len, NH, NKV, HS, inv_freq_.data(), c.rope_layout);
      attention_forward(out, att_, q, k, v, len, HS, NH, NKV, c.sliding_window, threads_);
    }
    start += len;
  }
  if (stop(LinearInput::kAttnOut, xb_, QD)) return;
  linear_residual(x_, xb2_, xb_, W(LinearKind::kWo), T, QD, C);

  // feed-forward
  rmsnorm(xb_, x_, model_.rms_ffn(l), T, C);
  if (stop(LinearInput::kFfnNorm, xb_, C)) return;
  linear(hb_, xb_, W(LinearKind::kW1), T, C, H);
  linear(hb2_, xb_, W(LinearKind::kW3), T, C, H);
  if (path_ == MatmulPath::kBlas) {
    swiglu_rows(hb_, hb2_, T, H, threads_);
  } else {
    swiglu_forward(hb_, hb2_, T * H);
  }
  if (stop(LinearInput::kFfnHidden, hb_, H)) return;
  linear_residual(x_, xb_, hb_, W(LinearKind::kW2), T, H, C);
}

// OPT's block (model.h, BlockFamily::kOpt), pre-LN:
//   x1 = x + attn(LN_att(x)) Wo^T + bo;  y = x1 + relu(LN_ffn(x1) W1^T + b1) W2^T + b2;
// post-LN (pre_norm false): x1 = LN_att(x + attn(x) Wo^T + bo);  y = LN_ffn(x1 + relu(x1 W1^T + b1) W2^T + b2).
// attn is causal multi-head softmax(q k^T / sqrt(HS)) v with q, k, v = in W^T + b and no RoPE
// (transformers scales q after its bias; the same product up to rounding).
void Forward::opt_block(int l, int64_t n, const std::vector<int64_t> &seqs, const BlockSink &sink,
                        const float *const *weights) {
  const ModelConfig &c = model_.config();
  const int64_t T = n, C = c.dim, QD = c.q_dim(), H = c.hidden_dim, NH = c.n_heads, HS = c.head_size();
  const float eps = c.norm_eps;
  auto W = [&](LinearKind kind) { return weights ? weights[static_cast<int>(kind)] : model_.linear(l, kind).data; };
  auto B = [&](LinearKind kind) { return model_.bias(l, kind); };
  auto stop = [&](LinearInput input, const float *x, int64_t width) {
    return sink && sink(l, input, LinearBatch(x, T, width)) == SinkAction::kStopBlock;
  };

  // attention
  const float *in = x_;
  if (c.pre_norm) {
    layernorm_rows(xb_, x_, model_.rms_att(l), model_.norm_bias_att(l), T, C, eps, threads_);
    in = xb_;
  }
  if (stop(LinearInput::kAttnNorm, in, C)) return;
  linear_bias(q_, in, W(LinearKind::kWq), B(LinearKind::kWq), T, C, QD);
  linear_bias(k_, in, W(LinearKind::kWk), B(LinearKind::kWk), T, C, QD);
  linear_bias(v_, in, W(LinearKind::kWv), B(LinearKind::kWv), T, C, QD);
  int64_t start = 0;
  for (int64_t len : seqs) {
    float *q = q_ + start * QD, *k = k_ + start * QD, *v = v_ + start * QD, *out = xb_ + start * QD;
    if (path_ == MatmulPath::kBlas)
      attention_forward_blas(*backend_, out, att_, q, k, v, len, HS, NH, NH, 0, threads_);
    else
      attention_forward(out, att_, q, k, v, len, HS, NH, NH, 0, threads_);
    start += len;
  }
  if (stop(LinearInput::kAttnOut, xb_, QD)) return;
  linear_bias(xb2_, xb_, W(LinearKind::kWo), B(LinearKind::kWo), T, QD, C);
  residual_forward(x_, xb2_, T * C);
  if (!c.pre_norm) layernorm_rows(x_, x_, model_.rms_att(l), model_.norm_bias_att(l), T, C, eps, threads_);

  // feed-forward
  in = x_;
  if (c.pre_norm) {
    layernorm_rows(xb_, x_, model_.rms_ffn(l), model_.norm_bias_ffn(l), T, C, eps, threads_);
    in = xb_;
  }
  if (stop(LinearInput::kFfnNorm, in, C)) return;
  linear_bias(hb_, in, W(LinearKind::kW1), B(LinearKind::kW1), T, C, H);
  relu_forward(hb_, T * H, threads_);
  if (stop(LinearInput::kFfnHidden, hb_, H)) return;
  linear_bias(xb2_, hb_, W(LinearKind::kW2), B(LinearKind::kW2), T, H, C);
  residual_forward(x_, xb2_, T * C);
  if (!c.pre_norm) layernorm_rows(x_, x_, model_.rms_ffn(l), model_.norm_bias_ffn(l), T, C, eps, threads_);
}

void Forward::head(int64_t n, float *logits) {
  const ModelConfig &c = model_.config();
  require(logits != nullptr, Status::InvalidArgument, "forward: logits is NULL");
  require_rows(n, "head");
  float *x = hidden();  // on a device forward, downloaded first
  if (c.is_opt()) {  // (no device copy: set_backend keeps OPT on the host passes)
    opt_head(n, logits);
    return;
  }
  rmsnorm(x, x, model_.rms_final(), n, c.dim);
  classify(x_, n, c.dim, logits);
}

// OPT: the final LayerNorm (pre-LN models), project_out (with embed_dim), the classifier.
void Forward::opt_head(int64_t n, float *logits) {
  const ModelConfig &c = model_.config();
  if (c.final_norm) layernorm_rows(x_, x_, model_.rms_final(), model_.norm_bias_final(), n, c.dim, c.norm_eps, threads_);
  if (model_.project_out() == nullptr) return classify(x_, n, c.dim, logits);
  linear(xb_, x_, model_.project_out(), n, c.dim, c.embed_width());
  classify(xb_, n, c.embed_width(), logits);
}

void Forward::classify(const float *x, int64_t n, int64_t width, float *logits) {
  const ModelConfig &c = model_.config();
  if (!model_.streamed()) {
    linear(logits, x, model_.classifier(), n, width, c.vocab_size);
    return;
  }
  // A streamed classifier (vocab x width, e.g. 2 GB in fp32 for Llama-3-8B) is widened in row chunks
  // of kClassifierChunkRows; each chunk's logits are columns [r0, r1) of the n x vocab output. Each
  // logit is still one dot product of length dim, so the values equal the resident BLAS path's up
  // to the GEMM's blocking order (matmul.h).
  const int64_t V = c.vocab_size, C = width;
  if (classifier_chunk_.empty()) classifier_chunk_.resize(static_cast<size_t>(std::min(V, kClassifierChunkRows) * C));
  for (int64_t r0 = 0; r0 < V; r0 += kClassifierChunkRows) {
    const int64_t r1 = std::min(V, r0 + kClassifierChunkRows);
    model_.read_classifier_rows(r0, r1, classifier_chunk_.data());
    if (path_ == MatmulPath::kBlas) {
      backend_->gemm(backend::Op::None, backend::Op::Trans, n, r1 - r0, C, 1.0f, x, C, classifier_chunk_.data(),
                          C, 0.0f, logits + r0, V);
    } else {
      for (int64_t t = 0; t < n; ++t)  // run.c's order per logit
        for (int64_t r = r0; r < r1; ++r) {
          const float *w = classifier_chunk_.data() + (r - r0) * C;
          float val = 0.0f;
          for (int64_t j = 0; j < C; ++j) val += w[j] * x[t * C + j];
          logits[t * V + r] = val;
        }
    }
  }
  model_.release_vocab();  // the widened chunks are what the GEMMs read; the mapped pages can go
}

}  // namespace vqr::model
