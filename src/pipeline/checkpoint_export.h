// Quantized checkpoints that inference servers load: GPTQ (AutoGPTQ / GPTQModel / transformers /
// vLLM gptq, gptq_marlin; spec api_formats §4.2, spec gptq §1.7) and compressed-tensors
// pack-quantized (llm-compressor / vLLM; spec api_formats §4.3, spec learned_rounding §2.4).
// Both are Hugging Face folders: config.json with a "quantization_config", model.safetensors
// (sharded when large), the source's tokenizer files, and vqround.json when given. The integer
// codes are written as the algorithm produced them (never re-derived from rounded weights), so
// model::load_hf_checkpoint gives back exactly QuantizedLayer::dequantize's weights wherever the
// scales are representable in the stored dtype (scales_exact_in).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/export_note.h"
#include "io/byte_sink.h"
#include "model/model.h"
#include "model/model_source.h"
#include "pipeline/sequential_quantizer.h"
#include "quant/quantized_layer.h"

namespace vqr::pipeline {

// GPTQ zero-point convention (spec api_formats §4.2). v1 ("gptq") stores zero - 1 and is what
// every loader reads; v2 ("gptq_v2", GPTQModel) stores the zero as is. kAuto writes v1 when every
// quantized layer is symmetric (zero 2^(b-1)) and v2 otherwise, since v1 cannot hold a zero of 0.
enum class GptqCheckpointVersion { kAuto, kV1, kV2 };

struct ExportOptions {
  // Storage of the unquantized tensors (norms, embeddings, lm_head, skipped layers, biases) for a
  // llama2.c or F32 source, each tensor where every value converts exactly, else F32: "F32",
  // "F16" or "BF16". A Hugging Face source declared F16 or BF16 keeps its own dtype (the same
  // exact-or-F32 rule), like model::save_hf_checkpoint.
  std::string dtype = "F16";
  int64_t max_shard_bytes = int64_t{5} << 30;  // >= 1; larger checkpoints are sharded
  GptqCheckpointVersion gptq_version = GptqCheckpointVersion::kAuto;
  std::string metadata_json;  // written as vqround.json beside the checkpoint when not empty
  // Hears of each safetensors tensor as it is written (io::TensorProgress; may be empty); what it
  // throws (a cancelled export) aborts the write and removes the temporary folder.
  io::TensorProgress progress;
};

// True when every scale of `q` is exactly representable in `dtype` ("F32", "F16" or "BF16"), the
// condition for a stored checkpoint to dequantize bit-identically to q.dequantize.
bool scales_exact_in(const quant::QuantizedLayer &q, const std::string &dtype);

// Writes a GPTQ folder `dir` (must not exist; built under a temporary name and renamed, nothing
// left on failure).
//   model:   the model after quantization (its linear weights are the dequantized ones): the source
//            of every unquantized tensor. Read only.
//   source:  where it came from: its config.json (Hugging Face) or a generated one (llama2.c), its
//            tokenizer files, its declared dtype.
//   options: the quantization settings (the default config; overrides appear per layer in result).
//   result:  the records and codes; every non-skipped record's QuantizedLayer is written packed,
//            every other linear dense (and listed as skipped in the config).
//   log:     may be NULL; receives one note per decision (format version and why, layers kept in
//            full precision, dense dtype: LogLevel::Info; lossy scale conversions: LogLevel::Warn).
// Per quantized linear <module> (transformers name, e.g. model.layers.0.self_attn.q_proj):
// <module>.qweight I32 [words(in), out], .qzeros I32 [G, words(out)], .scales F16 [G, out],
// .g_idx I32 [in], words(x) = ceil(x b / 32) (b = 3: 3 ceil(x / 32)); biases stay <module>.bias in
// the dense dtype rule. config.json and quantize_config.json get the quantization_config of
// spec §4.2, with `dynamic` entries "+:<module regex>" for layers whose bits / group size /
// symmetry / act-order differ from the default and "-:<module regex>" for dense ones. A model in
// the interleaved RoPE layout (llama2.c) is written in the Hugging Face half layout: the q/k rows
// of the codes, scales and zeros are permuted as save_hf_checkpoint permutes dense weights.
// The model may be resident or streamed (model.h): the safetensors are written tensor by tensor,
// each produced when the file reaches it, the dense ones from chunks of rows of the model
// (model::hf_dense_tensors: an F16/BF16 dense dtype reads each of them twice) and the packed ones
// from one layer's codes (q/k rows of an interleaved model permuted into a copy for that tensor
// only). Peak memory beyond the model and the result: the larger of one chunk of
// model::kWriteChunkRows rows in fp32 plus its 16-bit copy, and one layer's packed tensor plus,
// for a permuted q/k layer, a copy of its codes, scales and zeros; plus the shard headers.
// Throws vqr::Error: Status::InvalidArgument (dir exists, dtype, result inconsistent with the
// model), Status::Unsupported (a width GPTQ cannot pack, kV1 with a zero-point 0, a scale that
// overflows fp16), Status::Io; all raised before anything is written except I/O errors and the
// sources' errors of a streamed model.
void write_gptq_checkpoint(const model::Model &model, const model::ModelSource &source, const PipelineOptions &options,
                           const QuantizedModel &result, const ExportOptions &export_options, const std::string &dir,
                           ExportNotes *log);

// Writes a compressed-tensors pack-quantized folder, with the same parameters and rules. Per
// quantized linear: <module>.weight_packed I32 [out, ceil(in / (32/b))], .weight_scale [out, G]
// (BF16 when the checkpoint's dtype is BF16, else F16), .weight_zero_point I32
// [ceil(out / (32/b)), G] (asymmetric layers only), .weight_shape I64 [2] = (out, in), and
// .weight_g_idx I32 [in] when act-order made the groups non-contiguous. config.json gets a
// quantization_config with one config group per distinct scheme (targets "Linear" when there is one
// scheme, else the module names) and ignore = lm_head plus the dense linears. Only 4- and 8-bit
// layers: any other width throws Status::Unsupported (hint: the gptq format) before anything is
// written. Other errors as write_gptq_checkpoint.
void write_compressed_tensors_checkpoint(const model::Model &model, const model::ModelSource &source,
                                         const PipelineOptions &options, const QuantizedModel &result,
                                         const ExportOptions &export_options, const std::string &dir,
                                         ExportNotes *log);

}  // namespace vqr::pipeline
