// Squared Euclidean distance and norm of float vectors, accumulated in double: the exact-enough
// reference both k-means tests compare the library's fp32 distances against.
#pragma once

namespace kmeans_test {

inline double dist2(const float *a, const float *b, int d) {
  double s = 0.0;
  for (int t = 0; t < d; ++t) {
    const double v = (double)a[t] - (double)b[t];
    s += v * v;
  }
  return s;
}

inline double norm2(const float *a, int d) {
  double s = 0.0;
  for (int t = 0; t < d; ++t) s += (double)a[t] * (double)a[t];
  return s;
}

}  // namespace kmeans_test
