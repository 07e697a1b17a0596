// The packed code stream of GPTQ and compressed-tensors checkpoints (spec gptq §1.7, spec
// api_formats §4.2-4.3): code i of a sequence sits at bit b*i of a little-endian stream of 32-bit
// words, lowest bits first; for b = 3 a code may straddle two words, which is AutoGPTQ's three-word
// layout. Packing and unpacking of the stream live here side by side; gptq_packing.h and
// compressed_packing.h say which sequences of a layer each format streams, and in which order.
#pragma once

#include <cstdint>

namespace vqr::io {

// The hint of every error about a malformed packed tensor read from a checkpoint.
inline constexpr const char *kPackedTensorHint =
    "the quantized checkpoint is corrupt or was written by an incompatible tool; re-export it";

// Words that hold `count` b-bit codes: ceil(count * b / 32).
inline int64_t code_stream_words(int64_t count, int bits) { return (count * bits + 31) / 32; }

// Packs code(0) .. code(count - 1) (each < 2^bits) into words 0 .. words - 1, handed to
// put(w, word) in order, the tail zero-padded. words >= code_stream_words(count, bits).
template <class CodeAt, class Put>
void pack_code_stream(int64_t count, int bits, int64_t words, CodeAt code, Put put) {
  uint64_t acc = 0;
  int filled = 0;
  int64_t w = 0;
  for (int64_t i = 0; i < count; ++i) {
    acc |= (uint64_t)code(i) << filled;
    filled += bits;
    if (filled >= 32) {
      put(w++, (uint32_t)acc);
      acc >>= 32;
      filled -= 32;
    }
  }
  if (filled > 0) put(w++, (uint32_t)acc);
  while (w < words) put(w++, 0u);
}

// Reads `sequences` streams of `count` b-bit values each (b in 1..8): stream s is the words
// words[s * first_step + w * stride] for w < nwords (value i at bit b*i, lowest first), and its
// values go to out[s * count + i] (out: sequences x count, written). Returns the index of the first
// stream with a bit set past count * b within its nwords words, or -1 when there is none (streams
// after it are not read). nwords must be >= code_stream_words(count, bits).
int64_t unpack_code_streams(const int32_t *words, int64_t sequences, int64_t first_step, int64_t stride, int64_t nwords,
                            int64_t count, int bits, uint8_t *out);

}  // namespace vqr::io
