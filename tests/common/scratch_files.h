// Scratch files for the C++ tests of the library's internals: a temporary folder removed at scope
// exit, whole-file reads and writes, and the check that a call throws vqr::Error with a given
// status and a message that names the problem (and, for file errors, carries a "; hint: ").
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "core/error.h"

namespace vqr_test {

// A fresh folder under gtest's temp dir, unique to this process and `tag`, removed at scope exit.
class TempDir {
 public:
  explicit TempDir(const std::string &tag)
      : path_((std::filesystem::path(::testing::TempDir()) /
               ("vqr_" + tag + "_" + std::to_string(::getpid())))
                  .string()) {
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir &) = delete;
  TempDir &operator=(const TempDir &) = delete;

  const std::string &path() const { return path_; }
  std::string file(const std::string &name) const { return (std::filesystem::path(path_) / name).string(); }

 private:
  std::string path_;
};

// The temporaries that writers of `path` left beside it ("<name>.tmp-<pid>-XXXXXX" or
// "<name>.partial-<pid>-XXXXXX", io/temp_names.h): empty after every finished or failed write.
inline std::vector<std::string> temporaries_beside(const std::string &path) {
  const std::filesystem::path p(path);
  const std::string name = p.filename().string();
  std::vector<std::string> found;
  std::error_code ec;
  for (const auto &e : std::filesystem::directory_iterator(p.has_parent_path() ? p.parent_path() : ".", ec)) {
    const std::string n = e.path().filename().string();
    if (n.rfind(name + ".tmp-", 0) == 0 || n.rfind(name + ".partial-", 0) == 0) found.push_back(n);
  }
  return found;
}

inline std::string read_file(const std::string &path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

inline void write_file(const std::string &path, const std::string &bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(f.good()) << "cannot write " << path;
}

enum class Hint { kRequired, kOptional };

// Expects fn() to throw vqr::Error with `status` and a message containing `needle`.
template <class Fn>
void expect_error(Fn &&fn, vqr::Status status, const std::string &needle, Hint hint = Hint::kRequired) {
  try {
    fn();
    ADD_FAILURE() << "no error; expected one mentioning \"" << needle << "\"";
  } catch (const vqr::Error &e) {
    const std::string what = e.what();
    EXPECT_EQ(e.status(), status) << what;
    EXPECT_NE(what.find(needle), std::string::npos) << what;
    if (hint == Hint::kRequired) {
      EXPECT_NE(what.find("; hint: "), std::string::npos) << what;
    }
  }
}

}  // namespace vqr_test
