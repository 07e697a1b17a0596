// The pipeline's phase events as progress reports (pipeline/phase_progress.h): what a progress
// callback receives, unthrottled; cancellation by the callback or by the context's flag; no
// context, no reports. The "model" stage's own reports keep seconds NaN.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "core/error.h"
#include "pipeline/phase_progress.h"

namespace vqr::pipeline {
namespace {

struct Seen {
  std::string stage;
  int64_t done, total;
  double elapsed, seconds;
};

TEST(PhaseProgress, EveryEventReachesTheCallbackWithItsBlockAndDuration) {
  Context ctx;
  std::vector<Seen> seen;
  ctx.progress_fn = [&](const ProgressInfo &p) {
    seen.push_back({p.stage, p.done, p.total, p.elapsed_seconds, p.seconds});
    return 0;
  };
  const auto report = phase_progress(&ctx);
  // Back to back, faster than Progress's 100 ms throttle: none may be dropped.
  const char *const phases[] = {"load", "forward", "hessian", "sweep"};
  for (int block = 0; block < 3; ++block)
    for (int i = 0; i < 4; ++i) report(PhaseEvent{block, 3, phases[i], 0.25 * (i + 1)});
  ASSERT_EQ(seen.size(), 12u);
  for (size_t k = 0; k < seen.size(); ++k) {
    EXPECT_EQ(seen[k].stage, phases[k % 4]);
    EXPECT_EQ(seen[k].done, (int64_t)(k / 4) + 1);
    EXPECT_EQ(seen[k].total, 3);
    EXPECT_EQ(seen[k].seconds, 0.25 * (double)(k % 4 + 1));
    EXPECT_GE(seen[k].elapsed, 0.0);
    if (k > 0) {
      EXPECT_GE(seen[k].elapsed, seen[k - 1].elapsed);
    }
  }
}

TEST(PhaseProgress, CallbackReturningNonZeroCancels) {
  Context ctx;
  ctx.progress_fn = [](const ProgressInfo &p) { return std::string(p.stage) == "hessian" ? 1 : 0; };
  const auto report = phase_progress(&ctx);
  EXPECT_NO_THROW(report(PhaseEvent{0, 2, "forward", 0.1}));
  try {
    report(PhaseEvent{0, 2, "hessian", 0.1});
    FAIL() << "no cancellation";
  } catch (const Error &e) {
    EXPECT_EQ(e.status(), Status::Cancelled);
    EXPECT_NE(std::string(e.what()).find("hessian"), std::string::npos) << e.what();
  }
}

TEST(PhaseProgress, ContextCancelStopsAtTheNextEventOnce) {
  Context ctx;  // no callback: the flag alone cancels
  const auto report = phase_progress(&ctx);
  ctx.cancel_requested = true;
  EXPECT_THROW(report(PhaseEvent{1, 2, "sweep", 0.0}), Error);
  EXPECT_FALSE(ctx.cancel_requested.load());  // one cancel stops exactly one call
  EXPECT_NO_THROW(report(PhaseEvent{1, 2, "sweep", 0.0}));
}

TEST(PhaseProgress, NullContextReportsNothing) {
  const auto report = phase_progress(nullptr);
  EXPECT_NO_THROW(report(PhaseEvent{0, 1, "load", 1.0}));
}

TEST(PhaseProgress, StageReportsOfProgressKeepSecondsNaN) {
  Context ctx;
  std::vector<double> seconds;
  ctx.progress_fn = [&](const ProgressInfo &p) {
    seconds.push_back(p.seconds);
    return 0;
  };
  Progress progress(&ctx, "model", 7);
  progress.checkpoint(7, true);
  ASSERT_EQ(seconds.size(), 2u);  // the constructor's 0 and the forced 7
  for (double s : seconds) EXPECT_TRUE(std::isnan(s));
}

}  // namespace
}  // namespace vqr::pipeline
