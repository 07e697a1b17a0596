// GPTQ packing and unpacking (gptq_packing.h). Every width uses code_stream.h's rule: for b = 3 that
// reproduces AutoGPTQ's three-word layout (code 10 straddles words 0 and 1, code 21 words 1 and 2).
#include "io/gptq_packing.h"

#include <vector>

#include "core/dtype.h"
#include "core/error.h"
#include "io/code_stream.h"

namespace vqr::io {

bool gptq_supports_bits(int bits) { return bits == 2 || bits == 3 || bits == 4 || bits == 8; }

int64_t gptq_packed_words(int64_t count, int bits) {
  require(gptq_supports_bits(bits), Status::Unsupported,
          "GPTQ packing supports 2, 3, 4 and 8 bits, not " + std::to_string(bits));
  if (bits == 3) return 3 * ((count + 31) / 32);  // whole 96-bit chunks of 32 codes
  return code_stream_words(count, bits);
}

void pack_gptq(const GridCodes &q, PackFormat format, int32_t *qweight, int32_t *qzeros,
               uint16_t *scales_f16, int32_t *g_idx) {
  require(format == PackFormat::GptqV1 || format == PackFormat::GptqV2, Status::Unsupported,
          "unknown pack format " + std::to_string((int)format));
  const int b = q.bits;
  const int64_t m = q.rows, n = q.cols, G = q.groups;
  const int64_t wrows = gptq_packed_words(n, b), zcols = gptq_packed_words(m, b);
  const int offset = format == PackFormat::GptqV1 ? 1 : 0;  // v1 stores zero - 1
  if (offset)
    for (int64_t i = 0; i < G * m; ++i)
      require(q.zeros[(size_t)i] >= 1.0f, Status::Unsupported,
              "zero-point 0 (group " + std::to_string(i / m) + ", row " + std::to_string(i % m) +
                  ") cannot be stored in GPTQ v1, which stores zero - 1; use VQR_PACK_GPTQ_V2");
  const uint32_t mask = (1u << b) - 1u;

  if (qweight) {
#pragma omp parallel for schedule(static)
    for (int64_t o = 0; o < m; ++o)
      pack_code_stream(
          n, b, wrows, [&](int64_t j) { return (uint32_t)q.codes[(size_t)(o * n + j)]; },
          [&](int64_t w, uint32_t word) { qweight[w * m + o] = (int32_t)word; });
  }
  if (qzeros) {
    for (int64_t k = 0; k < G; ++k)
      pack_code_stream(
          m, b, zcols, [&](int64_t o) { return ((uint32_t)q.zeros[(size_t)(k * m + o)] - (uint32_t)offset) & mask; },
          [&](int64_t w, uint32_t word) { qzeros[k * zcols + w] = (int32_t)word; });
  }
  if (scales_f16)
    for (int64_t i = 0; i < G * m; ++i) scales_f16[i] = f32_to_f16(q.scales[(size_t)i]);
  if (g_idx)
    for (int64_t j = 0; j < n; ++j) g_idx[j] = group_of(q, j);
}

void unpack_gptq_qweight(uint8_t *codes, const int32_t *qweight, int64_t m, int64_t n, int bits,
                         const std::string &subject) {
  const int64_t words = gptq_packed_words(n, bits);
  const int64_t bad = unpack_code_streams(qweight, m, 1, m, words, n, bits, codes);  // column o of qweight
  if (bad >= 0)
    fail(Status::Format, subject,
         "column " + std::to_string(bad) + " has bits set past its " + std::to_string(n) + " " + std::to_string(bits) +
             "-bit values",
         kPackedTensorHint);
}

void unpack_gptq_qzeros(float *zeros, const int32_t *qzeros, int64_t G, int64_t m, int bits, bool v1,
                        const std::string &subject) {
  const int64_t words = gptq_packed_words(m, bits);
  const int maxq = (1 << bits) - 1;
  std::vector<uint8_t> row((size_t)m);
  for (int64_t k = 0; k < G; ++k) {
    if (unpack_code_streams(qzeros + k * words, 1, 0, 1, words, m, bits, row.data()) >= 0)
      fail(Status::Format, subject, "row " + std::to_string(k) + " has bits set past its " + std::to_string(m) + " zero-points",
           kPackedTensorHint);
    for (int64_t o = 0; o < m; ++o) {
      const int z = row[(size_t)o] + (v1 ? 1 : 0);
      if (z > maxq)
        fail(Status::Format, subject,
             "zero-point " + std::to_string(z) + " (group " + std::to_string(k) + ", column " + std::to_string(o) +
                 ") is outside [0, " + std::to_string(maxq) + "]: a gptq (v1) file stores zero - 1, and this one "
                 "wrapped a zero-point 0",
             "loaders disagree on such files; re-export the model with checkpoint_format gptq_v2");
      zeros[k * m + o] = (float)z;
    }
  }
}

}  // namespace vqr::io
