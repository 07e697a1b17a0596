// AdaRound and VQRound parameterizations (relaxed_rounding.h).
#include "learn/relaxed_rounding.h"

#include <algorithm>
#include <chrono>
#include <string>

#include "core/error.h"
#include "learn/kmeans.h"

namespace vqr::learn {

template <typename T>
RelaxedRounding<T>::RelaxedRounding(const RoundingInit &init, double lr, int threads)
    : m_(init.layer.rows), n_(init.layer.cols), threads_(threads), lr_(lr), grid_(init.layer), bz_((size_t)(m_ * n_)) {
#pragma omp parallel for num_threads(threads_for(threads, m_ * n_)) schedule(static)
  for (int64_t r = 0; r < m_; ++r)
    for (int64_t j = 0; j < n_; ++j) bz_[(size_t)(r * n_ + j)] = (T)init.base[(size_t)(r * n_ + j)] + grid_.z(r, j);
}

template <typename T>
void RelaxedRounding<T>::hard_weights(T *Wq) {
  latents(Wq);
#pragma omp parallel for num_threads(threads_for(threads_, m_ * n_)) schedule(static)
  for (int64_t r = 0; r < m_; ++r)
    for (int64_t j = 0; j < n_; ++j) {
      const int64_t i = r * n_ + j;
      T v = bz_[(size_t)i] + (Wq[i] >= T(0) ? T(1) : T(0));
      v = v < T(0) ? T(0) : (v > grid_.maxq ? grid_.maxq : v);
      Wq[i] = grid_.s(r, j) * (v - grid_.z(r, j));
    }
}

template <typename T>
void RelaxedRounding<T>::harden(quant::QuantizedLayer &out) {
  Buffer<T> A((size_t)(m_ * n_));
  latents(A.data());
  for (int64_t i = 0; i < m_ * n_; ++i) {
    T v = bz_[(size_t)i] + (A[(size_t)i] >= T(0) ? T(1) : T(0));
    out.codes[(size_t)i] = (uint8_t)(v >= T(0) ? (v > grid_.maxq ? grid_.maxq : v) : T(0));
  }
}

template <typename T>
backend::RelaxedLayout<T> RelaxedRounding<T>::layout() const {
  backend::RelaxedLayout<T> l;
  l.m = m_;
  l.n = n_;
  l.groups = grid_.groups;
  l.maxq = grid_.maxq;
  l.bz = bz_.data();
  l.scale = grid_.scale.data();
  l.zero = grid_.zero.data();
  l.g_idx = grid_.g_idx.data();
  l.threads = threads_;
  return l;
}

// --- AdaRound ------------------------------------------------------------------------------------

template <typename T>
class AdaRounding final : public RelaxedRounding<T> {
  using Base = RelaxedRounding<T>;

 public:
  AdaRounding(const RoundingInit &init, double lr, int threads, backend::Backend &be)
      : Base(init, lr, threads), A_(init.base.size()), grad_(init.base.size()) {
    const Buffer<float> A = initial_latents(init, threads);
    for (size_t i = 0; i < A.size(); ++i) A_[i] = (T)A[i];
    kernels_ = backend::adaround_kernels_on<T>(be, this->layout());
  }
  std::vector<ParamGroup<T>> groups() override {
    return {{A_.data(), grad_.data(), (int64_t)A_.size(), this->lr_, false}};
  }
  void forward(T *Wq) override { kernels_->forward(Wq, A_.data()); }
  void backward(T *G) override { kernels_->backward(grad_.data(), G); }
  double regularize(double beta, double weight) override { return kernels_->regularize(grad_.data(), beta, weight); }

 protected:
  void latents(T *A) const override { std::copy(A_.data(), A_.data() + A_.size(), A); }

 private:
  Buffer<T> A_, grad_;  // latents and their gradient
  std::unique_ptr<backend::AdaRoundKernels<T>> kernels_;
};

template <typename T>
std::unique_ptr<RelaxedRounding<T>> make_adaround(const RoundingInit &init, double lr, int threads,
                                                  backend::Backend &be) {
  return std::make_unique<AdaRounding<T>>(init, lr, threads, be);
}

// --- VQRound -------------------------------------------------------------------------------------

template <typename T>
class VqRounding final : public RelaxedRounding<T> {
  using Base = RelaxedRounding<T>;

 public:
  VqRounding(const RoundingInit &init, const quant::QuantConfig &c, Context *ctx, int threads, VqStats *stats)
      : Base(init, c.lr, threads), D_(c.vq_dim) {
    const int64_t count = this->m_ * this->n_;
    L_ = (count + D_ - 1) / D_;
    K_ = std::min<int64_t>(c.codebook_size, L_);
    // Latents flattened row-major and zero-padded to L x D (spec vqround §1.4 step 4).
    std::vector<float> X((size_t)(L_ * D_), 0.0f);
    {
      const Buffer<float> A = initial_latents(init, threads);
      std::copy(A.data(), A.data() + count, X.begin());
    }
    KMeansOptions ko;
    ko.k = K_;
    ko.iters = c.kmeans_iters;
    ko.min_changed = c.kmeans_tol;
    ko.max_points_per_centroid = c.kmeans_sample;
    ko.seed = ctx ? ctx->seed : 0;
    ko.sign_consistent = c.sign_consistent;
    ko.threads = threads;
    const auto t0 = std::chrono::steady_clock::now();
    Progress progress(ctx, "kmeans", c.kmeans_iters);
    KMeansResult km = kmeans(X.data(), L_, D_, ko, &progress);
    progress.checkpoint(c.kmeans_iters, true, km.inertia);
    stats->kmeans_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    stats->kmeans_iterations = km.iterations;

    C_.assign(km.centroids.begin(), km.centroids.end());
    idx_ = std::move(km.assign);
    grad_.assign(C_.size(), T(0));
    // CSR of the vectors of each codeword, ascending (counting sort: stable), built once; and the
    // number of real (unpadded) weights behind each codebook entry, for the regularizer.
    offsets_.assign((size_t)K_ + 1, 0);
    for (int32_t k : idx_) ++offsets_[(size_t)k + 1];
    for (int64_t k = 0; k < K_; ++k) offsets_[(size_t)k + 1] += offsets_[(size_t)k];
    members_.resize((size_t)L_);
    std::vector<int64_t> fill(offsets_.begin(), offsets_.end() - 1);
    for (int64_t l = 0; l < L_; ++l) members_[(size_t)fill[(size_t)idx_[(size_t)l]]++] = l;
    weight_count_.assign(C_.size(), T(0));
    for (int64_t e = 0; e < count; ++e) weight_count_[(size_t)(idx_[(size_t)(e / D_)] * D_ + e % D_)] += T(1);

    int64_t flips = 0;
    for (int64_t e = 0; e < count; ++e)
      flips += (C_[(size_t)(idx_[(size_t)(e / D_)] * D_ + e % D_)] >= T(0)) != (init.up[(size_t)e] != 0);
    stats->codebook_size = K_;
    stats->vectors = L_;
    stats->flip_rate = (double)flips / (double)count;

    backend::VqLayout<T> vq;
    vq.K = K_;
    vq.L = L_;
    vq.D = D_;
    vq.idx = idx_.data();
    vq.offsets = offsets_.data();
    vq.members = members_.data();
    vq.weight_count = weight_count_.data();
    kernels_ = backend::vqround_kernels_on<T>(backend_of(ctx), this->layout(), vq);
  }

  std::vector<ParamGroup<T>> groups() override {
    return {{C_.data(), grad_.data(), (int64_t)C_.size(), this->lr_, false}};
  }

  void forward(T *Wq) override { kernels_->forward(Wq, C_.data()); }
  // dL/dC[k, d] = h'(C[k, d]) * sum over the vectors l of codeword k of (G s 1[in])[l D + d],
  // summed in ascending order (spec vqround §1.6).
  void backward(T *G) override { kernels_->backward(grad_.data(), G); }
  double regularize(double beta, double weight) override { return kernels_->regularize(grad_.data(), beta, weight); }

 protected:
  void latents(T *A) const override {
    const int64_t count = this->m_ * this->n_;
    for (int64_t e = 0; e < count; ++e) A[e] = C_[entry(e)];
  }

 private:
  size_t entry(int64_t e) const { return (size_t)(idx_[(size_t)(e / D_)] * D_ + e % D_); }

  int D_;
  int64_t L_ = 0, K_ = 0;
  std::vector<T> C_, grad_, weight_count_;  // K x D each
  std::vector<int32_t> idx_;               // L
  std::vector<int64_t> offsets_, members_; // CSR: K + 1, L
  std::unique_ptr<backend::VqRoundKernels<T>> kernels_;
};

template <typename T>
std::unique_ptr<RelaxedRounding<T>> make_vqround(const RoundingInit &init, const quant::QuantConfig &config,
                                                 Context *ctx, int threads, VqStats *stats) {
  return std::make_unique<VqRounding<T>>(init, config, ctx, threads, stats);
}

template class RelaxedRounding<float>;
template class RelaxedRounding<double>;
template std::unique_ptr<RelaxedRounding<float>> make_adaround<float>(const RoundingInit &, double, int,
                                                                      backend::Backend &);
template std::unique_ptr<RelaxedRounding<double>> make_adaround<double>(const RoundingInit &, double, int,
                                                                        backend::Backend &);
template std::unique_ptr<RelaxedRounding<float>> make_vqround<float>(const RoundingInit &, const quant::QuantConfig &,
                                                                     Context *, int, VqStats *);
template std::unique_ptr<RelaxedRounding<double>> make_vqround<double>(const RoundingInit &,
                                                                       const quant::QuantConfig &, Context *, int,
                                                                       VqStats *);

}  // namespace vqr::learn
