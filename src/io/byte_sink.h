// How a checkpoint writer receives a tensor's bytes piece by piece (issue 16): the safetensors and
// GGUF writers (safetensors.h, gguf.h) call a tensor's producer when the file reaches that tensor,
// with a sink appending to the file, so a model larger than memory is written one tensor (or one
// chunk of rows) at a time instead of being encoded whole first.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>

namespace vqr::io {

// Appends `bytes` bytes at `data` (read during the call only) to the tensor being written.
using ByteSink = std::function<void(const void *data, size_t bytes)>;

// Writes one tensor's bytes in order through `sink`, in pieces of any size; the total must be the
// tensor's exact byte size (the writers check it). Called once per write, when the file reaches the
// tensor; anything it throws aborts the write and removes the temporary file.
using ByteProducer = std::function<void(const ByteSink &sink)>;

// Told by a checkpoint writer before each tensor it writes and once after the last, before the
// file is renamed into place: `done` of the `total` tensors it writes in this call are written.
// This is where an export reports progress and notices a cancel between tensors: anything it
// throws aborts the write like a producer's exception, removing the temporary file. Empty: none.
using TensorProgress = std::function<void(int64_t done, int64_t total)>;

}  // namespace vqr::io
