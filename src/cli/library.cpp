// Owning handles and error checks over the C API (library.h).
#include "cli/library.h"

#include <new>

namespace vqr::cli {

void check(vqr_status status) {
  if (status == VQR_OK) return;
  std::string message = vqr_last_error();
  // An allocation that failed inside carries no figure; a refused estimate (core/memory_budget.h)
  // says how much was asked and what the limit is, which the user needs to see.
  if (status == VQR_ERR_OUT_OF_MEMORY && message.find(" needs about ") == std::string::npos) throw std::bad_alloc();
  // "vqr_model_load: x.bin: truncated; hint: ..." -> "x.bin: truncated; hint: ..."
  const size_t colon = message.find(": ");
  if (message.rfind("vqr_", 0) == 0 && colon != std::string::npos) message.erase(0, colon + 2);
  throw LibraryError(status, message);
}

ContextPtr make_context(int threads, uint64_t seed) {
  vqr_context *raw = nullptr;
  check(vqr_context_create(&raw));
  ContextPtr ctx(raw);
  check(vqr_context_set_threads(ctx.get(), threads));
  check(vqr_context_set_seed(ctx.get(), seed));
  return ctx;
}

ModelPtr load_model(const std::string &path, const std::string &tokenizer) {
  vqr_model *raw = nullptr;
  check(vqr_model_load(path.c_str(), tokenizer.empty() ? nullptr : tokenizer.c_str(), &raw));
  return ModelPtr(raw);
}

vqr_model_info model_info(const vqr_model *model) {
  vqr_model_info info{};
  info.struct_size = sizeof info;
  check(vqr_model_get_info(model, &info));
  return info;
}

}  // namespace vqr::cli
