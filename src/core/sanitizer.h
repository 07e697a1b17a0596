// Hot kernels under the sanitizer build. AddressSanitizer and UndefinedBehaviorSanitizer check
// every load, store and index in an inner loop, which made the forward pass's matmul and
// attention kernels 40x slower and most of the sanitizer test run. A kernel marked
// VQR_UNCHECKED_KERNEL runs unchecked; its caller instead checks, once per call, that every buffer
// the kernel reaches is addressable over its whole extent (check_addressable). That catches the
// same bugs (a buffer too small, freed, or out of bounds) since the kernel's indices stay inside
// those extents by its loop bounds; the loop bounds themselves are plain code a test covers.
#pragma once

#include <cstddef>

// VQR_ASAN: 1 under AddressSanitizer. GCC defines __SANITIZE_ADDRESS__; clang answers
// __has_feature(address_sanitizer) instead (and defines no macro before clang 17).
#if defined(__SANITIZE_ADDRESS__)
#define VQR_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define VQR_ASAN 1
#endif
#endif
#ifndef VQR_ASAN
#define VQR_ASAN 0
#endif

#if VQR_ASAN
#include <sanitizer/asan_interface.h>
#endif

// VQR_TARGET_CLONES: a hot kernel compiled for AVX-512, AVX2 and baseline x86-64, chosen at load
// time. GCC only: clang 14 rejects target_clones on templates and beside no_sanitize, so clang
// builds compile the kernel once for the build's target. Off under AddressSanitizer, whose
// instrumented clones gain nothing and build slowly.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !VQR_ASAN
#define VQR_TARGET_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define VQR_TARGET_CLONES
#endif

#define VQR_UNCHECKED_KERNEL __attribute__((no_sanitize("address", "undefined")))

namespace vqr {

// Whether this build runs under AddressSanitizer: tests trim their sizes with it (the checks make
// loops ~10x slower) or run checks only the sanitizer can observe.
#if VQR_ASAN
constexpr bool kAddressSanitizerBuild = true;
#else
constexpr bool kAddressSanitizerBuild = false;
#endif

// Sanitizer builds: reads the first poisoned byte of [p, p + count) through an instrumented load,
// so AddressSanitizer reports it with the usual stack trace and allocation history. Other builds:
// nothing.
// Never inlined there: a caller marked VQR_UNCHECKED_KERNEL would otherwise strip the
// instrumented load. Elsewhere an empty inline function, so the forward's hot path pays nothing.
#if VQR_ASAN
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
