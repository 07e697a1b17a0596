// The AdaRound-style relaxation shared by AdaRound and VQRound (spec learned_rounding §3.2, spec
// vqround §1.5-1.8): per weight a latent a, soft weight W' = s (clip(base + h(a) + z, 0, maxq) - z),
// gradient dW'/da = s h'(a) 1[0 <= base + h(a) + z <= maxq] (PyTorch's inclusive clamp), and the
// hard code clip(base + 1[a >= 0] + z, 0, maxq). The two methods differ only in where a comes from:
// one free latent per weight (AdaRound) or a codebook entry gathered by index (VQRound). The
// per-step elementwise work (h, h', W', dL/da, the per-codeword reduction, the regularizer) runs
// in the layer's kernels object from the backend (backend/rounding_kernels.h); parameters, the
// optimizer and hardening stay here on the host.
#pragma once

#include <cstdint>
#include <memory>

#include "backend/backend.h"
#include "backend/rounding_kernels.h"
#include "core/buffer.h"
#include "core/context.h"
#include "learn/rounding.h"
#include "learn/rounding_init.h"
#include "quant/config.h"

namespace vqr::learn {

template <typename T>
class RelaxedRounding : public Rounding<T> {
 public:
  bool relaxed() const override { return true; }
  void hard_weights(T *Wq) override;
  void harden(quant::QuantizedLayer &out) override;

 protected:
  RelaxedRounding(const RoundingInit &init, double lr, int threads);
  // Every weight's current latent a (m x n).
  virtual void latents(T *A) const = 0;
  // The layer's constants for the kernels (pointing into bz_ and grid_).
  backend::RelaxedLayout<T> layout() const;

  int64_t m_, n_;
  int threads_;
  double lr_;
  ElementGrid<T> grid_;
  Buffer<T> bz_;  // base + zero, m x n
};

// AdaRound: one latent per weight, all trained. `be` makes the layer's kernels (float; double
// always computes on the CPU) and must outlive the rounding.
template <typename T>
std::unique_ptr<RelaxedRounding<T>> make_adaround(const RoundingInit &init, double lr, int threads,
                                                  backend::Backend &be = backend::cpu());

// VQRound: latents cut into D-vectors (row-major, zero-padded at the end), k-means codebook of
// K = min(codebook_size, vectors) codewords, fixed assignment; only the codebook is trained. The
// kernels come from backend_of(ctx).
struct VqStats {
  int64_t codebook_size = 0;  // K actually used
  int64_t vectors = 0;        // L
  double flip_rate = 0;       // share of weights whose initial decision the assignment changed
  double kmeans_seconds = 0;
  int kmeans_iterations = 0;
};
template <typename T>
std::unique_ptr<RelaxedRounding<T>> make_vqround(const RoundingInit &init, const quant::QuantConfig &config,
                                                 Context *ctx, int threads, VqStats *stats);

}  // namespace vqr::learn
