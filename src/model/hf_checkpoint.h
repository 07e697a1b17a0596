// Hugging Face checkpoint folders: config.json + model.safetensors (or a sharded
// model.safetensors.index.json), for LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM,
// Qwen3ForCausalLM and OPTForCausalLM. Weights may be F32, F16 or BF16; the files are memory-mapped and each tensor
// is widened to fp32 once, into the model's arena (io/safetensors.h), or, for a streamed model,
// row by row whenever it is read.
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
// OPT (modeling_opt): model.decoder.embed_tokens.weight [vocab, word_embed_proj_dim],
//   model.decoder.embed_positions.weight [max_position_embeddings + 2, hidden],
//   model.decoder.project_in / project_out.weight (only when word_embed_proj_dim != hidden),
//   model.decoder.layers.L.self_attn_layer_norm.{weight,bias}, .self_attn.{q,k,v,out}_proj.{weight,bias},
//   .final_layer_norm.{weight,bias}, .fc1 / .fc2.{weight,bias} (w1 / w2), model.decoder.final_layer_norm
//   (pre-LN models), lm_head.weight tied to the embedding unless tie_word_embeddings is false.
//   Folders converted from metaseq's checkpoints (opt-350m) drop the "model." prefix ("decoder.*",
//   OPTModel's names); those load too. Reports and overrides call fc1 / fc2 "blk.L.w1" / "blk.L.w2".
//
// Quantized folders load too (dequantized into the fp32 arena): config.json's
// "quantization_config" with quant_method "gptq" (spec api_formats §4.2: v1 and v2, 2/3/4/8 bits,
// act-order g_idx, `dynamic` per-module overrides and "-:" skips) or "compressed-tensors" with
// format "pack-quantized" (§4.3: 4/8 bits, symmetric or not, group or channel, g_idx). The
// per-layer tensors are read by io/quantized_tensors.h.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "io/safetensors.h"
#include "model/model.h"

namespace vqr::model {

inline constexpr const char *kHfConfigFileName = "config.json";

// True when `dir` is a folder holding a config.json.
bool is_hf_checkpoint_dir(const std::string &dir);

// Parses config.json text into a ModelConfig (architecture, sizes, head_dim, GQA, rms_norm_eps,
// rope_theta, rope_scaling linear/llama3, Qwen2 biases, Qwen3 q/k norms, Mistral sliding_window,
// tie_word_embeddings). Throws vqr::Error "<path>: <problem>; hint: <fix>": Status::Format for bad
// JSON or a missing / mistyped / out-of-range field, Status::Unsupported for an architecture or
// feature this library does not implement (e.g. yarn RoPE, attention_bias on Llama, non-SiLU, OPT
// with another activation than ReLU or LayerNorms without affine parameters).
ModelConfig parse_hf_config(const std::string &json_text, const std::string &path);

// The Hugging Face tensor name of a linear layer of a model with `config`
// ("model.layers.3.self_attn.q_proj.weight"; OPT: "model.decoder.layers.3.fc1.weight").
std::string hf_linear_name(const ModelConfig &config, int layer, LinearKind kind);

// The module name of a linear layer, its tensor name without ".weight"
// ("model.layers.3.self_attn.q_proj"): GPTQ and compressed-tensors tensors hang off it.
std::string hf_linear_module(const ModelConfig &config, int layer, LinearKind kind);

// Loads the folder. Every tensor the config implies must be present with its exact shape; other
// tensors are refused (a differently shaped checkpoint) except rotary inv_freq buffers and an
// lm_head.weight of a tied model; weights must be finite. With a quantization_config, a linear
// layer whose quantized tensors (GPTQ .qweight, compressed-tensors .weight_packed) are present is
// dequantized (s * (q - z), one fp32 rounding, io/quantized_tensors.h), bit-identical to
// QuantizedLayer::dequantize of the codes that were written; the others load dense. Throws
// vqr::Error: Status::Io (missing files), Status::Format (config, safetensors, missing tensor,
// wrong shape or dtype, malformed quantized tensors, a quantized layer the config says is not
// quantized, non-finite value), Status::Unsupported (architecture; a quant_method other than gptq
// and compressed-tensors pack-quantized, naming it; a width or option those formats define but
// this loader does not read: bits 5, float or activation quantization, a quantized lm_head),
// Status::OutOfMemory.
// Storage::kStreamed (issue 16): after the same checks from the index, the norms, biases and q/k
// norms are read into the arena and every linear weight, the embedding and an untied classifier
// stay in the mapped files as sources (model/mapped_sources.h; a quantized layer as
// model/quantized_linear_source.h, still packed), bit-identical to the resident values when read;
// their finiteness and packed-data checks then run when rows are read, with the same messages.
Model load_hf_checkpoint(const std::string &dir, Storage storage = Storage::kResident);

// What a folder's quantization_config declares, for reports (`vqround inspect`).
struct HfQuantizationInfo {
  std::string method;             // "gptq", "compressed-tensors", "" (none), or another quant_method as written
  int bits = 0;                   // the default (GPTQ) or first config group's (compressed-tensors) width
  int64_t group_size = 0;         // -1 = one group per output row (GPTQ -1, compressed-tensors "channel")
  bool sym = false;
  std::string checkpoint_format;  // "gptq" (v1), "gptq_v2", "pack-quantized"; empty otherwise
};

// Reads `dir`/config.json. A gptq or compressed-tensors config is validated as the loader does
// (same errors); another quant_method is returned by name only (method set, other fields zero),
// so a report can say what it is without this library loading it. Throws Status::Io (no config),
// Status::Format, Status::Unsupported.
HfQuantizationInfo read_hf_quantization_info(const std::string &dir);

// The dense tensors of `model` as a Hugging Face folder stores them: names and shapes of
// transformers, q/k rows (and biases) permuted into the half layout for an interleaved-RoPE model,
// each stored as `dtype` (F32, F16 or BF16) when every value converts exactly, else as F32, so the
// folder loads back bit-identical. `keep(name)`, when set, selects the tensors. Works in either
// storage (model.h): the tensors' bytes are produced when the safetensors writer reaches them
// (StTensorData::produce), read from the model in chunks of rows (model/weight_rows.h), so `model`
// must outlive the write and stay unchanged until it. For F16 / BF16 the dtype of each tensor is
// decided here by reading it once (stopping at its first inexact value); the write reads it again.
std::vector<io::StTensorData> hf_dense_tensors(const Model &model, const std::string &dtype,
                                               const std::function<bool(const std::string &)> &keep = {});

// A config.json for `config` (architecture, sizes, RoPE, torch_dtype from `dtype`), for sources
// that have none (llama2.c files).
std::string hf_generated_config(const ModelConfig &config, const std::string &dtype);

// The safetensors dtype a config.json declares for its weights ("torch_dtype", or "dtype" in newer
// files): "BF16", "F16" or "F32" (also for a missing or unreadable field).
std::string hf_declared_dtype(const std::string &config_json_text);

// Writes `model` as a Hugging Face folder: config.json (config_json_text when not empty, e.g. the
// source's own file copied verbatim, less any "quantization_config" since the weights written are
// dense; otherwise generated from the config), and model.safetensors,
// sharded above max_shard_bytes. Each tensor is stored as `dtype` (F32, F16 or BF16) when every
// value converts exactly, else as F32, so the written model loads back bit-identical. A model in
// the interleaved RoPE layout (llama2.c) gets its q/k rows permuted into the half layout. `dir`
// must exist. Either storage: the shards are written tensor by tensor (hf_dense_tensors), so the
// peak memory is one chunk of kWriteChunkRows rows in fp32 plus its F16/BF16 copy (a q/k weight
// permuted into the half layout adds the head its rows gather from) and the shard headers; an
// F16 / BF16 save reads each tensor twice. Throws vqr::Error (Status::Io, Status::InvalidArgument
// for dtype, the sources' errors of a streamed model). progress (may be empty) hears of each
// tensor over all shards (io::TensorProgress); what it throws aborts the write.
void save_hf_checkpoint(const Model &model, const std::string &dir, const std::string &config_json_text,
                        const std::string &dtype = "F32", int64_t max_shard_bytes = int64_t{5} << 30,
                        const io::TensorProgress &progress = {});

}  // namespace vqr::model
