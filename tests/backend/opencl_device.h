// The OpenCL device the backend tests run on: what backend "opencl" selects (PoCL's CPU device in
// CI, the first GPU elsewhere). Without any device the tests skip, unless VQR_REQUIRE_OPENCL=1
// (CI), where they fail; with a device, a backend that cannot be built (a kernel that does not
// compile) is a failure, never a skip.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "backend/opencl/cl_devices.h"
#include "backend/select.h"
#include "core/error.h"

namespace vqr_test {

inline bool opencl_required() {
  const char *v = std::getenv("VQR_REQUIRE_OPENCL");
  return v && std::string(v) == "1";
}

// The backend "opencl" selects, or nullptr with the reason in *error when building it failed
// (empty when there is simply no device).
inline vqr::backend::Backend *opencl_backend(std::string *error) {
  if (vqr::backend::opencl::devices().empty()) return nullptr;
  try {
    return vqr::backend::select(vqr::backend::Kind::OpenCl, "", "", nullptr);
  } catch (const vqr::Error &e) {
    *error = e.what();
    return nullptr;
  }
}

}  // namespace vqr_test

// Declares `vqr::backend::Backend *VAR`, the OpenCL backend, or skips / fails as above.
#define OPENCL_OR_SKIP(VAR)                                                                   \
  std::string VAR##_error;                                                                    \
  vqr::backend::Backend *VAR = vqr_test::opencl_backend(&VAR##_error);                        \
  if (!VAR) {                                                                                 \
    if (!VAR##_error.empty()) FAIL() << VAR##_error;                                          \
    if (vqr_test::opencl_required()) FAIL() << "VQR_REQUIRE_OPENCL=1 but no OpenCL device"; \
    GTEST_SKIP() << "no OpenCL device; skipping";                                             \
  }
