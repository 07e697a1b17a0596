// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320): the checksum of serialized objects.
#pragma once

#include <cstddef>
#include <cstdint>

namespace vqr {

// Continues a CRC over `size` bytes; start with crc = 0.
uint32_t crc32_update(uint32_t crc, const void *data, size_t size);

}  // namespace vqr
