// What the model-level subcommands (quantize, eval, inspect) load: the model and, when there is
// one, its tokenizer; and the token stream a subcommand reads from text or pre-tokenized ids.
#pragma once

#include <optional>
#include <string>

#include "model/model.h"
#include "model/model_source.h"
#include "model/tokenizer.h"

namespace vqr::cli {

struct LoadedModel {
  model::ModelSource source;
  model::Model model;
  std::optional<model::Tokenizer> tokenizer;  // absent for a Hugging Face folder without one
};

// Resolves and loads --model / --tokenizer (model_source.h rules); vqr::Error on failure.
LoadedModel load_model_inputs(const std::string &model_arg, const std::string &tokenizer_arg);

// The tokenizer, or a CliError telling how to provide one (or pre-tokenized ids via `ids_option`).
const model::Tokenizer &require_tokenizer(const LoadedModel &m, const std::string &command,
                                          const std::string &ids_option);

}  // namespace vqr::cli
