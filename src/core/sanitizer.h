// Hot kernels under the sanitizer build. AddressSanitizer and UndefinedBehaviorSanitizer check
// every load, store and index in an inner loop, which made the forward pass's matmul and
// attention kernels 40x slower and most of the sanitizer test run. A kernel marked
// VQR_UNCHECKED_KERNEL runs unchecked; its caller instead checks, once per call, that every buffer
// the kernel reaches is addressable over its whole extent (check_addressable). That catches the
// same bugs (a buffer too small, freed, or out of bounds) since the kernel's indices stay inside
// those extents by its loop bounds; the loop bounds themselves are plain code a test covers.
#pragma once

#include <cstddef>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif

#define VQR_UNCHECKED_KERNEL __attribute__((no_sanitize("address", "undefined")))

namespace vqr {

// Whether this build runs under AddressSanitizer: tests trim their sizes with it (the checks make
// loops ~10x slower) or run checks only the sanitizer can observe.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kAddressSanitizerBuild = true;
#else
constexpr bool kAddressSanitizerBuild = false;
#endif

// Sanitizer builds: reads the first poisoned byte of [p, p + count) through an instrumented load,
// so AddressSanitizer reports it with the usual stack trace and allocation history. Other builds:
// nothing.
// Never inlined there: a caller marked VQR_UNCHECKED_KERNEL would otherwise strip the
// instrumented load. Elsewhere an empty inline function, so the forward's hot path pays nothing.
#if defined(__SANITIZE_ADDRESS__)
template <typename T>
__attribute__((noinline)) void check_addressable(const T *p, size_t count) {
  if (count == 0) return;
  const void *bad = __asan_region_is_poisoned(const_cast<T *>(p), count * sizeof(T));
  if (bad != nullptr) (void)*static_cast<const volatile char *>(bad);
}
#else
template <typename T>
inline void check_addressable(const T *, size_t) {}
#endif

}  // namespace vqr
