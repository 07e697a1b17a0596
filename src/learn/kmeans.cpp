// k-means (kmeans.h): faiss-style L2 Lloyd with seeded sampling, largest-cluster splitting of
// empty clusters, and the sign-consistent assignment of DESIGN §3.6. Dimension letters: M all
// vectors (`count`), N training points (M, or a sample of max_points_per_centroid * K), K
// centroids, D dimensions (<= 16), P = D padded to 4, 8 or 16, R rows per work item.
//
// Determinism: the random choices come from a self-contained splitmix64 stream; every vector's
// assignment is computed independently of the others, in a fixed order (so independently of the
// thread count), and the centroid sums are accumulated serially in training-point order.
#include "learn/kmeans.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>

#include <omp.h>

#include "core/error.h"
#include "core/sanitizer.h"
#include "core/splitmix64.h"

namespace vqr::learn {

namespace {

constexpr int kMaxDim = 16;
// faiss's relative perturbation of the two halves of a split cluster.
constexpr float kSplitEps = 1.0f / 1024.0f;
// The fused nearest-centroid kernel (nearest_rows): 16 centroids per vector lane group, 6 rows
// per register block (4, 6, 8 and 12 measured on one core of this machine with D = 8: 6 ran
// fastest, 140 GFLOP/s against 85-125), 252 rows per work item of the parallel loop.
constexpr int kLanes = 16;
constexpr int kRowBlock = 6;
constexpr int64_t kRowChunk = 42 * kRowBlock;  // 252 rows: whole register blocks
// Vectors per work item of the sign-consistent assignment.
constexpr int64_t kSignChunk = 1024;

// The first `take` entries of a random permutation of 0..n-1 (partial Fisher-Yates).
std::vector<int64_t> random_subset(SplitMix64 &rng, int64_t n, int64_t take) {
  std::vector<int64_t> perm((size_t)n);
  std::iota(perm.begin(), perm.end(), int64_t(0));
  for (int64_t i = 0; i < take; ++i) std::swap(perm[(size_t)i], perm[(size_t)(i + rng.below(n - i))]);
  perm.resize((size_t)take);
  return perm;
}

// Bit j set iff v[j] >= 0 (the AdaRound hard decision); -0.0 counts as >= 0, NaN as < 0.
inline uint32_t sign_pattern(const float *v, int d) {
  uint32_t p = 0;
  for (int j = 0; j < d; ++j)
    if (v[j] >= 0.0f) p |= 1u << j;
  return p;
}

// Moves c (D) to the nearest values with sign pattern p: a coordinate that should be >= 0 and is
// not becomes 0, one that should be < 0 and is not becomes -FLT_MIN. Only rounding (a mean that
// underflows to -0) or a NaN ever triggers it.
inline void enforce_pattern(float *c, uint32_t p, int d) {
  for (int j = 0; j < d; ++j) {
    if ((p >> j) & 1u) {
      if (!(c[j] >= 0.0f)) c[j] = 0.0f;
    } else if (!(c[j] < 0.0f)) {
      c[j] = -FLT_MIN;
    }
  }
}

inline float l2_float(const float *x, const float *c, int d) {
  float s = 0.0f;
  for (int j = 0; j < d; ++j) {
    const float t = x[j] - c[j];
    s += t * t;
  }
  return s;
}

inline double l2_double(const float *x, const float *c, int d) {
  double s = 0.0;
  for (int j = 0; j < d; ++j) {
    const double t = (double)x[j] - (double)c[j];
    s += t * t;
  }
  return s;
}

// Patterns of n vectors (N) and their indices ordered by pattern, stable within a pattern
// (counting sort over the 2^D patterns).
struct PatternOrder {
  std::vector<uint32_t> pattern;  // N
  std::vector<int64_t> order;     // N: vector indices sorted by (pattern, index)
};

PatternOrder pattern_order(const float *x, int64_t n, int d) {
  PatternOrder po;
  po.pattern.resize((size_t)n);
  std::vector<int64_t> start((size_t)(1u << d) + 1, 0);
  for (int64_t i = 0; i < n; ++i) {
    const uint32_t p = sign_pattern(x + i * d, d);
    po.pattern[(size_t)i] = p;
    ++start[(size_t)p + 1];
  }
  for (size_t p = 1; p < start.size(); ++p) start[p] += start[p - 1];
  po.order.resize((size_t)n);
  for (int64_t i = 0; i < n; ++i) po.order[(size_t)start[po.pattern[(size_t)i]]++] = i;
  return po;
}

// Centroids grouped by sign pattern: groups (distinct centroid patterns, ascending), each with its
// members in ascending index order, and a dense pattern -> group table.
struct CentroidGroups {
  std::vector<uint32_t> group_pattern;  // G
  std::vector<int64_t> group_start;     // G + 1, offsets into members
  std::vector<int32_t> members;         // K
  std::vector<int32_t> group_of;        // 2^D: group id, or -1 when no centroid has that pattern
};

CentroidGroups group_centroids(const float *c, int64_t k, int d) {
  CentroidGroups g;
  std::vector<uint32_t> cp((size_t)k);
  std::vector<int64_t> count((size_t)1 << d, 0);
  for (int64_t j = 0; j < k; ++j) {
    cp[(size_t)j] = sign_pattern(c + j * d, d);
    ++count[cp[(size_t)j]];
  }
  g.group_of.assign((size_t)1 << d, -1);
  g.group_start.push_back(0);
  for (size_t p = 0; p < count.size(); ++p) {
    if (count[p] == 0) continue;
    g.group_of[p] = (int32_t)g.group_pattern.size();
    g.group_pattern.push_back((uint32_t)p);
    g.group_start.push_back(g.group_start.back() + count[p]);
  }
  g.members.resize((size_t)k);
  std::vector<int64_t> fill(g.group_start.begin(), g.group_start.end() - 1);
  for (int64_t j = 0; j < k; ++j) g.members[(size_t)fill[(size_t)g.group_of[cp[(size_t)j]]]++] = (int32_t)j;
  return g;
}

// Centroids packed for nearest_rows: panels of 16 centroids, each (P + 1) x 16 floats; row t < P
// holds -2 c_j[t] (0 for t >= D), row P holds ||c_j||^2 (+inf for the padding past K, which so
// never wins). P is D rounded up to 4, 8 or 16, a compile-time width for the kernel.
struct Panels {
  std::vector<float> data;  // (K / 16 rounded up) x (P + 1) x 16
  int64_t count = 0;
  int width = 0;            // P
};

Panels pack_centroids(const float *c, int64_t k, int d) {
  Panels pk;
  pk.width = d <= 4 ? 4 : (d <= 8 ? 8 : 16);
  pk.count = (k + kLanes - 1) / kLanes;
  const int64_t stride = (int64_t)(pk.width + 1) * kLanes;
  pk.data.assign((size_t)(pk.count * stride), 0.0f);
  for (int64_t j = 0; j < pk.count * kLanes; ++j) {
    float *panel = pk.data.data() + (j / kLanes) * stride;
    const int64_t lane = j % kLanes;
    if (j >= k) {
      panel[pk.width * kLanes + lane] = std::numeric_limits<float>::infinity();
      continue;
    }
    float s = 0.0f;
    for (int t = 0; t < d; ++t) {
      const float v = c[j * d + t];
      panel[t * kLanes + lane] = -2.0f * v;
      s += v * v;
    }
    panel[pk.width * kLanes + lane] = s;
  }
  return pk;
}

// assign[i] = the first index of the minimum over j of ||c_j||^2 - 2 x_i.c_j, for rows i < R of
// x (R x D). This is the SGEMM X C^T of the distance expansion with the argmin fused into its
// register tile: a block of 6 rows x 16 centroids lives in registers, each x coordinate and each
// packed centroid row is reused 16 resp. 6 times per load, and no R x K score matrix is written
// (with D = 8 a separate SGEMM is bound by storing and re-reading those scores: measured 3-7x
// slower here, bench/README.md). Each row is reduced alone, in centroid order, with a multiply
// then an add (no contraction; CMakeLists.txt): the result does not depend on the thread count
// or the clone. Each lane keeps its first minimum (strict <; NaN never wins) and lanes merge by
// (value, index), so ties go to the lowest index.
// Unchecked under the sanitizers (core/sanitizer.h): assign_l2 checks the extents it reaches.
typedef float F16 __attribute__((vector_size(64)));
typedef int32_t I16 __attribute__((vector_size(64)));

template <int P>
VQR_TARGET_CLONES VQR_UNCHECKED_KERNEL
void nearest_rows(int32_t *assign, const float *x, int64_t rows, int d, const float *panels, int64_t npanels) {
  constexpr int64_t stride = (int64_t)(P + 1) * kLanes;
  I16 lane;
  for (int l = 0; l < kLanes; ++l) lane[l] = l;
  for (int64_t i0 = 0; i0 < rows; i0 += kRowBlock) {
    F16 xs[kRowBlock][P], best[kRowBlock];
    I16 idx[kRowBlock];
    for (int r = 0; r < kRowBlock; ++r) {
      const int64_t i = std::min(i0 + r, rows - 1);  // a short last block repeats its last row
      for (int t = 0; t < P; ++t) {
        const float v = t < d ? x[i * d + t] : 0.0f;
        for (int l = 0; l < kLanes; ++l) xs[r][t][l] = v;
      }
      for (int l = 0; l < kLanes; ++l) {
        best[r][l] = std::numeric_limits<float>::infinity();
        idx[r][l] = 0;
      }
    }
    for (int64_t p = 0; p < npanels; ++p) {
      const float *panel = panels + p * stride;
      F16 acc[kRowBlock], cv;
      std::memcpy(&cv, panel + P * kLanes, sizeof cv);
      for (int r = 0; r < kRowBlock; ++r) acc[r] = cv;
      for (int t = 0; t < P; ++t) {
        std::memcpy(&cv, panel + t * kLanes, sizeof cv);
        for (int r = 0; r < kRowBlock; ++r) acc[r] = acc[r] + xs[r][t] * cv;
      }
      const I16 j = lane + (int32_t)(p * kLanes);
      for (int r = 0; r < kRowBlock; ++r) {
        const I16 lt = acc[r] < best[r];
        best[r] = lt ? acc[r] : best[r];
        idx[r] = lt ? j : idx[r];
      }
    }
    for (int r = 0; r < kRowBlock && i0 + r < rows; ++r) {
      float bv = std::numeric_limits<float>::infinity();
      int32_t bj = 0;
      for (int l = 0; l < kLanes; ++l)
        if (best[r][l] < bv || (best[r][l] == bv && idx[r][l] < bj)) {
          bv = best[r][l];
          bj = idx[r][l];
        }
      assign[i0 + r] = bj;
    }
  }
}

// Plain L2 assignment: assign[i] = argmin_j ||x_i - c_j||^2 (ties -> lowest j) by nearest_rows on
// chunks of rows in parallel; memory beyond the outputs is the packed centroids, (P + 1) K
// floats. dist2[i] = the exact squared distance (double) to the chosen centroid.
void assign_l2(int32_t *assign, double *dist2, const float *x, int64_t n, const float *c, int64_t k, int d,
               int threads) {
  const Panels pk = pack_centroids(c, k, d);
  const float *panels = pk.data.data();
  check_addressable(panels, pk.data.size());
  check_addressable(x, (size_t)(n * d));
  check_addressable(assign, (size_t)n);
  const int64_t chunks = (n + kRowChunk - 1) / kRowChunk;
#pragma omp parallel for num_threads(threads_for(threads, n * k * d)) schedule(static)
  for (int64_t ch = 0; ch < chunks; ++ch) {
    const int64_t i0 = ch * kRowChunk, rows = std::min(kRowChunk, n - i0);
    switch (pk.width) {
      case 4: nearest_rows<4>(assign + i0, x + i0 * d, rows, d, panels, pk.count); break;
      case 8: nearest_rows<8>(assign + i0, x + i0 * d, rows, d, panels, pk.count); break;
      default: nearest_rows<16>(assign + i0, x + i0 * d, rows, d, panels, pk.count); break;
    }
    for (int64_t i = i0; i < i0 + rows; ++i) dist2[i] = l2_double(x + i * d, c + (int64_t)assign[i] * d, d);
  }
}

// Sign-consistent assignment: among the centroids whose pattern has the minimal Hamming distance
// to the vector's pattern (zero when a centroid shares it), the nearest in L2 (float, direct
// loop; ties -> lowest index). Vectors are visited in pattern order so the candidate groups are
// found once per run of equal patterns; D <= 16 keeps the direct loops cheap.
void assign_sign(int32_t *assign, double *dist2, const float *x, const PatternOrder &po, const float *c,
                 int64_t k, int d, int threads) {
  const int64_t n = (int64_t)po.order.size();
  const CentroidGroups cg = group_centroids(c, k, d);
  const int64_t ngroups = (int64_t)cg.group_pattern.size();
  const int64_t nchunks = (n + kSignChunk - 1) / kSignChunk;
  const int nthreads = threads_for(threads, n * d * std::min<int64_t>(k, 64));
  // Per-thread candidate group lists, allocated here: nothing inside the region may throw.
  std::vector<int32_t> candidates((size_t)(nthreads * ngroups));
#pragma omp parallel num_threads(nthreads)
  {
    int32_t *cand = candidates.data() + (int64_t)omp_get_thread_num() * ngroups;
#pragma omp for schedule(dynamic, 1)
    for (int64_t ch = 0; ch < nchunks; ++ch) {
      const int64_t t1 = std::min(n, (ch + 1) * kSignChunk);
      uint32_t cur = ~0u;  // no pattern of D <= 16 bits
      int64_t ncand = 0;
      for (int64_t t = ch * kSignChunk; t < t1; ++t) {
        const int64_t i = po.order[(size_t)t];
        const uint32_t p = po.pattern[(size_t)i];
        if (p != cur) {
          cur = p;
          ncand = 0;
          const int32_t own = cg.group_of[p];
          if (own >= 0) {
            cand[ncand++] = own;
          } else {
            int best_h = kMaxDim + 1;
            for (int64_t g = 0; g < ngroups; ++g) {
              const int h = __builtin_popcount(p ^ cg.group_pattern[(size_t)g]);
              if (h < best_h) {
                best_h = h;
                ncand = 0;
              }
              if (h == best_h) cand[ncand++] = (int32_t)g;
            }
          }
        }
        const float *xi = x + i * d;
        float best = std::numeric_limits<float>::infinity();
        int64_t bj = -1;
        for (int64_t q = 0; q < ncand; ++q) {
          const int32_t g = cand[q];
          for (int64_t m = cg.group_start[(size_t)g]; m < cg.group_start[(size_t)g + 1]; ++m) {
            const int64_t j = cg.members[(size_t)m];
            const float v = l2_float(xi, c + j * d, d);
            if (bj < 0 || v < best || (v == best && j < bj)) {
              best = v;
              bj = j;
            }
          }
        }
        assign[i] = (int32_t)bj;
        dist2[i] = l2_double(xi, c + bj * d, d);
      }
    }
  }
}

// Everything one Lloyd run needs about a set of vectors.
struct VectorSet {
  const float *x = nullptr;  // N x D
  int64_t n = 0;
  const PatternOrder *po = nullptr;  // sign-consistent mode only
};

void assign_all(int32_t *assign, double *dist2, const VectorSet &v, const float *c, int64_t k, int d,
                bool sign_consistent, int threads) {
  if (sign_consistent)
    assign_sign(assign, dist2, v.x, *v.po, c, k, d, threads);
  else
    assign_l2(assign, dist2, v.x, v.n, c, k, d, threads);
}

// Centroid update: c_j = mean of its training points (double sums in point order, stored as
// float). In sign-consistent mode a cluster whose points all share one pattern keeps it exactly.
// Empty clusters are then re-seeded in index order by splitting the currently largest cluster
// (ties -> lowest index) as faiss does: copy its centroid, scale the coordinates of the two
// copies by (1 + eps) / (1 - eps) alternating with parity, and halve its size. A zero coordinate
// gets + eps * scale on the copy that would be scaled up, so the copies always separate, and
// both copies keep the pattern. In sign-consistent mode an empty centroid that is the only one
// carrying a pattern that occurs among the vectors is kept (it serves those vectors in the final
// assignment even when the training sample has none of them).
void update_centroids(float *c, const int32_t *assign, const VectorSet &v, int64_t k, int d, bool sign_consistent,
                      const std::vector<int64_t> &pattern_count) {
  std::vector<double> sums((size_t)(k * d), 0.0);
  std::vector<int64_t> size((size_t)k, 0);
  std::vector<uint32_t> and_mask, or_mask;
  if (sign_consistent) {
    and_mask.assign((size_t)k, ~0u);
    or_mask.assign((size_t)k, 0u);
  }
  for (int64_t i = 0; i < v.n; ++i) {
    const int64_t j = assign[i];
    ++size[(size_t)j];
    double *s = sums.data() + j * d;
    const float *xi = v.x + i * d;
    for (int t = 0; t < d; ++t) s[t] += (double)xi[t];
    if (sign_consistent) {
      and_mask[(size_t)j] &= v.po->pattern[(size_t)i];
      or_mask[(size_t)j] |= v.po->pattern[(size_t)i];
    }
  }
  bool any_empty = false;
  for (int64_t j = 0; j < k; ++j) {
    if (size[(size_t)j] == 0) {
      any_empty = true;
      continue;
    }
    const double inv = 1.0 / (double)size[(size_t)j];
    for (int t = 0; t < d; ++t) c[j * d + t] = (float)(sums[(size_t)(j * d + t)] * inv);
    if (sign_consistent && and_mask[(size_t)j] == or_mask[(size_t)j]) enforce_pattern(c + j * d, and_mask[(size_t)j], d);
  }
  if (!any_empty) return;

  std::vector<int64_t> centroids_with;  // sign-consistent: centroids per pattern
  if (sign_consistent) {
    centroids_with.assign((size_t)1 << d, 0);
    for (int64_t j = 0; j < k; ++j) ++centroids_with[sign_pattern(c + j * d, d)];
  }
  for (int64_t ci = 0; ci < k; ++ci) {
    if (size[(size_t)ci] != 0) continue;
    uint32_t old_pattern = 0;
    if (sign_consistent) {
      old_pattern = sign_pattern(c + ci * d, d);
      if (pattern_count[old_pattern] > 0 && centroids_with[old_pattern] == 1) continue;
    }
    const int64_t cj = std::max_element(size.begin(), size.end()) - size.begin();
    float *a = c + ci * d, *b = c + cj * d;
    float scale = 0.0f;
    for (int t = 0; t < d; ++t) scale = std::max(scale, std::fabs(b[t]));
    const float tiny = kSplitEps * (scale > 0.0f ? scale : 1.0f);
    const uint32_t keep = sign_consistent ? sign_pattern(b, d) : 0u;
    for (int t = 0; t < d; ++t) {
      const float src = b[t];
      float *up = (t % 2 == 0) ? a : b;  // the copy scaled by (1 + eps) in this coordinate
      float *down = (t % 2 == 0) ? b : a;
      up[t] = src == 0.0f ? tiny : src * (1.0f + kSplitEps);
      down[t] = src == 0.0f ? 0.0f : src * (1.0f - kSplitEps);
    }
    if (sign_consistent) {
      enforce_pattern(a, keep, d);
      enforce_pattern(b, keep, d);
      --centroids_with[old_pattern];
      ++centroids_with[keep];
    }
    size[(size_t)ci] = size[(size_t)cj] / 2;
    size[(size_t)cj] -= size[(size_t)ci];
  }
}

}  // namespace

KMeansResult kmeans(const float *x, int64_t count, int d, const KMeansOptions &options, Progress *progress) {
  const int64_t k = options.k;
  require(x != nullptr, Status::InvalidArgument, "kmeans: x is NULL");
  require(d >= 1 && d <= kMaxDim, Status::InvalidArgument,
          "kmeans: dimension " + std::to_string(d) + " outside 1.." + std::to_string(kMaxDim));
  require(count >= 1 && k >= 1 && k <= count, Status::InvalidArgument,
          "kmeans: need 1 <= k <= count, got k = " + std::to_string(k) + ", count = " + std::to_string(count));
  require(k <= std::numeric_limits<int32_t>::max() - kLanes, Status::InvalidArgument, "kmeans: k exceeds int32");
  require(options.iters >= 0, Status::InvalidArgument, "kmeans: iters < 0");
  require(options.min_changed >= 0 && options.min_changed <= 1, Status::InvalidArgument,
          "kmeans: min_changed must be in [0, 1]");
  require(options.max_points_per_centroid >= 1, Status::InvalidArgument, "kmeans: max_points_per_centroid < 1");
  const int threads = std::max(1, options.threads);
  const bool sign = options.sign_consistent;
  SplitMix64 rng(options.seed);

  // Training set: all vectors, or a sample of max_points_per_centroid * K of them (gathered in
  // ascending index order).
  VectorSet all;
  all.x = x;
  all.n = count;
  VectorSet train;
  std::vector<float> sample;
  const bool sampled = options.max_points_per_centroid < count / k ||
                       (options.max_points_per_centroid == count / k && count % k != 0);
  if (sampled) {
    const int64_t n = options.max_points_per_centroid * k;
    std::vector<int64_t> idx = random_subset(rng, count, n);
    std::sort(idx.begin(), idx.end());
    sample.resize((size_t)(n * d));
    for (int64_t i = 0; i < n; ++i) std::memcpy(&sample[(size_t)(i * d)], x + idx[(size_t)i] * d, sizeof(float) * d);
    train.x = sample.data();
    train.n = n;
  } else {
    train.x = x;
    train.n = count;
  }

  KMeansResult res;
  res.centroids.assign((size_t)(k * d), 0.0f);
  float *c = res.centroids.data();

  // Seeds. Sign-consistent: one centroid per occurring pattern (most frequent first, ties by
  // pattern value), the mean of all vectors with that pattern; the rest are random training points.
  std::vector<int64_t> pattern_count;
  PatternOrder all_po, train_po;
  int64_t seeded = 0;
  if (sign) {
    all_po = pattern_order(x, count, d);
    all.po = &all_po;
    if (sampled) train_po = pattern_order(train.x, train.n, d);
    train.po = sampled ? &train_po : &all_po;
    pattern_count.assign((size_t)1 << d, 0);
    for (uint32_t p : all_po.pattern) ++pattern_count[p];
    std::vector<uint32_t> patterns;
    for (size_t p = 0; p < pattern_count.size(); ++p)
      if (pattern_count[p] > 0) patterns.push_back((uint32_t)p);
    std::stable_sort(patterns.begin(), patterns.end(),
                     [&](uint32_t a, uint32_t b) { return pattern_count[a] > pattern_count[b]; });
    seeded = std::min<int64_t>(k, (int64_t)patterns.size());
    std::vector<int64_t> slot((size_t)1 << d, -1);
    for (int64_t s = 0; s < seeded; ++s) slot[patterns[(size_t)s]] = s;
    std::vector<double> sums((size_t)(seeded * d), 0.0);
    for (int64_t i = 0; i < count; ++i) {
      const int64_t s = slot[all_po.pattern[(size_t)i]];
      if (s < 0) continue;
      for (int t = 0; t < d; ++t) sums[(size_t)(s * d + t)] += (double)x[i * d + t];
    }
    for (int64_t s = 0; s < seeded; ++s) {
      const double inv = 1.0 / (double)pattern_count[patterns[(size_t)s]];
      for (int t = 0; t < d; ++t) c[s * d + t] = (float)(sums[(size_t)(s * d + t)] * inv);
      enforce_pattern(c + s * d, patterns[(size_t)s], d);
    }
  }
  if (seeded < k) {
    const std::vector<int64_t> pick = random_subset(rng, train.n, k - seeded);
    for (int64_t s = seeded; s < k; ++s)
      std::memcpy(c + s * d, train.x + pick[(size_t)(s - seeded)] * d, sizeof(float) * d);
  }

  // Lloyd iterations on the training set.
  std::vector<int32_t> assign((size_t)train.n, -1), next((size_t)train.n);
  std::vector<double> dist2((size_t)train.n);
  bool converged = false;
  for (int it = 0; it < options.iters; ++it) {
    assign_all(next.data(), dist2.data(), train, c, k, d, sign, threads);
    if (it > 0 && next == assign) {  // fixed point: further iterations reproduce this state
      converged = true;
      break;
    }
    int64_t changed = 0;
    for (int64_t i = 0; i < train.n; ++i) changed += next[(size_t)i] != assign[(size_t)i];
    const bool settled = it > 0 && (double)changed < options.min_changed * (double)train.n;
    assign.swap(next);
    double inertia = 0.0;
    for (double v : dist2) inertia += v;
    inertia /= (double)train.n;
    update_centroids(c, assign.data(), train, k, d, sign, pattern_count);
    res.iterations = it + 1;
    if (progress) progress->checkpoint(res.iterations, false, inertia);
    if (settled) break;  // VQR_PARAM_KMEANS_TOL: the centroids moved once more; assign everything below
  }

  // Final assignment of every vector (the converged training assignment when it covers them all).
  if (converged && !sampled) {
    res.assign.swap(assign);
  } else {
    res.assign.resize((size_t)count);
    dist2.resize((size_t)count);
    assign_all(res.assign.data(), dist2.data(), all, c, k, d, sign, threads);
  }
  double total = 0.0;
  for (int64_t i = 0; i < count; ++i) total += dist2[(size_t)i];
  res.inertia = total / (double)count;
  return res;
}

}  // namespace vqr::learn
