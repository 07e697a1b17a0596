// Files and folders that appear whole or not at all (DESIGN §5: a cancelled or failed run leaves no
// partial output). A file's bytes go to a temporary "<path>.tmp-<pid>-XXXXXX" of its own (two
// writers of one path never share one; io/temp_names.h), commit() flushes, fsyncs and renames it
// over <path>; a writer destroyed before commit() (an error, a cancel, an exception) removes its
// temporary file. A folder is filled under "<dir>.partial-<pid>-XXXXXX" and renamed when complete.
// A killed run's temporaries are removed by the next writer of the same path once their process is
// gone. Every checkpoint writer goes through one of the two.
#pragma once

#include <cstddef>
#include <cstdio>
#include <functional>
#include <string>

namespace vqr::io {

class AtomicFile {
 public:
  // Removes stale temporaries of `path` (their writer is dead), then creates this writer's own,
  // mode 0666 less the umask as fopen would; throws Error(Status::Io) when it cannot.
  explicit AtomicFile(std::string path);
  ~AtomicFile();
  AtomicFile(const AtomicFile &) = delete;
  AtomicFile &operator=(const AtomicFile &) = delete;

  // Appends bytes. A failure is remembered and reported by commit(), so writers stay linear.
  void write(const void *data, size_t bytes);
  // Appends `bytes` zero bytes (alignment padding).
  void write_zeros(size_t bytes);
  // Flushes, fsyncs, closes and renames over the final path (the last of several writers of one
  // path wins, each file whole); throws Error(Status::Io) with the first failure's reason (the
  // temporary file is removed first).
  void commit();

  const std::string &path() const { return path_; }

 private:
  void discard();
  void remember_failure();

  std::string path_, tmp_;
  std::FILE *file_ = nullptr;
  int first_errno_ = 0;
  bool failed_ = false;
};

// Creates "<dir>.partial-<pid>-XXXXXX" (mode 0777 less the umask, as mkdir would; stale ones of
// dead writers of `dir` are removed first), calls fill(tmp) to write into it, then renames it to
// `dir` (trailing slashes of `dir` are ignored). `dir` must not exist. When fill or the rename
// throws, the temporary folder and everything in it is removed and the exception propagates; a
// second writer that finishes first wins, and this one's rename then fails. Throws vqr::Error:
// Status::InvalidArgument ("<dir>: already exists; hint: ...", or an empty name), Status::Io
// (cannot create or rename), and whatever fill throws.
void write_folder_atomically(const std::string &dir, const std::function<void(const std::string &tmp)> &fill);

}  // namespace vqr::io
