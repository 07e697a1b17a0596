// The seven linear layers of a LLaMA block and the four distinct activations that feed them.
// wq/wk/wv read the same input (the attention RMSNorm output) and w1/w3 read the same input (the
// FFN RMSNorm output), so a calibration pass needs one input statistic per LinearInput, not per
// LinearKind. A block without a gated FFN (OPT: fc1 = w1, fc2 = w2) has the first six kinds only:
// code that walks a block's layers walks linear_kinds(config) (ModelConfig::linear_kinds), never
// kAllLinearKinds, which is the enumeration's range (arrays indexed by LinearKind keep 7 slots).
#pragma once

namespace vqr::model {

// In llama2.c file order within a block.
enum class LinearKind : int { kWq = 0, kWk = 1, kWv = 2, kWo = 3, kW1 = 4, kW2 = 5, kW3 = 6 };
inline constexpr int kLinearKindCount = 7;
inline constexpr LinearKind kAllLinearKinds[kLinearKindCount] = {
    LinearKind::kWq, LinearKind::kWk, LinearKind::kWv, LinearKind::kWo,
    LinearKind::kW1, LinearKind::kW2, LinearKind::kW3};

// The linear kinds a block has, in file order: the seven of kAllLinearKinds (gated FFN, w3 last),
// or its first six (no w3). A view of kAllLinearKinds, valid forever.
struct LinearKindList {
  const LinearKind *first;
  int count;
  const LinearKind *begin() const { return first; }
  const LinearKind *end() const { return first + count; }
  int size() const { return count; }
  LinearKind operator[](int i) const { return first[i]; }
  bool contains(LinearKind kind) const { return static_cast<int>(kind) < count; }
};
inline LinearKindList linear_kinds_of(bool gated_ffn) {
  return {kAllLinearKinds, gated_ffn ? kLinearKindCount : kLinearKindCount - 1};
}

// The activation a linear layer multiplies, in the order the forward pass produces them.
enum class LinearInput : int {
  kAttnNorm = 0,   // rmsnorm(x) before attention: input of wq, wk, wv (width dim; OPT: LayerNorm(x),
                   // or x itself in a post-LN block)
  kAttnOut = 1,    // concatenated head outputs: input of wo (width n_heads * head_size = dim)
  kFfnNorm = 2,    // rmsnorm(x) before the FFN: input of w1, w3 (width dim)
  kFfnHidden = 3,  // silu(w1 x) * (w3 x): input of w2 (width hidden_dim; OPT: relu(w1 x + b1))
};
inline constexpr int kLinearInputCount = 4;

inline LinearInput input_of(LinearKind kind) {
  switch (kind) {
    case LinearKind::kWq:
    case LinearKind::kWk:
    case LinearKind::kWv: return LinearInput::kAttnNorm;
    case LinearKind::kWo: return LinearInput::kAttnOut;
    case LinearKind::kW1:
    case LinearKind::kW3: return LinearInput::kFfnNorm;
    case LinearKind::kW2: return LinearInput::kFfnHidden;
  }
  return LinearInput::kAttnNorm;
}

// Short names as llama2.c calls the tensors ("wq"); layer names are "blk.<l>.<short name>".
inline const char *linear_kind_name(LinearKind kind) {
  switch (kind) {
    case LinearKind::kWq: return "wq";
    case LinearKind::kWk: return "wk";
    case LinearKind::kWv: return "wv";
    case LinearKind::kWo: return "wo";
    case LinearKind::kW1: return "w1";
    case LinearKind::kW2: return "w2";
    case LinearKind::kW3: return "w3";
  }
  return "?";
}

inline const char *linear_input_name(LinearInput input) {
  switch (input) {
    case LinearInput::kAttnNorm: return "attn_norm";
    case LinearInput::kAttnOut: return "attn_out";
    case LinearInput::kFfnNorm: return "ffn_norm";
    case LinearInput::kFfnHidden: return "ffn_hidden";
  }
  return "?";
}

}  // namespace vqr::model
