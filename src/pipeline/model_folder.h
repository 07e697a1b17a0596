// The library's native quantized-model folder (until the checkpoint formats of the next issue):
// the dequantized weights in the source's own format, its tokenizer, and vqround.json (settings,
// calibration and the per-layer reports).
//   llama2.c source: model.bin (legacy v0, run.c loads it) + the tokenizer (tokenizer.bin or
//     tokenizer.model, by the source tokenizer's kind);
//   Hugging Face source: config.json (copied) + model.safetensors (tensors in the source dtype where
//     exact, quantized layers usually F32) + the source's tokenizer files, copied.
// The folder is built under a temporary name beside `dir` and renamed when complete, so a failed
// or interrupted write leaves nothing at `dir`.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "io/byte_sink.h"
#include "model/model.h"
#include "model/model_source.h"
#include "pipeline/sequential_quantizer.h"

namespace vqr::pipeline {

using model::kMetadataFileName;
using model::kModelFileName;
using model::kTokenizerFileName;

struct FolderMetadata {
  std::string format = "vqround-native";  // what the folder holds: vqround-native, gptq, compressed-tensors
  std::string source_model;      // where the fp model came from
  std::string calibration_file;  // empty when the caller passed tokens
  int64_t calibration_samples = 0, calibration_seqlen = 0;
  uint64_t seed = 0;
  std::string overrides;         // the override rules as text (informational)
  std::vector<std::pair<std::string, std::string>> extra;  // caller's provenance (vqr_model_set_metadata)
};

// vqround.json's text: the settings, calibration, metadata and per-layer reports. Written by
// write_model_folder and beside the standard checkpoint formats.
std::string folder_metadata_json(const PipelineOptions &options, const QuantizedModel &result, const FolderMetadata &meta);

// The weights and tokenizer files of a folder, written into the existing folder `tmp`: model.bin for
// a llama2.c source (unless force_hf or the model has features v0 cannot hold), else config.json
// (the source's, or generated) + safetensors in `dtype` where exact (empty = the source's declared
// dtype), sharded above max_shard_bytes (0 = 5 GB); then copy_tokenizer_files. progress (may be
// empty) hears of each weight tensor (io::TensorProgress); what it throws aborts the write.
void write_checkpoint_payload(const model::Model &model, const model::ModelSource &source, bool force_hf,
                              const std::string &dtype, int64_t max_shard_bytes, const std::string &tmp,
                              const io::TensorProgress &progress = {});

// Copies a Hugging Face source's tokenizer and generation files (tokenizer.model, tokenizer.json,
// tokenizer_config.json, special_tokens_map.json, generation_config.json) and the source's
// tokenizer (under the name resolve_model_source looks for; an explicit tokenizer.json with the
// tokenizer_config.json beside it, which holds its BOS/EOS rules) into `tmp`.
void copy_tokenizer_files(const model::ModelSource &source, const std::string &tmp);

// Writes the folder. `dir` must not exist. The model may be resident or streamed: the weights go
// out through model::save_llama2c or model::save_hf_checkpoint, chunk by chunk (peak memory: one
// chunk of model::kWriteChunkRows rows in fp32 plus its 16-bit copy). Throws vqr::Error(Status::Io)
// "<path>: <problem>; hint: ..." or Status::InvalidArgument (dir exists), and what progress
// throws (it hears of each weight tensor, as write_checkpoint_payload says; nothing is left).
void write_model_folder(const model::Model &model, const model::ModelSource &source, const PipelineOptions &options,
                        const QuantizedModel &result, const FolderMetadata &meta, const std::string &dir,
                        const io::TensorProgress &progress = {});

}  // namespace vqr::pipeline
