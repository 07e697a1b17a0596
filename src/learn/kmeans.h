// k-means for VQRound's codebooks (spec vqround §1.4 step 5, §8): plain L2 Lloyd iterations on
// the D-dimensional latent vectors of one layer, as faiss.Kmeans runs them: K initial centroids
// drawn at random from the training points, at most `max_points_per_centroid` * K training
// points (a seeded sample when there are more), empty clusters re-seeded by splitting a large
// one, and finally the nearest-centroid assignment of every vector. Distances go through BLAS:
// ||x||^2 - 2 x.c + ||c||^2 with one SGEMM per chunk of vectors.
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
  int64_t max_points_per_centroid = 256; // training sample cap per centroid
  uint64_t seed = 0;
  bool sign_consistent = false;
  int threads = 1;
};

struct KMeansResult {
  std::vector<float> centroids;  // k x d, row-major
  std::vector<int32_t> assign;   // one per input vector: index of its centroid
  int iterations = 0;            // Lloyd iterations run (stops early once no assignment changes)
  double inertia = 0;            // mean squared distance of the vectors to their centroids
};

// x: count x d row-major (d <= 16), 1 <= k <= count. Deterministic for a given seed and thread
// count. `progress` (may be NULL) gets one checkpoint per iteration; cancellation throws.
KMeansResult kmeans(const float *x, int64_t count, int d, const KMeansOptions &options, Progress *progress);

}  // namespace vqr::learn
