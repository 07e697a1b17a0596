// Read-only file mappings (mapped_file.h).
#include "io/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "core/error.h"

namespace vqr::io {

namespace {

struct FdCloser {
  int fd;
  ~FdCloser() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

MappedFile MappedFile::open(const std::string &path, const std::string &not_regular_hint) {
  // O_NONBLOCK: opening a FIFO would otherwise wait for a writer; regular files ignore it.
  const FdCloser fd{::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK)};
  if (fd.fd < 0)
    fail(Status::Io, path, std::string("cannot open: ") + std::strerror(errno), "check the path and its permissions");
  struct stat st;
  if (::fstat(fd.fd, &st) != 0)
    fail(Status::Io, path, std::string("cannot stat: ") + std::strerror(errno), "check the path and its permissions");
  if (!S_ISREG(st.st_mode)) fail(Status::Io, path, "not a regular file", not_regular_hint);
  MappedFile f;
  f.size_ = static_cast<uint64_t>(st.st_size);
  if (f.size_ == 0) return f;  // mmap refuses a length of 0; the readers report the size themselves
  void *map = ::mmap(nullptr, static_cast<size_t>(f.size_), PROT_READ, MAP_PRIVATE, fd.fd, 0);
  if (map == MAP_FAILED) fail(Status::Io, path, std::string("cannot map: ") + std::strerror(errno), "check the file");
  f.map_ = map;
  return f;
}

MappedFile::MappedFile(MappedFile &&other) noexcept { *this = std::move(other); }

MappedFile &MappedFile::operator=(MappedFile &&other) noexcept {
  if (this != &other) {
    release();
    map_ = std::exchange(other.map_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

MappedFile::~MappedFile() { release(); }

bool MappedFile::drop_pages(uint64_t offset, uint64_t bytes) const noexcept {
  if (map_ == nullptr || offset > size_ || bytes > size_ - offset) return false;
  if (bytes == 0) return true;
  const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  const uint64_t begin = offset / page * page;  // the mapping itself starts on a page
  const uint64_t end = std::min(size_, (offset + bytes + page - 1) / page * page);
  return ::madvise(static_cast<uint8_t *>(map_) + begin, static_cast<size_t>(end - begin), MADV_DONTNEED) == 0;
}

void MappedFile::release() noexcept {
  if (map_) ::munmap(map_, static_cast<size_t>(size_));
  map_ = nullptr;
  size_ = 0;
}

}  // namespace vqr::io
