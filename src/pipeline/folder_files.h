// Output folders built atomically (DESIGN §5: a failed or cancelled run leaves no partial output):
// the content goes into a temporary folder beside the destination, which is renamed when complete.
#pragma once

#include <functional>
#include <string>

namespace vqr::pipeline {

// Creates "<dir>.partial-<pid>", calls fill(tmp) to write into it, then renames it to `dir`.
// `dir` must not exist. When fill or the rename throws, the temporary folder and everything in it
// is removed and the exception propagates. Throws vqr::Error: VQR_ERR_INVALID_ARGUMENT (dir empty
// or existing), VQR_ERR_IO (cannot create or rename), and whatever fill throws.
void write_folder_atomically(const std::string &dir, const std::function<void(const std::string &tmp)> &fill);

// Writes `text` to `path` (created or truncated). Throws VQR_ERR_IO.
void write_text_file(const std::string &path, const std::string &text);

// The whole content of `path`. Throws VQR_ERR_IO.
std::string read_text_file(const std::string &path);

}  // namespace vqr::pipeline
