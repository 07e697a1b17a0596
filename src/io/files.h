// The small file helpers every reader and writer shares: one way to open a file for reading, to
// read a whole file, to write or copy a small one, and to ask whether a path exists. Errors take
// the one form of core/error.h, "<path>: <problem>; hint: <fix>", with the caller's hint where the
// fix depends on what the file was for (a --tokenizer path, a model folder, a text file).
#pragma once

#include <cstddef>
#include <cstdio>
#include <memory>
#include <string>

namespace vqr::io {

struct FileCloser {
  void operator()(std::FILE *f) const { std::fclose(f); }
};
using FilePtr = std::unique_ptr<std::FILE, FileCloser>;

// Opens `path` for reading ("rb"). Throws vqr::Error(Status::Io)
// "<path>: cannot open: <strerror>; hint: <open_hint>".
FilePtr open_for_reading(const std::string &path, const std::string &open_hint);

// A size limit for read_file: a file of more than `bytes` bytes is refused with
// vqr::Error(Status::Format) "<path>: <problem>; hint: <hint>" once that many have been read, so
// a wrong file passed where a small one belongs (a checkpoint as a tokenizer) is never held whole.
struct ReadLimit {
  size_t bytes;
  const char *problem;
  const char *hint;
};

// The whole content of `path`. Throws vqr::Error: Status::Io "<path>: cannot open: <strerror>;
// hint: <open_hint>" or "<path>: read failed: <strerror>; hint: check the file and the disk" (a
// folder, a device error), Status::Format past *limit (NULL: no limit).
std::string read_file(const std::string &path, const std::string &open_hint, const ReadLimit *limit = nullptr);

// Writes `text` to `path` (created or truncated). Throws vqr::Error(Status::Io)
// "<path>: cannot write; hint: is the disk full?".
void write_text_file(const std::string &path, const std::string &text);

// Copies the file `from` to `to` (created or truncated). Throws vqr::Error(Status::Io):
// read_file's errors for `from` (with open_hint), write_text_file's for `to`.
void copy_file(const std::string &from, const std::string &to, const std::string &open_hint);

// True when stat(path) succeeds (a file, a folder, or a symbolic link to one).
bool path_exists(const std::string &path);
// True when `path` is a folder (or a symbolic link to one).
bool is_directory(const std::string &path);
// True when `path` is a regular file (or a symbolic link to one).
bool is_regular_file(const std::string &path);
// The folder holding `path`: what precedes its last '/' ("/" for a path in the root, "." for a
// bare name). Trailing slashes are not stripped: "a/b/" gives "a/b".
std::string parent_folder(const std::string &path);
// Why `path` is not a regular file one can read: "" when it is one, else "cannot open: <errno's
// text>" (e.g. a missing path), "is a folder, not a file", "is a FIFO (named pipe), not a regular file", "is a device, not a
// regular file", "is a socket, not a regular file" or stat's error. Readers check it before
// opening, so a folder is not read as empty text and a FIFO does not block the open.
std::string not_a_regular_file(const std::string &path);

}  // namespace vqr::io
