// The CPU implementation of the learned-rounding kernels (rounding_kernels.h): the engine's
// OpenMP loops, moved here unchanged, so results are bit for bit those of the engine before the
// seam. The reference twin of kernels_cl/relaxed_rounding.cl and kernels_cl/signround.cl.
#include <algorithm>
#include <cmath>

#include "backend/rectified_sigmoid.h"
#include "backend/rounding_kernels.h"
#include "core/buffer.h"
#include "core/context.h"
#include "core/dtype.h"

namespace vqr::backend {

namespace {

// Soft weight of one element for latent value h; `in` = the clamp passes the gradient.
template <typename T>
inline T soft_weight(T bz, T h, T s, T z, T maxq, bool *in) {
  const T v = bz + h;
  *in = v >= T(0) && v <= maxq;
  return s * ((v < T(0) ? T(0) : (v > maxq ? maxq : v)) - z);
}

// Scale and zero of weight (r, j) through g_idx.
template <typename T>
inline T scale_at(const RelaxedLayout<T> &l, int64_t r, int64_t j) {
  return l.scale[r * l.groups + l.g_idx[j]];
}
template <typename T>
inline T zero_at(const RelaxedLayout<T> &l, int64_t r, int64_t j) {
  return l.zero[r * l.groups + l.g_idx[j]];
}

// --- AdaRound ------------------------------------------------------------------------------------

template <typename T>
class CpuAdaRound final : public AdaRoundKernels<T> {
 public:
  explicit CpuAdaRound(const RelaxedLayout<T> &l) : l_(l), h_((size_t)(l.m * l.n)), hp_((size_t)(l.m * l.n)) {}

  void forward(T *Wq, const T *A) override {
    const int64_t m = l_.m, n = l_.n;
#pragma omp parallel for num_threads(threads_for(l_.threads, m * n)) schedule(static)
    for (int64_t r = 0; r < m; ++r)
      for (int64_t j = 0; j < n; ++j) {
        const size_t i = (size_t)(r * n + j);
        bool in;
        rsig_and_grad(A[i], &h_[i], &hp_[i]);
        Wq[i] = soft_weight(l_.bz[i], h_[i], scale_at(l_, r, j), zero_at(l_, r, j), l_.maxq, &in);
      }
  }

  void backward(T *grad, const T *G) override {
    const int64_t m = l_.m, n = l_.n;
#pragma omp parallel for num_threads(threads_for(l_.threads, m * n)) schedule(static)
    for (int64_t r = 0; r < m; ++r)
      for (int64_t j = 0; j < n; ++j) {
        const size_t i = (size_t)(r * n + j);
        const T v = l_.bz[i] + h_[i];
        const bool in = v >= T(0) && v <= l_.maxq;
        grad[i] = in ? G[i] * scale_at(l_, r, j) * hp_[i] : T(0);
      }
  }

  double regularize(T *grad, double beta, double weight) override {
    const int64_t count = l_.m * l_.n;
    const T b = (T)beta, w = (T)weight;
    double total = 0;
#pragma omp parallel for num_threads(threads_for(l_.threads, count)) schedule(static) reduction(+ : total)
    for (int64_t i = 0; i < count; ++i) {
      T dh;
      total += (double)round_reg(h_[(size_t)i], b, &dh);
      grad[i] += w * dh * hp_[(size_t)i];
    }
    return weight * total;
  }

 private:
  RelaxedLayout<T> l_;
  Buffer<T> h_, hp_;  // h(A), h'(A) of the last forward
};

// --- VQRound -------------------------------------------------------------------------------------

template <typename T>
class CpuVqRound final : public VqRoundKernels<T> {
 public:
  CpuVqRound(const RelaxedLayout<T> &l, const VqLayout<T> &vq)
      : l_(l), vq_(vq), h_((size_t)(vq.K * vq.D)), hp_((size_t)(vq.K * vq.D)) {}

  void forward(T *Wq, const T *C) override {
    for (size_t i = 0; i < h_.size(); ++i) rsig_and_grad(C[i], &h_[i], &hp_[i]);
    const int64_t m = l_.m, n = l_.n;
#pragma omp parallel for num_threads(threads_for(l_.threads, m * n)) schedule(static)
    for (int64_t r = 0; r < m; ++r)
      for (int64_t j = 0; j < n; ++j) {
        const int64_t e = r * n + j;
        bool in;
        Wq[e] = soft_weight(l_.bz[e], h_[entry(e)], scale_at(l_, r, j), zero_at(l_, r, j), l_.maxq, &in);
      }
  }

  // First G is scaled in place (one pass), then each codeword sums its own vectors in ascending
  // order (deterministic for any thread count; spec vqround §1.6).
  void backward(T *grad, T *G) override {
    const int64_t m = l_.m, n = l_.n, count = m * n;
#pragma omp parallel for num_threads(threads_for(l_.threads, count)) schedule(static)
    for (int64_t r = 0; r < m; ++r)
      for (int64_t j = 0; j < n; ++j) {
        const int64_t e = r * n + j;
        const T v = l_.bz[e] + h_[entry(e)];
        G[e] = (v >= T(0) && v <= l_.maxq) ? G[e] * scale_at(l_, r, j) : T(0);
      }
    const int D = vq_.D;
#pragma omp parallel for num_threads(threads_for(l_.threads, count)) schedule(dynamic, 64)
    for (int64_t k = 0; k < vq_.K; ++k) {
      T acc[16] = {};
      for (int64_t p = vq_.offsets[k]; p < vq_.offsets[k + 1]; ++p) {
        const int64_t e0 = vq_.members[p] * D;
        const int dmax = (int)std::min<int64_t>(D, count - e0);  // the padded tail of the last vector
        for (int d = 0; d < dmax; ++d) acc[d] += G[e0 + d];
      }
      for (int d = 0; d < D; ++d) grad[k * D + d] = acc[d] * hp_[(size_t)(k * D + d)];
    }
  }

  double regularize(T *grad, double beta, double weight) override {
    const T b = (T)beta, w = (T)weight;
    double total = 0;
    for (size_t i = 0; i < h_.size(); ++i) {
      T dh;
      total += (double)vq_.weight_count[i] * (double)round_reg(h_[i], b, &dh);
      grad[i] += w * vq_.weight_count[i] * dh * hp_[i];
    }
    return weight * total;
  }

 private:
  size_t entry(int64_t e) const { return (size_t)(vq_.idx[e / vq_.D] * vq_.D + e % vq_.D); }

  RelaxedLayout<T> l_;
  VqLayout<T> vq_;
  Buffer<T> h_, hp_;  // h(C), h'(C) of the last forward, K x D
};

// --- AutoRound (SignRound) -----------------------------------------------------------------------

// Round half to even in the current rounding mode (to nearest), for float and double alike.
template <typename T>
inline T rne(T x) {
  return std::nearbyint(x);
}

template <typename T>
class CpuSignRound final : public SignRoundKernels<T> {
 public:
  explicit CpuSignRound(const SignRoundLayout<T> &l) : l_(l) {}

  void forward(T *Wq, const T *V, const T *mn, const T *mx) override {
    V_ = V;
    mn_ = mn;
    mx_ = mx;
    sweep(Wq, nullptr, nullptr, nullptr, nullptr);
  }
  void backward(T *gV, T *gmn, T *gmx, const T *G) override { sweep(nullptr, gV, gmn, gmx, G); }

 private:
  // Forward (Wq != NULL): fake-quantized weights. Backward (G != NULL): the straight-through
  // gradients of spec §1.3 — in range dW'/dV = s, dW'/ds = (q - zp) - W/s; clamped at bound B
  // dW'/dV = 0, dW'/ds = (B - zp) - lo/s (variant A; B - zp otherwise) and, for A, dW'/dlo = 1
  // through the zero-point. The clamp passes the gradient at its bounds (PyTorch).
  void sweep(T *Wq, T *gV, T *gmn, T *gmx, const T *G) {
    const int64_t m = l_.m, n = l_.n, gs = l_.group_size, groups = l_.groups;
    const bool asym = l_.variant == SignRoundVariant::Asym;
    const T maxq = l_.maxq;
#pragma omp parallel for num_threads(threads_for(l_.threads, m * n)) schedule(static)
    for (int64_t r = 0; r < m; ++r)
      for (int64_t g = 0; g < groups; ++g) {
        const size_t k = (size_t)(r * groups + g);
        const SignRoundGroup<T> p = signround_group(l_, r, g, mn_[k], mx_[k]);
        T dS = 0, dLo = 0;
        for (int64_t j = g * gs; j < std::min(n, (g + 1) * gs); ++j) {
          const size_t i = (size_t)(r * n + j);
          const T x = l_.W[i] / p.s;
          const T qv = rne(x + V_[i]) + p.zp;
          const bool low = qv < T(0), high = qv > maxq;
          const T q = low ? T(0) : (high ? maxq : qv);
          if (Wq) {
            Wq[i] = p.s * (q - p.zp);
            continue;
          }
          if (!low && !high) {
            gV[i] = G[i] * p.s;
            dS += G[i] * ((q - p.zp) - x);
          } else {
            gV[i] = T(0);
            dS += G[i] * ((q - p.zp) - (asym ? p.lo / p.s : T(0)));
            if (asym) dLo += G[i];
          }
        }
        if (!Wq && l_.minmax) {
          gmn[k] = dS * p.ds_dmn + dLo * l_.wmin[k];
          gmx[k] = dS * p.ds_dmx;
        }
      }
  }

  SignRoundLayout<T> l_;
  const T *V_ = nullptr, *mn_ = nullptr, *mx_ = nullptr;  // the last forward's parameters
};

}  // namespace

template <typename T>
SignRoundGroup<T> signround_group(const SignRoundLayout<T> &l, int64_t r, int64_t g, T mn, T mx) {
  auto to_f16 = [](T s) { return (T)f16_to_f32(f32_to_f16((float)s)); };
  const size_t k = (size_t)(r * l.groups + g);
  const T wmin = l.wmin[k], wmax = l.wmax[k], half = l.half, maxq = l.maxq;
  const T lo = wmin * mn, hi = wmax * mx;
  SignRoundGroup<T> p{};
  p.lo = lo;
  if (l.variant == SignRoundVariant::FullRange) {
    const T a = -lo, c = hi;
    const T s16 = to_f16((c < a ? a : -c) / half);
    const bool pass = std::fabs(s16) >= T(1e-5);
    p.s = pass ? s16 : (std::signbit(s16) ? T(-1e-5) : T(1e-5));
    p.zp = half;
    if (pass) {
      if (c < a)
        p.ds_dmn = -wmin / half;
      else
        p.ds_dmx = -wmax / half;
    }
    return p;
  }
  T s_raw;
  if (l.variant == SignRoundVariant::GptqSym) {
    const bool neg_wins = lo < T(0) && -lo > hi;
    s_raw = lo < T(0) ? T(2) * std::max(-lo, hi) / maxq : hi / maxq;
    p.zp = half;
    if (neg_wins)
      p.ds_dmn = T(-2) * wmin / maxq;
    else
      p.ds_dmx = (lo < T(0) ? T(2) : T(1)) * wmax / maxq;
  } else {
    s_raw = (hi - lo) / maxq;
    p.ds_dmx = wmax / maxq;
    p.ds_dmn = -wmin / maxq;
  }
  const T s16 = to_f16(s_raw);
  if (s16 < T(1e-5)) {
    p.s = T(1e-5);
    p.ds_dmn = p.ds_dmx = T(0);
  } else {
    p.s = s16;
  }
  if (l.variant == SignRoundVariant::Asym) p.zp = rne(-lo / p.s);
  return p;
}

template <typename T>
std::unique_ptr<AdaRoundKernels<T>> cpu_adaround_kernels(const RelaxedLayout<T> &layout) {
  return std::make_unique<CpuAdaRound<T>>(layout);
}
template <typename T>
std::unique_ptr<VqRoundKernels<T>> cpu_vqround_kernels(const RelaxedLayout<T> &layout, const VqLayout<T> &vq) {
  return std::make_unique<CpuVqRound<T>>(layout, vq);
}
template <typename T>
std::unique_ptr<SignRoundKernels<T>> cpu_signround_kernels(const SignRoundLayout<T> &layout) {
  return std::make_unique<CpuSignRound<T>>(layout);
}

template SignRoundGroup<float> signround_group<float>(const SignRoundLayout<float> &, int64_t, int64_t, float, float);
template SignRoundGroup<double> signround_group<double>(const SignRoundLayout<double> &, int64_t, int64_t, double,
                                                        double);
template std::unique_ptr<AdaRoundKernels<float>> cpu_adaround_kernels<float>(const RelaxedLayout<float> &);
template std::unique_ptr<AdaRoundKernels<double>> cpu_adaround_kernels<double>(const RelaxedLayout<double> &);
template std::unique_ptr<VqRoundKernels<float>> cpu_vqround_kernels<float>(const RelaxedLayout<float> &,
                                                                           const VqLayout<float> &);
template std::unique_ptr<VqRoundKernels<double>> cpu_vqround_kernels<double>(const RelaxedLayout<double> &,
                                                                             const VqLayout<double> &);
template std::unique_ptr<SignRoundKernels<float>> cpu_signround_kernels<float>(const SignRoundLayout<float> &);
template std::unique_ptr<SignRoundKernels<double>> cpu_signround_kernels<double>(const SignRoundLayout<double> &);

}  // namespace vqr::backend
