// The rectified sigmoid of AdaRound (spec learned_rounding §3.2, spec vqround §1.2) and its
// rounding regularizer (§3.3, spec vqround §1.7): h(a) = clip(sigmoid(a) (zeta - gamma) + gamma,
// 0, 1) with gamma = -0.1, zeta = 1.1, so h reaches 0 and 1 at finite a (+-ln 11) and its
// gradient vanishes once a weight is decided. Templated so tests can run the whole learned
// objective in double for finite differences.
#pragma once

#include <cmath>

namespace vqr::learn {

constexpr double kGamma = -0.1, kZeta = 1.1;

template <typename T>
inline T sigmoid(T a) {
  return T(1) / (T(1) + std::exp(-a));
}

template <typename T>
inline T rsig(T a) {
  const T y = sigmoid(a) * T(kZeta - kGamma) + T(kGamma);
  return y < T(0) ? T(0) : (y > T(1) ? T(1) : y);
}

// dh/da. The clip passes the gradient at its bounds inclusively, as PyTorch's clamp does
// (spec vqround §1.6).
template <typename T>
inline T rsig_grad(T a) {
  const T s = sigmoid(a);
  const T y = s * T(kZeta - kGamma) + T(kGamma);
  return (y < T(0) || y > T(1)) ? T(0) : T(kZeta - kGamma) * s * (T(1) - s);
}

// h^-1(y) = -ln((zeta - gamma) / (y - gamma) - 1) for y in [0, 1]: finite, in [-ln 11, ln 11].
template <typename T>
inline T rsig_inverse(T y) {
  return -std::log(T(kZeta - kGamma) / (y - T(kGamma)) - T(1));
}

// One weight's regularizer term 1 - |2h - 1|^beta, and its derivative with respect to h.
template <typename T>
inline T round_reg(T h, T beta) {
  return T(1) - std::pow(std::fabs(T(2) * h - T(1)), beta);
}
template <typename T>
inline T round_reg_dh(T h, T beta) {
  const T u = T(2) * h - T(1);
  if (u == T(0)) return T(0);
  return -T(2) * beta * std::pow(std::fabs(u), beta - T(1)) * (u > T(0) ? T(1) : T(-1));
}

}  // namespace vqr::learn
