// The library's version for what it writes into files (vqround.json, quantization_config). CMake
// passes the number it reads from the public header, and src/capi/enum_mirror.cpp asserts that
// both agree, so internal code needs no public header for it.
#pragma once

namespace vqr {

constexpr const char *kVersionString = VQR_LIBRARY_VERSION;

}  // namespace vqr
