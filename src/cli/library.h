// The tool's side of the C API: owning handles for the library's objects and one check() that
// turns a failed call into a LibraryError carrying the library's own message. The tool links only
// libvqround.so and includes only vqround/vqround.h from it (DESIGN §1), as any embedder would.
#pragma once

#include <memory>
#include <stdexcept>
#include <string>

#include "vqround/vqround.h"

namespace vqr::cli {

// A failed library call: its status and vqr_last_error() without the "vqr_function: " prefix,
// which reads "<file or argument>: <problem>; hint: <fix>" for errors about inputs.
class LibraryError : public std::runtime_error {
 public:
  LibraryError(vqr_status status, const std::string &message) : std::runtime_error(message), status_(status) {}
  vqr_status status() const { return status_; }

 private:
  vqr_status status_;
};

// Throws LibraryError when status is not VQR_OK.
void check(vqr_status status);

template <class T, void (*Free)(T *)>
struct Freer {
  void operator()(T *p) const { Free(p); }
};
using ContextPtr = std::unique_ptr<vqr_context, Freer<vqr_context, vqr_context_free>>;
using ConfigPtr = std::unique_ptr<vqr_config, Freer<vqr_config, vqr_config_free>>;
using ModelPtr = std::unique_ptr<vqr_model, Freer<vqr_model, vqr_model_free>>;
using SequencesPtr = std::unique_ptr<vqr_sequences, Freer<vqr_sequences, vqr_sequences_free>>;
using HessianPtr = std::unique_ptr<vqr_hessian, Freer<vqr_hessian, vqr_hessian_free>>;
using ResultPtr = std::unique_ptr<vqr_result, Freer<vqr_result, vqr_result_free>>;

// A context with `threads` (0 = all cores) and `seed`.
ContextPtr make_context(int threads, uint64_t seed);

// vqr_model_load; tokenizer may be empty (the model's own, or none).
ModelPtr load_model(const std::string &path, const std::string &tokenizer);

// vqr_model_get_info with struct_size set.
vqr_model_info model_info(const vqr_model *model);

}  // namespace vqr::cli
