// Atomic files and folders (atomic_file.h).
#include "io/atomic_file.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <utility>

#include "core/error.h"

namespace vqr::io {

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)), tmp_(path_ + ".tmp") {
  file_ = std::fopen(tmp_.c_str(), "wb");
  if (!file_)
    fail(Status::Io, path_, "cannot create " + tmp_ + ": " + std::strerror(errno),
         "check the folder exists and is writable");
}

AtomicFile::~AtomicFile() { discard(); }

void AtomicFile::discard() {
  if (!file_) return;
  std::fclose(file_);
  file_ = nullptr;
  std::remove(tmp_.c_str());
}

void AtomicFile::write(const void *data, size_t bytes) {
  if (failed_ || bytes == 0) return;
  if (std::fwrite(data, 1, bytes, file_) != bytes) {
    failed_ = true;
    first_errno_ = errno;
  }
}

void AtomicFile::write_zeros(size_t bytes) {
  static const char kZeros[4096] = {};
  while (bytes > 0) {
    const size_t n = bytes < sizeof kZeros ? bytes : sizeof kZeros;
    write(kZeros, n);
    bytes -= n;
  }
}

void AtomicFile::commit() {
  if (!failed_ && (std::fflush(file_) != 0 || ::fsync(fileno(file_)) != 0)) {
    failed_ = true;
    first_errno_ = errno;
  }
  const bool closed = std::fclose(file_) == 0;
  if (!closed && !failed_) {
    failed_ = true;
    first_errno_ = errno;
  }
  file_ = nullptr;
  if (failed_) {
    std::remove(tmp_.c_str());
    fail(Status::Io, path_, std::string("write failed: ") + std::strerror(first_errno_), "check free disk space");
  }
  if (std::rename(tmp_.c_str(), path_.c_str()) != 0) {
    const int err = errno;
    std::remove(tmp_.c_str());
    fail(Status::Io, path_, std::string("cannot rename the temporary file: ") + std::strerror(err),
         "check the destination is not a folder and is writable");
  }
}

void write_folder_atomically(const std::string &dir, const std::function<void(const std::string &tmp)> &fill) {
  namespace fs = std::filesystem;
  std::error_code ec;
  require(!dir.empty(), Status::InvalidArgument, "output folder: the name is empty; hint: name the folder to write");
  require(!fs::exists(fs::symlink_status(dir, ec)), Status::InvalidArgument,
          dir + ": already exists; hint: choose a new folder name or remove the old one");
  const std::string tmp = dir + ".partial-" + std::to_string(getpid());
  fs::remove_all(tmp, ec);  // a leftover of an earlier run of this process id
  if (!fs::create_directory(tmp, ec))
    fail(Status::Io, tmp, "cannot create: " + (ec ? ec.message() : std::string("it exists")), "check the parent folder");
  try {
    fill(tmp);
    fs::rename(tmp, dir, ec);
    if (ec) fail(Status::Io, dir, "cannot rename the finished folder: " + ec.message(), "check the parent folder");
  } catch (...) {
    fs::remove_all(tmp, ec);
    throw;
  }
}

}  // namespace vqr::io
