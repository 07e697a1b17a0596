// Atomic files and folders (atomic_file.h).
#include "io/atomic_file.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <utility>

#include "core/error.h"
#include "io/temp_names.h"

namespace vqr::io {

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)) {
  remove_stale_temporaries(path_, TempKind::kFile);
  int fd = -1;
  tmp_ = create_temporary(path_, TempKind::kFile, &fd);
  file_ = ::fdopen(fd, "wb");
  if (!file_) {
    const int err = errno;
    ::close(fd);
    std::remove(tmp_.c_str());
    fail(Status::Io, path_, "cannot open " + tmp_ + ": " + std::strerror(err), "check free memory");
  }
}

AtomicFile::~AtomicFile() { discard(); }

void AtomicFile::discard() {
  if (!file_) return;
  std::fclose(file_);
  file_ = nullptr;
  std::remove(tmp_.c_str());
}

void AtomicFile::remember_failure() {
  if (failed_) return;
  failed_ = true;
  first_errno_ = errno;
}

void AtomicFile::write(const void *data, size_t bytes) {
  if (failed_ || bytes == 0) return;
  if (std::fwrite(data, 1, bytes, file_) != bytes) remember_failure();
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
  if (!failed_ && (std::fflush(file_) != 0 || ::fsync(fileno(file_)) != 0)) remember_failure();
  if (std::fclose(file_) != 0) remember_failure();
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
  // "out/" names the folder "out": its temporary is "out.partial-...", not a hidden entry inside it.
  std::string target = dir;
  while (target.size() > 1 && target.back() == '/') target.pop_back();
  require(!fs::exists(fs::symlink_status(target, ec)), Status::InvalidArgument,
          dir + ": already exists; hint: choose a new folder name or remove the old one");
  remove_stale_temporaries(target, TempKind::kFolder);
  const std::string tmp = create_temporary(target, TempKind::kFolder, nullptr);
  try {
    fill(tmp);
    fs::rename(tmp, target, ec);
    if (ec) fail(Status::Io, dir, "cannot rename the finished folder: " + ec.message(), "check the parent folder");
  } catch (...) {
    fs::remove_all(tmp, ec);
    throw;
  }
}

}  // namespace vqr::io
