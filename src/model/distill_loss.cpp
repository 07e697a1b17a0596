// Teacher top-k and the coarsened distillation KL (distill_loss.h). Per position in double: the
// scaled logits u = z / tau, their log-sum-exp over all tokens and over the tokens outside the
// teacher's k (vector_exp.h for the exps, every argument <= 0).
#include "model/distill_loss.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>

#include "core/error.h"
#include "core/vector_exp.h"

namespace vqr::model {

namespace {

constexpr double kMinusInf = -std::numeric_limits<double>::infinity();

// log sum exp(u_i) over i in [0, n) with skip[i] == 0 (all when skip is NULL); -inf for none.
double log_sum_exp(const double *u, int64_t n, const char *skip) {
  double mx = kMinusInf;
  for (int64_t i = 0; i < n; ++i)
    if (!(skip && skip[i]) && u[i] > mx) mx = u[i];
  if (mx == kMinusInf) return kMinusInf;
  double sum = 0;
  for (int64_t i = 0; i < n; ++i)
    if (!(skip && skip[i])) sum += exp_nonpositive(u[i] - mx);
  return mx + std::log(sum);
}

void scale_row(double *u, const float *z, int64_t n, double inv_t) {
  for (int64_t i = 0; i < n; ++i) u[i] = (double)z[i] * inv_t;
}

}  // namespace

TeacherTopK teacher_topk(const float *logits, int64_t tokens, int64_t vocab, int64_t k, float temperature) {
  require(logits != nullptr && tokens >= 1 && vocab >= 1, Status::InvalidArgument, "teacher: no logits");
  require(k >= 1 && k <= vocab, Status::InvalidArgument,
          "teacher: top-k " + std::to_string(k) + " is outside [1, vocab " + std::to_string(vocab) + "]");
  require(temperature > 0 && std::isfinite(temperature), Status::InvalidArgument,
          "teacher: the temperature must be positive and finite");
  TeacherTopK t;
  t.tokens = tokens, t.k = k, t.vocab = vocab, t.temperature = temperature;
  t.ids.resize((size_t)(tokens * k));
  t.logp.resize((size_t)(tokens * k));
  t.rest_logp.resize((size_t)tokens);
  std::vector<double> u((size_t)vocab);
  std::vector<int32_t> order((size_t)vocab);
  std::vector<char> taken((size_t)vocab, 0);
  for (int64_t r = 0; r < tokens; ++r) {
    scale_row(u.data(), logits + r * vocab, vocab, 1.0 / (double)temperature);
    const double lse = log_sum_exp(u.data(), vocab, nullptr);
    std::iota(order.begin(), order.end(), 0);
    std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int32_t a, int32_t b) {
      return u[(size_t)a] > u[(size_t)b] || (u[(size_t)a] == u[(size_t)b] && a < b);
    });
    for (int64_t j = 0; j < k; ++j) {
      const int32_t id = order[(size_t)j];
      t.ids[(size_t)(r * k + j)] = id;
      t.logp[(size_t)(r * k + j)] = (float)(u[(size_t)id] - lse);
      taken[(size_t)id] = 1;
    }
    t.rest_logp[(size_t)r] = (float)(log_sum_exp(u.data(), vocab, taken.data()) - lse);
    for (int64_t j = 0; j < k; ++j) taken[(size_t)order[(size_t)j]] = 0;
  }
  return t;
}

double distill_loss_and_gradient(const float *logits, int64_t tokens, int64_t vocab, const TeacherTopK &teacher,
                                 float *dlogits) {
  require(logits != nullptr && dlogits != nullptr, Status::InvalidArgument, "distillation: NULL logits");
  require(tokens == teacher.tokens && vocab == teacher.vocab, Status::InvalidArgument,
          "distillation: the student's " + std::to_string(tokens) + " x " + std::to_string(vocab) +
              " logits do not match the teacher's " + std::to_string(teacher.tokens) + " x " +
              std::to_string(teacher.vocab));
  const double tau = teacher.temperature, inv_t = 1.0 / tau;
  const int64_t k = teacher.k;
  std::vector<double> u((size_t)vocab);
  std::vector<char> in_k((size_t)vocab, 0);
  double total = 0;
  for (int64_t r = 0; r < tokens; ++r) {
    scale_row(u.data(), logits + r * vocab, vocab, inv_t);
    const int32_t *ids = teacher.ids.data() + r * k;
    const float *lp = teacher.logp.data() + r * k;
    for (int64_t j = 0; j < k; ++j) in_k[(size_t)ids[j]] = 1;
    const double lse = log_sum_exp(u.data(), vocab, nullptr);
    const double log_q_rest = k < vocab ? log_sum_exp(u.data(), vocab, in_k.data()) - lse : kMinusInf;
    const double log_p_rest = teacher.rest_logp[(size_t)r], p_rest = std::exp(log_p_rest);
    double kl = 0;
    for (int64_t j = 0; j < k; ++j) kl += std::exp((double)lp[j]) * ((double)lp[j] - (u[(size_t)ids[j]] - lse));
    if (p_rest > 0) kl += p_rest * (log_p_rest - log_q_rest);
    total += tau * tau * kl;
    // dz_j = tau (q_j - pt_j): pt_j = p_rest q_j / q_rest outside K, p_j inside.
    const double rest_ratio = p_rest > 0 && log_q_rest > kMinusInf ? std::exp(log_p_rest - log_q_rest) : 0.0;
    float *dz = dlogits + r * vocab;
    for (int64_t i = 0; i < vocab; ++i) {
      const double q = exp_nonpositive(u[(size_t)i] - lse);
      dz[i] = (float)(tau * (in_k[(size_t)i] ? q : q * (1.0 - rest_ratio)));
    }
    for (int64_t j = 0; j < k; ++j) {
      dz[ids[j]] -= (float)(tau * std::exp((double)lp[j]));
      in_k[(size_t)ids[j]] = 0;
    }
  }
  return total;
}

}  // namespace vqr::model
