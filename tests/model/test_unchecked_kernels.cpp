// The hot kernels run without sanitizer instrumentation (core/sanitizer.h); their callers check
// every extent the kernel reaches instead. These death tests prove, in the AddressSanitizer
// build, that a buffer too short or already freed is still reported. Other builds skip them:
// without the sanitizer there is nothing to observe.
#include <gtest/gtest.h>

#include <vector>

#include "core/sanitizer.h"
#include "model/matmul.h"

namespace {

constexpr bool kAsan = vqr::kAddressSanitizerBuild;

struct Shapes {
  int64_t T = 5, IC = 16, OC = 6;
};

void run_matmul(size_t out_floats, size_t w_floats) {
  const Shapes s;
  std::vector<float> inp((size_t)(s.T * s.IC), 1.0f);
  std::vector<float> scratch((size_t)vqr::model::matmul_scratch_floats(s.T, s.IC));
  // Heap arrays of exactly the requested size, so one float short lands in the redzone.
  float *out = new float[out_floats];
  float *w = new float[w_floats]();
  vqr::model::matmul_forward(out, scratch.data(), inp.data(), w, s.T, s.IC, s.OC, 1);
  delete[] out;
  delete[] w;
}

TEST(UncheckedKernels, CorrectExtentsPass) {
  const Shapes s;
  run_matmul((size_t)(s.T * s.OC), (size_t)(s.OC * s.IC));  // must not report anything
}

TEST(UncheckedKernelsDeathTest, ShortOutputIsReported) {
  if (!kAsan) GTEST_SKIP() << "AddressSanitizer build only";
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const Shapes s;
  EXPECT_DEATH(run_matmul((size_t)(s.T * s.OC - 1), (size_t)(s.OC * s.IC)), "heap-buffer-overflow");
}

TEST(UncheckedKernelsDeathTest, ShortWeightIsReported) {
  if (!kAsan) GTEST_SKIP() << "AddressSanitizer build only";
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const Shapes s;
  EXPECT_DEATH(run_matmul((size_t)(s.T * s.OC), (size_t)(s.OC * s.IC - 1)), "heap-buffer-overflow");
}

TEST(UncheckedKernelsDeathTest, FreedBufferIsReported) {
  if (!kAsan) GTEST_SKIP() << "AddressSanitizer build only";
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        float *p = new float[64];
        delete[] p;
        vqr::check_addressable(p, 64);
      },
      "heap-use-after-free");
}

}  // namespace
