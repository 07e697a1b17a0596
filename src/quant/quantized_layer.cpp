// QuantizedLayer storage, dequantization and the parked code stream (quantized_layer.h).
#include "quant/quantized_layer.h"

#include <algorithm>
#include <cmath>

#include "core/context.h"
#include "core/error.h"

namespace vqr::quant {

namespace {

// 32-bit words that hold `count` b-bit codes, without the trailing zero word.
int64_t stream_words(int64_t count, int bits) { return (count * bits + 31) / 32; }

// Code i of a parked stream: it starts at bit bits * i and spans at most two words; the trailing
// zero word makes words[w + 1] readable for the last code.
inline uint32_t parked_code(const uint32_t *words, int64_t i, int bits) {
  const int64_t pos = i * bits;
  const uint64_t pair = (uint64_t)words[pos >> 5] | ((uint64_t)words[(pos >> 5) + 1] << 32);
  return (uint32_t)(pair >> (pos & 31)) & ((1u << bits) - 1u);
}

// out (r1 - r0) x n = scales * (code - zeros) of rows [r0, r1); code(i) reads code i of the layer.
template <class CodeAt>
void dequantize_with(const QuantizedLayer &q, int64_t r0, int64_t r1, float *out, int threads, CodeAt code) {
  const int64_t n = q.cols, m = q.rows;
#pragma omp parallel for num_threads(threads_for(threads, (r1 - r0) * n)) schedule(static)
  for (int64_t r = r0; r < r1; ++r)
    for (int64_t j = 0; j < n; ++j) {
      const size_t g = (size_t)q.g_idx[(size_t)j] * (size_t)m + (size_t)r;
      out[(r - r0) * n + j] = q.scales[g] * ((float)code(r * n + j) - q.zeros[g]);
    }
}

}  // namespace

QuantizedLayer::QuantizedLayer(int64_t m, int64_t n, int64_t gs, int b)
    : rows(m), cols(n), group_size(gs > 0 ? gs : n), bits(b) {
  groups = group_size > 0 ? (n + group_size - 1) / group_size : 0;  // n = 0: an empty placeholder
  codes.assign((size_t)(m * n), 0);
  scales.assign((size_t)(groups * m), 0.0f);
  zeros.assign((size_t)(groups * m), 0.0f);
  g_idx.assign((size_t)n, 0);
  for (int64_t j = 0; j < n; ++j) g_idx[(size_t)j] = (int32_t)(j / group_size);
  report.proxy_loss = NAN;
  report.rtn_proxy_loss = NAN;
  report.asym_loss = NAN;
  report.init_proxy_loss = NAN;
  report.sign_flip_rate = NAN;
}

void QuantizedLayer::dequantize(float *out, int threads) const { dequantize_rows(0, rows, out, threads); }

void QuantizedLayer::dequantize_rows(int64_t r0, int64_t r1, float *out, int threads) const {
  if (parked()) {
    const uint32_t *words = parked_codes->data();
    const int b = bits;
    dequantize_with(*this, r0, r1, out, threads, [words, b](int64_t i) { return parked_code(words, i, b); });
  } else {
    const uint8_t *c = codes.data();
    dequantize_with(*this, r0, r1, out, threads, [c](int64_t i) { return c[i]; });
  }
}

void QuantizedLayer::park() {
  if (parked() || codes.empty()) return;
  require(bits >= 1 && bits <= 8, Status::Internal, "park: " + std::to_string(bits) + "-bit codes");
  const uint32_t limit = 1u << bits;
  require(std::all_of(codes.begin(), codes.end(), [limit](uint8_t c) { return c < limit; }), Status::Internal,
          "park: a code does not fit " + std::to_string(bits) + " bits");
  const int64_t count = (int64_t)codes.size(), words = stream_words(count, bits);
  auto stream = std::make_shared<std::vector<uint32_t>>((size_t)(words + 1), 0u);
  uint32_t *out = stream->data();
  // Chunk k of 32 codes fills exactly words [bits * k, bits * (k + 1)), so chunks pack independently.
  const int64_t chunks = (count + 31) / 32;
  const int b = bits;
#pragma omp parallel for num_threads(threads_for(thread_count(nullptr), count)) schedule(static)
  for (int64_t k = 0; k < chunks; ++k) {
    uint32_t local[9] = {};  // bits + 1 words: a code may end past the chunk's last full word only at its edge
    const int64_t i0 = 32 * k, i1 = std::min(count, i0 + 32);
    for (int64_t i = i0; i < i1; ++i) {
      const int pos = (int)(i - i0) * b, sh = pos & 31;
      const uint32_t c = codes[(size_t)i];
      local[pos >> 5] |= c << sh;
      if (sh + b > 32) local[(pos >> 5) + 1] |= c >> (32 - sh);
    }
    const int64_t w0 = (int64_t)b * k, wn = std::min<int64_t>(b, words - w0);
    std::copy(local, local + wn, out + w0);
  }
  parked_codes = std::move(stream);
  std::vector<uint8_t>().swap(codes);
}

void QuantizedLayer::unpark() {
  if (!parked()) return;
  const int64_t count = rows * cols;
  std::vector<uint8_t> unpacked((size_t)count);
  const uint32_t *words = parked_codes->data();
  const int b = bits;
#pragma omp parallel for num_threads(threads_for(thread_count(nullptr), count)) schedule(static)
  for (int64_t i = 0; i < count; ++i) unpacked[(size_t)i] = (uint8_t)parked_code(words, i, b);
  codes = std::move(unpacked);
  parked_codes.reset();
}

const QuantizedLayer &QuantizedLayer::with_codes(QuantizedLayer &scratch) const {
  if (!parked()) return *this;
  scratch = *this;
  scratch.unpark();
  return scratch;
}

int64_t QuantizedLayer::stored_bytes() const {
  const int64_t code_bytes = parked() ? (int64_t)(parked_codes->size() * sizeof(uint32_t)) : (int64_t)codes.size();
  return code_bytes + (int64_t)((scales.size() + zeros.size()) * sizeof(float) + g_idx.size() * sizeof(int32_t));
}

}  // namespace vqr::quant
