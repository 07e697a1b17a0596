// Internal status codes: what a vqr::Error carries. The numbers equal the public vqr_status ones
// (src/capi/enum_mirror.cpp asserts each), so the C API shim converts with a cast, and a code
// never changes meaning once released (DESIGN §2).
#pragma once

namespace vqr {

enum class Status : int {
  Ok = 0,
  InvalidArgument = -1,  // NULL pointer, wrong shape, stride or dtype, mismatched sizes
  Unsupported = -2,      // a valid request this build or object cannot serve
  OutOfRange = -3,       // a parameter value outside its bounds
  NonFinite = -4,        // NaN or Inf in an input tensor
  Numerical = -5,        // a factorization failed even after all damping retries
  Corrupt = -6,          // serialized data failed validation (magic, size, checksum)
  BufferTooSmall = -7,   // a caller buffer is smaller than the size query says
  OutOfMemory = -8,      // an allocation failed
  Cancelled = -9,        // cancellation requested through the context or the progress callback
  Io = -10,              // reading or writing a file failed
  Internal = -11,        // a bug in the library
  Format = -12,          // a file violates its format (checkpoint, config, tokenizer)
};

}  // namespace vqr
