// Atomic output folders and small text files (folder_files.h).
#include "pipeline/folder_files.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"

namespace vqr::pipeline {

void write_folder_atomically(const std::string &dir, const std::function<void(const std::string &tmp)> &fill) {
  namespace fs = std::filesystem;
  std::error_code ec;
  require(!dir.empty() && !fs::exists(fs::symlink_status(dir, ec)), VQR_ERR_INVALID_ARGUMENT,
          (dir.empty() ? std::string("output folder") : dir) +
              ": already exists or is empty; hint: choose a new folder name or remove the old one");
  const std::string tmp = dir + ".partial-" + std::to_string(getpid());
  fs::remove_all(tmp, ec);  // a leftover of an earlier run of this process id
  if (!fs::create_directory(tmp, ec))
    fail(VQR_ERR_IO, tmp, "cannot create: " + (ec ? ec.message() : std::string("it exists")), "check the parent folder");
  try {
    fill(tmp);
    fs::rename(tmp, dir, ec);
    if (ec) fail(VQR_ERR_IO, dir, "cannot rename the finished folder: " + ec.message(), "check the parent folder");
  } catch (...) {
    fs::remove_all(tmp, ec);
    throw;
  }
}

void write_text_file(const std::string &path, const std::string &text) {
  std::ofstream f(path, std::ios::binary);
  f << text;
  if (!f.flush()) fail(VQR_ERR_IO, path, "cannot write", "is the disk full?");
}

std::string read_text_file(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(VQR_ERR_IO, path, "cannot open", "check the model folder");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace vqr::pipeline
