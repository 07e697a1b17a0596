// quant::QuantizedLayer's parked form (issue 16): park() packs the one-byte codes into a b-bit
// stream and unpark() restores them exactly, for every bit width and awkward sizes (rows x cols not
// a multiple of 32, codes straddling words at 3, 5, 6, 7 bits); a parked layer dequantizes, whole or
// by row ranges, to exactly the values of the unparked one; copies share the stream; with_codes
// hands readers one-byte codes either way. The stream layout is checked against an independent
// bit-by-bit reader written here.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "core/error.h"
#include "quant/quantized_layer.h"

namespace {

using vqr::quant::QuantizedLayer;

// A layer with pseudo-random codes in [0, 2^bits), scales and zeros, groups of `gs` columns.
QuantizedLayer random_layer(int64_t m, int64_t n, int64_t gs, int bits, uint64_t seed) {
  QuantizedLayer q(m, n, gs, bits);
  uint64_t s = seed * 0x9e3779b97f4a7c15ull + 1;
  auto next = [&] {
    s ^= s << 13, s ^= s >> 7, s ^= s << 17;
    return s;
  };
  for (auto &c : q.codes) c = (uint8_t)(next() % (1u << bits));
  q.codes[0] = (uint8_t)((1u << bits) - 1);  // the largest code occurs
  for (auto &v : q.scales) v = 1e-3f + (float)(next() % 1000) * 1e-5f;
  for (auto &v : q.zeros) v = (float)(next() % (1u << bits));
  return q;
}

// Bit i*b + k of the stream, read one bit at a time: the layout the header states.
uint32_t code_by_bits(const std::vector<uint32_t> &words, int64_t i, int bits) {
  uint32_t c = 0;
  for (int k = 0; k < bits; ++k) {
    const int64_t bit = i * bits + k;
    c |= ((words[(size_t)(bit / 32)] >> (bit % 32)) & 1u) << k;
  }
  return c;
}

TEST(ParkedCodes, RoundTripEveryWidthAndOddSizes) {
  const int64_t shapes[][3] = {{1, 1, -1}, {7, 13, -1}, {5, 37, 16}, {33, 65, 32}, {3, 200, 128}, {64, 96, 32}};
  for (int bits = 1; bits <= 8; ++bits)
    for (const auto &sh : shapes) {
      const QuantizedLayer original = random_layer(sh[0], sh[1], sh[2], bits, (uint64_t)(bits * 100 + sh[1]));
      QuantizedLayer q = original;
      q.park();
      SCOPED_TRACE("bits " + std::to_string(bits) + ", " + std::to_string(sh[0]) + " x " + std::to_string(sh[1]));
      ASSERT_TRUE(q.parked());
      EXPECT_TRUE(q.has_codes());
      EXPECT_TRUE(q.codes.empty());
      EXPECT_EQ(q.codes.capacity(), 0u);
      const int64_t count = sh[0] * sh[1];
      // ceil(count * bits / 32) words and the trailing zero word.
      ASSERT_EQ((int64_t)q.parked_codes->size(), (count * bits + 31) / 32 + 1);
      EXPECT_EQ(q.parked_codes->back(), 0u);
      int64_t wrong = 0;
      for (int64_t i = 0; i < count; ++i) wrong += code_by_bits(*q.parked_codes, i, bits) != original.codes[(size_t)i];
      EXPECT_EQ(wrong, 0);
      // Padding bits past the last code are zero.
      for (int64_t bit = count * bits; bit < (int64_t)q.parked_codes->size() * 32; ++bit)
        ASSERT_EQ(((*q.parked_codes)[(size_t)(bit / 32)] >> (bit % 32)) & 1u, 0u) << "bit " << bit;
      EXPECT_EQ(q.stored_bytes(), (int64_t)q.parked_codes->size() * 4 + (int64_t)(q.scales.size() + q.zeros.size()) * 4 +
                                      (int64_t)q.g_idx.size() * 4);

      // Dequantization through the stream is the unparked one, bit for bit, whole and by rows.
      std::vector<float> a((size_t)count), b((size_t)count);
      original.dequantize(a.data(), 2);
      q.dequantize(b.data(), 2);
      EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(float)));
      // ... and both are spec gptq §1.7's scale * (code - zero) of the column's group, computed here.
      for (int64_t r = 0; r < sh[0]; ++r)
        for (int64_t j = 0; j < sh[1]; ++j) {
          const size_t g = (size_t)original.g_idx[(size_t)j] * (size_t)sh[0] + (size_t)r;
          const float want = original.scales[g] * ((float)original.codes[(size_t)(r * sh[1] + j)] - original.zeros[g]);
          ASSERT_EQ(0, std::memcmp(&want, &a[(size_t)(r * sh[1] + j)], sizeof(float))) << r << ", " << j;
        }
      const int64_t r0 = sh[0] / 3, r1 = sh[0] - sh[0] / 4;
      std::vector<float> part((size_t)((r1 - r0) * sh[1]));
      q.dequantize_rows(r0, r1, part.data(), 1);
      EXPECT_EQ(0, std::memcmp(part.data(), a.data() + r0 * sh[1], part.size() * sizeof(float)));

      // Readers get one-byte codes through with_codes; the parked layer itself stays parked.
      QuantizedLayer scratch;
      const QuantizedLayer &view = q.with_codes(scratch);
      EXPECT_EQ(&view, &scratch);
      EXPECT_EQ(view.codes, original.codes);
      EXPECT_TRUE(q.parked());
      QuantizedLayer unparked_scratch;
      EXPECT_EQ(&original.with_codes(unparked_scratch), &original);

      q.unpark();
      EXPECT_FALSE(q.parked());
      EXPECT_EQ(q.codes, original.codes);
    }
}

TEST(ParkedCodes, CopiesShareTheStreamAndUnparkAlone) {
  QuantizedLayer q = random_layer(9, 23, -1, 3, 5);
  const std::vector<uint8_t> codes = q.codes;
  q.park();
  QuantizedLayer copy = q;
  EXPECT_EQ(copy.parked_codes.get(), q.parked_codes.get());
  copy.unpark();
  EXPECT_EQ(copy.codes, codes);
  EXPECT_TRUE(q.parked());  // the original keeps its stream
  q.park();                 // parking twice is a no-op
  EXPECT_TRUE(q.parked());
}

TEST(ParkedCodes, EmptyLayerAndBadCodes) {
  QuantizedLayer empty(0, 0, -1, 4);  // a skipped layer's placeholder
  empty.park();
  EXPECT_FALSE(empty.parked());
  EXPECT_FALSE(empty.has_codes());
  QuantizedLayer q = random_layer(2, 5, -1, 3, 1);
  q.codes[3] = 8;  // does not fit 3 bits
  try {
    q.park();
    ADD_FAILURE() << "no exception";
  } catch (const vqr::Error &e) {
    EXPECT_EQ(e.status(), vqr::Status::Internal);
  }
  EXPECT_FALSE(q.parked());
}

}  // namespace
