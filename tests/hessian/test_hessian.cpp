// The Hessian accumulator through the public C API: H = (2/T) X^T X against a double reference,
// batching invariance, merge, the serialized format (fields, CRC-32, round trip, every single-byte
// corruption and every truncation rejected), the fp64 flag, input dtypes and strides, and
// rejection of non-finite batches with H unchanged.
#include <gtest/gtest.h>

#include <limits>

#include "common/serialized_hessian.h"
#include "common/test_util.h"

namespace {

using namespace vqrt;

constexpr double kU32 = 1.0 / 16777216.0;  // unit roundoff of fp32, 2^-24

// Elementwise error bound for an fp32 accumulation of H = (2/T) sum_t x_ti x_tj: the classic
// recursive-summation bound gamma_T = T u (any summation order, SYRK blocking included) on the sum
// of |x_ti x_tj|, plus three roundings (product, 2/T, final store). `slack` widens it for two
// results that are each within the bound of the reference.
std::vector<double> h_bound(const std::vector<float> &x, int64_t t, int64_t n, double slack = 1.0) {
  std::vector<double> b((size_t)(n * n), 0.0);
  for (int64_t r = 0; r < t; ++r)
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j) b[(size_t)(i * n + j)] += std::fabs((double)x[(size_t)(r * n + i)] * x[(size_t)(r * n + j)]);
  for (auto &v : b) v *= slack * (2.0 / (double)t) * ((double)t + 3.0) * kU32;
  return b;
}

::testing::AssertionResult within_bound(const char *what, const std::vector<float> &got,
                                        const std::vector<double> &want, const std::vector<double> &bound,
                                        int64_t n) {
  size_t bad = 0, first = 0;
  double worst = 0.0;
  size_t worst_i = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double d = std::fabs((double)got[i] - want[i]);
    const double ratio = bound[i] > 0 ? d / bound[i] : (d > 0 ? INFINITY : 0.0);
    if (!(ratio <= 1.0)) {
      if (bad == 0) first = i;
      ++bad;
    }
    if (!(ratio <= worst)) {
      worst = ratio;
      worst_i = i;
    }
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << what << ": " << bad << " of " << got.size() << " entries outside the fp32 bound; first ("
         << first / (size_t)n << ", " << first % (size_t)n << "): got " << got[first] << " want " << want[first]
         << " bound " << bound[first] << "; worst error/bound " << worst << " at (" << worst_i / (size_t)n << ", "
         << worst_i % (size_t)n << ")";
}

HessianPtr new_hessian(int64_t n, unsigned flags = 0) {
  vqr_hessian *h = nullptr;
  vqr_status st = vqr_hessian_create(n, flags, &h);
  EXPECT_EQ(st, VQR_OK) << status_text(st);
  return HessianPtr(h);
}

vqr_status add_rows(vqr_hessian *h, const std::vector<float> &x, int64_t n, int64_t r0, int64_t r1) {
  vqr_tensor t = vqr_tensor_2d(x.data() + r0 * n, VQR_DTYPE_F32, r1 - r0, n, 0);
  return vqr_hessian_add(h, &t);
}


TEST(Hessian, MatchesDoubleReference) {
  Rng rng(1);
  const int64_t t = 300, n = 24;
  std::vector<float> x = correlated_activations(rng, t, n, 2);
  auto h = make_hessian(x, t, n);
  ASSERT_TRUE(h);
  EXPECT_EQ(vqr_hessian_width(h.get()), n);
  EXPECT_EQ(vqr_hessian_token_count(h.get()), t);
  const std::vector<float> got = read_hessian(h.get());
  const std::vector<double> want = hessian_ref(x, t, n);
  EXPECT_TRUE(within_bound("H", got, want, h_bound(x, t, n), n));
  // Typical fp32 summation error is ~sqrt(T) u relative: NMSE ~ T u^2 ~ 1e-12; 1e-10 is 100x.
  EXPECT_LT(nmse(got, want), 1e-10);
  // Exactly symmetric.
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < i; ++j)
      ASSERT_EQ(got[(size_t)(i * n + j)], got[(size_t)(j * n + i)]) << "H not symmetric at " << i << "," << j;
}

TEST(Hessian, BatchingInvariance) {
  Rng rng(2);
  const int64_t t = 300, n = 20;
  std::vector<float> x = correlated_activations(rng, t, n, 1);
  const std::vector<double> want = hessian_ref(x, t, n);
  auto one = make_hessian(x, t, n);
  ASSERT_TRUE(one);
  const std::vector<float> h_one = read_hessian(one.get());
  for (int64_t batch : {(int64_t)1, (int64_t)7, (int64_t)100}) {
    SCOPED_TRACE("batches of " + std::to_string(batch) + " rows");
    auto h = new_hessian(n);
    for (int64_t r = 0; r < t; r += batch) ASSERT_EQ(add_rows(h.get(), x, n, r, std::min(t, r + batch)), VQR_OK);
    EXPECT_EQ(vqr_hessian_token_count(h.get()), t);
    const std::vector<float> got = read_hessian(h.get());
    EXPECT_TRUE(within_bound("H (batched) vs reference", got, want, h_bound(x, t, n), n));
    // Both within the bound of the reference: their difference within twice the bound.
    std::vector<double> one_d(h_one.begin(), h_one.end());
    EXPECT_TRUE(within_bound("H (batched) vs one batch", got, one_d, h_bound(x, t, n, 2.0), n));
  }
}

TEST(Hessian, MergeAddsSumsAndTokens) {
  Rng rng(3);
  const int64_t t = 200, n = 16;
  std::vector<float> x = correlated_activations(rng, t, n, 1);
  for (unsigned flags : {0u, (unsigned)VQR_HESSIAN_F64}) {
    SCOPED_TRACE("flags " + std::to_string(flags));
    auto a = new_hessian(n, flags), b = new_hessian(n, flags);
    ASSERT_EQ(add_rows(a.get(), x, n, 0, 77), VQR_OK);
    ASSERT_EQ(add_rows(b.get(), x, n, 77, t), VQR_OK);
    const std::vector<float> b_before = read_hessian(b.get());
    ASSERT_EQ(vqr_hessian_merge(a.get(), b.get()), VQR_OK) << vqr_last_error();
    EXPECT_EQ(vqr_hessian_token_count(a.get()), t);
    EXPECT_EQ(vqr_hessian_token_count(b.get()), t - 77) << "src must be read only";
    EXPECT_TRUE(vectors_equal("src after merge", read_hessian(b.get()), b_before, n));
    EXPECT_TRUE(within_bound("merged H", read_hessian(a.get()), hessian_ref(x, t, n), h_bound(x, t, n), n));
  }
  auto a = new_hessian(n), wide = new_hessian(n + 1), f64 = new_hessian(n, VQR_HESSIAN_F64);
  ASSERT_EQ(add_rows(a.get(), x, n, 0, 10), VQR_OK);
  const std::vector<float> before = read_hessian(a.get());
  EXPECT_EQ(vqr_hessian_merge(a.get(), wide.get()), VQR_ERR_INVALID_ARGUMENT) << "width mismatch";
  EXPECT_STRNE(vqr_last_error(), "");
  EXPECT_EQ(vqr_hessian_merge(a.get(), f64.get()), VQR_ERR_INVALID_ARGUMENT) << "flags mismatch";
  EXPECT_EQ(vqr_hessian_merge(a.get(), a.get()), VQR_ERR_INVALID_ARGUMENT) << "src == dst";
  EXPECT_EQ(vqr_hessian_merge(nullptr, a.get()), VQR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(vqr_hessian_merge(a.get(), nullptr), VQR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(vqr_hessian_token_count(a.get()), 10);
  EXPECT_TRUE(vectors_equal("dst after failed merges", read_hessian(a.get()), before, n));
}

// ---------------------------------------------------------------------------------------------
// Serialization. Format (vqround.h): "VQRH", u32 version 1, u32 flags, u32 reserved, i64 n,
// i64 tokens, u64 payload bytes, upper triangle of S row by row (f32, or f64 with the flag),
// u32 CRC-32 of everything before it. Little-endian (this test runs on a little-endian host).
// ---------------------------------------------------------------------------------------------
constexpr size_t kHeader = vqrt::kHessianHeader;
using vqrt::get_le;
using vqrt::put_le;
std::vector<uint8_t> serialize(const vqr_hessian *h) { return vqrt::serialize_hessian(h); }
void fix_crc(std::vector<uint8_t> &b) {
  put_le<uint32_t>(b, b.size() - 4, crc32(b.data(), b.size() - 4));
}

vqr_hessian *const kSentinel = reinterpret_cast<vqr_hessian *>(0x20);

// Returns the status; fails the test if a rejected buffer touched *out or an accepted one didn't.
vqr_status try_deserialize(const void *buf, size_t size) {
  vqr_hessian *out = kSentinel;
  const vqr_status st = vqr_hessian_deserialize(buf, size, &out);
  if (st == VQR_OK) {
    EXPECT_NE(out, kSentinel);
    vqr_hessian_free(out);
  } else {
    EXPECT_EQ(out, kSentinel) << "*out changed on failure";
    EXPECT_STRNE(vqr_last_error(), "");
  }
  return st;
}

bool rejected(vqr_status st) { return st == VQR_ERR_CORRUPT || st == VQR_ERR_INVALID_ARGUMENT; }

TEST(HessianSerialize, FormatFieldsAndRoundTrip) {
  Rng rng(4);
  const int64_t t = 13, n = 5;
  std::vector<float> x = normal_matrix(rng, t, n);
  for (unsigned flags : {0u, (unsigned)VQR_HESSIAN_F64}) {
    SCOPED_TRACE("flags " + std::to_string(flags));
    const size_t elem = flags ? 8 : 4;
    auto h = new_hessian(n, flags);
    ASSERT_EQ(add_rows(h.get(), x, n, 0, t), VQR_OK);
    const std::vector<uint8_t> b = serialize(h.get());
    const size_t payload = (size_t)(n * (n + 1) / 2) * elem;
    ASSERT_EQ(b.size(), kHeader + payload + 4);
    EXPECT_EQ(std::memcmp(b.data(), "VQRH", 4), 0);
    EXPECT_EQ(get_le<uint32_t>(b, 4), 1u) << "version";
    EXPECT_EQ(get_le<uint32_t>(b, 8), flags) << "flags";
    EXPECT_EQ(get_le<int64_t>(b, 16), n);
    EXPECT_EQ(get_le<int64_t>(b, 24), t);
    EXPECT_EQ(get_le<uint64_t>(b, 32), (uint64_t)payload);
    EXPECT_EQ(get_le<uint32_t>(b, b.size() - 4), crc32(b.data(), b.size() - 4)) << "CRC-32";
    // Payload: upper triangle of S = (T/2) H_ref, row by row.
    const std::vector<double> href = hessian_ref(x, t, n);
    const std::vector<double> bound = h_bound(x, t, n);
    size_t off = kHeader;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = i; j < n; ++j, off += elem) {
        const double s = flags ? get_le<double>(b, off) : (double)get_le<float>(b, off);
        EXPECT_NEAR(s, href[(size_t)(i * n + j)] * t / 2.0, bound[(size_t)(i * n + j)] * t / 2.0) << i << "," << j;
      }
    // Round trip: identical H, width, tokens, flags (re-serialization is byte-identical).
    vqr_hessian *r = nullptr;
    ASSERT_EQ(vqr_hessian_deserialize(b.data(), b.size(), &r), VQR_OK) << vqr_last_error();
    HessianPtr back(r);
    EXPECT_EQ(vqr_hessian_width(back.get()), n);
    EXPECT_EQ(vqr_hessian_token_count(back.get()), t);
    const std::vector<float> h0 = read_hessian(h.get()), h1 = read_hessian(back.get());
    EXPECT_EQ(std::memcmp(h0.data(), h1.data(), h0.size() * sizeof(float)), 0) << "H not bit-identical";
    EXPECT_TRUE(vectors_equal("re-serialized bytes", serialize(back.get()), b));
    // A restored accumulator keeps accumulating and merges like the original.
    ASSERT_EQ(add_rows(back.get(), x, n, 0, t), VQR_OK);
    EXPECT_EQ(vqr_hessian_token_count(back.get()), 2 * t);
  }
  // Size and serialize argument errors.
  auto h = new_hessian(n);
  size_t size = 0;
  EXPECT_EQ(vqr_hessian_serialized_size(nullptr, &size), VQR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(vqr_hessian_serialized_size(h.get(), nullptr), VQR_ERR_INVALID_ARGUMENT);
  ASSERT_EQ(vqr_hessian_serialized_size(h.get(), &size), VQR_OK);
  std::vector<uint8_t> small(size - 1, 0xEE);
  EXPECT_EQ(vqr_hessian_serialize(h.get(), small.data(), small.size(), nullptr), VQR_ERR_BUFFER_TOO_SMALL);
  for (uint8_t v : small) ASSERT_EQ(v, 0xEE) << "serialize wrote into a too-small buffer";
  EXPECT_EQ(vqr_hessian_serialize(h.get(), nullptr, size, nullptr), VQR_ERR_INVALID_ARGUMENT);
}

TEST(HessianSerialize, EverySingleByteCorruptionRejected) {
  Rng rng(5);
  const int64_t t = 16, n = 5;
  std::vector<float> x = normal_matrix(rng, t, n);
  for (unsigned flags : {0u, (unsigned)VQR_HESSIAN_F64}) {
    SCOPED_TRACE("flags " + std::to_string(flags));
    auto h = new_hessian(n, flags);
    ASSERT_EQ(add_rows(h.get(), x, n, 0, t), VQR_OK);
    const std::vector<uint8_t> good = serialize(h.get());
    ASSERT_EQ(try_deserialize(good.data(), good.size()), VQR_OK);
    int failures = 0;
    for (size_t pos = 0; pos < good.size(); ++pos)
      for (uint8_t flip : {(uint8_t)0x01, (uint8_t)0x80, (uint8_t)0xFF, (uint8_t)0x10}) {
        std::vector<uint8_t> b = good;
        b[pos] ^= flip;
        const vqr_status st = try_deserialize(b.data(), b.size());
        if (!rejected(st) && failures++ < 8)
          ADD_FAILURE() << "byte " << pos << " ^ 0x" << std::hex << (int)flip << std::dec << " accepted: status "
                        << (int)st;
      }
    EXPECT_EQ(failures, 0) << "corrupted buffers accepted";
  }
}

TEST(HessianSerialize, TruncatedAndExtendedBuffersRejected) {
  Rng rng(6);
  const int64_t t = 9, n = 4;
  std::vector<float> x = normal_matrix(rng, t, n);
  auto h = make_hessian(x, t, n);
  ASSERT_TRUE(h);
  const std::vector<uint8_t> good = serialize(h.get());
  for (size_t len = 0; len < good.size(); ++len) {
    std::vector<uint8_t> b(good.begin(), good.begin() + (int64_t)len);
    b.reserve(1);  // a valid pointer even for len 0
    EXPECT_TRUE(rejected(try_deserialize(b.data(), len))) << "truncated to " << len << " bytes accepted";
  }
  std::vector<uint8_t> longer = good;
  longer.push_back(0);
  EXPECT_TRUE(rejected(try_deserialize(longer.data(), longer.size()))) << "one extra byte accepted";
  EXPECT_EQ(try_deserialize(nullptr, good.size()), VQR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(vqr_hessian_deserialize(good.data(), good.size(), nullptr), VQR_ERR_INVALID_ARGUMENT);
}

// Field-level corruptions with a recomputed, valid CRC: the validation itself must catch them.
TEST(HessianSerialize, InvalidFieldsWithValidCrcRejected) {
  Rng rng(7);
  const int64_t t = 10, n = 4;
  std::vector<float> x = normal_matrix(rng, t, n);
  auto h = make_hessian(x, t, n);
  ASSERT_TRUE(h);
  const std::vector<uint8_t> good = serialize(h.get());
  struct Edit {
    const char *what;
    void (*apply)(std::vector<uint8_t> &);
  };
  const Edit edits[] = {
      {"magic", [](std::vector<uint8_t> &b) { b[0] = 'X'; }},
      {"version 2", [](std::vector<uint8_t> &b) { put_le<uint32_t>(b, 4, 2); }},
      {"version 0", [](std::vector<uint8_t> &b) { put_le<uint32_t>(b, 4, 0); }},
      {"unknown flag", [](std::vector<uint8_t> &b) { put_le<uint32_t>(b, 8, 2); }},
      {"f64 flag on an f32 payload", [](std::vector<uint8_t> &b) { put_le<uint32_t>(b, 8, 1); }},
      {"n + 1", [](std::vector<uint8_t> &b) { put_le<int64_t>(b, 16, 5); }},
      {"n 0", [](std::vector<uint8_t> &b) { put_le<int64_t>(b, 16, 0); }},
      {"n negative", [](std::vector<uint8_t> &b) { put_le<int64_t>(b, 16, -4); }},
      {"n huge", [](std::vector<uint8_t> &b) { put_le<int64_t>(b, 16, (int64_t)1 << 40); }},
      {"tokens negative", [](std::vector<uint8_t> &b) { put_le<int64_t>(b, 24, -1); }},
      {"payload bytes + 4", [](std::vector<uint8_t> &b) { put_le<uint64_t>(b, 32, get_le<uint64_t>(b, 32) + 4); }},
      {"payload bytes huge", [](std::vector<uint8_t> &b) { put_le<uint64_t>(b, 32, ~(uint64_t)0); }},
      {"NaN in payload", [](std::vector<uint8_t> &b) { put_le<float>(b, kHeader + 4, std::nanf("")); }},
      {"Inf in payload", [](std::vector<uint8_t> &b) { put_le<float>(b, kHeader, INFINITY); }},
  };
  for (const Edit &e : edits) {
    std::vector<uint8_t> b = good;
    e.apply(b);
    fix_crc(b);
    const vqr_status st = try_deserialize(b.data(), b.size());
    // A NaN or Inf with a valid checksum is not damage but a statistic no method can use: named as
    // VQR_ERR_NONFINITE since 0.5.0; every other edit is corrupt (or an invalid argument).
    if (std::string(e.what).find("in payload") != std::string::npos)
      EXPECT_EQ(st, VQR_ERR_NONFINITE) << e.what;
    else
      EXPECT_TRUE(rejected(st)) << e.what << ": status " << (int)st;
  }
}

// With VQR_HESSIAN_F64 the sum is kept in double: H is the double reference rounded once to fp32.
// Tolerance 2 ulp (2^-22 relative): the final fp32 store plus the 2/T scaling, whichever order.
// The data (a large common offset, T = 4096) makes fp32 accumulation visibly less accurate.
TEST(Hessian, F64FlagIsAccurate) {
  Rng rng(8);
  const int64_t t = 4096, n = 12;
  std::vector<float> x((size_t)(t * n));
  for (auto &v : x) v = (float)(3.0 + 1e-3 * rng.normal());
  auto h64 = new_hessian(n, VQR_HESSIAN_F64);
  for (int64_t r = 0; r < t; r += 1000) ASSERT_EQ(add_rows(h64.get(), x, n, r, std::min(t, r + 1000)), VQR_OK);
  const std::vector<float> got = read_hessian(h64.get());
  const std::vector<double> want = hessian_ref(x, t, n);
  EXPECT_TRUE(vectors_near("H (f64 accumulation)", got, want, 2.0 * 2.0 * kU32, 0.0, n));
  auto h32 = new_hessian(n);
  for (int64_t r = 0; r < t; r += 1000) ASSERT_EQ(add_rows(h32.get(), x, n, r, std::min(t, r + 1000)), VQR_OK);
  EXPECT_TRUE(within_bound("H (f32 accumulation)", read_hessian(h32.get()), want, h_bound(x, t, n), n));
}

TEST(Hessian, HalfBf16AndStridedInputs) {
  Rng rng(9);
  const int64_t t = 50, n = 10, stride = 13;
  // Multiples of 1/64 in [-4, 4]: exact in f16, bf16 and f32.
  std::vector<float> x((size_t)(t * n));
  for (auto &v : x) v = (float)rng.integer(-256, 256) / 64.0f;
  std::vector<uint16_t> xh((size_t)(t * n)), xb((size_t)(t * n));
  std::vector<float> xs((size_t)(t * stride), NAN);
  for (size_t i = 0; i < x.size(); ++i) {
    xh[i] = float_to_half(x[i]);
    xb[i] = float_to_bf16(x[i]);
    ASSERT_EQ(half_to_float(xh[i]), x[i]);
    ASSERT_EQ(bf16_to_float(xb[i]), x[i]);
  }
  for (int64_t r = 0; r < t; ++r)
    for (int64_t j = 0; j < n; ++j) xs[(size_t)(r * stride + j)] = x[(size_t)(r * n + j)];
  const std::vector<double> want = hessian_ref(x, t, n);
  const std::vector<double> bound = h_bound(x, t, n);
  struct In {
    const void *data;
    vqr_dtype dt;
    int64_t stride;
    const char *what;
  };
  for (const In &in : {In{xh.data(), VQR_DTYPE_F16, 0, "f16"}, In{xb.data(), VQR_DTYPE_BF16, 0, "bf16"},
                       In{xs.data(), VQR_DTYPE_F32, stride, "f32 strided (NaN in the gaps)"}}) {
    auto h = new_hessian(n);
    vqr_tensor tt = vqr_tensor_2d(in.data, in.dt, t, n, in.stride);
    ASSERT_EQ(vqr_hessian_add(h.get(), &tt), VQR_OK) << in.what << ": " << vqr_last_error();
    EXPECT_TRUE(within_bound(in.what, read_hessian(h.get()), want, bound, n));
  }
}

TEST(Hessian, NonFiniteBatchRejectedAndHUnchanged) {
  Rng rng(10);
  const int64_t t = 40, n = 8;
  std::vector<float> x = normal_matrix(rng, t, n);
  auto h = make_hessian(x, t, n);
  ASSERT_TRUE(h);
  const std::vector<float> before = read_hessian(h.get());
  for (float bad : {std::nanf(""), INFINITY, -INFINITY})
    for (int64_t pos : {(int64_t)0, t * n - 1, (int64_t)17}) {
      std::vector<float> y = x;
      y[(size_t)pos] = bad;
      vqr_tensor tt = vqr_tensor_2d(y.data(), VQR_DTYPE_F32, t, n, 0);
      EXPECT_EQ(vqr_hessian_add(h.get(), &tt), VQR_ERR_NONFINITE) << "value " << bad << " at " << pos;
      EXPECT_STRNE(vqr_last_error(), "");
      EXPECT_EQ(vqr_hessian_token_count(h.get()), t);
      const std::vector<float> after = read_hessian(h.get());
      ASSERT_EQ(std::memcmp(before.data(), after.data(), before.size() * sizeof(float)), 0)
          << "H changed by a rejected batch (" << bad << " at " << pos << ")";
    }
  // f16 Inf and bf16 NaN.
  std::vector<uint16_t> xh((size_t)(t * n), 0x3C00);  // 1.0
  xh[(size_t)(t * n - 1)] = 0x7C00;
  vqr_tensor th = vqr_tensor_2d(xh.data(), VQR_DTYPE_F16, t, n, 0);
  EXPECT_EQ(vqr_hessian_add(h.get(), &th), VQR_ERR_NONFINITE);
  std::vector<uint16_t> xb((size_t)(t * n), 0x3F80);  // 1.0
  xb[3] = 0x7FC0;
  vqr_tensor tb = vqr_tensor_2d(xb.data(), VQR_DTYPE_BF16, t, n, 0);
  EXPECT_EQ(vqr_hessian_add(h.get(), &tb), VQR_ERR_NONFINITE);
  EXPECT_EQ(vqr_hessian_token_count(h.get()), t);
  const std::vector<float> after = read_hessian(h.get());
  EXPECT_EQ(std::memcmp(before.data(), after.data(), before.size() * sizeof(float)), 0);
}

TEST(Hessian, ArgumentErrors) {
  vqr_hessian *sentinel = kSentinel, *out = sentinel;
  for (int64_t n : {(int64_t)0, (int64_t)-1, ((int64_t)1 << 20) + 1}) {
    EXPECT_EQ(vqr_hessian_create(n, 0, &out), VQR_ERR_INVALID_ARGUMENT) << "n = " << n;
    EXPECT_STRNE(vqr_last_error(), "");
  }
  EXPECT_EQ(vqr_hessian_create(4, 4u, &out), VQR_ERR_INVALID_ARGUMENT) << "unknown flags";
  EXPECT_EQ(out, sentinel);
  EXPECT_EQ(vqr_hessian_create(4, 0, nullptr), VQR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(vqr_hessian_width(nullptr), 0);  // the header's NULL-handle rule (0.5.0)
  EXPECT_EQ(vqr_hessian_token_count(nullptr), 0);
  vqr_hessian_free(nullptr);

  const int64_t n = 6;
  auto h = new_hessian(n);
  // Empty accumulator reads as zeros; ld > n leaves the gaps alone; ld < n is rejected.
  const int64_t ld = n + 3;
  std::vector<float> out_h((size_t)(n * ld), -7.f);
  ASSERT_EQ(vqr_hessian_read(h.get(), out_h.data(), ld), VQR_OK);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < ld; ++j)
      ASSERT_EQ(out_h[(size_t)(i * ld + j)], j < n ? 0.f : -7.f) << i << "," << j;
  EXPECT_EQ(vqr_hessian_read(h.get(), out_h.data(), n - 1), VQR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(vqr_hessian_read(h.get(), nullptr, 0), VQR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(vqr_hessian_read(nullptr, out_h.data(), 0), VQR_ERR_INVALID_ARGUMENT);

  std::vector<float> x((size_t)(4 * (n + 1)), 1.f);
  vqr_tensor wrong = vqr_tensor_2d(x.data(), VQR_DTYPE_F32, 4, n + 1, 0);
  EXPECT_EQ(vqr_hessian_add(h.get(), &wrong), VQR_ERR_INVALID_ARGUMENT) << "width mismatch";
  vqr_tensor stride = vqr_tensor_2d(x.data(), VQR_DTYPE_F32, 4, n, n - 1);
  EXPECT_EQ(vqr_hessian_add(h.get(), &stride), VQR_ERR_INVALID_ARGUMENT) << "row_stride < cols";
  vqr_tensor neg = vqr_tensor_2d(x.data(), VQR_DTYPE_F32, -1, n, 0);
  EXPECT_EQ(vqr_hessian_add(h.get(), &neg), VQR_ERR_INVALID_ARGUMENT) << "negative T";
  vqr_tensor null_data = vqr_tensor_2d(nullptr, VQR_DTYPE_F32, 4, n, 0);
  EXPECT_EQ(vqr_hessian_add(h.get(), &null_data), VQR_ERR_INVALID_ARGUMENT) << "data NULL";
  vqr_tensor bad_dtype = vqr_tensor_2d(x.data(), (vqr_dtype)3, 4, n, 0);  // 3: no such dtype
  EXPECT_EQ(vqr_hessian_add(h.get(), &bad_dtype), VQR_ERR_INVALID_ARGUMENT) << "unknown dtype";
  EXPECT_EQ(vqr_hessian_add(h.get(), nullptr), VQR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(vqr_hessian_add(nullptr, &wrong), VQR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(vqr_hessian_token_count(h.get()), 0);
}

}  // namespace
