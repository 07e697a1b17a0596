// k-means (src/learn/kmeans.h) against a textbook Lloyd written here: nearest centroid by the
// exact squared distance in double (first index on ties), centroid = mean of its cluster, and the
// stopping rules of VQR_PARAM_KMEANS_ITERS / VQR_PARAM_KMEANS_TOL (spec vqround §1.4 step 5,
// §7.10). The library's seeds are taken from its own iters = 0 run; from there both must agree
// exactly: assignments, centroids bit for bit, iterations. Also: ties across the fused kernel's
// lanes and panels, and results independent of the thread count.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <vector>

#include "common/test_util.h"
#include "learn/kmeans.h"
#include "squared_distance.h"

namespace {

using kmeans_test::dist2;
using kmeans_test::norm2;

using vqr::learn::kmeans;
using vqr::learn::KMeansOptions;
using vqr::learn::KMeansResult;

// A point is "clear" when its nearest and second nearest centroid differ by more than this share
// of ||x||^2 + ||c||^2: the library compares ||c||^2 - 2 x.c in fp32, about 2 D + 1 roundings of
// at most 2^-24 of that scale each (17 x 6e-8 = 1e-6 for D = 8), so 4e-6 leaves a factor 4.
constexpr double kClearMargin = 4e-6;

struct Textbook {
  std::vector<float> centroids;
  std::vector<int32_t> assign;
  int iterations = 0;
  int64_t unclear = 0;  // assignments decided by less than kClearMargin (must stay 0)
};

// Nearest centroid of every vector: exact squared distance in double, strict <, so the first
// index wins a tie. Counts the vectors whose runner-up is within the margin (ties excepted: an
// exact tie is decided by the index rule, which both sides share).
std::vector<int32_t> textbook_assign(const std::vector<float> &x, int d, const std::vector<float> &c,
                                     int64_t *unclear) {
  const int64_t n = (int64_t)x.size() / d, k = (int64_t)c.size() / d;
  std::vector<int32_t> a((size_t)n);
  for (int64_t i = 0; i < n; ++i) {
    const float *xi = &x[(size_t)(i * d)];
    double best = std::numeric_limits<double>::infinity(), second = best;
    int64_t bj = 0;
    for (int64_t j = 0; j < k; ++j) {
      const double v = dist2(xi, &c[(size_t)(j * d)], d);
      if (v < best) {
        second = best;
        best = v;
        bj = j;
      } else if (v < second) {
        second = v;
      }
    }
    const double scale = norm2(xi, d) + norm2(&c[(size_t)(bj * d)], d);
    if (second != best && second - best <= kClearMargin * scale) ++*unclear;
    a[(size_t)i] = (int32_t)bj;
  }
  return a;
}

// Lloyd from the given seeds on all vectors (no sampling). Each iteration assigns; an unchanged
// assignment (after the first) is the fixed point and ends the run before the update; otherwise
// the centroids move to their cluster means (double sums in vector order, stored as float) and
// the run ends after that update when fewer than tol x n assignments changed. Finally every
// vector is assigned to the final centroids. No cluster may go empty (the data are chosen so).
Textbook textbook_lloyd(const std::vector<float> &x, int d, std::vector<float> seeds, int iters, double tol) {
  const int64_t n = (int64_t)x.size() / d, k = (int64_t)seeds.size() / d;
  Textbook tb;
  tb.centroids = std::move(seeds);
  std::vector<int32_t> prev;
  for (int it = 0; it < iters; ++it) {
    std::vector<int32_t> a = textbook_assign(x, d, tb.centroids, &tb.unclear);
    if (it > 0 && a == prev) break;
    int64_t changed = 0;
    for (int64_t i = 0; i < n && it > 0; ++i) changed += a[(size_t)i] != prev[(size_t)i];
    std::vector<double> sum((size_t)(k * d), 0.0);
    std::vector<int64_t> size((size_t)k, 0);
    for (int64_t i = 0; i < n; ++i) {
      ++size[(size_t)a[(size_t)i]];
      for (int t = 0; t < d; ++t) sum[(size_t)(a[(size_t)i] * d + t)] += x[(size_t)(i * d + t)];
    }
    for (int64_t j = 0; j < k; ++j) {
      EXPECT_GT(size[(size_t)j], 0) << "textbook: cluster " << j << " empty at iteration " << it;
      for (int t = 0; t < d && size[(size_t)j] > 0; ++t)
        tb.centroids[(size_t)(j * d + t)] = (float)(sum[(size_t)(j * d + t)] * (1.0 / (double)size[(size_t)j]));
    }
    prev = std::move(a);
    tb.iterations = it + 1;
    if (it > 0 && (double)changed < tol * (double)n) break;
  }
  tb.assign = textbook_assign(x, d, tb.centroids, &tb.unclear);
  return tb;
}

KMeansOptions options(int64_t k, int iters, double tol, int threads = 1) {
  KMeansOptions o;
  o.k = k;
  o.iters = iters;
  o.min_changed = tol;
  o.seed = 7;
  o.threads = threads;
  return o;
}

// Overlapping Gaussian blobs: Lloyd takes a few dozen iterations with a falling number of changed
// assignments, so every stopping rule has something to decide.
std::vector<float> blobs(uint64_t seed, int64_t count, int d, int centers) {
  vqrt::Rng rng(seed);
  const std::vector<float> mu = vqrt::normal_matrix(rng, centers, d, 3.0);
  std::vector<float> x((size_t)(count * d));
  for (int64_t i = 0; i < count; ++i)
    for (int t = 0; t < d; ++t) x[(size_t)(i * d + t)] = (float)(mu[(size_t)((i % centers) * d + t)] + rng.normal());
  return x;
}

// Runs the library with (iters, tol) and the textbook from the library's seeds; both must agree.
void expect_textbook(const std::vector<float> &x, int d, int64_t k, int iters, double tol) {
  const int64_t n = (int64_t)x.size() / d;
  const KMeansResult seeds = kmeans(x.data(), n, d, options(k, 0, 0), nullptr);
  const KMeansResult got = kmeans(x.data(), n, d, options(k, iters, tol), nullptr);
  const Textbook want = textbook_lloyd(x, d, seeds.centroids, iters, tol);
  ASSERT_EQ(want.unclear, 0) << "the data are not well separated enough for an exact comparison";
  EXPECT_EQ(got.iterations, want.iterations) << "iters " << iters << ", tol " << tol;
  EXPECT_TRUE(vqrt::vectors_equal("centroids", got.centroids, want.centroids, d)) << "iters " << iters << ", tol " << tol;
  EXPECT_TRUE(vqrt::vectors_equal("assign", got.assign, want.assign)) << "iters " << iters << ", tol " << tol;
  double inertia = 0.0;
  for (int64_t i = 0; i < n; ++i)
    inertia += dist2(&x[(size_t)(i * d)], &want.centroids[(size_t)(want.assign[(size_t)i] * d)], d);
  EXPECT_NEAR(got.inertia, inertia / (double)n, 1e-12 * inertia / (double)n);
}

// D = 8 (the method's width), K = 24 (one full panel of 16 centroids and a padded one).
TEST(KMeansTextbook, LloydMatchesExactly) {
  const std::vector<float> x = blobs(11, 1001, 8, 10);
  for (int iters : {1, 2, 7, 500}) expect_textbook(x, 8, 24, iters, 0.0);
}

// The tol rule: stop after the update of the first iteration (past the first) that changed fewer
// than tol x n assignments; larger tol never runs longer, and tol 0 runs to the fixed point.
TEST(KMeansTextbook, TolStoppingRule) {
  const int d = 8;
  const std::vector<float> x = blobs(12, 1001, d, 10);
  const int64_t n = (int64_t)x.size() / d;
  int previous = std::numeric_limits<int>::max();
  for (double tol : {0.0, 1e-3, 1e-2, 5e-2, 0.2}) {
    expect_textbook(x, d, 24, 500, tol);
    const KMeansResult r = kmeans(x.data(), n, d, options(24, 500, tol), nullptr);
    std::printf("tol %g: %d iterations\n", tol, r.iterations);
    EXPECT_LE(r.iterations, previous) << "tol " << tol;
    previous = r.iterations;
  }
  EXPECT_LT(previous, kmeans(x.data(), n, d, options(24, 500, 0.0), nullptr).iterations);
}

// Awkward widths: D = 3 and 5 (padded to 4 and 8 in the kernel), D = 13 (padded to 16), K = 7 and
// 37 (partial panels), a prime count (a short last row block).
TEST(KMeansTextbook, AwkwardShapesMatchExactly) {
  for (int d : {3, 5, 13})
    for (int64_t k : {7, 37}) {
      SCOPED_TRACE("d " + std::to_string(d) + ", k " + std::to_string(k));
      expect_textbook(blobs(13 + (uint64_t)d, 509, d, 9), d, k, 500, 0.0);
    }
}

// Exact ties: small integer coordinates make ||c||^2 - 2 x.c exact in fp32, and with K = count
// and iters = 0 every vector is a centroid, so each of the 5 distinct values appears as 40
// centroids spread over all lanes and panels; every vector must take the first of its copies.
TEST(KMeansTextbook, TiesAcrossLanesAndPanelsGoToLowestIndex) {
  for (int d : {8, 5}) {
    vqrt::Rng rng(31);
    std::vector<float> values((size_t)(5 * d));
    for (auto &v : values) v = (float)(int)(rng.uniform() * 9.0 - 4.0);
    std::vector<float> x;
    for (int i = 0; i < 200; ++i) {
      const int v = (int)(rng.uniform() * 5.0);
      x.insert(x.end(), &values[(size_t)(v * d)], &values[(size_t)(v * d)] + d);
    }
    const KMeansResult r = kmeans(x.data(), 200, d, options(200, 0, 0), nullptr);
    int64_t unclear = 0;
    EXPECT_TRUE(vqrt::vectors_equal("assign", r.assign, textbook_assign(x, d, r.centroids, &unclear))) << "d " << d;
    EXPECT_EQ(r.inertia, 0.0);
  }
}

// The result does not depend on the thread count: plain and sampled training, D 8 and 5.
TEST(KMeansTextbook, IndependentOfThreadCount) {
  for (int d : {8, 5}) {
    const std::vector<float> x = blobs(41, 20011, d, 20);
    for (int64_t sample : {int64_t(256), int64_t(100)}) {
      KMeansOptions o = options(67, 30, 0.0, 1);
      o.max_points_per_centroid = sample;
      const KMeansResult one = kmeans(x.data(), 20011, d, o, nullptr);
      for (int threads : {2, 3, 8}) {
        o.threads = threads;
        const KMeansResult many = kmeans(x.data(), 20011, d, o, nullptr);
        EXPECT_TRUE(vqrt::vectors_equal("centroids", many.centroids, one.centroids, d)) << threads << " threads";
        EXPECT_TRUE(vqrt::vectors_equal("assign", many.assign, one.assign)) << threads << " threads";
        EXPECT_EQ(many.iterations, one.iterations);
        EXPECT_EQ(many.inertia, one.inertia);
      }
    }
  }
}

}  // namespace
