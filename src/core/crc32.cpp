// Table-driven CRC-32, slicing by one byte: fast enough for serialized Hessians (hundreds of MB/s).
#include "core/crc32.h"

#include <array>

namespace vqr {

static std::array<uint32_t, 256> make_table() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1u) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    t[i] = c;
  }
  return t;
}

uint32_t crc32_update(uint32_t crc, const void *data, size_t size) {
  static const std::array<uint32_t, 256> table = make_table();
  const unsigned char *p = static_cast<const unsigned char *>(data);
  crc = ~crc;
  for (size_t i = 0; i < size; ++i) crc = table[(crc ^ p[i]) & 0xffu] ^ (crc >> 8);
  return ~crc;
}

}  // namespace vqr
