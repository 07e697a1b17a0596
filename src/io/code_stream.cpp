// Unpacking of the packed code stream (code_stream.h).
#include "io/code_stream.h"

namespace vqr::io {

namespace {

// One stream of unpack_code_streams; false when a padding bit is set.
bool unpack_code_stream(const int32_t *words, int64_t stride, int64_t nwords, int64_t count, int bits, uint8_t *out) {
  const uint64_t mask = (uint64_t{1} << bits) - 1u;
  uint64_t acc = 0;  // loaded bits not yet consumed, lowest first
  int have = 0;
  int64_t w = 0;
  for (int64_t i = 0; i < count; ++i) {
    if (have < bits) {
      acc |= (uint64_t)(uint32_t)words[w++ * stride] << have;
      have += 32;
    }
    out[i] = (uint8_t)(acc & mask);
    acc >>= bits;
    have -= bits;
  }
  if (acc != 0) return false;  // padding bits of the last word read
  for (; w < nwords; ++w)
    if (words[w * stride] != 0) return false;
  return true;
}

}  // namespace

int64_t unpack_code_streams(const int32_t *words, int64_t sequences, int64_t first_step, int64_t stride, int64_t nwords,
                            int64_t count, int bits, uint8_t *out) {
  for (int64_t s = 0; s < sequences; ++s)
    if (!unpack_code_stream(words + s * first_step, stride, nwords, count, bits, out + s * count)) return s;
  return -1;
}

}  // namespace vqr::io
