// Shared helpers of the libvqround benchmarks: deterministic synthetic activations and weights,
// fp16/bf16 conversion, a wall clock, and the raw BLAS/LAPACK kernels that the performance targets
// compare against (DESIGN §4: figures are ratios to the machine's own ceiling, measured in the same run).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <vqround/vqround.h>

namespace benchmark {
class State;
}

namespace vqrbench {

// Dimension letters used throughout: n = input width (in_features), m = output rows
// (out_features), T = tokens in a batch, B = GPTQ block size, r = latent factors of the generator.

double now_seconds();  // monotonic wall clock

// xoshiro256** seeded through splitmix64: fast, deterministic across platforms.
class Rng {
 public:
  explicit Rng(uint64_t seed);
  uint64_t next();
  float uniform();  // [0, 1)
  float normal();   // approximately N(0, 1): Irwin-Hall sum of 4 uniforms, rescaled (bounded tails)

 private:
  uint64_t s_[4];
};

// Correlated, LLM-like activations: x_t = s .* (f_t M + 0.5 e_t) with r = 32 shared latent factors f_t,
// a fixed mixing matrix M (r x n), i.i.d. noise e_t and log-normal per-channel scales s (about 1% of
// the channels are 10x outliers, so diag(H) spreads and act-order has something to sort).
class ActivationGenerator {
 public:
  ActivationGenerator(int64_t n, uint64_t seed);
  // x: T x n row-major, overwritten with the next T tokens of the stream.
  void fill(float *x, int64_t tokens);

 private:
  int64_t n_;
  int64_t r_ = 32;
  std::vector<float> mix_;    // r x n
  std::vector<float> scale_;  // n
  std::vector<float> f_;      // T x r scratch
  Rng rng_;
};

// Adds `tokens` tokens of the correlated generator (seed `seed`) to h (width n), in chunks of 1024.
vqr_status add_generated_tokens(vqr_hessian *h, int64_t n, int64_t tokens, uint64_t seed);

// w: m x n row-major, overwritten with N(0, 0.02^2)-like weights plus 0.1% outliers of 10x.
void fill_weights(float *w, int64_t m, int64_t n, uint64_t seed);

uint16_t f32_to_f16(float x);   // IEEE binary16, round to nearest even
uint16_t f32_to_bf16(float x);  // bfloat16, round to nearest even (finite inputs)

// --- the reference kernels (OpenBLAS / LAPACKE, whatever thread count OpenBLAS uses) ---------------

// c: n x n row-major, upper triangle += x^T x; x: T x n row-major. Cost n^2 T flops.
void ref_ssyrk(float *c, const float *x, int64_t n, int64_t tokens);
// a: n x n symmetric positive definite, overwritten by its Cholesky factor (LAPACK_COL_MAJOR 'L',
// i.e. the upper triangle in row-major terms). Cost n^3 / 3 flops. Returns the LAPACK info.
int ref_spotrf(float *a, int64_t n);
// a: n x n, the factor from ref_spotrf, overwritten by its inverse. Cost n^3 / 3 flops.
int ref_strtri(float *a, int64_t n);
// The cross-block ("lazy") updates of the GPTQ sweep, spec gptq §1.4: for each block [i1, i2) of B
// columns, W[:, i2:] -= Err (m x B) * U[i1:i2, i2:]. w: m x n row-major (+= ...), err: m x B,
// u: n x n row-major (read). Cost about m n^2 flops.
void ref_cross_block_gemms(float *w, const float *err, const float *u, int64_t m, int64_t n, int64_t block);
double cross_block_gemm_flops(int64_t m, int64_t n, int64_t block);

// Calls SkipWithError with "what: status string: last error" and returns false when st != VQR_OK.
bool check(benchmark::State &state, vqr_status st, const char *what);

// One shared context (default settings: all cores) for the whole process.
vqr_context *shared_context();

}  // namespace vqrbench
