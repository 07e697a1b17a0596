// k-means (src/learn/kmeans.h) against properties checked by brute force in double here: the
// Lloyd fixed point (centroid = mean of its cluster, every vector at its nearest centroid), blob
// recovery, sampling and determinism, the sign-consistent assignment rule, empty-cluster
// splitting, argument checks, the iteration count and cancellation.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <set>
#include <vector>

#include "common/test_util.h"
#include "core/context.h"
#include "core/error.h"
#include "learn/kmeans.h"
#include "squared_distance.h"

namespace {

using kmeans_test::dist2;
using kmeans_test::norm2;

using vqr::learn::kmeans;
using vqr::learn::KMeansOptions;
using vqr::learn::KMeansResult;

// Tolerances. The library picks the nearest centroid through ||c||^2 - 2 x.c in fp32, which can
// misorder centroids whose squared distances differ by a few ulps of ||x||^2 + ||c||^2 (faiss
// does the same); the data here have norms of order 10, so a relative 1e-5 of the squared
// distance plus an absolute 1e-5 of the squared norms covers that rounding with margin.
constexpr double kNearestRtol = 1e-5;
constexpr double kNearestAtolPerNorm = 1e-5;
// A centroid is a float rounding of a double mean: relative 2^-24 per coordinate; 1e-6 relative
// plus 1e-6 absolute leaves margin.
constexpr double kMeanRtol = 1e-6;
constexpr double kMeanAtol = 1e-6;

uint32_t pattern(const float *v, int d) {
  uint32_t p = 0;
  for (int t = 0; t < d; ++t)
    if (v[t] >= 0.0f) p |= 1u << t;
  return p;
}

int hamming(uint32_t a, uint32_t b) {
  int h = 0;
  for (uint32_t v = a ^ b; v; v &= v - 1) ++h;
  return h;
}

// Shape checks shared by every test: sizes, finite centroids, assignments in range.
::testing::AssertionResult well_formed(const KMeansResult &r, int64_t count, int d, int64_t k) {
  if ((int64_t)r.centroids.size() != k * d)
    return ::testing::AssertionFailure() << "centroids size " << r.centroids.size() << ", want " << k * d;
  if ((int64_t)r.assign.size() != count)
    return ::testing::AssertionFailure() << "assign size " << r.assign.size() << ", want " << count;
  for (size_t i = 0; i < r.centroids.size(); ++i)
    if (!std::isfinite(r.centroids[i]))
      return ::testing::AssertionFailure() << "centroid entry " << i << " is " << r.centroids[i];
  for (int64_t i = 0; i < count; ++i)
    if (r.assign[(size_t)i] < 0 || r.assign[(size_t)i] >= k)
      return ::testing::AssertionFailure() << "assign[" << i << "] = " << r.assign[(size_t)i] << " out of range";
  if (!std::isfinite(r.inertia) || r.inertia < 0.0)
    return ::testing::AssertionFailure() << "inertia " << r.inertia;
  return ::testing::AssertionSuccess();
}

// Every vector's centroid is its nearest one (brute force in double, within the tolerance above).
::testing::AssertionResult all_nearest(const std::vector<float> &x, int d, const KMeansResult &r) {
  const int64_t count = (int64_t)x.size() / d, k = (int64_t)r.centroids.size() / d;
  int64_t bad = 0;
  std::ostringstream os;
  for (int64_t i = 0; i < count; ++i) {
    const float *xi = &x[(size_t)(i * d)];
    double best = std::numeric_limits<double>::infinity(), best_norm = 0.0;
    for (int64_t j = 0; j < k; ++j) {
      const double v = dist2(xi, &r.centroids[(size_t)(j * d)], d);
      if (v < best) {
        best = v;
        best_norm = norm2(&r.centroids[(size_t)(j * d)], d);
      }
    }
    const double got = dist2(xi, &r.centroids[(size_t)(r.assign[(size_t)i] * d)], d);
    const double tol = kNearestRtol * best + kNearestAtolPerNorm * (norm2(xi, d) + best_norm);
    if (got > best + tol) {
      if (bad < 5) os << "\n  vector " << i << ": assigned at " << got << ", nearest at " << best;
      ++bad;
    }
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << bad << " of " << count << " vectors not at their nearest centroid"
                                       << os.str();
}

// Non-empty clusters: centroid == mean of its vectors (double reference). Returns the number of
// non-empty clusters through `nonempty`.
::testing::AssertionResult centroids_are_means(const std::vector<float> &x, int d, const KMeansResult &r,
                                               int64_t *nonempty = nullptr) {
  const int64_t count = (int64_t)x.size() / d, k = (int64_t)r.centroids.size() / d;
  std::vector<double> sums((size_t)(k * d), 0.0);
  std::vector<int64_t> size((size_t)k, 0);
  for (int64_t i = 0; i < count; ++i) {
    const int64_t j = r.assign[(size_t)i];
    ++size[(size_t)j];
    for (int t = 0; t < d; ++t) sums[(size_t)(j * d + t)] += x[(size_t)(i * d + t)];
  }
  std::vector<float> got;
  std::vector<double> want;
  int64_t used = 0;
  for (int64_t j = 0; j < k; ++j) {
    if (size[(size_t)j] == 0) continue;
    ++used;
    for (int t = 0; t < d; ++t) {
      got.push_back(r.centroids[(size_t)(j * d + t)]);
      want.push_back(sums[(size_t)(j * d + t)] / (double)size[(size_t)j]);
    }
  }
  if (nonempty) *nonempty = used;
  return vqrt::vectors_near("centroid vs cluster mean", got, want, kMeanRtol, kMeanAtol, d);
}

// Inertia = mean over all vectors of the squared distance to the assigned centroid.
double inertia_ref(const std::vector<float> &x, int d, const KMeansResult &r) {
  const int64_t count = (int64_t)x.size() / d;
  double s = 0.0;
  for (int64_t i = 0; i < count; ++i)
    s += dist2(&x[(size_t)(i * d)], &r.centroids[(size_t)(r.assign[(size_t)i] * d)], d);
  return s / (double)count;
}

// `blobs` tight Gaussian blobs (sigma) around centers drawn with spread `center_sigma`; labels out.
std::vector<float> make_blobs(vqrt::Rng &rng, int blobs, int per_blob, int d, double center_sigma, double sigma,
                              std::vector<float> &centers, std::vector<int> &label) {
  centers = vqrt::normal_matrix(rng, blobs, d, center_sigma);
  std::vector<float> x;
  label.clear();
  // Interleave the blobs so that no blob is a contiguous index range.
  for (int p = 0; p < per_blob; ++p)
    for (int b = 0; b < blobs; ++b) {
      for (int t = 0; t < d; ++t) x.push_back((float)(centers[(size_t)(b * d + t)] + sigma * rng.normal()));
      label.push_back(b);
    }
  return x;
}

KMeansOptions opts(int64_t k, int iters, uint64_t seed = 1234) {
  KMeansOptions o;
  o.k = k;
  o.iters = iters;
  o.seed = seed;
  return o;
}

int64_t pattern_mismatches(const std::vector<float> &x, int d, const KMeansResult &r) {
  int64_t flips = 0;
  for (size_t i = 0; i < r.assign.size(); ++i)
    flips += hamming(pattern(&x[i * d], d), pattern(&r.centroids[(size_t)r.assign[i] * d], d));
  return flips;
}

// ---------------------------------------------------------------------------------------------

// Random initialization cannot promise one seed per blob (8 blobs, 8 seeds: 8!/8^8 = 0.24 %), so
// plain Lloyd is run with 8 centroids per blob: every blob then holds seeds (a blob misses all
// 64 with probability 8 (7/8)^64 < 0.2 %, and the fixed seed is checked below), and with blobs
// 50 sigma apart every cluster must be pure, every blob covered, and the size-weighted mean of a
// blob's centroids must be the blob's mean.
TEST(KMeans, BlobsOversegmentedArePure) {
  const int d = 8, blobs = 8, per_blob = 200;
  vqrt::Rng rng(11);
  std::vector<float> centers;
  std::vector<int> label;
  const std::vector<float> x = make_blobs(rng, blobs, per_blob, d, 10.0, 0.05, centers, label);
  const int64_t count = (int64_t)label.size(), k = 64;
  const KMeansResult r = kmeans(x.data(), count, d, opts(k, 100), nullptr);
  ASSERT_TRUE(well_formed(r, count, d, k));
  std::vector<int> owner((size_t)k, -1);
  for (int64_t i = 0; i < count; ++i) {
    int &o = owner[(size_t)r.assign[(size_t)i]];
    if (o < 0) o = label[(size_t)i];
    ASSERT_EQ(o, label[(size_t)i]) << "centroid " << r.assign[(size_t)i] << " serves two blobs";
  }
  std::vector<double> wsum((size_t)(blobs * d), 0.0), bmean((size_t)(blobs * d), 0.0);
  std::vector<int64_t> bcount((size_t)blobs, 0);
  for (int64_t i = 0; i < count; ++i) {
    const int b = label[(size_t)i];
    ++bcount[(size_t)b];
    for (int t = 0; t < d; ++t) {
      bmean[(size_t)(b * d + t)] += x[(size_t)(i * d + t)];
      wsum[(size_t)(b * d + t)] += r.centroids[(size_t)(r.assign[(size_t)i] * d + t)];
    }
  }
  for (int b = 0; b < blobs; ++b) ASSERT_EQ(bcount[(size_t)b], per_blob);
  for (auto &v : bmean) v /= per_blob;
  for (auto &v : wsum) v /= per_blob;
  EXPECT_TRUE(vqrt::vectors_near("weighted centroid mean vs blob mean", wsum, bmean, 1e-5, 1e-5, d));
  EXPECT_TRUE(all_nearest(x, d, r));
  EXPECT_NEAR(r.inertia, inertia_ref(x, d, r), 1e-9 * std::max(1.0, r.inertia));
  EXPECT_LT(r.inertia, d * 0.05 * 0.05);  // below the blobs' own variance
}

// With the blobs in 8 distinct orthants the sign-consistent seeding puts one centroid on each
// blob's mean, so K = 8 recovers the blobs exactly: one centroid per blob, at its mean.
TEST(KMeans, BlobsInOrthantsRecoveredBySignSeeding) {
  const int d = 8, blobs = 8, per_blob = 150;
  vqrt::Rng rng(12);
  std::vector<float> centers;
  std::vector<int> label;
  std::vector<float> x = make_blobs(rng, blobs, per_blob, d, 1.0, 0.05, centers, label);
  // Move blob b's center into the orthant with pattern 37 * b + 5 (distinct for b < 8), |c| >= 2.
  for (int b = 0; b < blobs; ++b) {
    const uint32_t p = (uint32_t)(37 * b + 5) & 0xFF;
    for (int t = 0; t < d; ++t) {
      const float shift = ((p >> t) & 1u ? 1.0f : -1.0f) * (2.0f + std::fabs(centers[(size_t)(b * d + t)]));
      for (int i = b; i < (int)label.size(); i += blobs)
        x[(size_t)(i * d + t)] += shift - centers[(size_t)(b * d + t)];
    }
  }
  const int64_t count = (int64_t)label.size(), k = blobs;
  KMeansOptions o = opts(k, 50);
  o.sign_consistent = true;
  const KMeansResult r = kmeans(x.data(), count, d, o, nullptr);
  ASSERT_TRUE(well_formed(r, count, d, k));
  std::vector<int> blob_of((size_t)k, -1), centroid_of((size_t)blobs, -1);
  for (int64_t i = 0; i < count; ++i) {
    const int b = label[(size_t)i], j = r.assign[(size_t)i];
    if (centroid_of[(size_t)b] < 0) centroid_of[(size_t)b] = j;
    if (blob_of[(size_t)j] < 0) blob_of[(size_t)j] = b;
    ASSERT_EQ(centroid_of[(size_t)b], j) << "blob " << b << " split over centroids";
    ASSERT_EQ(blob_of[(size_t)j], b) << "centroid " << j << " serves two blobs";
  }
  std::vector<double> want((size_t)(k * d), 0.0);
  std::vector<float> got((size_t)(k * d));
  for (int64_t i = 0; i < count; ++i)
    for (int t = 0; t < d; ++t) want[(size_t)(label[(size_t)i] * d + t)] += x[(size_t)(i * d + t)] / per_blob;
  for (int b = 0; b < blobs; ++b)
    for (int t = 0; t < d; ++t) got[(size_t)(b * d + t)] = r.centroids[(size_t)(centroid_of[(size_t)b] * d + t)];
  EXPECT_TRUE(vqrt::vectors_near("centroid vs blob mean", got, want, 1e-5, 1e-5, d));
  EXPECT_LT(r.iterations, 50);
}

// The Lloyd fixed point on structureless data, checked in double.
TEST(KMeans, ConvergedResultIsLloydFixedPoint) {
  const int d = 8;
  const int64_t count = 3000, k = 32;
  vqrt::Rng rng(21);
  const std::vector<float> x = vqrt::normal_matrix(rng, count, d, 3.0);
  const int iters = 500;
  const KMeansResult r = kmeans(x.data(), count, d, opts(k, iters), nullptr);
  ASSERT_TRUE(well_formed(r, count, d, k));
  ASSERT_LT(r.iterations, iters) << "did not converge";
  int64_t nonempty = 0;
  EXPECT_TRUE(centroids_are_means(x, d, r, &nonempty));
  EXPECT_EQ(nonempty, k);
  EXPECT_TRUE(all_nearest(x, d, r));
  EXPECT_NEAR(r.inertia, inertia_ref(x, d, r), 1e-9 * r.inertia);
  // Lloyd decreases the objective from the seeds (iters = 0 gives the seeds' assignment).
  const KMeansResult seeds = kmeans(x.data(), count, d, opts(k, 0), nullptr);
  EXPECT_LT(r.inertia, 0.9 * seeds.inertia);
}

// min_changed (VQR_PARAM_KMEANS_TOL): stopping once fewer than a share of the assignments change
// takes fewer iterations, still assigns every vector to its nearest centroid, and costs little
// inertia; a share of 0 changes nothing; out-of-range shares are refused.
TEST(KMeans, MinChangedStopsEarlyWithNearestAssignment) {
  const int d = 8;
  const int64_t count = 3000, k = 32;
  vqrt::Rng rng(21);
  const std::vector<float> x = vqrt::normal_matrix(rng, count, d, 3.0);
  const KMeansResult full = kmeans(x.data(), count, d, opts(k, 500), nullptr);
  KMeansOptions zero = opts(k, 500);
  zero.min_changed = 0;
  const KMeansResult same = kmeans(x.data(), count, d, zero, nullptr);
  EXPECT_EQ(same.assign, full.assign);
  EXPECT_EQ(same.iterations, full.iterations);
  KMeansOptions loose = opts(k, 500);
  loose.min_changed = 0.01;
  const KMeansResult early = kmeans(x.data(), count, d, loose, nullptr);
  ASSERT_TRUE(well_formed(early, count, d, k));
  std::printf("k-means to a fixed point: %d iterations, inertia %.5f; stopping below 1%% changed: %d, %.5f\n",
              full.iterations, full.inertia, early.iterations, early.inertia);
  EXPECT_LT(early.iterations, full.iterations);
  EXPECT_TRUE(all_nearest(x, d, early));
  EXPECT_LT(early.inertia, 1.05 * full.inertia);
  for (double bad : {-0.1, 1.5}) {
    KMeansOptions o = opts(k, 5);
    o.min_changed = bad;
    EXPECT_THROW(kmeans(x.data(), count, d, o, nullptr), vqr::Error);
  }
}

// An awkward shape: prime count, odd dimension, K not a power of two, several threads.
TEST(KMeans, AwkwardShapeFixedPoint) {
  const int d = 5;
  const int64_t count = 1009, k = 13;
  vqrt::Rng rng(22);
  const std::vector<float> x = vqrt::student_t_matrix(rng, count, d, 1.0);
  KMeansOptions o = opts(k, 1000);
  o.threads = 3;
  const KMeansResult r = kmeans(x.data(), count, d, o, nullptr);
  ASSERT_TRUE(well_formed(r, count, d, k));
  ASSERT_LT(r.iterations, 1000) << "did not converge";
  EXPECT_TRUE(centroids_are_means(x, d, r));
  EXPECT_TRUE(all_nearest(x, d, r));
}

TEST(KMeans, KEqualsCountGivesEveryVectorItsOwnCentroid) {
  const int d = 5;
  const int64_t count = 50;
  vqrt::Rng rng(31);
  const std::vector<float> x = vqrt::normal_matrix(rng, count, d);
  const KMeansResult r = kmeans(x.data(), count, d, opts(count, 20), nullptr);
  ASSERT_TRUE(well_formed(r, count, d, count));
  std::set<int32_t> used(r.assign.begin(), r.assign.end());
  EXPECT_EQ((int64_t)used.size(), count);
  for (int64_t i = 0; i < count; ++i)
    for (int t = 0; t < d; ++t)
      ASSERT_EQ(r.centroids[(size_t)(r.assign[(size_t)i] * d + t)], x[(size_t)(i * d + t)]) << "vector " << i;
  EXPECT_EQ(r.inertia, 0.0);
}

// count > max_points_per_centroid * K: Lloyd runs on a sample, the final assignment covers all.
TEST(KMeans, SampledTrainingAssignsAllAndIsDeterministic) {
  const int d = 8;
  const int64_t count = 5000, k = 16;
  vqrt::Rng rng(41);
  const std::vector<float> x = vqrt::normal_matrix(rng, count, d, 2.0);
  KMeansOptions o = opts(k, 40, 7);
  o.max_points_per_centroid = 32;  // 512 training points
  const KMeansResult a = kmeans(x.data(), count, d, o, nullptr);
  ASSERT_TRUE(well_formed(a, count, d, k));
  EXPECT_TRUE(all_nearest(x, d, a));
  EXPECT_NEAR(a.inertia, inertia_ref(x, d, a), 1e-9 * a.inertia);
  // The centroids came from the sample: they are not the means over all vectors.
  EXPECT_FALSE(centroids_are_means(x, d, a));

  const KMeansResult b = kmeans(x.data(), count, d, o, nullptr);
  EXPECT_TRUE(vqrt::vectors_equal("centroids, same seed", a.centroids, b.centroids, d));
  EXPECT_TRUE(vqrt::vectors_equal("assign, same seed", a.assign, b.assign));
  EXPECT_EQ(a.iterations, b.iterations);
  EXPECT_EQ(a.inertia, b.inertia);

  KMeansOptions o4 = o;
  o4.threads = 4;
  const KMeansResult c = kmeans(x.data(), count, d, o4, nullptr);
  EXPECT_TRUE(vqrt::vectors_equal("centroids, 4 threads", a.centroids, c.centroids, d));
  EXPECT_TRUE(vqrt::vectors_equal("assign, 4 threads", a.assign, c.assign));

  KMeansOptions o2 = o;
  o2.seed = 8;
  const KMeansResult e = kmeans(x.data(), count, d, o2, nullptr);
  ASSERT_TRUE(well_formed(e, count, d, k));
  EXPECT_NE(a.centroids, e.centroids);
  EXPECT_TRUE(all_nearest(x, d, e));
}

// K at least the number of patterns: every vector keeps its sign pattern, also when the
// training sample misses some patterns (max_points_per_centroid = 2).
TEST(KMeans, SignConsistentPreservesPatternsWhenKCoversThem) {
  const int d = 8;
  const int64_t count = 4000;
  vqrt::Rng rng(51);
  std::vector<float> x = vqrt::normal_matrix(rng, count, d);
  for (int64_t i = 0; i < count; i += 97) x[(size_t)(i * d + i % d)] = 0.0f;  // exact zeros count as >= 0
  std::set<uint32_t> patterns;
  for (int64_t i = 0; i < count; ++i) patterns.insert(pattern(&x[(size_t)(i * d)], d));
  const int64_t npat = (int64_t)patterns.size();
  ASSERT_GT(npat, 200);
  for (int64_t k : {npat, npat + 100}) {
    for (int64_t mpc : {int64_t(256), int64_t(2)}) {
      KMeansOptions o = opts(k, 30);
      o.sign_consistent = true;
      o.max_points_per_centroid = mpc;
      o.threads = 2;
      const KMeansResult r = kmeans(x.data(), count, d, o, nullptr);
      ASSERT_TRUE(well_formed(r, count, d, k));
      EXPECT_EQ(pattern_mismatches(x, d, r), 0) << "k " << k << ", max_points_per_centroid " << mpc;
      // Nearest among the centroids with the vector's own pattern.
      int64_t bad = 0;
      for (int64_t i = 0; i < count; ++i) {
        const float *xi = &x[(size_t)(i * d)];
        const uint32_t p = pattern(xi, d);
        double best = std::numeric_limits<double>::infinity();
        for (int64_t j = 0; j < k; ++j)
          if (pattern(&r.centroids[(size_t)(j * d)], d) == p)
            best = std::min(best, dist2(xi, &r.centroids[(size_t)(j * d)], d));
        const double got = dist2(xi, &r.centroids[(size_t)(r.assign[(size_t)i] * d)], d);
        if (got > best * (1.0 + kNearestRtol) + 1e-12) ++bad;
      }
      EXPECT_EQ(bad, 0) << "vectors not at the nearest same-pattern centroid";
    }
  }
}

// K below the number of patterns: minimal Hamming distance first, then nearest; never more
// sign flips than plain k-means on the same data.
TEST(KMeans, SignConsistentMinimizesFlipsWhenKIsSmall) {
  const int d = 8;
  const int64_t count = 3000, k = 40;
  vqrt::Rng rng(61);
  // Latent-like data: a mixture of signs with a bias per coordinate.
  std::vector<float> x = vqrt::normal_matrix(rng, count, d);
  for (int64_t i = 0; i < count; ++i)
    for (int t = 0; t < d; ++t) x[(size_t)(i * d + t)] += 0.3f * (float)(t % 3 - 1);
  KMeansOptions o = opts(k, 100);
  o.sign_consistent = true;
  const KMeansResult s = kmeans(x.data(), count, d, o, nullptr);
  ASSERT_TRUE(well_formed(s, count, d, k));
  const KMeansResult plain = kmeans(x.data(), count, d, opts(k, 100), nullptr);
  ASSERT_TRUE(well_formed(plain, count, d, k));
  std::vector<uint32_t> cp((size_t)k);
  for (int64_t j = 0; j < k; ++j) cp[(size_t)j] = pattern(&s.centroids[(size_t)(j * d)], d);
  int64_t bad_hamming = 0, bad_nearest = 0;
  for (int64_t i = 0; i < count; ++i) {
    const float *xi = &x[(size_t)(i * d)];
    const uint32_t p = pattern(xi, d);
    int hmin = d + 1;
    for (int64_t j = 0; j < k; ++j) hmin = std::min(hmin, hamming(p, cp[(size_t)j]));
    double best = std::numeric_limits<double>::infinity();
    for (int64_t j = 0; j < k; ++j)
      if (hamming(p, cp[(size_t)j]) == hmin) best = std::min(best, dist2(xi, &s.centroids[(size_t)(j * d)], d));
    const int32_t a = s.assign[(size_t)i];
    if (hamming(p, cp[(size_t)a]) != hmin) ++bad_hamming;
    if (dist2(xi, &s.centroids[(size_t)(a * d)], d) > best * (1.0 + kNearestRtol) + 1e-12) ++bad_nearest;
  }
  EXPECT_EQ(bad_hamming, 0);
  EXPECT_EQ(bad_nearest, 0);
  const int64_t flips = pattern_mismatches(x, d, s), plain_flips = pattern_mismatches(x, d, plain);
  EXPECT_LE(flips, plain_flips);
  EXPECT_GT(plain_flips, 0);
  EXPECT_NEAR(s.inertia, inertia_ref(x, d, s), 1e-9 * s.inertia);
  // The constraint costs L2 error; the sign-consistent inertia is not below the plain one.
  EXPECT_GE(s.inertia, 0.9 * plain.inertia);

  KMeansOptions o3 = o;
  o3.threads = 3;
  const KMeansResult s3 = kmeans(x.data(), count, d, o3, nullptr);
  EXPECT_TRUE(vqrt::vectors_equal("centroids, 3 threads", s.centroids, s3.centroids, d));
  EXPECT_TRUE(vqrt::vectors_equal("assign, 3 threads", s.assign, s3.assign));
}

// Only 3 distinct points (one of them 0) for K = 5: seeds coincide, clusters empty out and are
// re-seeded by splitting; the result stays finite and valid.
TEST(KMeans, DuplicatePointsEmptyClustersAreSplit) {
  const int d = 4;
  const float pts[3][4] = {{1.0f, -2.0f, 0.5f, 3.0f}, {0.0f, 0.0f, 0.0f, 0.0f}, {-4.0f, 1.0f, 2.0f, -0.25f}};
  std::vector<float> x;
  for (int i = 0; i < 300; ++i) x.insert(x.end(), pts[i % 3], pts[i % 3] + d);
  const int64_t count = 300, k = 5;
  for (bool sign : {false, true}) {
    KMeansOptions o = opts(k, 25);
    o.sign_consistent = sign;
    const KMeansResult r = kmeans(x.data(), count, d, o, nullptr);
    ASSERT_TRUE(well_formed(r, count, d, k)) << "sign " << sign;
    EXPECT_TRUE(all_nearest(x, d, r)) << "sign " << sign;
    // Each point ends within the split perturbation (relative 1/1024 of its largest coordinate)
    // of its centroid.
    for (int64_t i = 0; i < count; ++i) {
      const float *xi = &x[(size_t)(i * d)];
      double scale = 1.0;
      for (int t = 0; t < d; ++t) scale = std::max(scale, (double)std::fabs(xi[t]));
      ASSERT_LE(dist2(xi, &r.centroids[(size_t)(r.assign[(size_t)i] * d)], d), d * std::pow(scale / 1024.0, 2) * 1.01)
          << "vector " << i << ", sign " << sign;
    }
    if (sign) {
      EXPECT_EQ(pattern_mismatches(x, d, r), 0);
    }
    // No two centroids are equal: the split copies separate even on zero coordinates.
    for (int64_t a = 0; a < k; ++a)
      for (int64_t b = a + 1; b < k; ++b)
        EXPECT_GT(dist2(&r.centroids[(size_t)(a * d)], &r.centroids[(size_t)(b * d)], d), 0.0)
            << "centroids " << a << " and " << b << ", sign " << sign;
  }
}

// All vectors identical and zero: every split starts from the zero vector.
TEST(KMeans, AllZeroVectors) {
  const int d = 3;
  const int64_t count = 40, k = 4;
  const std::vector<float> x((size_t)(count * d), 0.0f);
  for (bool sign : {false, true}) {
    KMeansOptions o = opts(k, 10);
    o.sign_consistent = sign;
    const KMeansResult r = kmeans(x.data(), count, d, o, nullptr);
    ASSERT_TRUE(well_formed(r, count, d, k));
    EXPECT_TRUE(all_nearest(x, d, r));
    EXPECT_LT(r.inertia, 1e-5);
    if (sign) {
      EXPECT_EQ(pattern_mismatches(x, d, r), 0);
    }
  }
}

void expect_invalid(const float *x, int64_t count, int d, const KMeansOptions &o, const char *what) {
  try {
    (void)kmeans(x, count, d, o, nullptr);
    ADD_FAILURE() << what << ": no exception";
  } catch (const vqr::Error &e) {
    EXPECT_EQ(e.status(), vqr::Status::InvalidArgument) << what << ": " << e.what();
  }
}

TEST(KMeans, BadArgumentsThrowInvalidArgument) {
  const std::vector<float> x(17 * 10, 0.5f);
  expect_invalid(x.data(), 10, 0, opts(2, 5), "d = 0");
  expect_invalid(x.data(), 10, 17, opts(2, 5), "d = 17");
  expect_invalid(x.data(), 10, 4, opts(0, 5), "k = 0");
  expect_invalid(x.data(), 10, 4, opts(11, 5), "k > count");
  expect_invalid(x.data(), 0, 4, opts(1, 5), "count = 0");
  expect_invalid(x.data(), 10, 4, opts(2, -1), "iters < 0");
  expect_invalid(nullptr, 10, 4, opts(2, 5), "x NULL");
  KMeansOptions o = opts(2, 5);
  o.max_points_per_centroid = 0;
  expect_invalid(x.data(), 10, 4, o, "max_points_per_centroid = 0");
  // The boundaries are accepted.
  EXPECT_NO_THROW((void)kmeans(x.data(), 10, 16, opts(10, 1), nullptr));
  EXPECT_NO_THROW((void)kmeans(x.data(), 10, 1, opts(1, 1), nullptr));
}

// iters = 0: the result is the seeds (K distinct training points) and their assignment.
TEST(KMeans, ZeroIterationsReturnsSeeds) {
  const int d = 6;
  const int64_t count = 500, k = 20;
  vqrt::Rng rng(81);
  const std::vector<float> x = vqrt::normal_matrix(rng, count, d);
  const KMeansResult r = kmeans(x.data(), count, d, opts(k, 0), nullptr);
  ASSERT_TRUE(well_formed(r, count, d, k));
  EXPECT_EQ(r.iterations, 0);
  std::set<int64_t> rows;
  for (int64_t j = 0; j < k; ++j) {
    int64_t found = -1;
    for (int64_t i = 0; i < count && found < 0; ++i)
      if (std::equal(&x[(size_t)(i * d)], &x[(size_t)(i * d)] + d, &r.centroids[(size_t)(j * d)])) found = i;
    ASSERT_GE(found, 0) << "centroid " << j << " is not a training point";
    rows.insert(found);
  }
  EXPECT_EQ((int64_t)rows.size(), k) << "seeds are not distinct points";
  EXPECT_TRUE(all_nearest(x, d, r));
  EXPECT_NEAR(r.inertia, inertia_ref(x, d, r), 1e-9 * r.inertia);

  // Sign-consistent seeds: the mean of each pattern's vectors, most frequent pattern first.
  const int64_t n2 = 200;
  std::vector<float> y((size_t)(n2 * 2));
  for (int64_t i = 0; i < n2; ++i) {
    const int q = (int)(i % 10 < 6 ? 0 : (i % 10 < 9 ? 1 : 2));  // patterns with 120 / 60 / 20 vectors
    y[(size_t)(2 * i)] = (float)((q == 1 ? -1.0 : 1.0) * (1.0 + rng.uniform()));
    y[(size_t)(2 * i + 1)] = (float)((q == 2 ? -1.0 : 1.0) * (1.0 + rng.uniform()));
  }
  KMeansOptions o = opts(3, 0);
  o.sign_consistent = true;
  const KMeansResult s = kmeans(y.data(), n2, 2, o, nullptr);
  ASSERT_TRUE(well_formed(s, n2, 2, 3));
  const uint32_t want_pattern[3] = {3u, 2u, 1u};  // (+,+), (-,+), (+,-)
  for (int j = 0; j < 3; ++j) {
    double m[2] = {0.0, 0.0};
    int64_t c = 0;
    for (int64_t i = 0; i < n2; ++i)
      if (pattern(&y[(size_t)(2 * i)], 2) == want_pattern[j]) {
        m[0] += y[(size_t)(2 * i)];
        m[1] += y[(size_t)(2 * i + 1)];
        ++c;
      }
    EXPECT_NEAR(s.centroids[(size_t)(2 * j)], m[0] / c, 1e-6) << "seed " << j;
    EXPECT_NEAR(s.centroids[(size_t)(2 * j + 1)], m[1] / c, 1e-6) << "seed " << j;
  }
  EXPECT_EQ(pattern_mismatches(y, 2, s), 0);
}

// Equal centroids tie exactly; the lowest index wins. With K = count and iters = 0 every point
// is a seed, so each vector must go to the first centroid equal to it.
TEST(KMeans, TiesGoToLowestIndex) {
  const int d = 3;
  const float pts[3][3] = {{1.5f, -0.5f, 2.0f}, {-1.0f, -2.0f, 0.25f}, {0.75f, 3.0f, -1.25f}};
  std::vector<float> x;
  for (int i = 0; i < 60; ++i) x.insert(x.end(), pts[(i * 7) % 3], pts[(i * 7) % 3] + d);
  const int64_t count = 60;
  for (bool sign : {false, true}) {
    KMeansOptions o = opts(count, 0);
    o.sign_consistent = sign;
    const KMeansResult r = kmeans(x.data(), count, d, o, nullptr);
    ASSERT_TRUE(well_formed(r, count, d, count));
    for (int64_t i = 0; i < count; ++i) {
      int64_t first = -1;
      for (int64_t j = 0; j < count && first < 0; ++j)
        if (std::equal(&x[(size_t)(i * d)], &x[(size_t)(i * d)] + d, &r.centroids[(size_t)(j * d)])) first = j;
      ASSERT_GE(first, 0);
      ASSERT_EQ(r.assign[(size_t)i], first) << "vector " << i << ", sign " << sign;
    }
    EXPECT_EQ(r.inertia, 0.0);
  }
}

// Early stop: the converged state is reached long before the iteration cap, and running with the
// cap set to the iterations used (or one more) gives the identical result.
TEST(KMeans, StopsEarlyAtFixedPoint) {
  const int d = 8;
  vqrt::Rng rng(91);
  std::vector<float> centers;
  std::vector<int> label;
  const std::vector<float> x = make_blobs(rng, 4, 100, d, 10.0, 0.1, centers, label);
  const int64_t count = (int64_t)label.size(), k = 4;
  const KMeansResult r = kmeans(x.data(), count, d, opts(k, 200), nullptr);
  ASSERT_TRUE(well_formed(r, count, d, k));
  EXPECT_LT(r.iterations, 20);
  EXPECT_GE(r.iterations, 1);
  for (int cap : {r.iterations, r.iterations + 1}) {
    const KMeansResult again = kmeans(x.data(), count, d, opts(k, cap), nullptr);
    EXPECT_TRUE(vqrt::vectors_equal("centroids, capped run", r.centroids, again.centroids, d)) << "cap " << cap;
    EXPECT_TRUE(vqrt::vectors_equal("assign, capped run", r.assign, again.assign)) << "cap " << cap;
    EXPECT_EQ(again.inertia, r.inertia) << "cap " << cap;
  }
  // After a single iteration the assignment is still the nearest one for its centroids.
  const KMeansResult one = kmeans(x.data(), count, d, opts(k, 1), nullptr);
  EXPECT_EQ(one.iterations, 1);
  EXPECT_TRUE(all_nearest(x, d, one));
}

// A cancellation request reaches the per-iteration checkpoint and propagates as an exception.
TEST(KMeans, CancellationPropagates) {
  const int d = 4;
  const int64_t count = 400, k = 8;
  vqrt::Rng rng(101);
  const std::vector<float> x = vqrt::normal_matrix(rng, count, d);
  vqr::Context ctx;
  vqr::Progress progress(&ctx, "kmeans", 50);
  // Without a cancel request the progress object is passed through harmlessly.
  EXPECT_NO_THROW((void)kmeans(x.data(), count, d, opts(k, 50), &progress));
  ctx.cancel_requested.store(true);  // what vqr_context_cancel does
  try {
    (void)kmeans(x.data(), count, d, opts(k, 50), &progress);
    ADD_FAILURE() << "no exception";
  } catch (const vqr::Error &e) {
    EXPECT_EQ(e.status(), vqr::Status::Cancelled);
  }
}

}  // namespace
