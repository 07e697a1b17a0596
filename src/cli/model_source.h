// Where a command's model comes from. `--model PATH` is a llama2.c checkpoint file, or a folder
// written by `vqround quantize` (model.bin, tokenizer.bin, vqround.json). The tokenizer is
// `--tokenizer` when given; else the folder's tokenizer.bin, or beside a checkpoint file a
// `tokenizer.bin` or the single `tok*.bin`.
#pragma once

#include <string>

#include "model/model.h"
#include "model/tokenizer.h"

namespace vqr::cli {

struct ModelSource {
  std::string model_file;      // the llama2.c checkpoint to load
  std::string tokenizer_file;  // resolved tokenizer
  std::string metadata_file;   // vqround.json of a quantized folder, else empty
};

// Throws CliError naming --model / --tokenizer with a hint when nothing usable is found.
ModelSource resolve_model_source(const std::string &model_arg, const std::string &tokenizer_arg);

// Names inside a quantized model folder.
inline constexpr const char *kModelFileName = "model.bin";
inline constexpr const char *kTokenizerFileName = "tokenizer.bin";
inline constexpr const char *kMetadataFileName = "vqround.json";

}  // namespace vqr::cli
