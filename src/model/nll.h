// Negative log-likelihood of a token sequence under the logits of a forward pass: the scoring
// rule of the reference NLL files (log_softmax in double, token t+1 scored from position t).
#pragma once

#include <cstdint>

namespace vqr::model {

// Sum over t in [0, n-1) of -log softmax(logits[t])[tokens[t+1]], accumulated in double (the
// exponentials by core/vector_exp.h in double, a few ulps, summed in 8 fixed lanes).
// logits: n x vocab row-major. Returns 0 for n < 2; *predicted (may be NULL) gets max(n - 1, 0).
// threads: OpenMP threads over the positions (>= 1): each position's term is computed alone and
// the terms are added in position order, so the result does not depend on it.
double sequence_nll(const float *logits, const int32_t *tokens, int64_t n, int64_t vocab, int64_t *predicted,
                    int threads = 1);

// The same sum (exps in float by core/vector_exp.h, summed in double) and its gradient for the
// backward pass: dlogits (n x vocab, overwritten) = softmax(z_t) - onehot(tokens[t+1]) for t < n-1,
// 0 on the last row.
double nll_loss_and_gradient(const float *logits, const int32_t *tokens, int64_t T, int64_t vocab, float *dlogits);

}  // namespace vqr::model
