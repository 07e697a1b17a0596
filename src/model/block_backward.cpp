// Backward pass of one decoder block (block_backward.h). Products: C = A B^T is gemm(None, Trans),
// dA = dC B is gemm(None, None), dB = dC^T A is gemm(Trans, None), all row-major on the block's backend (the CPU unless set_backend).
#include "model/block_backward.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <new>
#include <string>

#include "backend/backend.h"
#include "core/error.h"
#include "core/sanitizer.h"
#include "model/attention.h"
#include "model/elementwise.h"
#include "model/forward.h"
#include "model/layer_norm.h"

namespace vqr::model {

namespace {

using backend::Op;


// y (T x OC) = x (T x IC) w^T (+ bias per row).
void linear(backend::Backend &be, float *y, const float *x, const float *w, const float *bias, int64_t T, int64_t IC,
            int64_t OC, int threads) {
  if (bias) fill_rows(y, bias, T, OC, threads);
  be.gemm(Op::None, Op::Trans, T, OC, IC, 1.0f, x, IC, w, IC, bias ? 1.0f : 0.0f, y, OC);
}

// dx (T x IC, overwrite or accumulate) = dy (T x OC) w, and dw (OC x IC) = dy^T x.
void linear_backward(backend::Backend &be, float *dx, bool accumulate, float *dw, const float *dy, const float *x,
                     const float *w, int64_t T, int64_t IC, int64_t OC) {
  be.gemm(Op::None, Op::None, T, IC, OC, 1.0f, dy, OC, w, IC, accumulate ? 1.0f : 0.0f, dx, IC);
  be.gemm(Op::Trans, Op::None, OC, IC, T, 1.0f, dy, OC, x, IC, 0.0f, dw, IC);
}

}  // namespace

void rmsnorm_backward(float *dx, bool accumulate, const float *dy, const float *x, const float *g, int64_t rows,
                      int64_t n, float eps, int threads) {
#pragma omp parallel for num_threads(threads) schedule(static) if (rows * n >= kMinParallelValues)
  for (int64_t t = 0; t < rows; ++t) {
    const float *xr = x + t * n, *dyr = dy + t * n;
    float *dxr = dx + t * n;
    double ss = 0, dot = 0;
    for (int64_t j = 0; j < n; ++j) {
      ss += (double)xr[j] * xr[j];
      dot += (double)g[j] * dyr[j] * xr[j];
    }
    const double r = 1.0 / std::sqrt(ss / (double)n + (double)eps), c = r * r * r / (double)n * dot;
    for (int64_t j = 0; j < n; ++j) {
      const float v = (float)(r * g[j] * dyr[j] - c * xr[j]);
      dxr[j] = accumulate ? dxr[j] + v : v;
    }
  }
}

namespace {

// Query heads whose tile x T' probabilities and their gradients the backward holds at once (a tile
// of query rows sees at most T' <= T keys): as many as fit `bytes` (both buffers), at least one.
int64_t backward_head_group(int64_t tile, int64_t T, int64_t NH, int64_t bytes) {
  return std::clamp<int64_t>(bytes / (2 * tile * T * (int64_t)sizeof(float)), 1, NH);
}
// Floats of each of the two buffers for any T' <= T (tile' = min(T', kAttentionTile)): a group of
// one head holds tile' T' <= tile T, a larger group at most bytes / 8, and never more than
// NH tile T.
int64_t backward_score_floats(int64_t T, int64_t NH, int64_t bytes) {
  const int64_t tile = std::min(T, kAttentionTile);
  return std::min(NH * tile * T, std::max(bytes / (2 * (int64_t)sizeof(float)), tile * T));
}

// sum_s a[s] b[s] in kDotLanes strided partial sums added pairwise: fixed lanes, so the same bits
// on every x86-64 whichever clone runs.
constexpr int64_t kDotLanes = 16;
VQR_TARGET_CLONES
float dot_lanes(const float *a, const float *b, int64_t n) {
  float lane[kDotLanes] = {};
  const int64_t body = n - n % kDotLanes;
  for (int64_t s = 0; s < body; s += kDotLanes)
    for (int64_t l = 0; l < kDotLanes; ++l) lane[l] += a[s + l] * b[s + l];
  for (int64_t w = kDotLanes / 2; w >= 1; w /= 2)
    for (int64_t l = 0; l < w; ++l) lane[l] += lane[l + w];
  float sum = lane[0];
  for (int64_t s = body; s < n; ++s) sum += a[s] * b[s];
  return sum;
}

// silu(z) = z sigmoid(z); silu'(z) = sigmoid(z) (1 + z (1 - sigmoid(z))).
inline float sigmoid(float z) { return 1.0f / (1.0f + std::exp(-z)); }

}  // namespace

BlockBackward::BlockBackward(const Model &model, int64_t max_tokens, int threads, int64_t score_bytes)
    : model_(model), max_tokens_(max_tokens), score_bytes_(score_bytes > 0 ? score_bytes : kScoreBytes) {
  const ModelConfig &c = model.config();
  require(max_tokens >= 1 && max_tokens <= c.seq_len, Status::InvalidArgument,
          "block backward: max_tokens " + std::to_string(max_tokens) + " is outside [1, seq_len " +
              std::to_string(c.seq_len) + "]");
  require(threads >= 0, Status::InvalidArgument, "block backward: threads must be >= 0");
  threads_ = threads > 0 ? threads : omp_get_max_threads();
  const int64_t T = max_tokens, C = c.dim, QD = c.q_dim(), KV = c.kv_dim(), H = c.hidden_dim;
  try {
    rope_table_ = rope_table(rope_inverse_frequencies(c), T);
    for (auto *v : {&xn1_, &x1_, &xn2_, &dx1_, &dxn_}) v->resize((size_t)(T * C));
    if (c.is_opt() && !c.pre_norm)
      for (auto *v : {&x1pre_, &ypre_}) v->resize((size_t)(T * C));
    for (auto *v : {&qpre_, &q_, &o_, &dq_, &do_}) v->resize((size_t)(T * QD));
    for (auto *v : {&kpre_, &k_, &v_, &dk_, &dv_}) v->resize((size_t)(T * KV));
    for (auto *v : {&h1_, &h3_, &a_, &da_, &dh1_, &dh3_}) v->resize((size_t)(T * H));
    dw_.resize((size_t)std::max({C * QD, C * KV, C * H}));
    probs_.resize((size_t)backward_score_floats(T, c.n_heads, score_bytes_));
    dprobs_.resize((size_t)backward_score_floats(T, c.n_heads, score_bytes_));
    att_.resize((size_t)attention_scratch_floats(MatmulPath::kBlas, T, c.n_heads, threads_));
  } catch (const std::bad_alloc &) {
    throw Error(Status::OutOfMemory, "block backward: cannot allocate the activations of " + std::to_string(T) +
                                         " tokens");
  }
}

void BlockBackward::run(int l, const float *x, int64_t T, const float *dy, float *dx, const WeightGradSink &sink,
                        const float *const *weights) {
  forward(l, x, T, nullptr, weights);
  backward(dy, dx, sink);
}

void BlockBackward::forward(int l, const float *x, int64_t T, float *y, const float *const *weights) {
  const ModelConfig &c = model_.config();
  require(l >= 0 && l < c.n_layers, Status::InvalidArgument, "block backward: block " + std::to_string(l) + " is out of range");
  require(T >= 1 && T <= max_tokens_, Status::InvalidArgument,
          "block backward: " + std::to_string(T) + " tokens, outside [1, " + std::to_string(max_tokens_) + "]");
  require(x != nullptr && y != x, Status::InvalidArgument, "block backward: bad buffers");
  const int64_t C = c.dim, QD = c.q_dim(), KV = c.kv_dim(), H = c.hidden_dim, NH = c.n_heads, NKV = c.n_kv_heads,
                HS = c.head_size();
  const int th = threads_;
  for (LinearKind kind : c.linear_kinds())
    w_[static_cast<int>(kind)] = weights ? weights[static_cast<int>(kind)] : model_.linear(l, kind).data;
  layer_ = l, tokens_ = T, x_ = x;
  if (c.is_opt()) return opt_forward(y);
  auto W = [&](LinearKind kind) { return w_[static_cast<int>(kind)]; };
  auto bias = [&](LinearKind kind) { return c.qkv_bias ? model_.bias(l, kind) : nullptr; };
  const float *qn = c.qk_norm ? model_.q_norm(l) : nullptr, *kn = c.qk_norm ? model_.k_norm(l) : nullptr;

  // As Forward::block on the BLAS path, keeping what the backward reads.
  rmsnorm_rows(xn1_.data(), x, model_.rms_att(l), T, C, c.norm_eps, th);
  linear(*backend_, qpre_.data(), xn1_.data(), W(LinearKind::kWq), bias(LinearKind::kWq), T, C, QD, th);
  linear(*backend_, kpre_.data(), xn1_.data(), W(LinearKind::kWk), bias(LinearKind::kWk), T, C, KV, th);
  linear(*backend_, v_.data(), xn1_.data(), W(LinearKind::kWv), bias(LinearKind::kWv), T, C, KV, th);
  std::memcpy(q_.data(), qpre_.data(), (size_t)(T * QD) * sizeof(float));
  std::memcpy(k_.data(), kpre_.data(), (size_t)(T * KV) * sizeof(float));
  qk_norm_rope_rows(q_.data(), k_.data(), rope_table_.data(), qn, kn, c.norm_eps, T, NH, NKV, HS, c.rope_layout, th);
  attention_forward_blas(*backend_, o_.data(), att_.data(), q_.data(), k_.data(), v_.data(), T, HS, NH, NKV,
                         c.sliding_window, th);
  std::memcpy(x1_.data(), x, (size_t)(T * C) * sizeof(float));
  backend_->gemm(Op::None, Op::Trans, T, C, QD, 1.0f, o_.data(), QD, W(LinearKind::kWo), QD, 1.0f, x1_.data(), C);
  rmsnorm_rows(xn2_.data(), x1_.data(), model_.rms_ffn(l), T, C, c.norm_eps, th);
  linear(*backend_, h1_.data(), xn2_.data(), W(LinearKind::kW1), nullptr, T, C, H, th);
  linear(*backend_, h3_.data(), xn2_.data(), W(LinearKind::kW3), nullptr, T, C, H, th);
  std::memcpy(a_.data(), h1_.data(), (size_t)(T * H) * sizeof(float));
  swiglu_rows(a_.data(), h3_.data(), T, H, th);
  if (y != nullptr) {
    std::memcpy(y, x1_.data(), (size_t)(T * C) * sizeof(float));
    backend_->gemm(Op::None, Op::Trans, T, C, H, 1.0f, a_.data(), H, W(LinearKind::kW2), H, 1.0f, y, C);
  }
}

void BlockBackward::backward(const float *dy, float *dx, const WeightGradSink &sink) {
  require(layer_ >= 0, Status::InvalidArgument, "block backward: backward() before forward()");
  require(dy && dx && dx != x_ && dx != dy, Status::InvalidArgument, "block backward: bad buffers");
  const ModelConfig &c = model_.config();
  const int l = layer_;
  const int64_t T = tokens_, C = c.dim, QD = c.q_dim(), KV = c.kv_dim(), H = c.hidden_dim, NH = c.n_heads,
                NKV = c.n_kv_heads, HS = c.head_size();
  const int th = threads_;
  const float *x = x_;
  auto W = [&](LinearKind kind) { return w_[static_cast<int>(kind)]; };
  auto emit = [&](LinearKind kind, int64_t OC, int64_t IC) {
    if (sink) sink(kind, dw_.data(), OC, IC);
  };
  const float *qn = c.qk_norm ? model_.q_norm(l) : nullptr, *kn = c.qk_norm ? model_.k_norm(l) : nullptr;
  if (c.is_opt()) return opt_backward(dy, dx, sink);

  // ---- feed-forward backward: y = x1 + a W2^T ----
  linear_backward(*backend_, da_.data(), false, dw_.data(), dy, a_.data(), W(LinearKind::kW2), T, H, C);
  emit(LinearKind::kW2, C, H);
#pragma omp parallel for num_threads(th) schedule(static) if (T * H >= kMinParallelValues)
  for (int64_t i = 0; i < T * H; ++i) {
    const float z = h1_[(size_t)i], s = sigmoid(z), g = da_[(size_t)i];
    dh1_[(size_t)i] = g * h3_[(size_t)i] * (s * (1.0f + z * (1.0f - s)));
    dh3_[(size_t)i] = g * (z * s);
  }
  linear_backward(*backend_, dxn_.data(), false, dw_.data(), dh1_.data(), xn2_.data(), W(LinearKind::kW1), T, C, H);
  emit(LinearKind::kW1, H, C);
  linear_backward(*backend_, dxn_.data(), true, dw_.data(), dh3_.data(), xn2_.data(), W(LinearKind::kW3), T, C, H);
  emit(LinearKind::kW3, H, C);
  std::memcpy(dx1_.data(), dy, (size_t)(T * C) * sizeof(float));
  rmsnorm_backward(dx1_.data(), true, dxn_.data(), x1_.data(), model_.rms_ffn(l), T, C, c.norm_eps, th);

  // ---- attention output: x1 = x + o Wo^T ----
  linear_backward(*backend_, do_.data(), false, dw_.data(), dx1_.data(), o_.data(), W(LinearKind::kWo), T, QD, C);
  emit(LinearKind::kWo, C, QD);
  attention_backward();

  // ---- RoPE and the q/k norms, backwards, to the projections' outputs ----
  rope_rotate_rows(dq_.data(), dk_.data(), rope_table_.data(), T, NH, NKV, HS, c.rope_layout, /*inverse=*/true, th);
  if (c.qk_norm) {
    // Per head of HS values, from the projections' outputs; do_ (T x QD >= T x KV) is free now.
    float *tmp = do_.data();
    rmsnorm_backward(tmp, false, dq_.data(), qpre_.data(), qn, T * NH, HS, c.norm_eps, th);
    std::memcpy(dq_.data(), tmp, (size_t)(T * QD) * sizeof(float));
    rmsnorm_backward(tmp, false, dk_.data(), kpre_.data(), kn, T * NKV, HS, c.norm_eps, th);
    std::memcpy(dk_.data(), tmp, (size_t)(T * KV) * sizeof(float));
  }
  linear_backward(*backend_, dxn_.data(), false, dw_.data(), dq_.data(), xn1_.data(), W(LinearKind::kWq), T, C, QD);
  emit(LinearKind::kWq, QD, C);
  linear_backward(*backend_, dxn_.data(), true, dw_.data(), dk_.data(), xn1_.data(), W(LinearKind::kWk), T, C, KV);
  emit(LinearKind::kWk, KV, C);
  linear_backward(*backend_, dxn_.data(), true, dw_.data(), dv_.data(), xn1_.data(), W(LinearKind::kWv), T, C, KV);
  emit(LinearKind::kWv, KV, C);
  std::memcpy(dx, dx1_.data(), (size_t)(T * C) * sizeof(float));
  rmsnorm_backward(dx, true, dxn_.data(), x, model_.rms_att(l), T, C, c.norm_eps, th);
}

void BlockBackward::attention_backward() {
  const ModelConfig &c = model_.config();
  const int64_t T = tokens_, QD = c.q_dim(), KV = c.kv_dim(), NH = c.n_heads, NKV = c.n_kv_heads,
                HS = c.head_size(), kv_mul = NH / NKV;
  const int th = threads_;

  // ---- attention, a tile of kAttentionTile query rows and a group of heads at a time, each tile
  // only against its visible keys [k0, t1) (the causal upper triangle beyond the tile is never
  // computed): S = q k^T / sqrt(HS), P = softmax(S) as the forward computes it, o = P v;
  // dP = do v^T, dv += P^T do, dS = P (dP - rowsum(dP P)) / sqrt(HS), dq = dS k, dk += dS^T q. The
  // group's S and dP are GEMMs, then one OpenMP pass over all its rows (so a small model's short
  // rows still fill the cores), then its dv, dq, dk GEMMs. ----
  std::fill(dk_.begin(), dk_.begin() + T * KV, 0.0f);
  std::fill(dv_.begin(), dv_.begin() + T * KV, 0.0f);
  const float scale = std::sqrt(static_cast<float>(HS)), inv_scale = 1.0f / scale;
  const int64_t tile = std::min(T, kAttentionTile), G = backward_head_group(tile, T, NH, score_bytes_);
  for (int64_t t0 = 0; t0 < T; t0 += tile) {
    const int64_t t1 = std::min(T, t0 + tile), rows = t1 - t0;
    const int64_t k0 = first_visible(t0, c.sliding_window), nk = t1 - k0, block = rows * nk;
    for (int64_t h0 = 0; h0 < NH; h0 += G) {
      const int64_t h1 = std::min(NH, h0 + G);
      for (int64_t h = h0; h < h1; ++h) {
        const int64_t g = h / kv_mul;
        float *P = probs_.data() + (h - h0) * block, *dP = dprobs_.data() + (h - h0) * block;
        backend_->gemm(Op::None, Op::Trans, rows, nk, HS, 1.0f, q_.data() + t0 * QD + h * HS, QD,
                            k_.data() + k0 * KV + g * HS, KV, 0.0f, P, nk);
        backend_->gemm(Op::None, Op::Trans, rows, nk, HS, 1.0f, do_.data() + t0 * QD + h * HS, QD,
                            v_.data() + k0 * KV + g * HS, KV, 0.0f, dP, nk);
      }
#pragma omp parallel for num_threads(th) schedule(static) if ((h1 - h0) * block >= kMinParallelValues)
      for (int64_t r = 0; r < (h1 - h0) * rows; ++r) {
        const int64_t t = t0 + r % rows, first = first_visible(t, c.sliding_window) - k0, last = t - k0;
        float *p = probs_.data() + r * nk, *dp = dprobs_.data() + r * nk;
        scaled_softmax_row(p + first, last - first + 1, scale);
        const float rowdot = dot_lanes(p + first, dp + first, last - first + 1);
        for (int64_t s = 0; s < first; ++s) p[s] = dp[s] = 0.0f;
        for (int64_t s = first; s <= last; ++s) dp[s] = p[s] * (dp[s] - rowdot) * inv_scale;  // dS
        for (int64_t s = last + 1; s < nk; ++s) p[s] = dp[s] = 0.0f;
      }
      for (int64_t h = h0; h < h1; ++h) {
        const int64_t g = h / kv_mul;
        const float *P = probs_.data() + (h - h0) * block, *dP = dprobs_.data() + (h - h0) * block;
        backend_->gemm(Op::Trans, Op::None, nk, HS, rows, 1.0f, P, nk, do_.data() + t0 * QD + h * HS, QD, 1.0f,
                            dv_.data() + k0 * KV + g * HS, KV);
        backend_->gemm(Op::None, Op::None, rows, HS, nk, 1.0f, dP, nk, k_.data() + k0 * KV + g * HS, KV, 0.0f,
                            dq_.data() + t0 * QD + h * HS, QD);
        backend_->gemm(Op::Trans, Op::None, nk, HS, rows, 1.0f, dP, nk, q_.data() + t0 * QD + h * HS, QD, 1.0f,
                            dk_.data() + k0 * KV + g * HS, KV);
      }
    }
  }
}

// OPT, as Forward::opt_block (forward.cpp), keeping what opt_backward reads: xn1 (the attention's
// input), q = qpre, k = kpre, v, o, x1 (the FFN's residual input), xn2 (its linear input), h1
// (fc1's output before ReLU), a = relu(h1); post-LN also x1pre and ypre, the sums before the norms.
void BlockBackward::opt_forward(float *y) {
  const ModelConfig &c = model_.config();
  const int l = layer_;
  const int64_t T = tokens_, C = c.dim, QD = c.q_dim(), H = c.hidden_dim, NH = c.n_heads, HS = c.head_size();
  const int th = threads_;
  const float eps = c.norm_eps, *x = x_;
  auto W = [&](LinearKind kind) { return w_[static_cast<int>(kind)]; };
  auto B = [&](LinearKind kind) { return model_.bias(l, kind); };
  auto copy = [](float *dst, const float *src, int64_t n) { std::memcpy(dst, src, (size_t)n * sizeof(float)); };

  if (c.pre_norm) layernorm_rows(xn1_.data(), x, model_.rms_att(l), model_.norm_bias_att(l), T, C, eps, th);
  else copy(xn1_.data(), x, T * C);
  linear(*backend_, q_.data(), xn1_.data(), W(LinearKind::kWq), B(LinearKind::kWq), T, C, QD, th);
  linear(*backend_, k_.data(), xn1_.data(), W(LinearKind::kWk), B(LinearKind::kWk), T, C, QD, th);
  linear(*backend_, v_.data(), xn1_.data(), W(LinearKind::kWv), B(LinearKind::kWv), T, C, QD, th);
  attention_forward_blas(*backend_, o_.data(), att_.data(), q_.data(), k_.data(), v_.data(), T, HS, NH, NH, 0, th);
  float *x1 = c.pre_norm ? x1_.data() : x1pre_.data();
  linear(*backend_, x1, o_.data(), W(LinearKind::kWo), B(LinearKind::kWo), T, QD, C, th);
  residual_forward(x1, x, T * C);
  if (!c.pre_norm) layernorm_rows(x1_.data(), x1pre_.data(), model_.rms_att(l), model_.norm_bias_att(l), T, C, eps, th);
  if (c.pre_norm) layernorm_rows(xn2_.data(), x1_.data(), model_.rms_ffn(l), model_.norm_bias_ffn(l), T, C, eps, th);
  else copy(xn2_.data(), x1_.data(), T * C);
  linear(*backend_, h1_.data(), xn2_.data(), W(LinearKind::kW1), B(LinearKind::kW1), T, C, H, th);
  copy(a_.data(), h1_.data(), T * H);
  relu_forward(a_.data(), T * H, th);
  if (y == nullptr && c.pre_norm) return;
  float *out = c.pre_norm ? y : ypre_.data();
  linear(*backend_, out, a_.data(), W(LinearKind::kW2), B(LinearKind::kW2), T, H, C, th);
  residual_forward(out, x1_.data(), T * C);
  if (!c.pre_norm && y != nullptr)
    layernorm_rows(y, ypre_.data(), model_.rms_ffn(l), model_.norm_bias_ffn(l), T, C, eps, th);
}

// The chain rule through opt_forward, last step first. A LayerNorm's backward needs its input
// (x1 / ypre post-LN, x / x1 pre-LN); the residual branches add their gradients to the stream's.
void BlockBackward::opt_backward(const float *dy, float *dx, const WeightGradSink &sink) {
  const ModelConfig &c = model_.config();
  const int l = layer_;
  const int64_t T = tokens_, C = c.dim, QD = c.q_dim(), H = c.hidden_dim;
  const int th = threads_;
  const float eps = c.norm_eps, *x = x_;
  auto W = [&](LinearKind kind) { return w_[static_cast<int>(kind)]; };
  auto emit = [&](LinearKind kind, int64_t OC, int64_t IC) {
    if (sink) sink(kind, dw_.data(), OC, IC);
  };

  // ---- feed-forward: ypre = x1 + relu(xn2 W1^T + b1) W2^T + b2; y = ypre (pre-LN) or LN(ypre) ----
  const float *dypre = dy;
  if (!c.pre_norm) {  // dx1_ holds dL/dypre until the FFN's branch is added below
    layernorm_backward(dx1_.data(), false, dy, ypre_.data(), model_.rms_ffn(l), T, C, eps, th);
    dypre = dx1_.data();
  }
  linear_backward(*backend_, da_.data(), false, dw_.data(), dypre, a_.data(), W(LinearKind::kW2), T, H, C);
  emit(LinearKind::kW2, C, H);
  relu_backward(dh1_.data(), da_.data(), h1_.data(), T * H, th);
  linear_backward(*backend_, dxn_.data(), false, dw_.data(), dh1_.data(), xn2_.data(), W(LinearKind::kW1), T, C, H);
  emit(LinearKind::kW1, H, C);
  if (c.pre_norm) {
    std::memcpy(dx1_.data(), dy, (size_t)(T * C) * sizeof(float));
    layernorm_backward(dx1_.data(), true, dxn_.data(), x1_.data(), model_.rms_ffn(l), T, C, eps, th);
  } else {
    residual_forward(dx1_.data(), dxn_.data(), T * C);  // xn2 = x1
    // x1 = LN(x1pre): dx1_ becomes dL/dx1pre (dxn_ is free as scratch).
    layernorm_backward(dxn_.data(), false, dx1_.data(), x1pre_.data(), model_.rms_att(l), T, C, eps, th);
    std::memcpy(dx1_.data(), dxn_.data(), (size_t)(T * C) * sizeof(float));
  }

  // ---- attention: x1pre = x + o Wo^T + bo, with q, k, v = xn1 W^T + b ----
  linear_backward(*backend_, do_.data(), false, dw_.data(), dx1_.data(), o_.data(), W(LinearKind::kWo), T, QD, C);
  emit(LinearKind::kWo, C, QD);
  attention_backward();
  linear_backward(*backend_, dxn_.data(), false, dw_.data(), dq_.data(), xn1_.data(), W(LinearKind::kWq), T, C, QD);
  emit(LinearKind::kWq, QD, C);
  linear_backward(*backend_, dxn_.data(), true, dw_.data(), dk_.data(), xn1_.data(), W(LinearKind::kWk), T, C, QD);
  emit(LinearKind::kWk, QD, C);
  linear_backward(*backend_, dxn_.data(), true, dw_.data(), dv_.data(), xn1_.data(), W(LinearKind::kWv), T, C, QD);
  emit(LinearKind::kWv, QD, C);
  std::memcpy(dx, dx1_.data(), (size_t)(T * C) * sizeof(float));
  if (c.pre_norm) layernorm_backward(dx, true, dxn_.data(), x, model_.rms_att(l), T, C, eps, th);
  else residual_forward(dx, dxn_.data(), T * C);  // xn1 = x
}

}  // namespace vqr::model
