// k-means for VQRound's codebooks (spec vqround §1.4 step 5, §8): plain L2 Lloyd iterations on
// the D-dimensional latent vectors of one layer, as faiss.Kmeans runs them: K initial centroids
// drawn at random from the training points, at most `max_points_per_centroid` * K training
// points (a seeded sample when there are more), empty clusters re-seeded by splitting a large
// one, and finally the nearest-centroid assignment of every vector. Distances are
// ||c||^2 - 2 x.c (||x||^2 does not change the argmin), a GEMM with the argmin fused into its
// register tile: about 2 K D flops per vector, no K-wide score rows in memory.
//
// The sign-consistent variant (DESIGN §3.6) keeps each vector's sign pattern (bit d set when
// x[d] >= 0, which is the AdaRound hard decision 1[A >= 0]): when K is at least the number of
// distinct patterns, one centroid per occurring pattern is seeded from the mean of that pattern's
// vectors, and every assignment goes to the nearest centroid among those with the fewest
// pattern mismatches (zero whenever a centroid with the vector's own pattern exists).
#pragma once

#include <cstdint>
#include <vector>

#include "core/context.h"

namespace vqr::learn {

struct KMeansOptions {
  int64_t k = 4096;                      // centroids; the caller caps it at the vector count
  int iters = 500;                       // Lloyd iterations at most (0 = the seeds are the result)
  double min_changed = 0;                // also stop after an iteration that changes fewer than this
                                         // share of the training assignments (0: only none)
  int64_t max_points_per_centroid = 256; // training sample cap per centroid (>= 1)
  uint64_t seed = 0;                     // drives the training sample and the random seeds
  bool sign_consistent = false;
  int threads = 1;                       // OpenMP threads for the assignment (< 1 counts as 1)
};

struct KMeansResult {
  std::vector<float> centroids;  // k x d, row-major
  std::vector<int32_t> assign;   // one per input vector: index of its centroid
  int iterations = 0;            // Lloyd iterations run (stops early once no assignment changes)
  double inertia = 0;            // mean squared distance of the vectors to their centroids
};

// x: count x d row-major (read only, not retained), 1 <= d <= 16, 1 <= k <= count.
//
// Training set: all vectors when count <= max_points_per_centroid * k, else a seeded random
// sample of exactly that many. Seeds: k distinct random training points (sign-consistent: the
// pattern means first, most frequent pattern first, ties by pattern value; random training points
// for the rest when k exceeds the number of patterns). Each iteration assigns the training points
// (nearest centroid, ties -> lowest index; sign-consistent: the nearest among the centroids with
// the fewest pattern mismatches), then moves each centroid to its cluster's mean; an empty
// cluster is re-seeded by splitting the largest one (sign-consistent: unless it is the only
// centroid of a pattern that occurs among the vectors). The run stops early once an iteration
// changes no assignment, which gives the same result as running all `iters`, or (min_changed > 0)
// after the centroid update of an iteration that changed fewer than min_changed x the training
// points' assignments (not a fixed point: the final assignment below then runs). Finally every
// vector is assigned with the same rule. With sign_consistent and k >= the number of distinct
// patterns, every vector's centroid has the vector's own pattern.
//
// Deterministic for a given seed, and independent of `threads`. `progress` (may be NULL) gets
// checkpoint(iteration, false, training-set inertia) once per iteration. Throws vqr::Error:
// Status::InvalidArgument (x NULL, d, k, count, iters < 0 or max_points_per_centroid < 1 out of
// range), Status::Cancelled (from the progress checkpoint); std::bad_alloc on exhaustion.
KMeansResult kmeans(const float *x, int64_t count, int d, const KMeansOptions &options, Progress *progress);

}  // namespace vqr::learn
