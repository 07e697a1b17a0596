// A file that appears whole or not at all: bytes go to "<path>.tmp", commit() flushes, fsyncs and
// renames it over <path>; a writer destroyed before commit() (an error, a cancel, an exception)
// removes the temporary file. Every checkpoint writer goes through it, so a failed or interrupted
// save never leaves a partial output file (DESIGN.md: "never a partial output file").
#pragma once

#include <cstddef>
#include <cstdio>
#include <string>

namespace vqr::io {

class AtomicFile {
 public:
  // Creates "<path>.tmp"; throws Error(VQR_ERR_IO) when it cannot.
  explicit AtomicFile(std::string path);
  ~AtomicFile();
  AtomicFile(const AtomicFile &) = delete;
  AtomicFile &operator=(const AtomicFile &) = delete;

  // Appends bytes. A failure is remembered and reported by commit(), so writers stay linear.
  void write(const void *data, size_t bytes);
  // Appends `bytes` zero bytes (alignment padding).
  void write_zeros(size_t bytes);
  // Flushes, fsyncs, closes and renames over the final path; throws Error(VQR_ERR_IO) with the
  // first failure's reason (the temporary file is removed first).
  void commit();

  const std::string &path() const { return path_; }

 private:
  void discard();

  std::string path_, tmp_;
  std::FILE *file_ = nullptr;
  int first_errno_ = 0;
  bool failed_ = false;
};

}  // namespace vqr::io
