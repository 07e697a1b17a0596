// Model and tokenizer loading shared by the model-level subcommands (model_inputs.h).
#include "cli/model_inputs.h"

#include <cstring>

#include "cli/cli_error.h"

namespace vqr::cli {

LoadedModel load_model_inputs(const std::string &model_arg, const std::string &tokenizer_arg) {
  LoadedModel m{load_model(model_arg, tokenizer_arg), {}};
  m.info = model_info(m.model.get());
  return m;
}

void require_tokenizer(const LoadedModel &m, const std::string &command, const std::string &ids_option) {
  if (m.info.tokenizer_path != nullptr) return;
  const std::string hint = "pass --tokenizer PATH (SentencePiece .model, byte-level BPE tokenizer.json or llama2.c .bin), or pre-tokenized uint32 "
                           "ids with " + ids_option + " (`vqround " + command + " --help`)";
  if (std::strcmp(m.info.format, "llama2c-v0") == 0) {
    // The library knows why (no tok*.bin beside the checkpoint, or several): its message names them.
    int64_t count = 0;
    const vqr_status st = vqr_model_tokenize(m.model.get(), "", 0, nullptr, 0, &count);
    std::string why = st == VQR_OK ? "has no tokenizer" : vqr_last_error();
    const size_t hint_at = why.find("; hint: ");
    if (hint_at != std::string::npos) why.erase(hint_at);
    const size_t colon = why.find(": ");
    if (why.rfind("vqr_", 0) == 0 && colon != std::string::npos) why.erase(0, colon + 2);
    throw CliError("", why, hint);
  }
  throw CliError(m.info.model_path, "has no tokenizer (byte-level tokenizer.json, tokenizer.model or tokenizer.bin) to read text with", hint);
}

}  // namespace vqr::cli
