// C API: version queries, status strings and the thread-local last error.
#include <omp.h>

#include <string>

#include "backend/backend.h"
#include "backend/select.h"
#include "capi/guard.h"

#ifndef VQR_BUILD_COMPILER
#define VQR_BUILD_COMPILER "unknown compiler"
#endif

namespace vqr::capi {

static thread_local std::string last_error_message;

vqr_status set_error(vqr_status status, const std::string &message) {
  try {
    last_error_message = message;
  } catch (...) {
    // Keep the status even when the message cannot be stored.
  }
  return status;
}

}  // namespace vqr::capi

extern "C" {

VQR_API unsigned vqr_version_number(void) { return VQR_VERSION_NUMBER; }

VQR_API const char *vqr_version_string(void) { return VQR_VERSION_STRING; }

VQR_API const char *vqr_build_info(void) {
  // The BLAS kernel family is chosen by OpenBLAS at load time; it is worth showing because a
  // virtual CPU it does not recognize silently gets its slowest (Prescott) kernels.
  // The OpenCL part enumerates the devices (once per process).
  static const std::string info = std::string("libvqround ") + VQR_VERSION_STRING + "; " + VQR_BUILD_COMPILER +
                                  "; OpenMP " + std::to_string(_OPENMP) + "; " + vqr::backend::cpu().description() +
                                  "; " + vqr::backend::opencl_summary();
  return info.c_str();
}

VQR_API const char *vqr_status_string(vqr_status status) {
  switch (status) {
    case VQR_OK: return "ok";
    case VQR_ERR_INVALID_ARGUMENT: return "invalid argument";
    case VQR_ERR_UNSUPPORTED: return "unsupported";
    case VQR_ERR_OUT_OF_RANGE: return "value out of range";
    case VQR_ERR_NONFINITE: return "NaN or Inf (in an input, or an fp32 overflow)";
    case VQR_ERR_NUMERICAL: return "numerical failure";
    case VQR_ERR_CORRUPT: return "corrupt data";
    case VQR_ERR_BUFFER_TOO_SMALL: return "buffer too small";
    case VQR_ERR_OUT_OF_MEMORY: return "out of memory";
    case VQR_ERR_CANCELLED: return "cancelled";
    case VQR_ERR_IO: return "I/O error";
    case VQR_ERR_INTERNAL: return "internal error";
    case VQR_ERR_FORMAT: return "malformed file";
  }
  return "unknown status";
}

VQR_API const char *vqr_last_error(void) { return vqr::capi::last_error_message.c_str(); }

}  // extern "C"
