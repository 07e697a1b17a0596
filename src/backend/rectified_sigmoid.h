// The rectified sigmoid of AdaRound (spec learned_rounding §3.2, spec vqround §1.2) and its
// rounding regularizer (§3.3, spec vqround §1.7): h(a) = clip(sigmoid(a) (zeta - gamma) + gamma,
// 0, 1) with gamma = -0.1, zeta = 1.1, so h reaches 0 and 1 at finite a (+-ln 11) and its
// gradient vanishes once a weight is decided. Templated so tests can run the whole learned
// objective in double for finite differences. Here, below the learning engine, because the CPU
// implementation of the rounding kernels (backend/rounding_kernels.h) is built on it; it is the
// reference twin of kernels_cl/relaxed_rounding.cl.
#pragma once

#include <cmath>
#include <limits>

namespace vqr::backend {

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

// h(a) and h'(a) from one exponential.
template <typename T>
inline void rsig_and_grad(T a, T *h, T *hp) {
  const T s = sigmoid(a);
  const T y = s * T(kZeta - kGamma) + T(kGamma);
  const bool clipped = y < T(0) || y > T(1);
  *h = y < T(0) ? T(0) : (y > T(1) ? T(1) : y);
  *hp = clipped ? T(0) : T(kZeta - kGamma) * s * (T(1) - s);
}

// h^-1(y) = -ln((zeta - gamma) / (y - gamma) - 1) for y in [0, 1]: finite, in [-ln 11, ln 11].
template <typename T>
inline T rsig_inverse(T y) {
  return -std::log(T(kZeta - kGamma) / (y - T(kGamma)) - T(1));
}

// One weight's regularizer term 1 - |2h - 1|^beta, returned, and its derivative with respect to
// h, -2 beta |2h - 1|^(beta - 1) sign(2h - 1), in *dh; one pow for both.
template <typename T>
inline T round_reg(T h, T beta, T *dh) {
  const T u = T(2) * h - T(1), au = std::fabs(u);
  if (au == T(0)) {
    *dh = T(0);
    return T(1);
  }
  T p = std::pow(au, beta);
  // |2h - 1|^beta underflows into subnormals for h near 0.5 and large beta (0.01^20); those
  // cost ~100x per operation downstream and are worth nothing against 1.
  if (p < std::numeric_limits<T>::min() * T(1024)) p = T(0);
  *dh = -T(2) * beta * (p / au) * (u > T(0) ? T(1) : T(-1));
  return T(1) - p;
}

}  // namespace vqr::backend
