// The C API shim's one mechanism: run a C++ body, turn any exception into a vqr_status and the
// calling thread's last-error message. No exception ever crosses the ABI (DESIGN §2).
#pragma once

#include <cstring>
#include <new>
#include <string>

#include "capi/translate.h"
#include "core/error.h"
#include "vqround/vqround.h"

namespace vqr::capi {

// Records `message` as the calling thread's last error and returns `status`.
vqr_status set_error(vqr_status status, const std::string &message);

template <class Body>
vqr_status guarded(const char *function, Body &&body) noexcept {
  try {
    body();
    return VQR_OK;
  } catch (const Error &e) {
    return set_error(to_public(e.status()), std::string(function) + ": " + e.what());
  } catch (const std::bad_alloc &) {
    return set_error(VQR_ERR_OUT_OF_MEMORY, std::string(function) + ": out of memory");
  } catch (const std::exception &e) {
    return set_error(VQR_ERR_INTERNAL, std::string(function) + ": internal error: " + e.what());
  } catch (...) {
    return set_error(VQR_ERR_INTERNAL, std::string(function) + ": unknown internal error");
  }
}

// Argument check used at the top of every entry point.
inline void require_arg(bool ok, const char *what) {
  if (!ok) throw Error(vqr::Status::InvalidArgument, what);
}

// Writes a versioned output struct (DESIGN §2: output structs start with size_t struct_size, set by
// the caller): at most out->struct_size bytes of `full`, with struct_size set to what was written,
// so a caller built against an older, shorter struct is never overrun.
template <class T>
void write_versioned(T *out, T full) {
  require_arg(out != nullptr, "out is NULL");
  require_arg(out->struct_size >= sizeof(size_t), "out->struct_size is not set (set it to sizeof the struct)");
  const size_t n = out->struct_size < sizeof full ? out->struct_size : sizeof full;
  full.struct_size = n;
  std::memcpy(static_cast<void *>(out), &full, n);
}

// write_versioned for vqr_bounds and vqr_packed_shape, which until 0.4 the library filled whole and
// whose struct_size it set itself: a zero-initialized struct of a caller written then arrives with
// struct_size 0, which reads as `size_in_0_4` (the struct's size in 0.4, all it knows of).
template <class T>
void write_versioned_from_0_4(T *out, const T &full, size_t size_in_0_4) {
  require_arg(out != nullptr, "out is NULL");
  if (out->struct_size == 0) out->struct_size = size_in_0_4;
  write_versioned(out, full);
}

}  // namespace vqr::capi
