// Helpers for tests that inspect vqr_hessian's serialized bytes (format in vqround.h): the
// header size, a serialize() that also checks nothing is written past the reported size, and
// little-endian field access for corrupting or re-checksumming individual fields.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "vqround/vqround.h"

namespace vqrt {

// "VQRH", u32 version, u32 flags, u32 reserved, i64 n, i64 tokens, u64 payload bytes.
constexpr size_t kHessianHeader = 4 + 4 + 4 + 4 + 8 + 8 + 8;

inline std::vector<uint8_t> serialize_hessian(const vqr_hessian *h) {
  size_t size = 0;
  EXPECT_EQ(vqr_hessian_serialized_size(h, &size), VQR_OK) << vqr_last_error();
  std::vector<uint8_t> buf(size + 16, 0xEE);
  size_t written = 0;
  EXPECT_EQ(vqr_hessian_serialize(h, buf.data(), buf.size(), &written), VQR_OK) << vqr_last_error();
  EXPECT_EQ(written, size);
  for (size_t i = size; i < buf.size(); ++i) EXPECT_EQ(buf[i], 0xEE) << "serialize wrote past its size";
  buf.resize(size);
  return buf;
}

template <class T>
T get_le(const std::vector<uint8_t> &b, size_t off) {
  T v;
  std::memcpy(&v, b.data() + off, sizeof v);
  return v;
}

template <class T>
void put_le(std::vector<uint8_t> &b, size_t off, T v) {
  std::memcpy(b.data() + off, &v, sizeof v);
}

}  // namespace vqrt
