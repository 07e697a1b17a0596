// --backend and --device, shared by the commands that compute with a context (quantize, eval,
// layer-loss): declared and checked with the other options, so a misspelt backend exits 2 before
// any file is read, and applied to the context before the long work, so a missing OpenCL device
// fails in seconds rather than after the model load and calibration.
#pragma once

#include <string>

#include "cli/args.h"
#include "cli/library.h"

namespace vqr::cli {

struct BackendChoice {
  vqr_backend backend = VQR_BACKEND_CPU;
  std::string device;  // "" = $VQR_OPENCL_PLATFORM / $VQR_OPENCL_DEVICE, else the library's pick
};

// Declares --backend (default cpu) and --device. For this command's help, `scope` says what the
// backend computes and `note` (may be empty, else starting with "; ") what it does not.
void add_backend_options(ArgParser &args, const std::string &scope, const std::string &note = "");

// Reads them; throws a usage error (exit 2) for an unknown backend or --device with --backend cpu.
BackendChoice backend_choice(const ArgParser &args, const std::string &command);

// A context with `threads`, `seed` and the chosen backend. The library's Info line about the
// choice ("backend opencl: OpenCL <device> (...)", or auto's "...; computing on the CPU") is
// printed on stderr; --backend cpu prints nothing, as before the option existed. A backend that
// cannot be used is a LibraryError naming the reason (vqr_context_set_backend's message and hint).
ContextPtr make_context(int threads, uint64_t seed, const BackendChoice &choice);

}  // namespace vqr::cli
