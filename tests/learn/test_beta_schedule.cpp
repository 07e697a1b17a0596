// The regularizer's beta schedules (learn/trainer.h beta_at, regularizer_on) against the formulas
// written out here from the specs: VQRound's hold-then-linear (spec vqround §1.7: 20 while
// t <= 0.1 T, then 20 - 18 t / T, so it jumps to 18.2 right after the hold), AIMET's cosine and
// BRECQ's linear after the warm-up (spec learned_rounding §3.3), and the final hold that runs a
// schedule over the first (1 - f) of the steps and then stays at the end value.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "learn/trainer.h"

namespace {

using vqr::learn::beta_at;
using vqr::learn::regularizer_on;
using vqr::learn::TrainSchedule;
using vqr::quant::BetaSchedule;

TrainSchedule schedule(BetaSchedule kind, int64_t steps, double warmup, double final_hold) {
  TrainSchedule s;
  s.steps = steps;
  s.beta_schedule = kind;
  s.warmup = warmup;
  s.beta_start = 20;
  s.beta_end = 2;
  s.beta_hold = 0.1;
  s.final_hold = final_hold;
  s.reg_weight = 0.01;
  return s;
}

TEST(BetaSchedule, HoldLinearIsTheReferences) {
  const TrainSchedule s = schedule(BetaSchedule::HoldLinear, 5000, 0.1, 0);
  EXPECT_EQ(beta_at(s, 0), 20.0);
  EXPECT_EQ(beta_at(s, 500), 20.0);
  EXPECT_DOUBLE_EQ(beta_at(s, 501), 20.0 - 18.0 * 501 / 5000);  // the jump to ~18.2
  EXPECT_DOUBLE_EQ(beta_at(s, 2500), 11.0);
  EXPECT_DOUBLE_EQ(beta_at(s, 5000), 2.0);
  EXPECT_FALSE(regularizer_on(s, 499));
  EXPECT_TRUE(regularizer_on(s, 500));
}

TEST(BetaSchedule, CosineAndLinearAfterTheWarmup) {
  const TrainSchedule c = schedule(BetaSchedule::Cosine, 1000, 0.2, 0), l = schedule(BetaSchedule::Linear, 1000, 0.2, 0);
  for (int64_t t : {0, 100, 200, 300, 600, 999, 1000}) {
    const double r = std::clamp((t - 200.0) / 800.0, 0.0, 1.0);
    EXPECT_NEAR(beta_at(c, t), 2 + 9 * (1 + std::cos(M_PI * r)), 1e-12) << t;
    EXPECT_NEAR(beta_at(l, t), 2 + 18 * (1 - r), 1e-12) << t;
  }
}

TEST(BetaSchedule, FinalHoldCompressesTheScheduleAndHoldsTheEnd) {
  for (BetaSchedule kind : {BetaSchedule::HoldLinear, BetaSchedule::Cosine, BetaSchedule::Linear}) {
    const TrainSchedule held = schedule(kind, 1000, 0.1, 0.2), plain = schedule(kind, 800, 0.1, 0);
    for (int64_t t = 0; t <= 800; t += 40) EXPECT_DOUBLE_EQ(beta_at(held, t), beta_at(plain, t)) << t;
    for (int64_t t = 800; t <= 1000; t += 25) EXPECT_DOUBLE_EQ(beta_at(held, t), 2.0) << t;
    // The regularizer still starts after the warm-up share of all the steps.
    EXPECT_FALSE(regularizer_on(held, 99));
    EXPECT_TRUE(regularizer_on(held, 100));
  }
}

}  // namespace
