// Sequence NLL from logits (log-sum-exp with the row maximum subtracted, in double).
#include "model/nll.h"

#include <cmath>
#include <vector>

namespace vqr::model {

namespace {

// Below this many logits one thread scores them: waking a team costs more than it saves.
constexpr int64_t kMinParallelLogits = int64_t{1} << 16;

// -log softmax(row)[target] = (max + log sum exp(row - max)) - row[target], in double.
double token_nll(const float *row, int64_t vocab, int32_t target) {
  // The maximum by comparison rather than std::fmax (a library call per logit): the same value for
  // finite logits; with a NaN logit the result is NaN either way (the sum below takes exp(NaN)).
  double max_val = row[0];
  for (int64_t i = 1; i < vocab; ++i)
    if (static_cast<double>(row[i]) > max_val) max_val = row[i];
  double sum = 0.0;
  for (int64_t i = 0; i < vocab; ++i) sum += std::exp(static_cast<double>(row[i]) - max_val);
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

}  // namespace vqr::model
