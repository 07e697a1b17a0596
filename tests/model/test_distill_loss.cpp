// The distillation loss (model/distill_loss.h) against textbook formulas written here in double:
// the teacher's top-k (order, ties, log-probabilities, rest mass), the full KL at k = vocab, the
// coarsened KL below the full one for k < vocab, zero loss and gradient for a student equal to the
// teacher, the gradient against central differences, and argument errors.
#include <gtest/gtest.h>

#include "common/error_status.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "core/error.h"
#include "model/distill_loss.h"

namespace {

using vqr::model::TeacherTopK;

std::vector<float> random_logits(int64_t rows, int64_t vocab, uint32_t seed, float scale) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, scale);
  std::vector<float> z((size_t)(rows * vocab));
  for (float &v : z) v = nd(rng);
  return z;
}

// log softmax(z / tau) of one row, in double.
std::vector<double> log_softmax(const float *z, int64_t vocab, double tau) {
  double mx = -INFINITY, sum = 0;
  for (int64_t i = 0; i < vocab; ++i) mx = std::max(mx, z[i] / tau);
  for (int64_t i = 0; i < vocab; ++i) sum += std::exp(z[i] / tau - mx);
  std::vector<double> out((size_t)vocab);
  for (int64_t i = 0; i < vocab; ++i) out[(size_t)i] = z[i] / tau - mx - std::log(sum);
  return out;
}

// tau^2 sum_rows KL(softmax(t / tau) || softmax(s / tau)), full vocabulary, in double.
double full_kl(const std::vector<float> &teacher, const std::vector<float> &student, int64_t rows, int64_t vocab,
               double tau) {
  double total = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const auto lp = log_softmax(&teacher[(size_t)(r * vocab)], vocab, tau);
    const auto lq = log_softmax(&student[(size_t)(r * vocab)], vocab, tau);
    for (int64_t i = 0; i < vocab; ++i) total += std::exp(lp[(size_t)i]) * (lp[(size_t)i] - lq[(size_t)i]);
  }
  return tau * tau * total;
}

TEST(DistillLoss, TeacherTopKOrderTiesAndMass) {
  const int64_t V = 50, k = 7;
  std::vector<float> z = random_logits(3, V, 1, 2.0f);
  z[10] = z[20] = z[30] = 9.0f;  // a three-way tie at the top of row 0: ids 10, 20, 30 in that order
  const TeacherTopK t = vqr::model::teacher_topk(z.data(), 3, V, k, 2.0f);
  EXPECT_EQ(t.ids[0], 10);
  EXPECT_EQ(t.ids[1], 20);
  EXPECT_EQ(t.ids[2], 30);
  for (int64_t r = 0; r < 3; ++r) {
    const auto lp = log_softmax(&z[(size_t)(r * V)], V, 2.0);
    std::vector<int32_t> want((size_t)V);
    for (int32_t i = 0; i < V; ++i) want[(size_t)i] = i;
    std::stable_sort(want.begin(), want.end(), [&](int32_t a, int32_t b) { return lp[(size_t)a] > lp[(size_t)b]; });
    double top = 0;
    for (int64_t j = 0; j < k; ++j) {
      const int32_t id = t.ids[(size_t)(r * k + j)];
      EXPECT_EQ(id, want[(size_t)j]) << "row " << r << " rank " << j;
      EXPECT_NEAR(t.logp[(size_t)(r * k + j)], lp[(size_t)id], 1e-6);
      top += std::exp(lp[(size_t)id]);
    }
    EXPECT_NEAR(std::exp((double)t.rest_logp[(size_t)r]), 1.0 - top, 1e-6) << "row " << r;
  }
  const TeacherTopK all = vqr::model::teacher_topk(z.data(), 3, V, V, 2.0f);
  EXPECT_TRUE(std::isinf(all.rest_logp[0]) && all.rest_logp[0] < 0) << "no rest when k = vocab";
}

TEST(DistillLoss, FullVocabularyIsTheKlAndItsGradient) {
  const int64_t R = 4, V = 64;
  const double tau = 2.0;
  const std::vector<float> zt = random_logits(R, V, 2, 3.0f), zs = random_logits(R, V, 3, 3.0f);
  const TeacherTopK t = vqr::model::teacher_topk(zt.data(), R, V, V, (float)tau);
  std::vector<float> grad((size_t)(R * V));
  const double loss = vqr::model::distill_loss_and_gradient(zs.data(), R, V, t, grad.data());
  const double want = full_kl(zt, zs, R, V, tau);
  std::printf("k = vocab: loss %.12f, textbook %.12f\n", loss, want);
  // Teacher log-probs are stored as float: each p log p term moves by ~u relative.
  EXPECT_NEAR(loss, want, 1e-6 * std::max(1.0, want));
  for (int64_t r = 0; r < R; ++r) {
    const auto lp = log_softmax(&zt[(size_t)(r * V)], V, tau), lq = log_softmax(&zs[(size_t)(r * V)], V, tau);
    for (int64_t i = 0; i < V; ++i)
      EXPECT_NEAR(grad[(size_t)(r * V + i)], tau * (std::exp(lq[(size_t)i]) - std::exp(lp[(size_t)i])), 1e-6);
  }
}

TEST(DistillLoss, TruncatedTeacherBoundsAndFiniteDifferences) {
  const int64_t R = 3, V = 40;
  const double tau = 1.5;
  const std::vector<float> zt = random_logits(R, V, 4, 2.0f);
  std::vector<float> zs = random_logits(R, V, 5, 2.0f);
  const double full = full_kl(zt, zs, R, V, tau);
  double previous = -1;
  for (int64_t k : {1, 5, 20, 39, 40}) {
    const TeacherTopK t = vqr::model::teacher_topk(zt.data(), R, V, k, (float)tau);
    std::vector<float> grad((size_t)(R * V));
    const double loss = vqr::model::distill_loss_and_gradient(zs.data(), R, V, t, grad.data());
    std::printf("k %2lld: coarsened KL %.9f (full %.9f)\n", (long long)k, loss, full);
    EXPECT_LE(loss, full * (1 + 1e-6)) << "the coarsened KL never exceeds the full one";
    EXPECT_GE(loss, previous * (1 - 1e-6)) << "a finer coarsening measures at least as much";
    previous = loss;
    // Central differences of the loss in each student logit: the loss is a smooth function of the
    // float logits computed in double, so h = 1e-2 leaves an O(h^2) ~ 1e-5 relative error.
    std::vector<float> scratch(grad.size());
    double worst = 0, scale = 0;
    for (int64_t i = 0; i < R * V; i += 7) {
      const float keep = zs[(size_t)i];
      zs[(size_t)i] = keep + 0.01f;
      const double up = vqr::model::distill_loss_and_gradient(zs.data(), R, V, t, scratch.data());
      zs[(size_t)i] = keep - 0.01f;
      const double down = vqr::model::distill_loss_and_gradient(zs.data(), R, V, t, scratch.data());
      zs[(size_t)i] = keep;
      const double h = ((double)(keep + 0.01f) - (double)(keep - 0.01f));
      const double fd = (up - down) / h;
      worst = std::max(worst, std::fabs(fd - grad[(size_t)i]));
      scale = std::max(scale, std::fabs(fd));
    }
    EXPECT_GT(scale, 1e-3);
    EXPECT_LE(worst, 1e-3 * scale) << "k " << k;
  }
}

TEST(DistillLoss, StudentEqualToTeacherCostsNothing) {
  const int64_t R = 2, V = 30;
  const std::vector<float> z = random_logits(R, V, 6, 2.0f);
  for (int64_t k : {3, 30}) {
    const TeacherTopK t = vqr::model::teacher_topk(z.data(), R, V, k, 2.0f);
    std::vector<float> grad((size_t)(R * V));
    const double loss = vqr::model::distill_loss_and_gradient(z.data(), R, V, t, grad.data());
    EXPECT_NEAR(loss, 0.0, 1e-6);
    for (float g : grad) EXPECT_NEAR(g, 0.0f, 1e-6);
  }
}

TEST(DistillLoss, RejectsBadArguments) {
  const std::vector<float> z = random_logits(2, 10, 7, 1.0f);
  EXPECT_EQ(vqr_test::status_of([&] { vqr::model::teacher_topk(z.data(), 2, 10, 0, 2.0f); }), vqr::Status::InvalidArgument);
  EXPECT_EQ(vqr_test::status_of([&] { vqr::model::teacher_topk(z.data(), 2, 10, 11, 2.0f); }), vqr::Status::InvalidArgument);
  EXPECT_EQ(vqr_test::status_of([&] { vqr::model::teacher_topk(z.data(), 2, 10, 3, 0.0f); }), vqr::Status::InvalidArgument);
  EXPECT_EQ(vqr_test::status_of([&] { vqr::model::teacher_topk(z.data(), 2, 10, 3, NAN); }), vqr::Status::InvalidArgument);
  const TeacherTopK t = vqr::model::teacher_topk(z.data(), 2, 10, 3, 2.0f);
  std::vector<float> grad(20);
  EXPECT_EQ(vqr_test::status_of([&] { vqr::model::distill_loss_and_gradient(z.data(), 1, 10, t, grad.data()); }),
            vqr::Status::InvalidArgument);
}

}  // namespace
