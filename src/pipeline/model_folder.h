// The library's native quantized-model folder (until the checkpoint formats of the next issue):
//   model.bin     llama2.c legacy v0 checkpoint holding the dequantized weights (run.c loads it);
//   tokenizer.bin the model's llama2.c tokenizer, copied;
//   vqround.json  settings, calibration and the per-layer reports.
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
void write_model_folder(const model::Model &model, const std::string &tokenizer_file, const PipelineOptions &options,
                        const QuantizedModel &result, const FolderMetadata &meta, const std::string &dir);

}  // namespace vqr::pipeline
