// What the model-level subcommands (quantize, eval, inspect, convert, layer-loss) load through the
// C API: the model with its tokenizer when there is one, and its description.
#pragma once

#include <string>

#include "cli/library.h"

namespace vqr::cli {

struct LoadedModel {
  ModelPtr model;
  vqr_model_info info;  // tokenizer_path is NULL when the model has no tokenizer
};

// vqr_model_load of --model / --tokenizer (tokenizer may be empty); LibraryError on failure.
LoadedModel load_model_inputs(const std::string &model_arg, const std::string &tokenizer_arg);

// Throws unless the model has a tokenizer: why there is none (several tok*.bin, none beside a
// checkpoint), and how to provide one or pre-tokenized ids via `ids_option` of `command`.
void require_tokenizer(const LoadedModel &m, const std::string &command, const std::string &ids_option);

}  // namespace vqr::cli
