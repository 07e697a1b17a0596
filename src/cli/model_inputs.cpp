// Model and tokenizer loading shared by the model-level subcommands (model_inputs.h).
#include "cli/model_inputs.h"

#include "cli/cli_error.h"

namespace vqr::cli {

LoadedModel load_model_inputs(const std::string &model_arg, const std::string &tokenizer_arg) {
  model::ModelSource source = model::resolve_model_source(model_arg, tokenizer_arg);
  model::Model m = model::load_model(source);
  std::optional<model::Tokenizer> tok;
  if (!source.tokenizer_file.empty()) tok = model::Tokenizer::load(source.tokenizer_file, m.config().vocab_size);
  return LoadedModel{std::move(source), std::move(m), std::move(tok)};
}

const model::Tokenizer &require_tokenizer(const LoadedModel &m, const std::string &command,
                                          const std::string &ids_option) {
  if (!m.tokenizer)
    throw CliError(m.source.model_file, "has no tokenizer.model or tokenizer.bin to read text with",
                   "pass --tokenizer PATH (SentencePiece .model or llama2.c .bin), or pre-tokenized uint32 ids with " +
                       ids_option + " (`vqround " + command + " --help`)");
  return *m.tokenizer;
}

}  // namespace vqr::cli
