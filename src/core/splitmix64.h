// splitmix64 (Steele, Lea, Flood 2014): the library's one seeded random generator — tiny, and the
// same sequence on every platform and standard library, so seeded results are reproducible
// everywhere (k-means seeding and sampling, LoRA-rounding's init, calibration windows).
#pragma once

#include <cstdint>

namespace vqr {

class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Integer in [0, n), n >= 1 (modulo bias below 2^-40 for n < 2^24; irrelevant here).
  int64_t below(int64_t n) { return (int64_t)(next() % (uint64_t)n); }
  // Uniform in [0, 1) with 53 random bits.
  double uniform() { return (double)(next() >> 11) * (1.0 / 9007199254740992.0); }

 private:
  uint64_t state_;
};

}  // namespace vqr
