// The textbook linear layer in double, y = x w^T + b with plain loops, shared by the tests' double
// forward passes (LLaMA block in test_block_backward.cpp, OPT in opt_reference.h). Row-major, one
// sequence; no blocking, so the sum runs in index order.
#pragma once

#include <cstdint>
#include <vector>

namespace vqr_test {

// y (T x OC) = x (T x IC) w^T + b; w is OC x IC, b has OC entries or is empty (no bias).
inline std::vector<double> reference_linear(const std::vector<double> &x, const std::vector<double> &w,
                                            const std::vector<double> &b, int64_t T, int64_t IC, int64_t OC) {
  std::vector<double> y((size_t)(T * OC));
  for (int64_t t = 0; t < T; ++t)
    for (int64_t o = 0; o < OC; ++o) {
      double s = b.empty() ? 0.0 : b[(size_t)o];
      for (int64_t i = 0; i < IC; ++i) s += x[(size_t)(t * IC + i)] * w[(size_t)(o * IC + i)];
      y[(size_t)(t * OC + o)] = s;
    }
  return y;
}

}  // namespace vqr_test
