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

#include "model/model.h"
#include "model/model_source.h"
#include "pipeline/sequential_quantizer.h"

namespace vqr::pipeline {

using model::kMetadataFileName;
using model::kModelFileName;
using model::kTokenizerFileName;

struct FolderMetadata {
  std::string source_model;      // where the fp model came from
  std::string calibration_file;  // empty when the caller passed tokens
  int64_t calibration_samples = 0, calibration_seqlen = 0;
  uint64_t seed = 0;
  std::string overrides;         // as the user wrote them (informational)
};

// Writes the folder. `dir` must not exist. Throws vqr::Error(VQR_ERR_IO) "<path>: <problem>; hint: ..."
// or VQR_ERR_INVALID_ARGUMENT (dir exists).
void write_model_folder(const model::Model &model, const model::ModelSource &source, const PipelineOptions &options,
                        const QuantizedModel &result, const FolderMetadata &meta, const std::string &dir);

}  // namespace vqr::pipeline
