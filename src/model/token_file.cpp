// Pre-tokenized id files: little-endian uint32 ids, read in one piece and range-checked.
#include "model/token_file.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <new>

#include "core/error.h"
#include "io/atomic_file.h"
#include "io/files.h"

namespace vqr::model {

namespace {

constexpr const char *kFormatHint = "a token file holds little-endian uint32 ids and nothing else";

// The file holds little-endian values; on a big-endian host swap them in place.
void from_little_endian(uint32_t *v, size_t n) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  for (size_t i = 0; i < n; ++i) v[i] = __builtin_bswap32(v[i]);
#else
  (void)v;
  (void)n;
#endif
}

}  // namespace

std::vector<int32_t> read_token_file(const std::string &path, int vocab_size) {
  const io::FilePtr f = io::open_for_reading(path, "check the token file path");
  struct stat st;
  if (fstat(fileno(f.get()), &st) != 0)
    fail(Status::Io, path, std::string("cannot stat: ") + std::strerror(errno), "check the token file path");
  if (!S_ISREG(st.st_mode)) fail(Status::Io, path, "not a regular file", "pass a token file, not a folder or device");
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size == 0) fail(Status::Format, path, "empty file (no token ids)", kFormatHint);
  if (size % 4 != 0)
    fail(Status::Format, path, "size " + std::to_string(size) + " bytes is not a multiple of 4", kFormatHint);

  std::vector<int32_t> ids;
  try {
    ids.resize(static_cast<size_t>(size / 4));
  } catch (const std::bad_alloc &) {
    fail(Status::OutOfMemory, path, "cannot hold " + std::to_string(size / 4) + " token ids in memory",
         "split the token file");
  }
  if (std::fread(ids.data(), 4, ids.size(), f.get()) != ids.size())
    fail(Status::Io, path, std::string("read failed: ") + (std::ferror(f.get()) ? std::strerror(errno) : "file shrank"),
         "is the file being written?");
  uint32_t *raw = reinterpret_cast<uint32_t *>(ids.data());
  from_little_endian(raw, ids.size());
  const uint64_t limit = vocab_size > 0 ? static_cast<uint64_t>(vocab_size) : (uint64_t{1} << 31);
  for (size_t i = 0; i < ids.size(); ++i)
    if (raw[i] >= limit)
      fail(Status::Format, path,
           "token " + std::to_string(i) + " has id " + std::to_string(raw[i]) +
               (vocab_size > 0 ? ", outside the vocabulary of " + std::to_string(vocab_size)
                               : std::string(", above the int32 range")),
           "the ids come from another tokenizer");
  return ids;
}

void write_token_file(const std::string &path, const std::vector<int32_t> &ids) {
  for (size_t i = 0; i < ids.size(); ++i)
    if (ids[i] < 0)
      throw Error(Status::InvalidArgument,
                  path + ": token " + std::to_string(i) + " has negative id " + std::to_string(ids[i]));
  io::AtomicFile out(path);
  // Through a fixed buffer: little-endian conversion without a copy of the whole vector.
  std::vector<uint32_t> chunk(std::min<size_t>(ids.size(), size_t{1} << 16));
  for (size_t at = 0; at < ids.size(); at += chunk.size()) {
    const size_t n = std::min(chunk.size(), ids.size() - at);
    for (size_t i = 0; i < n; ++i) chunk[i] = static_cast<uint32_t>(ids[at + i]);
    from_little_endian(chunk.data(), n);  // the swap is its own inverse
    out.write(chunk.data(), 4 * n);
  }
  out.commit();
}

}  // namespace vqr::model
