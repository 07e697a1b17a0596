// Files and folders that appear whole or not at all (DESIGN §5: a cancelled or failed run leaves no
// partial output). A file's bytes go to "<path>.tmp", commit() flushes, fsyncs and renames it over
// <path>; a writer destroyed before commit() (an error, a cancel, an exception) removes the
// temporary file. A folder is filled under "<dir>.partial-<pid>" and renamed when complete. Every
// checkpoint writer goes through one of the two.
#pragma once

#include <cstddef>
#include <cstdio>
#include <functional>
#include <string>

namespace vqr::io {

class AtomicFile {
 public:
  // Creates "<path>.tmp"; throws Error(Status::Io) when it cannot.
  explicit AtomicFile(std::string path);
  ~AtomicFile();
  AtomicFile(const AtomicFile &) = delete;
  AtomicFile &operator=(const AtomicFile &) = delete;

  // Appends bytes. A failure is remembered and reported by commit(), so writers stay linear.
  void write(const void *data, size_t bytes);
  // Appends `bytes` zero bytes (alignment padding).
  void write_zeros(size_t bytes);
  // Flushes, fsyncs, closes and renames over the final path; throws Error(Status::Io) with the
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

// Creates "<dir>.partial-<pid>", calls fill(tmp) to write into it, then renames it to `dir`.
// `dir` must not exist. When fill or the rename throws, the temporary folder and everything in it
// is removed and the exception propagates. Throws vqr::Error: Status::InvalidArgument ("<dir>:
// already exists; hint: ...", or an empty name), Status::Io (cannot create or rename), and
// whatever fill throws.
void write_folder_atomically(const std::string &dir, const std::function<void(const std::string &tmp)> &fill);

}  // namespace vqr::io
