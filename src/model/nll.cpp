// Sequence NLL from logits (log-sum-exp with the row maximum subtracted, in double).
#include "model/nll.h"

#include <cmath>

namespace vqr::model {

double sequence_nll(const float *logits, const int32_t *tokens, int64_t n, int64_t vocab, int64_t *predicted) {
  double total = 0.0;
  for (int64_t t = 0; t + 1 < n; ++t) {
    const float *row = logits + t * vocab;
    double max_val = row[0];
    for (int64_t i = 1; i < vocab; ++i) max_val = std::fmax(max_val, static_cast<double>(row[i]));
    double sum = 0.0;
    for (int64_t i = 0; i < vocab; ++i) sum += std::exp(static_cast<double>(row[i]) - max_val);
    total += (max_val + std::log(sum)) - static_cast<double>(row[tokens[t + 1]]);
  }
  if (predicted) *predicted = n > 1 ? n - 1 : 0;
  return total;
}

}  // namespace vqr::model
