// A whole regular file mapped read-only (PROT_READ, MAP_PRIVATE): the one way this library maps a
// file, under the safetensors and GGUF readers, which validate the bytes before any use. Move-only;
// the mapping lives as long as the object. A file truncated by another process while mapped can
// still raise SIGBUS.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace vqr::io {

class MappedFile {
 public:
  // Opens `path` without blocking (a FIFO would otherwise wait for a writer), checks it is a
  // regular file and maps all of it; an empty file maps to data() == nullptr, size() == 0.
  // Throws vqr::Error(Status::Io): "<path>: cannot open: <strerror>; hint: check the path and its
  // permissions", "<path>: cannot stat: ...", "<path>: not a regular file; hint: <not_regular_hint>"
  // (a folder, a FIFO, a device), "<path>: cannot map: <strerror>; hint: check the file".
  static MappedFile open(const std::string &path, const std::string &not_regular_hint);

  MappedFile() = default;
  MappedFile(MappedFile &&other) noexcept;
  MappedFile &operator=(MappedFile &&other) noexcept;
  MappedFile(const MappedFile &) = delete;
  MappedFile &operator=(const MappedFile &) = delete;
  ~MappedFile();

  const uint8_t *data() const { return static_cast<const uint8_t *>(map_); }
  uint64_t size() const { return size_; }

  // Drops the pages of bytes [offset, offset + bytes) from the process (madvise MADV_DONTNEED on
  // the page-aligned range that covers them, clipped to the mapping): a streamed model's tensor
  // source calls it when it is done with a tensor, so the resident set stays about one block. The
  // mapping is private and read-only, so a later read faults the same bytes back in from the file.
  // Returns false when madvise fails or the range lies outside the mapping (nothing to undo: the
  // pages merely stay).
  bool drop_pages(uint64_t offset, uint64_t bytes) const noexcept;

 private:
  void release() noexcept;

  void *map_ = nullptr;
  uint64_t size_ = 0;
};

}  // namespace vqr::io
