// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320), bit by bit: the checksum that closes a
// serialized Hessian (vqround.h, vqr_hessian_serialize). The harness recomputes it so that mutated
// payloads get past the check and reach the parser's size and value validation.
#pragma once

#include <cstddef>
#include <cstdint>

namespace fuzz {

inline uint32_t crc32_ieee(const uint8_t *data, size_t size) {
  uint32_t crc = 0xFFFFFFFFu;
  for (size_t i = 0; i < size; ++i) {
    crc ^= data[i];
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

}  // namespace fuzz
