// H-form layer objective (layer_objective.h).
#include "learn/layer_objective.h"

#include "core/context.h"

namespace vqr::learn {

template <typename T>
LayerObjective<T>::LayerObjective(backend::Backend &be, const float *W, int64_t m, int64_t n,
                                  const hessian::HessianView &H, int threads)
    : be_(&be), m_(m), n_(n), threads_(threads), W_((size_t)(m * n)), H_((size_t)(n * n)), E_((size_t)(m * n)) {
  for (int64_t i = 0; i < m * n; ++i) W_[(size_t)i] = (T)W[i];
#pragma omp parallel for num_threads(threads_for(threads, n * n)) schedule(static)
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) H_[(size_t)(i * n + j)] = (T)H.at64(i, j);
  if (H.has_d()) {
    Buffer<T> D((size_t)(n * n));
#pragma omp parallel for num_threads(threads_for(threads, n * n)) schedule(static)
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j) D[(size_t)(i * n + j)] = (T)H.d_at64(i, j);
    WD_ = Buffer<T>((size_t)(m * n));
    be.gemm(backend::Op::None, backend::Op::None, m, n, n, T(1), W_.data(), n, D.data(), n, T(0), WD_.data(), n);
  }
}

template <typename T>
ObjectiveValue LayerObjective<T>::evaluate(const T *Wq, T *G) {
  const int64_t count = m_ * n_;
  const int threads = threads_for(threads_, count);
  T *E = E_.data();
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t i = 0; i < count; ++i) E[i] = Wq[i] - W_[(size_t)i];
  if (!G) {
    if (EH_.empty()) EH_ = Buffer<T>((size_t)count);
    G = EH_.data();
  }
  be_->gemm(backend::Op::None, backend::Op::None, m_, n_, n_, T(1), E, n_, H_.data(), n_, T(0), G, n_);
  // tr(E H E^T) = sum(E .* (E H)); then G = 2 (E H - W D) in place.
  double proxy = 0, cross = 0;
  const T *WD = WD_.empty() ? nullptr : WD_.data();
#pragma omp parallel for num_threads(threads) schedule(static) reduction(+ : proxy, cross)
  for (int64_t i = 0; i < count; ++i) {
    proxy += (double)E[i] * (double)G[i];
    if (WD) {
      cross += (double)E[i] * (double)WD[i];
      G[i] = T(2) * (G[i] - WD[i]);
    } else {
      G[i] = T(2) * G[i];
    }
  }
  return {proxy - 2.0 * cross, proxy};
}

template class LayerObjective<float>;
template class LayerObjective<double>;

}  // namespace vqr::learn
