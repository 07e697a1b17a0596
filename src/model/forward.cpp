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
#include "model/matmul.h"

namespace vqr::model {

namespace {

// out = rmsnorm(inp) * weight, per row. out: T x C (overwrite; may alias inp), inp: T x C,
// weight: C. Same float operation order as run.c rmsnorm().
void rmsnorm_forward(float *out, const float *inp, const float *weight, int64_t T, int64_t C, float eps) {
  for (int64_t t = 0; t < T; ++t) {
    const float *x = inp + t * C;
    float *o = out + t * C;
    float ss = 0.0f;
    for (int64_t j = 0; j < C; ++j) ss += x[j] * x[j];
    ss /= static_cast<float>(C);
    ss += eps;
    ss = 1.0f / std::sqrt(ss);
    for (int64_t j = 0; j < C; ++j) o[j] = weight[j] * (ss * x[j]);
  }
}

// Rotates each head of q (T x NH heads) and k (T x NKV heads) in place. Pair j of a head (frequency
// inv_freq[j]) is (2j, 2j+1) in the interleaved layout, (j, j + HS/2) in the half layout; the
// arithmetic per pair is run.c's (float angle t * freq, cosf/sinf).
void rope_forward(float *q, float *k, int64_t T, int64_t NH, int64_t NKV, int64_t HS, const float *inv_freq,
                  RopeLayout layout) {
  const int64_t half = HS / 2;
  const int64_t stride = layout == RopeLayout::kInterleaved ? 2 : 1;  // step between pairs' first index
  const int64_t partner = layout == RopeLayout::kInterleaved ? 1 : half;
  for (int64_t t = 0; t < T; ++t) {
    for (int64_t j = 0; j < half; ++j) {
      const float val = static_cast<float>(t) * inv_freq[j];
      const float fcr = std::cos(val);
      const float fci = std::sin(val);
      const int64_t a = j * stride, b = a + partner;
      for (int64_t h = 0; h < NH + NKV; ++h) {
        float *vec = h < NH ? q + (t * NH + h) * HS : k + (t * NKV + (h - NH)) * HS;
        const float v0 = vec[a];
        const float v1 = vec[b];
        vec[a] = v0 * fcr - v1 * fci;
        vec[b] = v0 * fci + v1 * fcr;
      }
    }
  }
}

// y[t, :] += bias over T rows of width n.
void bias_forward(float *y, const float *bias, int64_t T, int64_t n) {
  for (int64_t t = 0; t < T; ++t)
    for (int64_t i = 0; i < n; ++i) y[t * n + i] += bias[i];
}

// hb = silu(hb) * hb2, elementwise over n values, as run.c.
void swiglu_forward(float *hb, const float *hb2, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    float val = hb[i];
    val *= (1.0f / (1.0f + std::exp(-val)));
    val *= hb2[i];
    hb[i] = val;
  }
}

// x += y over n values (the residual connection).
void residual_forward(float *x, const float *y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] += y[i];
}

}  // namespace

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

Forward::Forward(const Model &model, int64_t max_tokens, int threads, MatmulPath path)
    : model_(model), max_tokens_(max_tokens), path_(path) {
  const ModelConfig &c = model.config();
  require(max_tokens >= 1 && max_tokens <= c.seq_len, Status::InvalidArgument,
          "forward: max_tokens " + std::to_string(max_tokens) + " is outside [1, seq_len " +
              std::to_string(c.seq_len) + "]");
  require(threads >= 0, Status::InvalidArgument, "forward: threads must be >= 0");
  threads_ = threads > 0 ? threads : omp_get_max_threads();
  const int64_t T = max_tokens, C = c.dim, QD = c.q_dim(), KV = c.kv_dim(), H = c.hidden_dim;
  const int64_t CQ = std::max(C, QD);  // xb_ holds normed inputs (C) and attention outputs (QD)
  // Table of sizes, one allocation (in the order of the members).
  const int64_t mm = path == MatmulPath::kReference ? matmul_scratch_floats(T, std::max(CQ, H)) : 0;
  const int64_t sizes[] = {T * C, T * CQ, T * C, T * QD, T * KV, T * KV, T * H, T * H, attention_scratch_floats(path, T, threads_), mm};
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
}

Forward::~Forward() = default;

void Forward::linear(float *out, const float *inp, const float *w, int64_t T, int64_t IC, int64_t OC) {
  if (path_ == MatmulPath::kBlas) {
    // The model floor's compute goes through the seam (DESIGN §1); the activations are host
    // memory, so the CPU backend (a context's device backend would stage them per call).
    matmul_forward_blas(backend::cpu(), out, inp, w, T, IC, OC);
  } else {
    matmul_forward(out, mm_, inp, w, T, IC, OC, threads_);
  }
}

void Forward::run(const int32_t *tokens, int64_t n, float *logits, const ActivationSink &sink) {
  embed(tokens, n);
  BlockSink observe;  // the whole pass runs: the caller's sink only observes
  if (sink)
    observe = [&sink](int layer, LinearInput input, const float *x, int64_t rows, int64_t width) {
      sink(layer, input, x, rows, width);
      return SinkAction::kContinue;
    };
  for (int l = 0; l < model_.config().n_layers; ++l) block(l, n, observe);
  if (logits != nullptr) head(n, logits);
}

void Forward::embed(const int32_t *tokens, int64_t n) {
  const ModelConfig &c = model_.config();
  require(tokens != nullptr, Status::InvalidArgument, "forward: tokens is NULL");
  require(n >= 1 && n <= max_tokens_, Status::InvalidArgument,
          "forward: " + std::to_string(n) + " tokens, outside [1, " + std::to_string(max_tokens_) + "]");
  for (int64_t t = 0; t < n; ++t)
    require(tokens[t] >= 0 && tokens[t] < c.vocab_size, Status::InvalidArgument,
            "forward: token " + std::to_string(tokens[t]) + " at position " + std::to_string(t) +
                " is outside the vocabulary [0, " + std::to_string(c.vocab_size) + ")");
  model_.gather_embedding(tokens, n, x_);  // row-wise: a streamed embedding is never widened whole
}

void Forward::block(int l, int64_t n, const BlockSink &sink, const float *const *weights) {
  const ModelConfig &c = model_.config();
  require(l >= 0 && l < c.n_layers && n >= 1 && n <= max_tokens_, Status::InvalidArgument,
          "forward: block " + std::to_string(l) + " on " + std::to_string(n) + " tokens is out of range");
  const int64_t T = n, C = c.dim, QD = c.q_dim(), KV = c.kv_dim(), H = c.hidden_dim, NH = c.n_heads,
                NKV = c.n_kv_heads, HS = c.head_size();
  auto W = [&](LinearKind kind) { return weights ? weights[static_cast<int>(kind)] : model_.linear(l, kind).data; };
  auto stop = [&](LinearInput input, const float *x, int64_t width) {
    return sink && sink(l, input, x, T, width) == SinkAction::kStopBlock;
  };

  // attention
  rmsnorm_forward(xb_, x_, model_.rms_att(l), T, C, c.norm_eps);
  if (stop(LinearInput::kAttnNorm, xb_, C)) return;
  linear(q_, xb_, W(LinearKind::kWq), T, C, QD);
  linear(k_, xb_, W(LinearKind::kWk), T, C, KV);
  linear(v_, xb_, W(LinearKind::kWv), T, C, KV);
  if (c.qkv_bias) {
    bias_forward(q_, model_.bias(l, LinearKind::kWq), T, QD);
    bias_forward(k_, model_.bias(l, LinearKind::kWk), T, KV);
    bias_forward(v_, model_.bias(l, LinearKind::kWv), T, KV);
  }
  if (c.qk_norm) {  // Qwen3: RMSNorm over each head's HS values, one weight vector shared by heads
    rmsnorm_forward(q_, q_, model_.q_norm(l), T * NH, HS, c.norm_eps);
    rmsnorm_forward(k_, k_, model_.k_norm(l), T * NKV, HS, c.norm_eps);
  }
  rope_forward(q_, k_, T, NH, NKV, HS, inv_freq_.data(), c.rope_layout);
  if (path_ == MatmulPath::kBlas) {
    attention_forward_blas(backend::cpu(), xb_, att_, q_, k_, v_, T, HS, NH, NKV, c.sliding_window, threads_);
  } else {
    attention_forward(xb_, att_, q_, k_, v_, T, HS, NH, NKV, c.sliding_window, threads_);
  }
  if (stop(LinearInput::kAttnOut, xb_, QD)) return;
  linear(xb2_, xb_, W(LinearKind::kWo), T, QD, C);
  residual_forward(x_, xb2_, T * C);

  // feed-forward
  rmsnorm_forward(xb_, x_, model_.rms_ffn(l), T, C, c.norm_eps);
  if (stop(LinearInput::kFfnNorm, xb_, C)) return;
  linear(hb_, xb_, W(LinearKind::kW1), T, C, H);
  linear(hb2_, xb_, W(LinearKind::kW3), T, C, H);
  swiglu_forward(hb_, hb2_, T * H);
  if (stop(LinearInput::kFfnHidden, hb_, H)) return;
  linear(xb_, hb_, W(LinearKind::kW2), T, H, C);
  residual_forward(x_, xb_, T * C);
}

void Forward::head(int64_t n, float *logits) {
  const ModelConfig &c = model_.config();
  require(logits != nullptr && n >= 1 && n <= max_tokens_, Status::InvalidArgument, "forward: bad head call");
  rmsnorm_forward(x_, x_, model_.rms_final(), n, c.dim, c.norm_eps);
  if (!model_.streamed()) {
    linear(logits, x_, model_.classifier(), n, c.dim, c.vocab_size);
    return;
  }
  // A streamed classifier (vocab x dim, e.g. 2 GB in fp32 for Llama-3-8B) is widened in row chunks
  // of kClassifierChunkRows; each chunk's logits are columns [r0, r1) of the n x vocab output. Each
  // logit is still one dot product of length dim, so the values equal the resident BLAS path's up
  // to the GEMM's blocking order (matmul.h).
  const int64_t V = c.vocab_size, C = c.dim;
  if (classifier_chunk_.empty()) classifier_chunk_.resize(static_cast<size_t>(std::min(V, kClassifierChunkRows) * C));
  for (int64_t r0 = 0; r0 < V; r0 += kClassifierChunkRows) {
    const int64_t r1 = std::min(V, r0 + kClassifierChunkRows);
    model_.read_classifier_rows(r0, r1, classifier_chunk_.data());
    if (path_ == MatmulPath::kBlas) {
      backend::cpu().gemm(backend::Op::None, backend::Op::Trans, n, r1 - r0, C, 1.0f, x_, C, classifier_chunk_.data(),
                          C, 0.0f, logits + r0, V);
    } else {
      for (int64_t t = 0; t < n; ++t)  // run.c's order per logit
        for (int64_t r = r0; r < r1; ++r) {
          const float *w = classifier_chunk_.data() + (r - r0) * C;
          float val = 0.0f;
          for (int64_t j = 0; j < C; ++j) val += w[j] * x_[t * C + j];
          logits[t * V + r] = val;
        }
    }
  }
}

}  // namespace vqr::model
