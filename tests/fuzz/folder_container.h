// The byte layout in which fuzz_hf_folder receives a whole model folder, and pack_folder writes
// the seeds: entries of
//   u8 name length (1..64) | name | u32 little-endian data length | data
// one after another. A data length past the end takes what is left, so a mutated length still
// gives a folder; a name outside [A-Za-z0-9._-] (or starting with '.') skips its entry, so no
// input can write outside the folder. At most kMaxEntries files.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace fuzz {

inline constexpr size_t kMaxEntries = 16;
inline constexpr size_t kMaxNameLength = 64;

struct FolderEntry {
  std::string name;
  const uint8_t *data;
  size_t size;
};

inline bool safe_file_name(const std::string &name) {
  if (name.empty() || name[0] == '.') return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

inline std::vector<FolderEntry> split_folder(const uint8_t *data, size_t size) {
  std::vector<FolderEntry> entries;
  size_t at = 0;
  while (at < size && entries.size() < kMaxEntries) {
    const size_t name_length = data[at++];
    if (name_length == 0 || name_length > kMaxNameLength || size - at < name_length + 4) break;
    std::string name(reinterpret_cast<const char *>(data + at), name_length);
    at += name_length;
    uint32_t length = 0;
    for (int i = 0; i < 4; ++i) length |= static_cast<uint32_t>(data[at + i]) << (8 * i);
    at += 4;
    const size_t take = length < size - at ? length : size - at;
    if (safe_file_name(name)) entries.push_back({std::move(name), data + at, take});
    at += take;
  }
  return entries;
}

// The inverse, for the seed packer.
inline void append_entry(std::vector<uint8_t> &out, const std::string &name, const std::vector<uint8_t> &bytes) {
  out.push_back(static_cast<uint8_t>(name.size()));
  out.insert(out.end(), name.begin(), name.end());
  const uint32_t length = static_cast<uint32_t>(bytes.size());
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(length >> (8 * i)));
  out.insert(out.end(), bytes.begin(), bytes.end());
}

}  // namespace fuzz
