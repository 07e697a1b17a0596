// Hugging Face LLaMA-family checkpoint folders: config.json + model.safetensors (or a sharded
// model.safetensors.index.json), for LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM and
// Qwen3ForCausalLM. Weights may be F32, F16 or BF16; the files are memory-mapped and each tensor
// is widened to fp32 once, into the model's arena (io/safetensors.h).
//
// Layout facts the loader relies on (transformers' modeling_llama / _mistral / _qwen2 / _qwen3):
//   model.embed_tokens.weight                      [vocab, hidden]
//   model.layers.L.input_layernorm.weight          [hidden]
//   model.layers.L.self_attn.{q,k,v,o}_proj.weight  [out, in]  (q, k, v biases: Qwen2)
//   model.layers.L.self_attn.{q,k}_norm.weight     [head_dim] (Qwen3)
//   model.layers.L.post_attention_layernorm.weight [hidden]
//   model.layers.L.mlp.{gate,up,down}_proj.weight  (gate = llama2.c w1, up = w3, down = w2)
//   model.norm.weight, lm_head.weight (absent when tie_word_embeddings)
// q/k rows are in the half-rotation RoPE layout (RopeLayout::kHalf); they are kept as stored.
#pragma once

#include <string>

#include "model/model.h"

namespace vqr::model {

inline constexpr const char *kHfConfigFileName = "config.json";

// True when `dir` is a folder holding a config.json.
bool is_hf_checkpoint_dir(const std::string &dir);

// Parses config.json text into a ModelConfig (architecture, sizes, head_dim, GQA, rms_norm_eps,
// rope_theta, rope_scaling linear/llama3, Qwen2 biases, Qwen3 q/k norms, Mistral sliding_window,
// tie_word_embeddings). Throws vqr::Error "<path>: <problem>; hint: <fix>": VQR_ERR_FORMAT for bad
// JSON or a missing / mistyped / out-of-range field, VQR_ERR_UNSUPPORTED for an architecture or
// feature this library does not implement (e.g. yarn RoPE, attention_bias on Llama, non-SiLU).
ModelConfig parse_hf_config(const std::string &json_text, const std::string &path);

// The Hugging Face tensor name of a linear layer ("model.layers.3.self_attn.q_proj.weight").
std::string hf_linear_name(int layer, LinearKind kind);

// Loads the folder. Every tensor the config implies must be present with its exact shape; other
// tensors are refused (a quantized or differently shaped checkpoint) except rotary inv_freq buffers
// and an lm_head.weight of a tied model; weights must be finite. Throws vqr::Error: VQR_ERR_IO
// (missing files), VQR_ERR_FORMAT (config, safetensors, missing tensor, wrong shape, non-finite
// value), VQR_ERR_UNSUPPORTED (architecture), VQR_ERR_OUT_OF_MEMORY.
Model load_hf_checkpoint(const std::string &dir);

// Writes `model` as a Hugging Face folder: config.json (config_json_text when not empty, e.g. the
// source's own file copied verbatim; otherwise generated from the config), and model.safetensors,
// sharded above max_shard_bytes. Each tensor is stored as `dtype` (F32, F16 or BF16) when every
// value converts exactly, else as F32, so the written model loads back bit-identical. A model in
// the interleaved RoPE layout (llama2.c) gets its q/k rows permuted into the half layout. `dir`
// must exist. Throws vqr::Error (VQR_ERR_IO, VQR_ERR_INVALID_ARGUMENT for dtype).
void save_hf_checkpoint(const Model &model, const std::string &dir, const std::string &config_json_text,
                        const std::string &dtype = "F32", int64_t max_shard_bytes = int64_t{5} << 30);

}  // namespace vqr::model
