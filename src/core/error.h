// Internal error type: C++ code throws vqr::Error(status, message); the C API shim (src/capi)
// catches it and turns it into a vqr_status plus the thread's last-error message.
#pragma once

#include <stdexcept>
#include <string>

#include "core/status.h"

namespace vqr {

class Error : public std::runtime_error {
 public:
  Error(Status status, const std::string &message) : std::runtime_error(message), status_(status) {}
  Status status() const noexcept { return status_; }

 private:
  Status status_;
};

// Throws Error(status, "<subject>: <problem>; hint: <fix>"), the one form of every error about a
// file or path (checkpoints, tokenizers, configs), so messages read the same everywhere.
[[noreturn]] inline void fail(Status status, const std::string &subject, const std::string &problem,
                              const std::string &hint) {
  throw Error(status, subject + ": " + problem + "; hint: " + hint);
}

// Throws Error(status, message) when `ok` is false. Keeps argument checks to one line each.
inline void require(bool ok, Status status, const std::string &message) {
  if (!ok) throw Error(status, message);
}

}  // namespace vqr
