// GPTQ checkpoint packing (spec gptq §1.7) through the C API, checked with an unpacker written
// here: qweight codes LSB-first along the input dimension, qzeros along the output dimension,
// 3-bit codes as a continuous 96-bit stream per 32 codes (crossing words), v1 storing zero - 1,
// v2 storing zero; fp16 scales (round to nearest even) and g_idx; zero padding bits; guard words.
#include <gtest/gtest.h>

#include "common/test_util.h"

namespace {

using namespace vqrt;

constexpr int32_t kGuard = (int32_t)0x5A5A5A5A;
constexpr uint16_t kGuard16 = 0xA5A5;
constexpr int64_t kGuardWords = 16;

// Words needed to pack `len` codes of `bits` bits (spec §1.7: 32/b per word; 3-bit: 3 words per 32).
int64_t packed_words(int64_t len, int bits) {
  return bits == 3 ? 3 * ((len + 31) / 32) : (len + 32 / bits - 1) / (32 / bits);
}

// Code i of a packed stream whose word w is words[w * stride]. For b in {2, 4, 8} code i sits at bit
// b*(i mod 32/b) of word i/(32/b); for b = 3 the 32 codes of a 3-word chunk occupy bits 3k..3k+2 of
// the chunk read as one 96-bit little-endian integer. Both are the bit stream position b*i + t for
// bit t, which is what this reads, bit by bit.
uint32_t unpack_code(const int32_t *words, int64_t stride, int64_t i, int bits) {
  uint32_t code = 0;
  for (int t = 0; t < bits; ++t) {
    const int64_t pos = (int64_t)bits * i + t;
    const uint32_t word = (uint32_t)words[(pos / 32) * stride];
    code |= ((word >> (pos % 32)) & 1u) << t;
  }
  return code;
}

// Bits of the packed stream beyond the last code must be zero.
::testing::AssertionResult padding_is_zero(const char *what, const int32_t *words, int64_t stride, int64_t len,
                                           int bits) {
  const int64_t nwords = packed_words(len, bits);
  for (int64_t pos = (int64_t)bits * len; pos < nwords * 32; ++pos) {
    const uint32_t word = (uint32_t)words[(pos / 32) * stride];
    if ((word >> (pos % 32)) & 1u)
      return ::testing::AssertionFailure() << what << ": padding bit " << pos << " of the stream is set";
  }
  return ::testing::AssertionSuccess();
}

struct Packed {
  vqr_packed_shape shape{};
  std::vector<int32_t> qweight, qzeros, g_idx;  // each with kGuardWords guard words at the end
  std::vector<uint16_t> scales;
};

vqr_status pack(const vqr_result *r, vqr_pack_format fmt, Packed &p) {
  p.shape.struct_size = sizeof p.shape;
  vqr_status st = vqr_result_packed_shape(r, fmt, &p.shape);
  if (st != VQR_OK) return st;
  p.qweight.assign((size_t)(p.shape.qweight_rows * p.shape.qweight_cols + kGuardWords), kGuard);
  p.qzeros.assign((size_t)(p.shape.qzeros_rows * p.shape.qzeros_cols + kGuardWords), kGuard);
  p.scales.assign((size_t)(p.shape.scales_rows * p.shape.scales_cols + kGuardWords), kGuard16);
  p.g_idx.assign((size_t)(p.shape.g_idx_len + kGuardWords), kGuard);
  return vqr_result_pack_gptq(r, fmt, p.qweight.data(), p.qzeros.data(), p.scales.data(), p.g_idx.data());
}

void check_round_trip(const vqr_result *r, vqr_pack_format fmt) {
  const ResultData d = read_result(r);
  const int64_t m = d.m, n = d.n, G = d.groups;
  const int b = d.bits;
  const uint32_t mask = (1u << b) - 1u;
  SCOPED_TRACE("bits " + std::to_string(b) + " m " + std::to_string(m) + " n " + std::to_string(n) + " G " +
               std::to_string(G) + (fmt == VQR_PACK_GPTQ_V1 ? " v1" : " v2"));
  bool has_zero_zero = false;
  for (float z : d.zeros) has_zero_zero |= z == 0.f;
  Packed p;
  const vqr_status st = pack(r, fmt, p);
  if (fmt == VQR_PACK_GPTQ_V1 && has_zero_zero) {
    EXPECT_EQ(st, VQR_ERR_UNSUPPORTED) << "v1 cannot store a zero-point of 0";
    return;
  }
  ASSERT_EQ(st, VQR_OK) << status_text(st);
  EXPECT_EQ(p.shape.qweight_rows, packed_words(n, b));
  EXPECT_EQ(p.shape.qweight_cols, m);
  EXPECT_EQ(p.shape.qzeros_rows, G);
  EXPECT_EQ(p.shape.qzeros_cols, packed_words(m, b));
  EXPECT_EQ(p.shape.scales_rows, G);
  EXPECT_EQ(p.shape.scales_cols, m);
  EXPECT_EQ(p.shape.g_idx_len, n);

  // qweight: (words along n) x m; column o holds output row o's codes.
  std::vector<uint8_t> codes((size_t)(m * n));
  for (int64_t o = 0; o < m; ++o) {
    for (int64_t j = 0; j < n; ++j)
      codes[(size_t)(o * n + j)] = (uint8_t)unpack_code(p.qweight.data() + o, m, j, b);
    ASSERT_TRUE(padding_is_zero("qweight", p.qweight.data() + o, m, n, b)) << "column " << o;
  }
  EXPECT_TRUE(vectors_equal("unpacked codes", codes, d.codes, n));
  // qzeros: G x (words along m); v1 stores (z - 1) mod 2^b.
  std::vector<float> zeros((size_t)(G * m));
  const int64_t zc = p.shape.qzeros_cols;
  for (int64_t k = 0; k < G; ++k) {
    for (int64_t o = 0; o < m; ++o) {
      uint32_t z = unpack_code(p.qzeros.data() + k * zc, 1, o, b);
      if (fmt == VQR_PACK_GPTQ_V1) z = (z + 1u) & mask;
      zeros[(size_t)(k * m + o)] = (float)z;
    }
    ASSERT_TRUE(padding_is_zero("qzeros", p.qzeros.data() + k * zc, 1, m, b)) << "group " << k;
  }
  EXPECT_TRUE(vectors_equal("unpacked zeros", zeros, d.zeros, m));
  std::vector<uint16_t> want_scales((size_t)(G * m));
  for (size_t i = 0; i < want_scales.size(); ++i) want_scales[i] = float_to_half(d.scales[i]);
  std::vector<uint16_t> got_scales(p.scales.begin(), p.scales.begin() + (int64_t)want_scales.size());
  EXPECT_TRUE(vectors_equal("fp16 scales (bits)", got_scales, want_scales, m));
  std::vector<int32_t> got_gidx(p.g_idx.begin(), p.g_idx.begin() + n);
  EXPECT_TRUE(vectors_equal("g_idx", got_gidx, d.g_idx));
  // Guards after every buffer.
  for (int64_t i = 0; i < kGuardWords; ++i) {
    EXPECT_EQ(p.qweight[p.qweight.size() - 1 - (size_t)i], kGuard) << "qweight overrun";
    EXPECT_EQ(p.qzeros[p.qzeros.size() - 1 - (size_t)i], kGuard) << "qzeros overrun";
    EXPECT_EQ(p.scales[p.scales.size() - 1 - (size_t)i], kGuard16) << "scales overrun";
    EXPECT_EQ(p.g_idx[p.g_idx.size() - 1 - (size_t)i], kGuard) << "g_idx overrun";
  }
  // NULL outputs are skipped; the others are written identically.
  std::vector<int32_t> qw_only(p.qweight.size(), kGuard);
  ASSERT_EQ(vqr_result_pack_gptq(r, fmt, qw_only.data(), nullptr, nullptr, nullptr), VQR_OK) << vqr_last_error();
  EXPECT_TRUE(vectors_equal("qweight packed alone", qw_only, p.qweight));
}

TEST(Pack, RoundTripRtnAllBitsAndSizes) {
  struct Shape {
    int64_t m, n, group;
  };
  const Shape shapes[] = {{32, 64, -1}, {32, 64, 32}, {33, 72, 24}, {40, 40, 8}, {5, 7, -1}};
  Rng rng(1001);
  for (const Shape &s : shapes)
    for (int bits : {2, 3, 4, 8})
      for (bool sym : {false, true}) {
        std::vector<float> w = normal_matrix(rng, s.m, s.n, 0.1);
        auto cfg = make_config({{VQR_PARAM_BITS, (double)bits},
                                {VQR_PARAM_SYM, sym ? 1.0 : 0.0},
                                {VQR_PARAM_GROUP_SIZE, (double)s.group}});
        ASSERT_TRUE(cfg);
        auto r = quantize(cfg.get(), w, s.m, s.n, nullptr);
        ASSERT_TRUE(r);
        check_round_trip(r.get(), VQR_PACK_GPTQ_V1);
        check_round_trip(r.get(), VQR_PACK_GPTQ_V2);
      }
}

// GPTQ with act-order and dynamic groups: g_idx is a permutation-derived table, scales rows in
// processing order; packing must carry both through unchanged.
TEST(Pack, RoundTripGptqActOrder) {
  Rng rng(1002);
  const int64_t m = 48, n = 96, t = 256;
  std::vector<float> x = correlated_activations(rng, t, n, 3);
  auto h = make_hessian(x, t, n);
  ASSERT_TRUE(h);
  std::vector<float> w = normal_matrix(rng, m, n, 0.1);
  for (int bits : {2, 3, 4, 8}) {
    auto cfg = make_config({{VQR_PARAM_METHOD, VQR_METHOD_GPTQ},
                            {VQR_PARAM_BITS, (double)bits},
                            {VQR_PARAM_GROUP_SIZE, 32},
                            {VQR_PARAM_ACT_ORDER, 1}});
    ASSERT_TRUE(cfg);
    auto r = quantize(cfg.get(), w, m, n, h.get());
    ASSERT_TRUE(r);
    check_round_trip(r.get(), VQR_PACK_GPTQ_V1);
    check_round_trip(r.get(), VQR_PACK_GPTQ_V2);
  }
}

// The 3-bit layout word by word, as the spec states it: word0 = codes 0..9 at bits 3k and the low
// 2 bits of code 10 at bits 30-31; word1 = the high bit of code 10 at bit 0, codes 11..20 at bits
// 3(k-11)+1, the low bit of code 21 at bit 31; word2 = the high 2 bits of code 21 at bits 0-1,
// codes 22..31 at bits 3(k-22)+2. Codes are made by RTN of a one-row layer whose values are exact
// grid points (asym, s = 1, z = 0: code = value).
TEST(Pack, ThreeBitWordLayoutLiteral) {
  std::vector<float> w(32);
  for (int j = 0; j < 32; ++j) w[(size_t)j] = (float)((j * 5 + 3) % 8);
  w[0] = 0.f;
  w[1] = 7.f;  // range [0, 7]: s = 1, z = 0
  w[10] = 6.f;  // 0b110: low two bits 10, high bit 1
  w[21] = 5.f;  // 0b101: low bit 1, high bits 10
  auto cfg = make_config({{VQR_PARAM_BITS, 3}});
  ASSERT_TRUE(cfg);
  auto r = quantize(cfg.get(), w, 1, 32, nullptr);
  ASSERT_TRUE(r);
  const ResultData d = read_result(r.get());
  ASSERT_EQ(d.scales[0], 1.f);
  ASSERT_EQ(d.zeros[0], 0.f);
  for (int j = 0; j < 32; ++j) ASSERT_EQ(d.codes[(size_t)j], (uint8_t)w[(size_t)j]);
  int32_t qw[3] = {0, 0, 0};
  ASSERT_EQ(vqr_result_pack_gptq(r.get(), VQR_PACK_GPTQ_V2, qw, nullptr, nullptr, nullptr), VQR_OK)
      << vqr_last_error();
  uint32_t want[3] = {0, 0, 0};
  for (int k = 0; k <= 9; ++k) want[0] |= (uint32_t)d.codes[(size_t)k] << (3 * k);
  want[0] |= ((uint32_t)d.codes[10] & 3u) << 30;
  want[1] |= ((uint32_t)d.codes[10] >> 2) & 1u;
  for (int k = 11; k <= 20; ++k) want[1] |= (uint32_t)d.codes[(size_t)k] << (3 * (k - 11) + 1);
  want[1] |= ((uint32_t)d.codes[21] & 1u) << 31;
  want[2] |= ((uint32_t)d.codes[21] >> 1) & 3u;
  for (int k = 22; k <= 31; ++k) want[2] |= (uint32_t)d.codes[(size_t)k] << (3 * (k - 22) + 2);
  for (int i = 0; i < 3; ++i) EXPECT_EQ((uint32_t)qw[i], want[i]) << "word " << i;
}

// v1 with an asymmetric zero-point of 0 (a row that is entirely >= 0) is refused, and nothing is
// written; v2 stores it.
TEST(Pack, V1RejectsZeroPointZero) {
  const int64_t m = 2, n = 32;
  std::vector<float> w((size_t)(m * n));
  for (int64_t j = 0; j < n; ++j) {
    w[(size_t)j] = (float)(j % 16);            // row 0: all >= 0 -> z = 0
    w[(size_t)(n + j)] = (float)(j % 16) - 8.f;  // row 1: z = 8
  }
  for (int bits : {2, 3, 4, 8}) {
    SCOPED_TRACE("bits " + std::to_string(bits));
    auto cfg = make_config({{VQR_PARAM_BITS, (double)bits}});
    ASSERT_TRUE(cfg);
    auto r = quantize(cfg.get(), w, m, n, nullptr);
    ASSERT_TRUE(r);
    ASSERT_EQ(vqr_result_zeros(r.get())[0], 0.f);
    Packed p;
    EXPECT_EQ(pack(r.get(), VQR_PACK_GPTQ_V1, p), VQR_ERR_UNSUPPORTED);
    EXPECT_STRNE(vqr_last_error(), "");
    for (int32_t v : p.qweight) ASSERT_EQ(v, kGuard) << "qweight written on error";
    for (int32_t v : p.qzeros) ASSERT_EQ(v, kGuard) << "qzeros written on error";
    for (uint16_t v : p.scales) ASSERT_EQ(v, kGuard16) << "scales written on error";
    for (int32_t v : p.g_idx) ASSERT_EQ(v, kGuard) << "g_idx written on error";
    check_round_trip(r.get(), VQR_PACK_GPTQ_V2);
  }
}

TEST(Pack, UnsupportedBitsAndFormat) {
  Rng rng(7);
  const int64_t m = 4, n = 32;
  std::vector<float> w = normal_matrix(rng, m, n);
  for (int bits : {5, 6, 7}) {
    auto cfg = make_config({{VQR_PARAM_BITS, (double)bits}});
    ASSERT_TRUE(cfg);
    auto r = quantize(cfg.get(), w, m, n, nullptr);
    ASSERT_TRUE(r);
    vqr_packed_shape s;
    s.struct_size = sizeof s;
    EXPECT_EQ(vqr_result_packed_shape(r.get(), VQR_PACK_GPTQ_V2, &s), VQR_ERR_UNSUPPORTED) << "bits " << bits;
    std::vector<int32_t> buf(1024, kGuard);
    EXPECT_EQ(vqr_result_pack_gptq(r.get(), VQR_PACK_GPTQ_V2, buf.data(), nullptr, nullptr, nullptr),
              VQR_ERR_UNSUPPORTED)
        << "bits " << bits;
    for (int32_t v : buf) ASSERT_EQ(v, kGuard);
  }
  auto cfg = make_config({});
  ASSERT_TRUE(cfg);
  auto r = quantize(cfg.get(), w, m, n, nullptr);
  ASSERT_TRUE(r);
  vqr_packed_shape s;
  s.struct_size = sizeof s;
  EXPECT_EQ(vqr_result_packed_shape(r.get(), (vqr_pack_format)3, &s), VQR_ERR_UNSUPPORTED);
  EXPECT_EQ(vqr_result_packed_shape(r.get(), VQR_PACK_GPTQ_V2, nullptr), VQR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(vqr_result_packed_shape(nullptr, VQR_PACK_GPTQ_V2, &s), VQR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(vqr_result_pack_gptq(nullptr, VQR_PACK_GPTQ_V2, nullptr, nullptr, nullptr, nullptr),
            VQR_ERR_INVALID_ARGUMENT);
}

}  // namespace
