// Where a model comes from: a llama2.c checkpoint file, or a native quantized-model folder
// (model.bin, tokenizer.bin, vqround.json; pipeline/model_folder.h). The tokenizer is the explicit
// one when given; else the folder's tokenizer.bin, or beside a checkpoint file a `tokenizer.bin`
// or the single `tok*.bin`.
#pragma once

#include <string>


namespace vqr::model {

struct ModelSource {
  std::string model_file;      // the llama2.c checkpoint to load
  std::string tokenizer_file;  // resolved tokenizer
  std::string metadata_file;   // vqround.json of a quantized folder, else empty
};

// Names inside a native model folder.
inline constexpr const char *kModelFileName = "model.bin";
inline constexpr const char *kTokenizerFileName = "tokenizer.bin";
inline constexpr const char *kMetadataFileName = "vqround.json";

// tokenizer_path may be empty. Throws vqr::Error(VQR_ERR_IO) "<path>: <problem>; hint: <fix>" when
// nothing usable is found.
ModelSource resolve_model_source(const std::string &model_path, const std::string &tokenizer_path);


}  // namespace vqr::model
