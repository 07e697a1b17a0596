// Sequence NLL from logits (log-sum-exp with the row maximum subtracted, in double).
#include "model/nll.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/sanitizer.h"
#include "core/vector_exp.h"

namespace vqr::model {

namespace {

// Below this many logits one thread scores them: waking a team costs more than it saves.
constexpr int64_t kMinParallelLogits = int64_t{1} << 16;

// Lanes of the exp sum: fixed, so the result does not depend on the vector width the compiler or
// the CPU offers (8 doubles = one AVX-512 register, two AVX2 ones).
constexpr int64_t kLanes = 8;
// Exponentials computed per pass of the sum (a multiple of kLanes; 4 KB of stack).
constexpr int64_t kExpChunk = 512;

// -log softmax(row)[target] = (max + log sum exp(row - max)) - row[target], in double. The sum is
// kLanes strided partial sums (lane l takes i = l mod kLanes, in order) added pairwise, then the
// tail in order; exp is vqr::exp_nonpositive (a few ulps, vectorized), every argument <= 0.
// Compiled for AVX-512, AVX2 and baseline x86-64, chosen at load time: the same bits on each.
VQR_TARGET_CLONES
double token_nll(const float *row, int64_t vocab, int32_t target) {
  // The maximum by comparison: the same value in any order for finite logits; with a NaN logit the
  // result is NaN either way (the sum below takes exp(NaN)).
  float max_f = row[0];
#pragma omp simd reduction(max : max_f)
  for (int64_t i = 1; i < vocab; ++i) max_f = row[i] > max_f ? row[i] : max_f;
  const double max_val = max_f;
  // The exponentials a chunk at a time into a buffer (one long simd loop: a loop of kLanes
  // iterations gets unrolled before it is vectorized, and the selects then stay scalar), then the
  // chunk into the lanes.
  double lane[kLanes] = {}, chunk[kExpChunk];
  const int64_t body = vocab - vocab % kLanes;
  for (int64_t i0 = 0; i0 < body; i0 += kExpChunk) {
    const int64_t len = std::min(kExpChunk, body - i0);  // a multiple of kLanes
#pragma omp simd
    for (int64_t i = 0; i < len; ++i) chunk[i] = exp_nonpositive(static_cast<double>(row[i0 + i]) - max_val);
    for (int64_t i = 0; i < len; i += kLanes)
      for (int64_t l = 0; l < kLanes; ++l) lane[l] += chunk[i + l];
  }
  double sum = ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
  for (int64_t i = body; i < vocab; ++i) sum += exp_nonpositive(static_cast<double>(row[i]) - max_val);
  return (max_val + std::log(sum)) - static_cast<double>(row[target]);
}

}  // namespace

double sequence_nll(const float *logits, const int32_t *tokens, int64_t n, int64_t vocab, int64_t *predicted,
                    int threads) {
  if (predicted) *predicted = n > 1 ? n - 1 : 0;
  if (n < 2) return 0.0;
  std::vector<double> terms(static_cast<size_t>(n - 1));
#pragma omp parallel for num_threads(threads) schedule(static) if ((n - 1) * vocab >= kMinParallelLogits)
  for (int64_t t = 0; t < n - 1; ++t) terms[static_cast<size_t>(t)] = token_nll(logits + t * vocab, vocab, tokens[t + 1]);
  double total = 0.0;
  for (double term : terms) total += term;
  return total;
}

double nll_loss_and_gradient(const float *logits, const int32_t *tokens, int64_t T, int64_t vocab, float *dlogits) {
  double total = 0;
  for (int64_t t = 0; t < T; ++t) {
    const float *z = logits + t * vocab;
    float *dz = dlogits + t * vocab;
    if (t + 1 >= T) {
      std::fill(dz, dz + vocab, 0.0f);
      continue;
    }
    float mx = z[0];
#pragma omp simd reduction(max : mx)
    for (int64_t i = 1; i < vocab; ++i) mx = z[i] > mx ? z[i] : mx;
    // exp(z - mx) into dz first (a vectorized exp, core/vector_exp.h), summed in double; then
    // softmax = exp(z - mx) / sum, minus the one-hot target.
#pragma omp simd
    for (int64_t i = 0; i < vocab; ++i) dz[i] = exp_nonpositive(z[i] - mx);
    double sum = 0;
    for (int64_t i = 0; i < vocab; ++i) sum += dz[i];
    const int32_t y = tokens[t + 1];
    total += (double)mx + std::log(sum) - z[y];
    const float inv = (float)(1.0 / sum);
#pragma omp simd
    for (int64_t i = 0; i < vocab; ++i) dz[i] *= inv;
    dz[y] -= 1.0f;
  }
  return total;
}

}  // namespace vqr::model
