// A per-process scratch folder for the fuzz harnesses: every execution writes its files here and
// removes them before it returns, and the folder itself goes at exit, so a long run leaves nothing
// behind in $TMPDIR (and two fuzzers never share files).
#pragma once

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <string>
#include <vector>

namespace fuzz {

// The folder, made on first use (mkdtemp under $TMPDIR, else /tmp) and removed by an atexit hook.
// A harness that cannot make it aborts: without it every input would test nothing.
inline const std::string &scratch_dir() {
  static const std::string dir = [] {
    const char *tmp = getenv("TMPDIR");
    std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/vqr-fuzz-XXXXXX";
    std::vector<char> buf(pattern.begin(), pattern.end());
    buf.push_back('\0');
    if (!mkdtemp(buf.data())) {
      perror("vqr fuzz: mkdtemp");
      abort();
    }
    std::string made(buf.data());
    static std::string at_exit_copy;
    at_exit_copy = made;
    atexit([] { rmdir(at_exit_copy.c_str()); });
    return made;
  }();
  return dir;
}

// Writes size bytes to path (created or truncated). Aborts when the write fails (a full disk is
// the environment's fault, not an input's; better stop than report every input as fine).
inline void write_file(const std::string &path, const uint8_t *data, size_t size) {
  FILE *f = fopen(path.c_str(), "wb");
  if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0) {
    perror(("vqr fuzz: writing " + path).c_str());
    abort();
  }
}

// Removes the files a harness wrote (in reverse: files before the folders that hold them).
class Cleanup {
 public:
  Cleanup() = default;
  Cleanup(const Cleanup &) = delete;
  Cleanup &operator=(const Cleanup &) = delete;
  ~Cleanup() {
    for (auto it = files_.rbegin(); it != files_.rend(); ++it) unlink(it->c_str());
    for (auto it = dirs_.rbegin(); it != dirs_.rend(); ++it) rmdir(it->c_str());
  }
  std::string file(std::string path) { return files_.emplace_back(std::move(path)); }
  std::string dir(std::string path) { return dirs_.emplace_back(std::move(path)); }

 private:
  std::vector<std::string> files_, dirs_;
};

}  // namespace fuzz
