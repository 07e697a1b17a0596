// The object behind vqr_model, shared by the C API files that work on models (capi_model.cpp:
// load, tokenize, quantize, evaluate; capi_model_layers.cpp: overrides, per-layer records, linear
// views, Hessians; capi_sequences.cpp; capi_export.cpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "model/model.h"
#include "model/model_source.h"
#include "model/tokenizer.h"
#include "pipeline/model_folder.h"
#include "pipeline/sequential_quantizer.h"
#include "vqround/vqround.h"

struct vqr_model {
  vqr::model::Model model;
  std::optional<vqr::model::Tokenizer> tokenizer;  // absent: none found or given
  std::string tokenizer_problem;                    // why there is none (vqr_model_tokenize's message)
  vqr::model::ModelSource source;
  std::string architecture;  // vqr_model_info.architecture
  std::string quantization;  // "" or the quantized checkpoint's method, for vqr_model_info
  int64_t file_bytes = 0;
  std::vector<std::string> linear_names;  // "blk.L.wq", ... in vqr_model_linear's index order
  std::vector<vqr::pipeline::LayerOverride> overrides;               // rules of vqr_model_override_*
  std::vector<std::pair<std::string, std::string>> metadata;         // vqr_model_set_metadata
  vqr::pipeline::PipelineOptions options;  // of the last vqr_model_quantize
  vqr::pipeline::QuantizedModel last;      // its records (growing while it runs) and codes
  int64_t quantized_layers = 0;
  int64_t calibration_samples = 0, calibration_seqlen = 0;
  uint64_t seed = 0;

  vqr_model(vqr::model::Model m, std::optional<vqr::model::Tokenizer> t, std::string problem,
            vqr::model::ModelSource src)
      : model(std::move(m)), tokenizer(std::move(t)), tokenizer_problem(std::move(problem)), source(std::move(src)) {}
};

namespace vqr::capi {

// Splits a flat token array into sequences of lengths[i] tokens (1..seq_len each), checked.
std::vector<std::vector<int32_t>> sequences_of(const int32_t *tokens, const int64_t *lengths, int64_t count,
                                               int64_t seq_len);

// vqround.json's provenance for this model: source, calibration, seed, overrides, metadata.
pipeline::FolderMetadata folder_metadata(const vqr_model &m);

// The override rules as text, "blk.0.*:bits=8;*.w2:skip" (vqround.json's "override").
std::string overrides_text(const std::vector<pipeline::LayerOverride> &rules);

}  // namespace vqr::capi
