// The elementwise and per-codeword work of the learned-rounding engine behind the compute seam
// (DESIGN §3.3, §4): AdaRound's and VQRound's relaxation (spec learned_rounding §3.2-3.3, spec
// vqround §1.5-1.7) and AutoRound's straight-through quantizer (spec learned_rounding §1.3).
// The engine (learn/relaxed_rounding.cpp, learn/ste_rounding.cpp) keeps the parameters, the
// optimizer and the hardening on the host; once per layer it asks its backend for a kernels
// object holding the layer's constant data, and every step hands it host arrays.
//
// Why this shape: the parameters change every step on the host (Adam, SignSGD), so each step has
// to move them and the m x n weights and gradients anyway; what a device saves is the host's
// passes over m x n, with the constants (floors, grid, VQ assignment) uploaded once. The float
// path goes to the backend (Backend::make_*_kernels); double, which only the gradient checks use,
// always runs the CPU implementation (backend/cpu/cpu_rounding.cpp, the engine's former loops, so
// routing through the seam changes no bit on the CPU).
//
// Dimension letters: the layer's weights are m x n (row-major, e = r n + j), G groups of scales
// per row, a VQRound codebook K x D over L = ceil(m n / D) vectors (the last one zero-padded).
#pragma once

#include <cstdint>
#include <memory>

namespace vqr::backend {

class Backend;

// AdaRound's and VQRound's layer: per weight W' = s (clip(bz + h(a), 0, maxq) - z) with
// s = scale[r G + g_idx[j]], z = zero[r G + g_idx[j]] and bz = base + z (relaxed_rounding.h).
// The arrays belong to the caller and must outlive the kernels object: the CPU implementation
// reads them at every call, a device copies them when the object is made.
template <typename T>
struct RelaxedLayout {
  int64_t m = 0, n = 0, groups = 0;
  T maxq = 0;                     // 2^bits - 1
  const T *bz = nullptr;          // m x n: base + zero
  const T *scale = nullptr;       // m x G
  const T *zero = nullptr;        // m x G
  const int32_t *g_idx = nullptr; // n, each in [0, G)
  int threads = 1;                // OpenMP threads of the CPU implementation
};

// VQRound's fixed assignment: vector l = weights l D .. l D + D - 1 takes codeword idx[l]; the
// CSR lists each codeword's vectors in ascending order (members[offsets[k] .. offsets[k + 1])).
// Same ownership rule as RelaxedLayout.
template <typename T>
struct VqLayout {
  int64_t K = 0, L = 0;
  int D = 0;                          // 1..16
  const int32_t *idx = nullptr;       // L
  const int64_t *offsets = nullptr;   // K + 1
  const int64_t *members = nullptr;   // L
  const T *weight_count = nullptr;    // K x D: real (unpadded) weights behind each entry
};

// AdaRound: one latent per weight.
template <typename T>
class AdaRoundKernels {
 public:
  virtual ~AdaRoundKernels() = default;
  // Wq (m x n, overwritten) = the soft weights at the latents A (m x n, read); h(A) and h'(A)
  // are kept for backward and regularize.
  virtual void forward(T *Wq, const T *A) = 0;
  // grad (m x n, overwritten) = G s h'(A) 1[0 <= bz + h(A) <= maxq] at the last forward's A, from
  // G = dL/dW' (m x n, read).
  virtual void backward(T *grad, const T *G) = 0;
  // grad (m x n, +=) += weight d/dA sum(1 - |2 h(A) - 1|^beta) at the last forward's A; returns
  // weight * sum(1 - |2 h - 1|^beta).
  virtual double regularize(T *grad, double beta, double weight) = 0;
};

// VQRound: latents gathered from a codebook C (K x D) through the assignment.
template <typename T>
class VqRoundKernels {
 public:
  virtual ~VqRoundKernels() = default;
  // Wq (m x n, overwritten) = the soft weights at the codebook C (K x D, read); h(C), h'(C) kept.
  virtual void forward(T *Wq, const T *C) = 0;
  // grad (K x D, overwritten) = h'(C[k, d]) times the sum, over codeword k's vectors l in
  // ascending order, of (G s 1[in clamp])[l D + d]; G (m x n) is read and may be overwritten.
  virtual void backward(T *grad, T *G) = 0;
  // As AdaRound's, each entry counted weight_count times: grad (K x D, +=), returns the total.
  virtual double regularize(T *grad, double beta, double weight) = 0;
};

// AutoRound's three quantizers (ste_rounding.h): A asymmetric, C GPTQ-symmetric, B full range.
enum class SignRoundVariant { Asym = 0, GptqSym = 1, FullRange = 2 };

// AutoRound's layer: weights, the ORIGINAL range of each group (containing 0) and the quantizer.
// Group g of row r holds columns g gs .. min(n, (g + 1) gs) - 1. Same ownership rule as above.
template <typename T>
struct SignRoundLayout {
  int64_t m = 0, n = 0, group_size = 0, groups = 0;  // group_size = n for one group per row
  SignRoundVariant variant = SignRoundVariant::Asym;
  T maxq = 0, half = 0;        // 2^bits - 1, 2^(bits - 1)
  bool minmax = false;         // the min/max multipliers are trained (backward writes their gradients)
  const T *W = nullptr;        // m x n
  const T *wmin = nullptr;     // m x G, <= 0
  const T *wmax = nullptr;     // m x G, >= 0
  int threads = 1;
};

// One group's quantizer at the multipliers (mn, mx): scale s (through fp16, floored at 1e-5),
// zero-point zp, lo = wmin mn, and ds/dmn, ds/dmx (0 where the floor holds s).
template <typename T>
struct SignRoundGroup {
  T s = 0, zp = 0, lo = 0;
  T ds_dmn = 0, ds_dmx = 0;
};
template <typename T>
SignRoundGroup<T> signround_group(const SignRoundLayout<T> &layout, int64_t r, int64_t g, T mn, T mx);

template <typename T>
class SignRoundKernels {
 public:
  virtual ~SignRoundKernels() = default;
  // Wq (m x n, overwritten) = s (clamp(round(W / s + V) + zp, 0, maxq) - zp) per group, at the
  // offsets V (m x n, read) and multipliers mn, mx (m x G, read).
  virtual void forward(T *Wq, const T *V, const T *mn, const T *mx) = 0;
  // The straight-through gradients at the last forward's parameters from G = dL/dW' (m x n,
  // read): gV (m x n, overwritten); with layout.minmax, gmn and gmx (m x G, overwritten), else
  // they are not touched (may be NULL). The CPU implementation reads the forward's V, mn and mx
  // arrays again, so they must stay valid and unchanged in between (a device keeps copies).
  virtual void backward(T *gV, T *gmn, T *gmx, const T *G) = 0;
};

// The CPU implementation (backend/cpu/cpu_rounding.cpp), float and double.
template <typename T>
std::unique_ptr<AdaRoundKernels<T>> cpu_adaround_kernels(const RelaxedLayout<T> &layout);
template <typename T>
std::unique_ptr<VqRoundKernels<T>> cpu_vqround_kernels(const RelaxedLayout<T> &layout, const VqLayout<T> &vq);
template <typename T>
std::unique_ptr<SignRoundKernels<T>> cpu_signround_kernels(const SignRoundLayout<T> &layout);

// What the engine calls: `be`'s kernels for float, the CPU implementation for double.
template <typename T>
std::unique_ptr<AdaRoundKernels<T>> adaround_kernels_on(Backend &be, const RelaxedLayout<T> &layout);
template <typename T>
std::unique_ptr<VqRoundKernels<T>> vqround_kernels_on(Backend &be, const RelaxedLayout<T> &layout,
                                                      const VqLayout<T> &vq);
template <typename T>
std::unique_ptr<SignRoundKernels<T>> signround_kernels_on(Backend &be, const SignRoundLayout<T> &layout);

}  // namespace vqr::backend
