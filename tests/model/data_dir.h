// Where the model tests find ../shared/data: $VQR_DATA_DIR, else $VQR_DATA_DIR_DEFAULT (set by
// ctest), else ../shared/data next to the source tree. Absent data skips the test with a message,
// or fails it when VQR_REQUIRE_DATA=1 (CI).
#pragma once

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <string>

namespace vqr_test {

inline bool is_dir(const std::string &p) {
  struct stat st;
  return !p.empty() && stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// The data folder, or "" when none of the candidates exists.
inline std::string data_dir() {
  for (const char *var : {"VQR_DATA_DIR", "VQR_DATA_DIR_DEFAULT"}) {
    const char *v = std::getenv(var);
    if (v && *v) return is_dir(v) ? std::string(v) : std::string();
  }
#ifdef VQR_SOURCE_DIR
  const std::string fallback = std::string(VQR_SOURCE_DIR) + "/../shared/data";
  if (is_dir(fallback)) return fallback;
#endif
  return std::string();
}

inline bool data_required() {
  const char *v = std::getenv("VQR_REQUIRE_DATA");
  return v && std::string(v) == "1";
}

}  // namespace vqr_test

// Declares `const std::string VAR` = the data folder, or skips (fails with VQR_REQUIRE_DATA=1).
#define VQR_DATA_DIR_OR_SKIP(VAR)                                                                 \
  const std::string VAR = vqr_test::data_dir();                                                   \
  if (VAR.empty()) {                                                                              \
    if (vqr_test::data_required()) FAIL() << "VQR_REQUIRE_DATA=1 but the shared data folder is missing"; \
    GTEST_SKIP() << "shared data folder not found (set VQR_DATA_DIR); skipping";                  \
  }
