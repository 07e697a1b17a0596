// The unlinked scratch file of spill_file.h.
#include "pipeline/spill_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "core/error.h"

namespace vqr::pipeline {

namespace {

constexpr const char *kSpillHint =
    "point the spill folder (--spill-dir) at a writable disk with room for it, or raise the memory budget "
    "(--max-memory) so less spills";

}  // namespace

std::string spill_folder(const std::string &dir) {
  if (!dir.empty()) return dir;
  const char *tmp = std::getenv("TMPDIR");
  return tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
}

SpillFile::SpillFile(const std::string &dir, int64_t bytes) : dir_(spill_folder(dir)), bytes_(bytes) {
  require(bytes >= 0, Status::Internal, "spill file: negative size");
  std::string pattern = dir_ + "/vqround-spill-XXXXXX";
  std::vector<char> name(pattern.begin(), pattern.end());
  name.push_back('\0');
  fd_ = ::mkstemp(name.data());
  if (fd_ < 0) fail(Status::Io, dir_, std::string("cannot create a spill file: ") + std::strerror(errno), kSpillHint);
  ::unlink(name.data());  // the open descriptor keeps it; nothing is left behind
  if (bytes > 0) {
    const int err = ::posix_fallocate(fd_, 0, (off_t)bytes);
    if (err != 0) {
      ::close(fd_);
      fd_ = -1;
      fail(Status::Io, dir_, "cannot reserve " + std::to_string(bytes) + " bytes for a spill file: " + std::strerror(err),
           kSpillHint);
    }
  }
}

SpillFile::~SpillFile() {
  if (fd_ >= 0) ::close(fd_);
}

void SpillFile::write(int64_t offset, const void *data, int64_t bytes) {
  require(offset >= 0 && bytes >= 0 && offset + bytes <= bytes_, Status::Internal, "spill file: write out of range");
  const char *p = static_cast<const char *>(data);
  while (bytes > 0) {
    const ssize_t n = ::pwrite(fd_, p, (size_t)bytes, (off_t)offset);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0)
      fail(Status::Io, dir_, std::string("writing the spill file failed: ") + (n < 0 ? std::strerror(errno) : "no progress"),
           kSpillHint);
    p += n;
    offset += n;
    bytes -= n;
  }
}

void SpillFile::read(int64_t offset, void *data, int64_t bytes) const {
  require(offset >= 0 && bytes >= 0 && offset + bytes <= bytes_, Status::Internal, "spill file: read out of range");
  char *p = static_cast<char *>(data);
  while (bytes > 0) {
    const ssize_t n = ::pread(fd_, p, (size_t)bytes, (off_t)offset);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0)
      fail(Status::Io, dir_,
           std::string("reading the spill file failed: ") + (n < 0 ? std::strerror(errno) : "unexpected end of file"),
           "check the disk that holds the spill folder (--spill-dir)");
    p += n;
    offset += n;
    bytes -= n;
  }
}

}  // namespace vqr::pipeline
