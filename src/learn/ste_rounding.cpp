// AutoRound and LoRA-rounding parameterizations (ste_rounding.h).
#include "learn/ste_rounding.h"

#include <algorithm>
#include <cmath>

#include "backend/rounding_kernels.h"
#include "core/buffer.h"
#include "core/error.h"
#include "core/splitmix64.h"

namespace vqr::learn {

// Round half to even in the current rounding mode (to nearest), for float and double alike.
template <typename T>
static inline T rne(T x) {
  return std::nearbyint(x);
}

// --- AutoRound -----------------------------------------------------------------------------------

template <typename T>
class AutoRounding final : public Rounding<T> {
 public:
  AutoRounding(const float *W, int64_t m, int64_t n, const quant::QuantConfig &c, int threads, backend::Backend &be)
      : m_(m), n_(n), lr_(c.lr), minmax_lr_(c.minmax_lr), W_((size_t)(m * n)), V_((size_t)(m * n)),
        gV_((size_t)(m * n)) {
    require(c.grid != quant::Grid::QuaRot, Status::Unsupported,
            "autoround defines the GPTQ grid (asymmetric or symmetric) and VQR_GRID_FULL_RANGE, not QuaRot's");
    using Variant = backend::SignRoundVariant;
    const int64_t gs = c.group_size > 0 ? c.group_size : n;
    G_ = (n + gs - 1) / gs;
    wmin_.assign((size_t)(m * G_), T(0));
    wmax_.assign((size_t)(m * G_), T(0));
    for (int64_t r = 0; r < m; ++r)
      for (int64_t j = 0; j < n; ++j) {
        const size_t g = (size_t)(r * G_ + j / gs);
        const T w = (T)W[r * n + j];
        W_[(size_t)(r * n + j)] = w;
        V_[(size_t)(r * n + j)] = T(0);
        wmin_[g] = std::min(wmin_[g], w);  // the range always contains 0 (spec §1.2)
        wmax_[g] = std::max(wmax_[g], w);
      }
    mn_.assign(wmin_.size(), T(1));
    mx_.assign(wmin_.size(), T(1));
    gmn_.assign(wmin_.size(), T(0));
    gmx_.assign(wmin_.size(), T(0));

    layout_.m = m;
    layout_.n = n;
    layout_.group_size = gs;
    layout_.groups = G_;
    layout_.variant =
        c.grid == quant::Grid::FullRange ? Variant::FullRange : (c.sym ? Variant::GptqSym : Variant::Asym);
    layout_.maxq = (T)((1 << c.bits) - 1);
    layout_.half = (T)(1 << (c.bits - 1));
    layout_.minmax = c.minmax_tuning;
    layout_.W = W_.data();
    layout_.wmin = wmin_.data();
    layout_.wmax = wmax_.data();
    layout_.threads = threads;
    kernels_ = backend::signround_kernels_on<T>(be, layout_);
  }

  bool relaxed() const override { return false; }

  std::vector<ParamGroup<T>> groups() override {
    std::vector<ParamGroup<T>> g = {{V_.data(), gV_.data(), (int64_t)V_.size(), lr_, false}};
    if (layout_.minmax) {
      g.push_back({mn_.data(), gmn_.data(), (int64_t)mn_.size(), minmax_lr_, true});
      g.push_back({mx_.data(), gmx_.data(), (int64_t)mx_.size(), minmax_lr_, true});
    }
    return g;
  }

  void forward(T *Wq) override { kernels_->forward(Wq, V_.data(), mn_.data(), mx_.data()); }
  void hard_weights(T *Wq) override { forward(Wq); }
  void backward(T *G) override { kernels_->backward(gV_.data(), gmn_.data(), gmx_.data(), G); }

  void harden(quant::QuantizedLayer &out) override {
    const int64_t gs = layout_.group_size;
    const T maxq = layout_.maxq;
    for (int64_t r = 0; r < m_; ++r)
      for (int64_t g = 0; g < G_; ++g) {
        const size_t k = (size_t)(r * G_ + g);
        const backend::SignRoundGroup<T> p = backend::signround_group(layout_, r, g, mn_[k], mx_[k]);
        out.scales[(size_t)(g * m_ + r)] = (float)p.s;
        out.zeros[(size_t)(g * m_ + r)] = (float)p.zp;
        for (int64_t j = g * gs; j < std::min(n_, (g + 1) * gs); ++j) {
          const size_t i = (size_t)(r * n_ + j);
          const T q = rne(W_[i] / p.s + V_[i]) + p.zp;
          out.codes[i] = (uint8_t)(q >= T(0) ? (q > maxq ? maxq : q) : T(0));
        }
      }
  }

 private:
  int64_t m_, n_, G_ = 0;
  double lr_, minmax_lr_;
  Buffer<T> W_, V_, gV_;
  std::vector<T> wmin_, wmax_, mn_, mx_, gmn_, gmx_;  // m x G
  backend::SignRoundLayout<T> layout_;
  std::unique_ptr<backend::SignRoundKernels<T>> kernels_;
};

template <typename T>
std::unique_ptr<Rounding<T>> make_autoround(const float *W, int64_t m, int64_t n, const quant::QuantConfig &config,
                                            int threads, backend::Backend &be) {
  return std::make_unique<AutoRounding<T>>(W, m, n, config, threads, be);
}

// --- LoRA-rounding -------------------------------------------------------------------------------

template <typename T>
class LoraRounding final : public Rounding<T> {
 public:
  LoraRounding(backend::Backend &be, const float *W, const RoundingInit &init, const quant::QuantConfig &c,
               uint64_t seed, int threads)
      : be_(&be), m_(init.layer.rows), n_(init.layer.cols), r_(c.rank), threads_(threads), lr_(c.lr), grid_(init.layer),
        X_((size_t)(m_ * n_)), P_((size_t)(m_ * n_)), J_((size_t)(m_ * n_)), A_((size_t)(m_ * r_)),
        B_((size_t)(n_ * r_), T(0)), gA_((size_t)(m_ * r_)), gB_((size_t)(n_ * r_)) {
    for (int64_t row = 0; row < m_; ++row)
      for (int64_t j = 0; j < n_; ++j) X_[(size_t)(row * n_ + j)] = (T)W[row * n_ + j] / grid_.s(row, j);
    // A ~ N(0, 1), B = 0: V starts at 0 (RTN) and the first gradients reach B (spec §4).
    SplitMix64 rng(seed ^ 0x4C6F526Aull);
    for (size_t i = 0; i < A_.size(); i += 2) {
      const double u1 = std::max(rng.uniform(), 1e-300), u2 = rng.uniform();
      const double rad = std::sqrt(-2.0 * std::log(u1));
      A_[i] = (T)(rad * std::cos(2 * M_PI * u2));
      if (i + 1 < A_.size()) A_[i + 1] = (T)(rad * std::sin(2 * M_PI * u2));
    }
  }

  bool relaxed() const override { return false; }
  std::vector<ParamGroup<T>> groups() override {
    return {{A_.data(), gA_.data(), (int64_t)A_.size(), lr_, false},
            {B_.data(), gB_.data(), (int64_t)B_.size(), lr_, false}};
  }

  // W' = s (clamp(rne(W / s + V) + z, 0, maxq) - z), V = 0.5 tanh(A B^T); J caches
  // dW'/d(A B^T) = s 1[in range] 0.5 (1 - tanh^2) for the backward pass.
  void forward(T *Wq) override {
    be_->gemm(Op::None, Op::Trans, m_, n_, r_, T(1), A_.data(), r_, B_.data(), r_, T(0), P_.data(), n_);
#pragma omp parallel for num_threads(threads_for(threads_, m_ * n_)) schedule(static)
    for (int64_t row = 0; row < m_; ++row)
      for (int64_t j = 0; j < n_; ++j) {
        const size_t i = (size_t)(row * n_ + j);
        const T t = std::tanh(P_[i]), s = grid_.s(row, j), z = grid_.z(row, j);
        const T qv = rne(X_[i] + T(0.5) * t) + z;
        const bool in = qv >= T(0) && qv <= grid_.maxq;
        Wq[i] = s * ((in ? qv : (qv < T(0) ? T(0) : grid_.maxq)) - z);
        J_[i] = in ? s * T(0.5) * (T(1) - t * t) : T(0);
      }
  }
  void hard_weights(T *Wq) override { forward(Wq); }

  void backward(T *G) override {
    const int64_t count = m_ * n_;
#pragma omp parallel for num_threads(threads_for(threads_, count)) schedule(static)
    for (int64_t i = 0; i < count; ++i) G[i] *= J_[(size_t)i];
    // dA = dP B, dB = dP^T A.
    be_->gemm(Op::None, Op::None, m_, r_, n_, T(1), G, n_, B_.data(), r_, T(0), gA_.data(), r_);
    be_->gemm(Op::Trans, Op::None, n_, r_, m_, T(1), G, n_, A_.data(), r_, T(0), gB_.data(), r_);
  }

  void harden(quant::QuantizedLayer &out) override {
    be_->gemm(Op::None, Op::Trans, m_, n_, r_, T(1), A_.data(), r_, B_.data(), r_, T(0), P_.data(), n_);
    for (int64_t row = 0; row < m_; ++row)
      for (int64_t j = 0; j < n_; ++j) {
        const size_t i = (size_t)(row * n_ + j);
        const T qv = rne(X_[i] + T(0.5) * std::tanh(P_[i])) + grid_.z(row, j);
        out.codes[i] = (uint8_t)(qv >= T(0) ? (qv > grid_.maxq ? grid_.maxq : qv) : T(0));
      }
  }

 private:
  using Op = backend::Op;
  backend::Backend *be_;
  int64_t m_, n_;
  int r_, threads_;
  double lr_;
  ElementGrid<T> grid_;
  Buffer<T> X_, P_, J_;  // W / s, A B^T, cached Jacobian (m x n)
  std::vector<T> A_, B_, gA_, gB_;
};

template <typename T>
std::unique_ptr<Rounding<T>> make_loraround(backend::Backend &be, const float *W, const RoundingInit &init,
                                            const quant::QuantConfig &config, uint64_t seed, int threads) {
  return std::make_unique<LoraRounding<T>>(be, W, init, config, seed, threads);
}

template std::unique_ptr<Rounding<float>> make_autoround<float>(const float *, int64_t, int64_t,
                                                                const quant::QuantConfig &, int, backend::Backend &);
template std::unique_ptr<Rounding<double>> make_autoround<double>(const float *, int64_t, int64_t,
                                                                  const quant::QuantConfig &, int, backend::Backend &);
template std::unique_ptr<Rounding<float>> make_loraround<float>(backend::Backend &, const float *, const RoundingInit &,
                                                                const quant::QuantConfig &, uint64_t, int);
template std::unique_ptr<Rounding<double>> make_loraround<double>(backend::Backend &, const float *,
                                                                  const RoundingInit &, const quant::QuantConfig &,
                                                                  uint64_t, int);

}  // namespace vqr::learn
