// --backend / --device for the computing commands (backend_options.h).
#include "cli/backend_options.h"

#include <cstdio>

#include "cli/cli_error.h"

namespace vqr::cli {

namespace {

// The selection's log line on stderr; warnings (auto: kernels that do not build) say so.
void print_backend_line(void *, vqr_log_level level, const char *message) {
  std::fprintf(stderr, "%s%s\n", level >= VQR_LOG_WARN ? "warning: " : "", message);
}

}  // namespace

void add_backend_options(ArgParser &args, const std::string &scope, const std::string &note) {
  args.add("backend", "B", "cpu",
           "where " + scope +
               " run: cpu (OpenBLAS), opencl (an OpenCL device; an error when there is none), auto (the first "
               "GPU, else cpu)" + note + "; `vqround inspect --devices` lists the devices");
  args.add("device", "SPEC", "",
           "OpenCL device for --backend opencl/auto: D or P:D, each an index or a case-insensitive name substring "
           "(default: $VQR_OPENCL_PLATFORM / $VQR_OPENCL_DEVICE, else the first GPU, else for opencl the first "
           "device)");
}

BackendChoice backend_choice(const ArgParser &args, const std::string &command) {
  BackendChoice c;
  const std::string &name = args.get("backend");
  if (name == "cpu") c.backend = VQR_BACKEND_CPU;
  else if (name == "opencl") c.backend = VQR_BACKEND_OPENCL;
  else if (name == "auto") c.backend = VQR_BACKEND_AUTO;
  else throw usage_error(command, "--backend: unknown backend '" + name + "' (known: cpu, opencl, auto)");
  c.device = args.get("device");
  // The CPU backend has no device: a --device there is a mistake the run would silently ignore.
  if (c.backend == VQR_BACKEND_CPU && !c.device.empty())
    throw usage_error(command, "--device applies to --backend opencl or auto, not cpu");
  return c;
}

ContextPtr make_context(int threads, uint64_t seed, const BackendChoice &choice) {
  ContextPtr ctx = make_context(threads, seed);
  if (choice.backend == VQR_BACKEND_CPU) return ctx;
  // The printer is installed for the selection only: the commands install their own callbacks
  // (or none) afterwards, so their output is what it was without --backend.
  check(vqr_context_set_log(ctx.get(), print_backend_line, nullptr, VQR_LOG_INFO));
  const vqr_status st = vqr_context_set_backend(ctx.get(), choice.backend, choice.device.c_str());
  check(vqr_context_set_log(ctx.get(), nullptr, nullptr, VQR_LOG_INFO));
  check(st);
  return ctx;
}

}  // namespace vqr::cli
