// Internal error type: C++ code throws vqr::Error(status, message); the C API shim (src/capi)
// catches it and turns it into a vqr_status plus the thread's last-error message.
#pragma once

#include <stdexcept>
#include <string>

#include "vqround/vqround.h"

namespace vqr {

class Error : public std::runtime_error {
 public:
  Error(vqr_status status, const std::string &message) : std::runtime_error(message), status_(status) {}
  vqr_status status() const noexcept { return status_; }

 private:
  vqr_status status_;
};

// Throws Error(status, message) when `ok` is false. Keeps argument checks to one line each.
inline void require(bool ok, vqr_status status, const std::string &message) {
  if (!ok) throw Error(status, message);
}

}  // namespace vqr
