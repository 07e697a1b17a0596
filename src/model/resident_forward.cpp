// A block of the forward on resident device activations (resident_forward.h). Dimension letters as
// forward.cpp: T tokens, C = dim, QD = q_dim, KV = kv_dim, H = hidden_dim, NH / NKV heads of size HS.
#include "model/resident_forward.h"

#include <algorithm>
#include <cmath>
#include <new>
#include <string>

#include "core/error.h"
#include "model/attention.h"

namespace vqr::model {

using backend::DeviceBuffer;
using backend::Op;

// One block's tensors on the device: the seven linears (absent in the entry of a block whose
// callers passed explicit weights only), the two RMSNorm gains, and Qwen's q/k norms and biases
// when the config has them.
struct ResidentForward::BlockWeights {
  int layer = -1;
  uint64_t bytes = 0;
  bool has_linears = false;
  std::unique_ptr<DeviceBuffer> linear[kLinearKindCount];
  std::unique_ptr<DeviceBuffer> att_norm, ffn_norm, q_norm, k_norm, bias[3];  // bias: wq, wk, wv
};

std::unique_ptr<DeviceBuffer> ResidentForward::buffer(int64_t floats) {
  try {
    return backend_.alloc((size_t)std::max<int64_t>(floats, 1) * sizeof(float));
  } catch (const std::bad_alloc &) {
    throw Error(Status::OutOfMemory,
                "forward: the device cannot hold " + std::to_string(floats * 4) + " more bytes of activations");
  }
}

ResidentForward::ResidentForward(const Model &model, backend::Backend &backend,
                                 std::unique_ptr<backend::ForwardKernels> kernels, int64_t rows, int64_t max_tokens,
                                 const std::vector<float> &rope_table)
    : model_(model), backend_(backend), k_(std::move(kernels)) {
  const ModelConfig &c = model.config();
  const int64_t C = c.dim, QD = c.q_dim(), KV = c.kv_dim(), H = c.hidden_dim;
  x_ = buffer(rows * C);
  xb_ = buffer(rows * std::max(C, QD));
  q_ = buffer(rows * QD);
  k_buf_ = buffer(rows * KV);
  v_ = buffer(rows * KV);
  hb_ = buffer(rows * H);
  hb2_ = buffer(rows * H);
  scores_ = buffer(c.n_heads * std::min(max_tokens, kAttentionTile) * max_tokens);
  table_ = buffer((int64_t)rope_table.size());
  table_->upload(0, rope_table.data(), rope_table.size() * sizeof(float));
}

ResidentForward::~ResidentForward() = default;

void ResidentForward::sync_to_host(float *x) {
  if (device_newer_) x_->download(0, x, (size_t)(n_ * model_.config().dim) * sizeof(float));
  device_newer_ = false;
}

ResidentForward::BlockWeights &ResidentForward::weights_of(int l, const float *const *explicit_weights) {
  const ModelConfig &c = model_.config();
  if (model_.weights_version() != cached_version_) {  // the model's values changed: nothing kept is valid
    cache_.clear();
    cached_version_ = model_.weights_version();
  }
  auto upload = [&](const float *src, int64_t floats, uint64_t &bytes) {
    auto b = buffer(floats);
    b->upload(0, src, (size_t)floats * sizeof(float));
    bytes += (uint64_t)floats * sizeof(float);
    return b;
  };
  auto found = std::find_if(cache_.begin(), cache_.end(), [l](const auto &e) { return e->layer == l; });
  if (found != cache_.end()) {
    cache_.splice(cache_.begin(), cache_, found);  // most recently used first
  } else {
    auto e = std::make_unique<BlockWeights>();
    e->layer = l;
    e->att_norm = upload(model_.rms_att(l), c.dim, e->bytes);
    e->ffn_norm = upload(model_.rms_ffn(l), c.dim, e->bytes);
    if (c.qk_norm) {
      e->q_norm = upload(model_.q_norm(l), c.head_size(), e->bytes);
      e->k_norm = upload(model_.k_norm(l), c.head_size(), e->bytes);
    }
    if (c.qkv_bias) {
      const LinearKind kinds[3] = {LinearKind::kWq, LinearKind::kWk, LinearKind::kWv};
      for (int i = 0; i < 3; ++i) e->bias[i] = upload(model_.bias(l, kinds[i]), model_.linear_rows(kinds[i]), e->bytes);
    }
    cache_.push_front(std::move(e));
  }
  BlockWeights &entry = *cache_.front();
  if (explicit_weights) {
    if (!explicit_) explicit_ = std::make_unique<BlockWeights>();
    for (int k = 0; k < kLinearKindCount; ++k) {
      const LinearKind kind = static_cast<LinearKind>(k);
      const int64_t floats = model_.linear_rows(kind) * model_.linear_cols(kind);
      if (!explicit_->linear[k]) explicit_->linear[k] = buffer(floats);
      explicit_->linear[k]->upload(0, explicit_weights[k], (size_t)floats * sizeof(float));
    }
    return entry;
  }
  if (!entry.has_linears) {
    uint64_t needed = 0;
    for (int k = 0; k < kLinearKindCount; ++k) {
      const LinearKind kind = static_cast<LinearKind>(k);
      needed += (uint64_t)(model_.linear_rows(kind) * model_.linear_cols(kind)) * sizeof(float);
    }
    // Least recently used blocks out until this one fits the budget (the entry itself stays).
    uint64_t held = 0;
    for (const auto &e : cache_) held += e->bytes;
    while (cache_.size() > 1 && held + needed > k_->weight_cache_bytes()) {
      held -= cache_.back()->bytes;
      cache_.pop_back();
    }
    for (int k = 0; k < kLinearKindCount; ++k) {
      const LinearKind kind = static_cast<LinearKind>(k);
      // Streamed: widened into the model's block cache, uploaded, and left to that cache's budget.
      const LinearWeight w = model_.linear(l, kind);
      entry.linear[k] = upload(w.data, model_.linear_rows(kind) * model_.linear_cols(kind), entry.bytes);
    }
    entry.has_linears = true;
  }
  return entry;
}

// One packed sequence's attention, rows [start, start + len) of q, k, v into xb: attention.cpp's
// attention_forward_blas with all heads in one group.
void ResidentForward::attention(int64_t start, int64_t len) {
  const ModelConfig &c = model_.config();
  const int64_t QD = c.q_dim(), KV = c.kv_dim(), NH = c.n_heads, HS = c.head_size(), kv_mul = NH / c.n_kv_heads;
  const float scale = std::sqrt(static_cast<float>(HS));
  for (int64_t t0 = 0; t0 < len; t0 += kAttentionTile) {
    const int64_t t1 = std::min(len, t0 + kAttentionTile), rows = t1 - t0;
    const int64_t k0 = first_visible(t0, c.sliding_window), nk = t1 - k0;
    for (int64_t h = 0; h < NH; ++h)
      k_->gemm(Op::None, Op::Trans, rows, nk, HS, 1.0f, *q_, (start + t0) * QD + h * HS, QD, *k_buf_,
               (start + k0) * KV + (h / kv_mul) * HS, KV, 0.0f, *scores_, h * rows * nk, nk);
    k_->causal_softmax(*scores_, NH * rows, rows, nk, t0, k0, c.sliding_window, scale);
    for (int64_t h = 0; h < NH; ++h)
      k_->gemm(Op::None, Op::None, rows, HS, nk, 1.0f, *scores_, h * rows * nk, nk, *v_,
               (start + k0) * KV + (h / kv_mul) * HS, KV, 0.0f, *xb_, (start + t0) * QD + h * HS, QD);
  }
}

void ResidentForward::block(int l, int64_t n, const std::vector<int64_t> &seqs, float *x, float *staging,
                            const BlockSink &sink, const float *const *weights) {
  const ModelConfig &c = model_.config();
  const int64_t T = n, C = c.dim, QD = c.q_dim(), KV = c.kv_dim(), H = c.hidden_dim, NH = c.n_heads,
                NKV = c.n_kv_heads, HS = c.head_size();
  BlockWeights &bw = weights_of(l, weights);
  const BlockWeights &lin = weights ? *explicit_ : bw;
  auto W = [&](LinearKind kind) -> const DeviceBuffer & { return *lin.linear[static_cast<int>(kind)]; };
  if (host_newer_) {
    x_->upload(0, x, (size_t)(T * C) * sizeof(float));
    host_newer_ = false;
  }
  device_newer_ = true;  // from here on the block changes the device's stream
  n_ = T;
  auto stop = [&](LinearInput input, const DeviceBuffer &buf, int64_t width) {
    return sink && sink(l, input, LinearBatch(buf, 0, backend_, staging, T, width)) == SinkAction::kStopBlock;
  };
  // out (T x OC) = inp (T x IC) w^T + beta out.
  auto linear = [&](DeviceBuffer &out, const DeviceBuffer &inp, const DeviceBuffer &w, int64_t IC, int64_t OC,
                    float beta) { k_->gemm(Op::None, Op::Trans, T, OC, IC, 1.0f, inp, 0, IC, w, 0, IC, beta, out, 0, OC); };

  // attention
  k_->rmsnorm_rows(*xb_, *x_, *bw.att_norm, T, C, c.norm_eps);
  if (stop(LinearInput::kAttnNorm, *xb_, C)) return;
  DeviceBuffer *qkv[3] = {q_.get(), k_buf_.get(), v_.get()};
  const LinearKind qkv_kinds[3] = {LinearKind::kWq, LinearKind::kWk, LinearKind::kWv};
  for (int i = 0; i < 3; ++i) {
    const int64_t OC = i == 0 ? QD : KV;
    if (bw.bias[i]) k_->fill_rows(*qkv[i], *bw.bias[i], T, OC);  // the bias is the GEMM's start value
    linear(*qkv[i], *xb_, W(qkv_kinds[i]), C, OC, bw.bias[i] ? 1.0f : 0.0f);
  }
  int64_t start = 0;
  for (int64_t len : seqs) {  // positions restart at 0 in each packed sequence
    k_->qk_norm_rope_rows(*q_, *k_buf_, start, *table_, bw.q_norm.get(), bw.k_norm.get(), c.norm_eps, len, NH, NKV, HS,
                          c.rope_layout == RopeLayout::kHalf);
    attention(start, len);
    start += len;
  }
  if (stop(LinearInput::kAttnOut, *xb_, QD)) return;
  linear(*x_, *xb_, W(LinearKind::kWo), QD, C, 1.0f);  // the residual stream is the GEMM's start value

  // feed-forward
  k_->rmsnorm_rows(*xb_, *x_, *bw.ffn_norm, T, C, c.norm_eps);
  if (stop(LinearInput::kFfnNorm, *xb_, C)) return;
  linear(*hb_, *xb_, W(LinearKind::kW1), C, H, 0.0f);
  linear(*hb2_, *xb_, W(LinearKind::kW3), C, H, 0.0f);
  k_->swiglu(*hb_, *hb2_, T * H);
  if (stop(LinearInput::kFfnHidden, *hb_, H)) return;
  linear(*x_, *hb_, W(LinearKind::kW2), H, C, 1.0f);
}

}  // namespace vqr::model
