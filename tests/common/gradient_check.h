// Finite-difference gradient checks shared by the backward-pass tests (LLaMA and OPT blocks,
// learned rounding): a central difference in double, and a sampled check of a library gradient
// against it. The loss is a closure that reads the perturbed coordinate in place.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <random>
#include <string>
#include <vector>

namespace vqr_test {

// (loss(x + h) - loss(x - h)) / 2h, with x restored afterwards. x (read and written) is the
// coordinate `loss` depends on.
inline double central_difference(double &x, double h, const std::function<double()> &loss) {
  const double keep = x;
  x = keep + h;
  const double up = loss();
  x = keep - h;
  const double down = loss();
  x = keep;
  return (up - down) / (2 * h);
}

// Checks `got` (the library's fp32 gradient, all entries of v) at `samples` random coordinates of
// v, drawn from mt19937(seed), against the central difference with h = 1e-5. Bound: the library
// runs the block and its backward in fp32, each value a chain of dot products of length
// <= max(dim, hidden, T) with unit roundoff u = 6e-8 and gains O(1) on these well-scaled models, so
// its gradients carry relative errors of order n u ~ 1e-5; the central difference in double with
// h = 1e-5 errs by O(h^2) ~ 1e-10. 1e-4 of the largest sampled gradient is ten times that
// (observed: 1e-7 to 2e-6), while a wrong term (a dropped softmax Jacobian term, a RoPE sign, a
// missing norm derivative, a LayerNorm's mean derivative, ReLU's mask) moves gradients by tens of
// percent.
inline void expect_sampled_gradient(const std::string &what, const std::vector<float> &got, std::vector<double> &v,
                                    int samples, uint32_t seed, const std::function<double()> &loss) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<size_t> pick(0, v.size() - 1);
  double scale = 0, worst = 0;
  for (int i = 0; i < samples; ++i) {
    const size_t at = pick(rng);
    const double fd = central_difference(v[at], 1e-5, loss);
    scale = std::max(scale, std::fabs(fd));
    worst = std::max(worst, std::fabs(got[at] - fd));
  }
  std::printf("  %-8s max |fd| %.3g, max |lib - fd| %.3g (%.2g of it)\n", what.c_str(), scale, worst, worst / scale);
  EXPECT_GT(scale, 1e-3) << what << ": the sampled gradients are too small to test anything";
  EXPECT_LE(worst, 1e-4 * scale) << what;
}

}  // namespace vqr_test
