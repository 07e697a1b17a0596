// A fast 64-bit content hash for cache keys (the teacher cache of end-to-end distillation): four
// interleaved lanes over 8-byte little-endian words, each word mixed into its lane by the splitmix64
// finalizer, the lanes and the byte count folded at the end. Not cryptographic: it tells apart
// inputs that differ by accident (another model, other weights, other token data), at about a
// byte per 0.2 ns, and gives the same value on every x86-64.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace vqr {

class ContentHash {
 public:
  // Appends `bytes` bytes. The value depends on the concatenation only, not on how it was split.
  void update(const void *data, size_t bytes) {
    const unsigned char *p = static_cast<const unsigned char *>(data);
    total_ += bytes;
    while (bytes > 0 && fill_ > 0) {  // finish a partial word first
      pending_[fill_++] = *p++;
      --bytes;
      if (fill_ == 8) {
        absorb(pending_);
        fill_ = 0;
      }
    }
    for (; bytes >= 8; p += 8, bytes -= 8) absorb(p);
    if (bytes > 0) {  // fewer than 8 left, and no partial word (the first loop emptied it)
      std::memcpy(pending_, p, bytes);
      fill_ = bytes;
    }
  }
  template <typename T>
  void update_value(const T &v) {
    update(&v, sizeof v);
  }
  uint64_t digest() const {
    uint64_t h = mix(total_ ^ 0x9E3779B97F4A7C15ull);
    for (int l = 0; l < kLanes; ++l) h = mix(h ^ lane_[l]);
    if (fill_ > 0) {
      unsigned char tail[8] = {};
      std::memcpy(tail, pending_, fill_);
      uint64_t w;
      std::memcpy(&w, tail, 8);
      h = mix(h ^ w ^ (uint64_t)fill_ << 56);
    }
    return h;
  }

 private:
  static constexpr int kLanes = 4;
  static uint64_t mix(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  void absorb(const unsigned char *p) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    lane_[next_] = mix(lane_[next_] ^ w) + 0x9E3779B97F4A7C15ull;
    next_ = (next_ + 1) % kLanes;
  }
  uint64_t lane_[kLanes] = {1, 2, 3, 4};
  int next_ = 0;
  unsigned char pending_[8] = {};
  size_t fill_ = 0;
  uint64_t total_ = 0;
};

}  // namespace vqr
