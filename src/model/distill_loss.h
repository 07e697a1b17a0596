// The distillation loss of end-to-end VQRound (issue 17 items 2-3, spec vqround §3 step 4): the
// teacher's distribution at temperature tau, kept compactly as its top k tokens per position plus
// the log of the mass of the rest, and tau^2 KL(teacher || student) summed over every position
// (the reference's "batchmean" of one sequence: no per-token mean, no shift).
//
// With the teacher truncated to k tokens, the KL is taken between the two distributions coarsened
// to {the teacher's k tokens, everything else}:
//   KL = sum_{i in K} p_i (log p_i - log q_i) + p_rest (log p_rest - log q_rest),
//   q = softmax(z / tau), q_rest = 1 - sum_{i in K} q_i.
// By the chain rule of KL this is the full KL minus the rest's internal term, so it equals the full
// KL when k = vocab and never exceeds it; its gradient is exact for what it measures:
//   d(tau^2 KL)/dz_j = tau (q_j - pt_j),  pt_j = p_j for j in K, p_rest q_j / q_rest otherwise.
#pragma once

#include <cstdint>
#include <vector>

namespace vqr::model {

// The teacher of one sequence: for each of `tokens` positions, the k token ids of largest
// probability (descending; ties to the lower id) with their log-probabilities log softmax(z /
// temperature), and the log of the remaining mass (-inf when k = vocab).
struct TeacherTopK {
  int64_t tokens = 0, k = 0, vocab = 0;
  float temperature = 2.0f;
  std::vector<int32_t> ids;    // tokens x k
  std::vector<float> logp;     // tokens x k
  std::vector<float> rest_logp;  // tokens
};

// From teacher logits (tokens x vocab). Sums in double. Throws vqr::Error(Status::InvalidArgument)
// for k outside [1, vocab], temperature not positive and finite, tokens < 1, a NULL pointer.
TeacherTopK teacher_topk(const float *logits, int64_t tokens, int64_t vocab, int64_t k, float temperature);

// tau^2 KL(teacher || student) over all positions for the student's logits (tokens x vocab, the
// teacher's shape), and its gradient dL/dlogits (tokens x vocab, overwritten). Throws
// vqr::Error(Status::InvalidArgument) when the shapes differ.
double distill_loss_and_gradient(const float *logits, int64_t tokens, int64_t vocab, const TeacherTopK &teacher,
                                 float *dlogits);

}  // namespace vqr::model
