// compressed-tensors pack-quantized packing and unpacking (compressed_packing.h).
#include "io/compressed_packing.h"

#include <vector>

#include "core/dtype.h"
#include "core/error.h"
#include "io/code_stream.h"

namespace vqr::io {

bool compressed_supports_bits(int bits) { return bits == 4 || bits == 8; }

int64_t compressed_packed_words(int64_t count, int bits) {
  require(compressed_supports_bits(bits), Status::Unsupported,
          "compressed-tensors pack-quantized holds 4- and 8-bit codes, not " + std::to_string(bits) +
              "-bit; hint: write the gptq format for 2- and 3-bit layers");
  return code_stream_words(count, bits);
}

void pack_compressed(const GridCodes &q, bool bf16_scales, int32_t *weight_packed, int32_t *zero_point,
                     uint16_t *scales, int32_t *g_idx) {
  const int b = q.bits;
  const int64_t m = q.rows, n = q.cols, G = q.groups;
  const int64_t wcols = compressed_packed_words(n, b), zrows = compressed_packed_words(m, b);
  const float maxq = (float)((1 << b) - 1);
  for (int64_t i = 0; i < G * m; ++i) {
    const float z = q.zeros[(size_t)i];
    require(z >= 0.0f && z <= maxq && z == (float)(int)z, Status::InvalidArgument,
            "zero-point " + std::to_string(z) + " (group " + std::to_string(i / m) + ", row " + std::to_string(i % m) +
                ") is not an integer in [0, " + std::to_string((int)maxq) + "]");
  }
  if (weight_packed)
    for (int64_t o = 0; o < m; ++o)
      pack_code_stream(
          n, b, wcols, [&](int64_t j) { return (uint32_t)q.codes[(size_t)(o * n + j)]; },
          [&](int64_t w, uint32_t word) { weight_packed[o * wcols + w] = (int32_t)word; });
  if (zero_point)
    for (int64_t k = 0; k < G; ++k)
      pack_code_stream(
          m, b, zrows, [&](int64_t o) { return (uint32_t)q.zeros[(size_t)(k * m + o)]; },
          [&](int64_t w, uint32_t word) { zero_point[w * G + k] = (int32_t)word; });
  if (scales)
    for (int64_t o = 0; o < m; ++o)
      for (int64_t k = 0; k < G; ++k) {
        const float s = q.scales[(size_t)(k * m + o)];
        scales[o * G + k] = bf16_scales ? f32_to_bf16(s) : f32_to_f16(s);
      }
  if (g_idx)
    for (int64_t j = 0; j < n; ++j) g_idx[j] = group_of(q, j);
}

void unpack_compressed_weight(uint8_t *codes, const int32_t *packed, int64_t m, int64_t n, int bits,
                              const std::string &subject) {
  const int64_t words = compressed_packed_words(n, bits);
  const int64_t bad = unpack_code_streams(packed, m, words, 1, words, n, bits, codes);  // row o of weight_packed
  if (bad >= 0)
    fail(Status::Format, subject,
         "row " + std::to_string(bad) + " has bits set past its " + std::to_string(n) + " " + std::to_string(bits) +
             "-bit values",
         kPackedTensorHint);
}

void unpack_compressed_zero_point(float *zeros, const int32_t *zero_point, int64_t G, int64_t m, int bits,
                                  const std::string &subject) {
  const int64_t words = compressed_packed_words(m, bits);
  std::vector<uint8_t> z((size_t)(G * m));
  const int64_t bad = unpack_code_streams(zero_point, G, 1, G, words, m, bits, z.data());  // column k of zero_point
  if (bad >= 0)
    fail(Status::Format, subject, "column " + std::to_string(bad) + " has bits set past its " + std::to_string(m) + " zero-points",
         kPackedTensorHint);
  for (size_t i = 0; i < z.size(); ++i) zeros[i] = (float)z[i];
}

}  // namespace vqr::io
