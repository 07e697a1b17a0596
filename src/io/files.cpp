// Shared file helpers (files.h): stdio underneath, so every read and write reports errno.
#include "io/files.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "core/error.h"

namespace vqr::io {

namespace {

constexpr size_t kChunkBytes = size_t{1} << 16;

// Feeds the rest of `f` to sink(bytes, n) until it returns false (the caller's own failure, which it
// remembers); returns false (errno set) on a read error.
template <class Sink>
bool drain(std::FILE *f, Sink sink) {
  char buf[kChunkBytes];
  size_t got;
  while ((got = std::fread(buf, 1, sizeof buf, f)) > 0)
    if (!sink(buf, got)) return true;
  return !std::ferror(f);
}

[[noreturn]] void read_failed(const std::string &path) {
  fail(Status::Io, path, std::string("read failed: ") + std::strerror(errno), "check the file and the disk");
}

[[noreturn]] void cannot_write(const std::string &path) { fail(Status::Io, path, "cannot write", "is the disk full?"); }

}  // namespace

FilePtr open_for_reading(const std::string &path, const std::string &open_hint) {
  const std::string why = not_a_regular_file(path);
  if (!why.empty()) fail(Status::Io, path, why, open_hint);
  FilePtr f(std::fopen(path.c_str(), "rb"));
  if (!f) fail(Status::Io, path, std::string("cannot open: ") + std::strerror(errno), open_hint);
  return f;
}

std::string read_file(const std::string &path, const std::string &open_hint, const ReadLimit *limit) {
  const FilePtr f = open_for_reading(path, open_hint);
  std::string bytes;
  const bool ok = drain(f.get(), [&](const char *p, size_t n) {
    bytes.append(p, n);
    if (limit && bytes.size() > limit->bytes) fail(Status::Format, path, limit->problem, limit->hint);
    return true;
  });
  if (!ok) read_failed(path);
  return bytes;
}

void write_text_file(const std::string &path, const std::string &text) {
  FilePtr f(std::fopen(path.c_str(), "wb"));
  if (!f || std::fwrite(text.data(), 1, text.size(), f.get()) != text.size() || std::fclose(f.release()) != 0)
    cannot_write(path);
}

void copy_file(const std::string &from, const std::string &to, const std::string &open_hint) {
  const FilePtr in = open_for_reading(from, open_hint);
  FilePtr out(std::fopen(to.c_str(), "wb"));
  if (!out) cannot_write(to);
  bool written = true;
  const bool ok = drain(in.get(), [&](const char *p, size_t n) {
    written = std::fwrite(p, 1, n, out.get()) == n;
    return written;
  });
  if (!ok) read_failed(from);
  if (!written || std::fclose(out.release()) != 0) cannot_write(to);
}

bool path_exists(const std::string &path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

bool is_directory(const std::string &path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool is_regular_file(const std::string &path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string parent_folder(const std::string &path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
}

std::string not_a_regular_file(const std::string &path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return std::string("cannot open: ") + std::strerror(errno);
  if (S_ISREG(st.st_mode)) return "";
  if (S_ISDIR(st.st_mode)) return "is a folder, not a file";
  if (S_ISFIFO(st.st_mode)) return "is a FIFO (named pipe), not a regular file";
  if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) return "is a device, not a regular file";
  if (S_ISSOCK(st.st_mode)) return "is a socket, not a regular file";
  return "is not a regular file";
}

}  // namespace vqr::io
