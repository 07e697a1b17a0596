// Pre-tokenized text: a file of little-endian uint32 token ids, nothing else (no header), as
// written by write_token_file or by `numpy.array(ids, dtype="<u4").tofile(path)`.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace vqr::model {

// Reads every id of the file at `path`. The size must be a non-zero multiple of 4; each id must be
// below vocab_size (vocab_size <= 0: only below 2^31, so that it fits an int32_t). Reads with one
// fread, so a file of any size that fits in memory works.
// Throws vqr::Error with "<path>: <problem>; hint: <fix>": Status::Io (cannot open or read),
// Status::Format (empty, size not a multiple of 4, an id out of range: the message names its index
// and value), Status::OutOfMemory (larger than memory).
std::vector<int32_t> read_token_file(const std::string &path, int vocab_size);

// Writes `ids` (each >= 0) to `path` as little-endian uint32: into a temporary
// "<path>.tmp-<pid>-XXXXXX" first (io/atomic_file.h), renamed over `path` once complete, so a reader never sees half a file. An empty `ids` writes an empty
// file (which read_token_file refuses). Throws vqr::Error: Status::InvalidArgument (a negative
// id), Status::Io (cannot create, write or rename; the temporary file is removed).
void write_token_file(const std::string &path, const std::vector<int32_t> &ids);

}  // namespace vqr::model
