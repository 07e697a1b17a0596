// pipeline/hidden_states.h and spill_file.h: hidden states round-trip bit for bit in fp32, in
// memory and through the spill file (NaN payloads, infinities, signed zeros, subnormals included);
// BF16 and F16 store the round-to-nearest-even value (BF16 against a rounding written here); the
// memory budget keeps a prefix of the sequences in memory; the spill file is never visible in its
// folder; a folder that cannot take it fails with Status::Io and a hint.
#include <gtest/gtest.h>
#include <dirent.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/error.h"
#include "pipeline/hidden_states.h"

namespace {

using vqr::DType;
using vqr::pipeline::HiddenStates;

// A fresh empty folder under the system temp dir, removed (with a check that it is empty) at the end.
struct TempDir {
  std::string path;
  TempDir() {
    std::string p = std::string(std::getenv("TMPDIR") && *std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp") +
                    "/vqr-hidden-test-XXXXXX";
    std::vector<char> buf(p.begin(), p.end());
    buf.push_back('\0');
    EXPECT_NE(::mkdtemp(buf.data()), nullptr);
    path = buf.data();
  }
  ~TempDir() { ::rmdir(path.c_str()); }
  int entries() const {
    int n = 0;
    if (DIR *d = ::opendir(path.c_str())) {
      while (const dirent *e = ::readdir(d)) n += std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0;
      ::closedir(d);
    }
    return n;
  }
};

float from_bits(uint32_t b) {
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}
uint32_t bits_of(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}

// Values of sequence s: random ones of several magnitudes plus the special cases.
std::vector<float> values(int64_t count, uint64_t seed) {
  std::vector<float> v((size_t)count);
  uint64_t x = seed * 0x9e3779b97f4a7c15ull + 7;
  for (auto &f : v) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    f = from_bits((uint32_t)(x >> 32));  // every bit pattern: NaNs, infinities, subnormals, zeros
  }
  const float specials[] = {0.0f, -0.0f, std::numeric_limits<float>::infinity(), from_bits(0x7fc01234u),
                            from_bits(0x00000001u), 1.0f + 0x1p-8f, 1.0f + 0x1p-8f + 0x1p-23f, 65520.0f, 3.0e38f};
  for (size_t i = 0; i < sizeof specials / sizeof *specials && i < v.size(); ++i) v[i] = specials[i];
  return v;
}

// bfloat16 by round to nearest even, written independently of core/dtype: NaN keeps a quiet NaN.
float bf16_reference(float f) {
  const uint32_t b = bits_of(f);
  if (std::isnan(f)) return from_bits((b | 0x00400000u) & 0xffff0000u);
  return from_bits(((b + 0x7fffu + ((b >> 16) & 1u)) >> 16) << 16);
}

const std::vector<int64_t> kTokens = {5, 17, 1, 9};
constexpr int64_t kWidth = 6;

void check_round_trip(DType dtype, int64_t budget, const std::string &dir) {
  HiddenStates h(kTokens, kWidth, dtype, budget, dir);
  std::vector<std::vector<float>> stored;
  for (size_t s = 0; s < kTokens.size(); ++s) {
    stored.push_back(values(kTokens[s] * kWidth, s + 1));
    h.store(s, stored.back().data());
  }
  // A second store overwrites (the pipeline updates each entry in place, block after block).
  stored[1] = values(kTokens[1] * kWidth, 99);
  h.store(1, stored[1].data());
  for (size_t s = 0; s < kTokens.size(); ++s) {
    std::vector<float> got(stored[s].size());
    h.load(s, got.data());
    for (size_t i = 0; i < got.size(); ++i) {
      const float x = stored[s][i];
      uint32_t want = bits_of(x);
      if (dtype == DType::BF16) want = bits_of(bf16_reference(x));
      if (dtype == DType::F16) want = bits_of(vqr::f16_to_f32(vqr::f32_to_f16(x)));
      if (dtype != DType::F32 && std::isnan(x)) {
        ASSERT_TRUE(std::isnan(got[i])) << "entry " << s << " value " << i;
      } else {
        ASSERT_EQ(bits_of(got[i]), want) << "entry " << s << " value " << i << " (" << x << ")";
      }
    }
  }
}

TEST(HiddenStates, Fp32RoundTripsBitForBitInMemoryAndSpilled) {
  TempDir dir;
  for (const int64_t budget : {vqr::pipeline::kNoMemoryLimit, int64_t{200}, int64_t{0}}) {
    SCOPED_TRACE("budget " + std::to_string(budget));
    check_round_trip(DType::F32, budget, dir.path);
  }
  EXPECT_EQ(dir.entries(), 0);
}

TEST(HiddenStates, Bf16AndF16RoundToNearestEvenInMemoryAndSpilled) {
  TempDir dir;
  for (const DType dtype : {DType::BF16, DType::F16})
    for (const int64_t budget : {vqr::pipeline::kNoMemoryLimit, int64_t{100}, int64_t{0}}) {
      SCOPED_TRACE(std::string(vqr::dtype_name(dtype)) + " budget " + std::to_string(budget));
      check_round_trip(dtype, budget, dir.path);
    }
  // The rounding itself: ties go to even, above ties up.
  EXPECT_EQ(bf16_reference(1.0f + 0x1p-8f), 1.0f);
  EXPECT_EQ(bf16_reference(1.0f + 0x1p-8f + 0x1p-23f), 1.0f + 0x1p-7f);
}

TEST(HiddenStates, TheBudgetKeepsAPrefixInMemory) {
  TempDir dir;
  // Entry bytes in fp32: 120, 408, 24, 216. A budget of 200 keeps the first; the third would fit
  // but the prefix rule spills everything after the first entry that does not.
  HiddenStates h(kTokens, kWidth, DType::F32, 200, dir.path);
  EXPECT_EQ(h.in_memory(), 1u);
  EXPECT_EQ(h.memory_bytes(), 120);
  EXPECT_EQ(h.spilled_bytes(), 408 + 24 + 216);
  EXPECT_EQ(dir.entries(), 0);  // unlinked at creation
  // BF16 halves the bytes: 60 + 204 fit 264; a spilled BF16 store stages its longest spilled entry.
  HiddenStates b(kTokens, kWidth, DType::BF16, 264, dir.path);
  EXPECT_EQ(b.in_memory(), 2u);
  EXPECT_EQ(b.spilled_bytes(), 12 + 108);
  EXPECT_EQ(b.memory_bytes(), 264 + 9 * kWidth * 2);
  HiddenStates all(kTokens, kWidth, DType::F32, vqr::pipeline::kNoMemoryLimit, dir.path);
  EXPECT_EQ(all.in_memory(), kTokens.size());
  EXPECT_EQ(all.spilled_bytes(), 0);
}

TEST(HiddenStates, ABadFolderOrDtypeIsRefused) {
  try {
    HiddenStates h(kTokens, kWidth, DType::F32, 0, "/nonexistent/vqr-spill-folder");
    ADD_FAILURE() << "no exception";
  } catch (const vqr::Error &e) {
    EXPECT_EQ(e.status(), vqr::Status::Io);
    EXPECT_NE(std::string(e.what()).find("/nonexistent/vqr-spill-folder"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("hint:"), std::string::npos) << e.what();
  }
  // Nothing spills: no file is needed, so the folder is not touched.
  EXPECT_NO_THROW(HiddenStates(kTokens, kWidth, DType::F32, vqr::pipeline::kNoMemoryLimit, "/nonexistent"));
  try {
    HiddenStates h(kTokens, kWidth, static_cast<DType>(7), 0, "");
    ADD_FAILURE() << "no exception";
  } catch (const vqr::Error &e) {
    EXPECT_EQ(e.status(), vqr::Status::InvalidArgument);
  }
}

}  // namespace
