// A scratch file for what does not fit a memory budget (issue 16: calibration hidden states past
// --max-memory). It is created in a folder of the caller's choice (default $TMPDIR, else /tmp) and
// unlinked at once, so no run, finished, failed or killed, leaves it behind; its blocks are
// reserved up front, so a full disk is found before the work starts. Positioned reads and writes.
#pragma once

#include <cstdint>
#include <string>

namespace vqr::pipeline {

class SpillFile {
 public:
  // An unlinked file of `bytes` bytes in `dir` ("" = $TMPDIR, or /tmp when that is unset or empty).
  // Throws vqr::Error(Status::Io) "<dir>: cannot create a spill file / reserve N bytes: <strerror>;
  // hint: ..." (a missing or read-only folder, a full disk).
  SpillFile(const std::string &dir, int64_t bytes);
  ~SpillFile();
  SpillFile(const SpillFile &) = delete;
  SpillFile &operator=(const SpillFile &) = delete;

  // bytes at `offset` (offset + bytes <= size()). Throw vqr::Error(Status::Io) on a failed or short
  // transfer.
  void write(int64_t offset, const void *data, int64_t bytes);
  void read(int64_t offset, void *data, int64_t bytes) const;
  int64_t size() const { return bytes_; }
  const std::string &dir() const { return dir_; }

 private:
  std::string dir_;
  int fd_ = -1;
  int64_t bytes_ = 0;
};

// The folder a SpillFile goes to for `dir` ("" = $TMPDIR or /tmp).
std::string spill_folder(const std::string &dir);

}  // namespace vqr::pipeline
