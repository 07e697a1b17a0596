// Unpacking of the packed code stream (code_stream.h).
#include "io/code_stream.h"

namespace vqr::io {

bool unpack_code_stream(const int32_t *words, int64_t stride, int64_t nwords, int64_t count, int bits, uint8_t *out,
                        int64_t out_stride) {
  const uint64_t mask = (uint64_t{1} << bits) - 1u;
  uint64_t acc = 0;  // loaded bits not yet consumed, lowest first
  int have = 0;
  int64_t w = 0;
  for (int64_t i = 0; i < count; ++i) {
    if (have < bits) {
      acc |= (uint64_t)(uint32_t)words[w++ * stride] << have;
      have += 32;
    }
    out[i * out_stride] = (uint8_t)(acc & mask);
    acc >>= bits;
    have -= bits;
  }
  if (acc != 0) return false;  // padding bits of the last word read
  for (; w < nwords; ++w)
    if (words[w * stride] != 0) return false;
  return true;
}

}  // namespace vqr::io
