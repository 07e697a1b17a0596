// The asymmetric Hessian accumulator (VQR_HESSIAN_ASYMMETRIC, vqr_hessian_add_pair,
// vqr_hessian_read_d; spec gptq §2.2) through the public C API: D = (2/T) sum (x_fp - x_q) x_q^T
// and H from x_q against a double reference; batching invariance; f16/bf16/strided and mixed
// inputs; merge; the serialized format with D (round trip, every single-byte corruption rejected);
// argument errors leave the accumulator unchanged.
#include <gtest/gtest.h>

#include "common/serialized_hessian.h"
#include "common/test_util.h"

namespace {

using namespace vqrt;

constexpr double kU32 = 1.0 / 16777216.0;  // fp32 unit roundoff 2^-24

// D in double: (2/T) sum_t (x_fp,t - x_q,t) x_q,t^T, row i = input channel i of the asymmetry.
std::vector<double> d_ref(const std::vector<float> &xq, const std::vector<float> &xf, int64_t t, int64_t n) {
  std::vector<double> d((size_t)(n * n), 0.0);
  for (int64_t r = 0; r < t; ++r)
    for (int64_t i = 0; i < n; ++i) {
      const double dx = (double)xf[(size_t)(r * n + i)] - (double)xq[(size_t)(r * n + i)];
      for (int64_t j = 0; j < n; ++j) d[(size_t)(i * n + j)] += dx * (double)xq[(size_t)(r * n + j)];
    }
  for (auto &v : d) v *= 2.0 / (double)t;
  return d;
}

// Elementwise bound for fp32 accumulation of D: the difference x_fp - x_q is rounded once (u), then
// T products are summed (gamma_T on sum |dx x_q|, any summation order), plus the product, the 2/T
// and the final store: (2/T) (T + 4) u sum_t |dx_ti x_tj|. `slack` as in test_hessian.cpp.
std::vector<double> d_bound(const std::vector<float> &xq, const std::vector<float> &xf, int64_t t, int64_t n,
                            double slack = 1.0) {
  std::vector<double> b((size_t)(n * n), 0.0);
  for (int64_t r = 0; r < t; ++r)
    for (int64_t i = 0; i < n; ++i) {
      const double dx = std::fabs((double)xf[(size_t)(r * n + i)] - (double)xq[(size_t)(r * n + i)]);
      for (int64_t j = 0; j < n; ++j) b[(size_t)(i * n + j)] += dx * std::fabs((double)xq[(size_t)(r * n + j)]);
    }
  for (auto &v : b) v *= slack * (2.0 / (double)t) * ((double)t + 4.0) * kU32;
  return b;
}

// The same bound for H = (2/T) sum x_q x_q^T (test_hessian.cpp's h_bound).
std::vector<double> h_bound(const std::vector<float> &x, int64_t t, int64_t n, double slack = 1.0) {
  std::vector<double> b((size_t)(n * n), 0.0);
  for (int64_t r = 0; r < t; ++r)
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j)
        b[(size_t)(i * n + j)] += std::fabs((double)x[(size_t)(r * n + i)] * x[(size_t)(r * n + j)]);
  for (auto &v : b) v *= slack * (2.0 / (double)t) * ((double)t + 3.0) * kU32;
  return b;
}

::testing::AssertionResult within_bound(const char *what, const std::vector<float> &got,
                                        const std::vector<double> &want, const std::vector<double> &bound,
                                        int64_t n) {
  size_t bad = 0;
  double worst = 0.0;
  size_t worst_i = 0;
  std::ostringstream os;
  for (size_t i = 0; i < got.size(); ++i) {
    const double d = std::fabs((double)got[i] - want[i]);
    const double ratio = bound[i] > 0 ? d / bound[i] : (d > 0 ? INFINITY : 0.0);
    if (!(ratio <= 1.0)) {
      if (bad < 8)
        os << "\n  (" << i / (size_t)n << ", " << i % (size_t)n << "): got " << got[i] << " want " << want[i]
           << " bound " << bound[i];
      ++bad;
    }
    if (!(ratio <= worst)) {
      worst = ratio;
      worst_i = i;
    }
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << what << ": " << bad << " of " << got.size()
                                       << " entries outside the fp32 bound; worst error/bound " << worst << " at ("
                                       << worst_i / (size_t)n << ", " << worst_i % (size_t)n << ")" << os.str();
}

HessianPtr new_hessian(int64_t n, unsigned flags = VQR_HESSIAN_ASYMMETRIC) {
  vqr_hessian *h = nullptr;
  const vqr_status st = vqr_hessian_create(n, flags, &h);
  EXPECT_EQ(st, VQR_OK) << status_text(st);
  return HessianPtr(h);
}

vqr_status add_pair_rows(vqr_hessian *h, const std::vector<float> &xq, const std::vector<float> &xf, int64_t n,
                         int64_t r0, int64_t r1) {
  vqr_tensor a = vqr_tensor_2d(xq.data() + r0 * n, VQR_DTYPE_F32, r1 - r0, n, 0);
  vqr_tensor b = vqr_tensor_2d(xf.data() + r0 * n, VQR_DTYPE_F32, r1 - r0, n, 0);
  return vqr_hessian_add_pair(h, &a, &b);
}

std::vector<float> read_d(const vqr_hessian *h) {
  const int64_t n = vqr_hessian_width(h);
  std::vector<float> out((size_t)(n * n), std::nanf(""));
  const vqr_status st = vqr_hessian_read_d(h, out.data(), 0);
  if (st != VQR_OK) ADD_FAILURE() << "vqr_hessian_read_d: " << status_text(st);
  return out;
}

bool bits_equal(const std::vector<float> &a, const std::vector<float> &b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

// A pair of streams: x_fp correlated with outliers, x_q = x_fp with a per-channel gain error, a
// neighbour leak and noise, so D is dense and not symmetric.
void make_pair(uint64_t seed, int64_t t, int64_t n, std::vector<float> &xq, std::vector<float> &xf) {
  Rng rng(seed);
  xf = correlated_activations(rng, t, n, 2);
  xq = xf;
  std::vector<double> gain((size_t)n);
  for (auto &g : gain) g = 0.2 * rng.normal();
  for (int64_t r = 0; r < t; ++r)
    for (int64_t j = 0; j < n; ++j)
      xq[(size_t)(r * n + j)] = (float)(xf[(size_t)(r * n + j)] * (1.0 + gain[(size_t)j]) +
                                        0.1 * xf[(size_t)(r * n + (j + 1) % n)] + 0.1 * rng.normal());
}

TEST(HessianAsym, DAndHMatchDoubleReference) {
  const int64_t t = 300, n = 24;
  std::vector<float> xq, xf;
  make_pair(11, t, n, xq, xf);
  auto h = new_hessian(n);
  ASSERT_EQ(vqr_hessian_flags(h.get()), (unsigned)VQR_HESSIAN_ASYMMETRIC);
  ASSERT_EQ(add_pair_rows(h.get(), xq, xf, n, 0, t), VQR_OK) << vqr_last_error();
  EXPECT_EQ(vqr_hessian_token_count(h.get()), t);
  const std::vector<float> d = read_d(h.get());
  const std::vector<double> want = d_ref(xq, xf, t, n);
  EXPECT_TRUE(within_bound("D", d, want, d_bound(xq, xf, t, n), n));
  // Typical error ~ sqrt(T) u: NMSE ~ 1e-12; 1e-10 is 100x.
  EXPECT_LT(nmse(d, want), 1e-10);
  // D is not symmetric here (premise), and is not D^T: row i is channel i's asymmetry.
  double asym = 0.0, total = 0.0;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      asym += std::fabs(want[(size_t)(i * n + j)] - want[(size_t)(j * n + i)]);
      total += std::fabs(want[(size_t)(i * n + j)]);
    }
  ASSERT_GT(asym, 0.1 * total) << "premise: D is far from symmetric";
  // H comes from x_q only.
  EXPECT_TRUE(within_bound("H (from x_q)", read_hessian(h.get()), hessian_ref(xq, t, n), h_bound(xq, t, n), n));
  // ld > n: rows written at the stride, the gaps untouched.
  const int64_t ld = n + 3;
  std::vector<float> wide((size_t)(n * ld), -7.0f);
  ASSERT_EQ(vqr_hessian_read_d(h.get(), wide.data(), ld), VQR_OK);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < ld; ++j) {
      const float v = wide[(size_t)(i * ld + j)];
      if (j < n)
        ASSERT_EQ(v, d[(size_t)(i * n + j)]) << i << "," << j;
      else
        ASSERT_EQ(v, -7.0f) << "read_d wrote into the row gap at " << i << "," << j;
    }
  std::vector<float> small((size_t)(n * n), -7.0f);
  EXPECT_EQ(vqr_hessian_read_d(h.get(), small.data(), n - 1), VQR_ERR_INVALID_ARGUMENT) << "ld < n";
  EXPECT_EQ(vqr_hessian_read_d(h.get(), nullptr, 0), VQR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(vqr_hessian_read_d(nullptr, small.data(), 0), VQR_ERR_INVALID_ARGUMENT);
  for (float v : small) ASSERT_EQ(v, -7.0f);
}

// With T = 0, D reads as zeros.
TEST(HessianAsym, EmptyAccumulatorReadsZero) {
  const int64_t n = 5;
  auto h = new_hessian(n);
  EXPECT_TRUE(vectors_equal("D (T = 0)", read_d(h.get()), std::vector<float>((size_t)(n * n), 0.f), n));
  std::vector<float> none;
  vqr_tensor e = vqr_tensor_2d(none.data(), VQR_DTYPE_F32, 0, n, 0);
  EXPECT_EQ(vqr_hessian_add_pair(h.get(), &e, &e), VQR_OK) << "T = 0 is allowed";
  EXPECT_EQ(vqr_hessian_token_count(h.get()), 0);
}

TEST(HessianAsym, BatchingInvariance) {
  const int64_t t = 300, n = 20;
  std::vector<float> xq, xf;
  make_pair(12, t, n, xq, xf);
  const std::vector<double> want_d = d_ref(xq, xf, t, n), want_h = hessian_ref(xq, t, n);
  auto one = new_hessian(n);
  ASSERT_EQ(add_pair_rows(one.get(), xq, xf, n, 0, t), VQR_OK);
  const std::vector<float> d_one = read_d(one.get()), h_one = read_hessian(one.get());
  for (int64_t batch : {(int64_t)1, (int64_t)7, (int64_t)100}) {
    SCOPED_TRACE("pairs in batches of " + std::to_string(batch) + " rows");
    auto h = new_hessian(n);
    for (int64_t r = 0; r < t; r += batch)
      ASSERT_EQ(add_pair_rows(h.get(), xq, xf, n, r, std::min(t, r + batch)), VQR_OK) << vqr_last_error();
    EXPECT_EQ(vqr_hessian_token_count(h.get()), t);
    const std::vector<float> d = read_d(h.get()), hh = read_hessian(h.get());
    EXPECT_TRUE(within_bound("D (batched) vs reference", d, want_d, d_bound(xq, xf, t, n), n));
    EXPECT_TRUE(within_bound("D (batched) vs one batch", d, std::vector<double>(d_one.begin(), d_one.end()),
                             d_bound(xq, xf, t, n, 2.0), n));
    EXPECT_TRUE(within_bound("H (batched) vs reference", hh, want_h, h_bound(xq, t, n), n));
    EXPECT_TRUE(within_bound("H (batched) vs one batch", hh, std::vector<double>(h_one.begin(), h_one.end()),
                             h_bound(xq, t, n, 2.0), n));
  }
}

// f16 / bf16 / strided views, mixed between the two streams. Values are multiples of 1/64 in
// [-4, 4], exact in every dtype, so every variant sees the same numbers: D equals the fp32
// one-batch result exactly (same sums in the same order) and the reference within the bound.
TEST(HessianAsym, HalfBf16StridedAndMixedInputs) {
  Rng rng(13);
  const int64_t t = 50, n = 10, stride = 13;
  std::vector<float> xq((size_t)(t * n)), xf((size_t)(t * n));
  for (auto &v : xq) v = (float)rng.integer(-224, 224) / 64.0f;
  for (size_t i = 0; i < xf.size(); ++i) xf[i] = xq[i] + (float)rng.integer(-32, 32) / 64.0f;
  std::vector<uint16_t> qh(xq.size()), qb(xq.size()), fh(xf.size()), fb(xf.size());
  std::vector<float> qs((size_t)(t * stride), NAN), fs((size_t)(t * stride), NAN);
  for (size_t i = 0; i < xq.size(); ++i) {
    qh[i] = float_to_half(xq[i]);
    qb[i] = float_to_bf16(xq[i]);
    fh[i] = float_to_half(xf[i]);
    fb[i] = float_to_bf16(xf[i]);
    ASSERT_EQ(half_to_float(qh[i]), xq[i]);
    ASSERT_EQ(bf16_to_float(qb[i]), xq[i]);
    ASSERT_EQ(half_to_float(fh[i]), xf[i]);
    ASSERT_EQ(bf16_to_float(fb[i]), xf[i]);
  }
  for (int64_t r = 0; r < t; ++r)
    for (int64_t j = 0; j < n; ++j) {
      qs[(size_t)(r * stride + j)] = xq[(size_t)(r * n + j)];
      fs[(size_t)(r * stride + j)] = xf[(size_t)(r * n + j)];
    }
  const std::vector<double> want = d_ref(xq, xf, t, n);
  const std::vector<double> bound = d_bound(xq, xf, t, n);
  auto base = new_hessian(n);
  ASSERT_EQ(add_pair_rows(base.get(), xq, xf, n, 0, t), VQR_OK);
  const std::vector<float> d_base = read_d(base.get()), h_base = read_hessian(base.get());
  struct View {
    const void *data;
    vqr_dtype dt;
    int64_t stride;
  };
  struct In {
    View q, f;
    const char *what;
  };
  const View Qf{xq.data(), VQR_DTYPE_F32, 0}, Qh{qh.data(), VQR_DTYPE_F16, 0}, Qb{qb.data(), VQR_DTYPE_BF16, 0},
      Qs{qs.data(), VQR_DTYPE_F32, stride};
  const View Ff{xf.data(), VQR_DTYPE_F32, 0}, Fh{fh.data(), VQR_DTYPE_F16, 0}, Fb{fb.data(), VQR_DTYPE_BF16, 0},
      Fs{fs.data(), VQR_DTYPE_F32, stride};
  for (const In &in : {In{Qh, Fh, "f16 / f16"}, In{Qb, Fb, "bf16 / bf16"}, In{Qs, Fs, "strided / strided"},
                       In{Qh, Fb, "f16 / bf16"}, In{Qb, Fs, "bf16 / strided f32"}, In{Qs, Ff, "strided / f32"},
                       In{Qf, Fh, "f32 / f16"}}) {
    SCOPED_TRACE(in.what);
    auto h = new_hessian(n);
    vqr_tensor a = vqr_tensor_2d(in.q.data, in.q.dt, t, n, in.q.stride);
    vqr_tensor b = vqr_tensor_2d(in.f.data, in.f.dt, t, n, in.f.stride);
    ASSERT_EQ(vqr_hessian_add_pair(h.get(), &a, &b), VQR_OK) << vqr_last_error();
    const std::vector<float> d = read_d(h.get());
    EXPECT_TRUE(within_bound("D", d, want, bound, n));
    EXPECT_TRUE(vectors_equal("D vs the f32 contiguous pair", d, d_base, n));
    EXPECT_TRUE(vectors_equal("H vs the f32 contiguous pair", read_hessian(h.get()), h_base, n));
  }
}

// VQR_HESSIAN_F64 | ASYMMETRIC keeps D in double: with inputs whose differences are exact in
// fp32 (multiples of 2^-10 near 3), D is the double reference rounded once (4 u allows the store
// and the 2/T scaling); the fp32 accumulator of the same data stays within its own bound.
TEST(HessianAsym, F64AccumulatesDInDouble) {
  Rng rng(14);
  const int64_t t = 4096, n = 8;
  std::vector<float> xq((size_t)(t * n)), xf((size_t)(t * n));
  for (size_t i = 0; i < xq.size(); ++i) {
    xq[i] = 3.0f + (float)rng.integer(-64, 64) / 1024.0f;
    xf[i] = xq[i] + (float)rng.integer(-64, 64) / 1024.0f + 0.5f;
  }
  const std::vector<double> want = d_ref(xq, xf, t, n);
  auto h64 = new_hessian(n, VQR_HESSIAN_ASYMMETRIC | VQR_HESSIAN_F64);
  EXPECT_EQ(vqr_hessian_flags(h64.get()), (unsigned)(VQR_HESSIAN_ASYMMETRIC | VQR_HESSIAN_F64));
  auto h32 = new_hessian(n);
  for (int64_t r = 0; r < t; r += 1000) {
    ASSERT_EQ(add_pair_rows(h64.get(), xq, xf, n, r, std::min(t, r + 1000)), VQR_OK);
    ASSERT_EQ(add_pair_rows(h32.get(), xq, xf, n, r, std::min(t, r + 1000)), VQR_OK);
  }
  EXPECT_TRUE(vectors_near("D (f64 accumulation)", read_d(h64.get()), want, 4.0 * kU32, 0.0, n));
  EXPECT_TRUE(vectors_near("H (f64 accumulation)", read_hessian(h64.get()), hessian_ref(xq, t, n), 4.0 * kU32, 0.0, n));
  const std::vector<float> d32 = read_d(h32.get());
  EXPECT_TRUE(within_bound("D (f32 accumulation)", d32, want, d_bound(xq, xf, t, n), n));
}

TEST(HessianAsym, MergeAddsDAndRejectsMixedKinds) {
  const int64_t t = 200, n = 16;
  std::vector<float> xq, xf;
  make_pair(15, t, n, xq, xf);
  for (unsigned extra : {0u, (unsigned)VQR_HESSIAN_F64}) {
    SCOPED_TRACE("flags " + std::to_string(VQR_HESSIAN_ASYMMETRIC | extra));
    auto a = new_hessian(n, VQR_HESSIAN_ASYMMETRIC | extra), b = new_hessian(n, VQR_HESSIAN_ASYMMETRIC | extra);
    ASSERT_EQ(add_pair_rows(a.get(), xq, xf, n, 0, 77), VQR_OK);
    ASSERT_EQ(add_pair_rows(b.get(), xq, xf, n, 77, t), VQR_OK);
    const std::vector<float> b_d = read_d(b.get()), b_h = read_hessian(b.get());
    ASSERT_EQ(vqr_hessian_merge(a.get(), b.get()), VQR_OK) << vqr_last_error();
    EXPECT_EQ(vqr_hessian_token_count(a.get()), t);
    EXPECT_TRUE(bits_equal(read_d(b.get()), b_d)) << "src must be read only";
    EXPECT_TRUE(bits_equal(read_hessian(b.get()), b_h));
    EXPECT_TRUE(within_bound("merged D", read_d(a.get()), d_ref(xq, xf, t, n), d_bound(xq, xf, t, n), n));
    EXPECT_TRUE(within_bound("merged H", read_hessian(a.get()), hessian_ref(xq, t, n), h_bound(xq, t, n), n));
  }
  // Symmetric with asymmetric, both directions: rejected, dst unchanged.
  auto asym = new_hessian(n), sym = new_hessian(n, 0);
  ASSERT_EQ(add_pair_rows(asym.get(), xq, xf, n, 0, 10), VQR_OK);
  vqr_tensor x = vqr_tensor_2d(xq.data(), VQR_DTYPE_F32, 10, n, 0);
  ASSERT_EQ(vqr_hessian_add(sym.get(), &x), VQR_OK);
  const std::vector<float> ad = read_d(asym.get()), ah = read_hessian(asym.get()), sh = read_hessian(sym.get());
  EXPECT_EQ(vqr_hessian_merge(asym.get(), sym.get()), VQR_ERR_INVALID_ARGUMENT);
  EXPECT_STRNE(vqr_last_error(), "");
  EXPECT_EQ(vqr_hessian_merge(sym.get(), asym.get()), VQR_ERR_INVALID_ARGUMENT);
  EXPECT_STRNE(vqr_last_error(), "");
  auto asym64 = new_hessian(n, VQR_HESSIAN_ASYMMETRIC | VQR_HESSIAN_F64);
  EXPECT_EQ(vqr_hessian_merge(asym.get(), asym64.get()), VQR_ERR_INVALID_ARGUMENT) << "precision mismatch";
  EXPECT_EQ(vqr_hessian_token_count(asym.get()), 10);
  EXPECT_EQ(vqr_hessian_token_count(sym.get()), 10);
  EXPECT_TRUE(bits_equal(read_d(asym.get()), ad));
  EXPECT_TRUE(bits_equal(read_hessian(asym.get()), ah));
  EXPECT_TRUE(bits_equal(read_hessian(sym.get()), sh));
}

// ---------------------------------------------------------------------------------------------
// Serialization with D (vqround.h): header as for symmetric accumulators with flags carrying
// VQR_HESSIAN_ASYMMETRIC, payload = upper triangle of S then the full n x n sum of
// (x_fp - x_q) x_q^T row by row, then a CRC-32 of everything before it.
// ---------------------------------------------------------------------------------------------
constexpr size_t kHeader = vqrt::kHessianHeader;
using vqrt::get_le;
using vqrt::put_le;
std::vector<uint8_t> serialize(const vqr_hessian *h) { return vqrt::serialize_hessian(h); }

TEST(HessianAsymSerialize, FormatAndRoundTripWithD) {
  const int64_t t = 13, n = 5;
  std::vector<float> xq, xf;
  make_pair(16, t, n, xq, xf);
  const std::vector<double> want_d = d_ref(xq, xf, t, n);
  const std::vector<double> bound_d = d_bound(xq, xf, t, n);
  for (unsigned extra : {0u, (unsigned)VQR_HESSIAN_F64}) {
    const unsigned flags = VQR_HESSIAN_ASYMMETRIC | extra;
    SCOPED_TRACE("flags " + std::to_string(flags));
    const size_t elem = extra ? 8 : 4;
    auto h = new_hessian(n, flags);
    ASSERT_EQ(add_pair_rows(h.get(), xq, xf, n, 0, t), VQR_OK);
    const std::vector<uint8_t> b = serialize(h.get());
    const size_t tri = (size_t)(n * (n + 1) / 2) * elem, full = (size_t)(n * n) * elem;
    ASSERT_EQ(b.size(), kHeader + tri + full + 4);
    EXPECT_EQ(std::memcmp(b.data(), "VQRH", 4), 0);
    EXPECT_EQ(get_le<uint32_t>(b, 4), 1u);
    EXPECT_EQ(get_le<uint32_t>(b, 8), flags);
    EXPECT_EQ(get_le<uint32_t>(b, 12), 0u);
    EXPECT_EQ(get_le<int64_t>(b, 16), n);
    EXPECT_EQ(get_le<int64_t>(b, 24), t);
    EXPECT_EQ(get_le<uint64_t>(b, 32), (uint64_t)(tri + full));
    EXPECT_EQ(get_le<uint32_t>(b, b.size() - 4), crc32(b.data(), b.size() - 4));
    // D section: the unnormalized sum (T/2) D, row by row.
    size_t off = kHeader + tri;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j, off += elem) {
        const double s = extra ? get_le<double>(b, off) : (double)get_le<float>(b, off);
        EXPECT_NEAR(s, want_d[(size_t)(i * n + j)] * t / 2.0, bound_d[(size_t)(i * n + j)] * t / 2.0) << i << "," << j;
      }
    vqr_hessian *r = nullptr;
    ASSERT_EQ(vqr_hessian_deserialize(b.data(), b.size(), &r), VQR_OK) << vqr_last_error();
    HessianPtr back(r);
    EXPECT_EQ(vqr_hessian_flags(back.get()), flags);
    EXPECT_EQ(vqr_hessian_width(back.get()), n);
    EXPECT_EQ(vqr_hessian_token_count(back.get()), t);
    EXPECT_TRUE(bits_equal(read_d(back.get()), read_d(h.get()))) << "D not bit-identical after the round trip";
    EXPECT_TRUE(bits_equal(read_hessian(back.get()), read_hessian(h.get())));
    EXPECT_TRUE(vectors_equal("re-serialized bytes", serialize(back.get()), b));
    // The restored accumulator keeps accumulating pairs and merges with the original.
    ASSERT_EQ(add_pair_rows(back.get(), xq, xf, n, 0, t), VQR_OK) << vqr_last_error();
    EXPECT_EQ(vqr_hessian_token_count(back.get()), 2 * t);
    ASSERT_EQ(vqr_hessian_merge(back.get(), h.get()), VQR_OK) << vqr_last_error();
    EXPECT_TRUE(within_bound("D after round trip + add + merge", read_d(back.get()), want_d,
                             d_bound(xq, xf, t, n, 3.0), n));
  }
}

TEST(HessianAsymSerialize, CorruptionRejected) {
  const int64_t t = 16, n = 4;
  std::vector<float> xq, xf;
  make_pair(17, t, n, xq, xf);
  for (unsigned extra : {0u, (unsigned)VQR_HESSIAN_F64}) {
    SCOPED_TRACE("f64 " + std::to_string(extra));
    auto h = new_hessian(n, VQR_HESSIAN_ASYMMETRIC | extra);
    ASSERT_EQ(add_pair_rows(h.get(), xq, xf, n, 0, t), VQR_OK);
    const std::vector<uint8_t> good = serialize(h.get());
    int accepted = 0;
    for (size_t pos = 0; pos < good.size(); ++pos)
      for (uint8_t flip : {(uint8_t)0x01, (uint8_t)0x80, (uint8_t)0xFF}) {
        std::vector<uint8_t> b = good;
        b[pos] ^= flip;
        vqr_hessian *const sentinel = reinterpret_cast<vqr_hessian *>(0x20);
        vqr_hessian *out = sentinel;
        const vqr_status st = vqr_hessian_deserialize(b.data(), b.size(), &out);
        if (st == VQR_OK) {
          vqr_hessian_free(out);
          if (accepted++ < 8) ADD_FAILURE() << "byte " << pos << " ^ 0x" << std::hex << (int)flip << " accepted";
        } else {
          EXPECT_TRUE(st == VQR_ERR_CORRUPT || st == VQR_ERR_INVALID_ARGUMENT) << (int)st;
          EXPECT_EQ(out, sentinel);
        }
      }
    EXPECT_EQ(accepted, 0);
    // Valid CRC but inconsistent fields: the ASYMMETRIC flag cleared (payload too long for it), or
    // a NaN in the D section.
    auto fix_crc = [](std::vector<uint8_t> &b) { put_le<uint32_t>(b, b.size() - 4, crc32(b.data(), b.size() - 4)); };
    std::vector<uint8_t> b = good;
    put_le<uint32_t>(b, 8, extra);
    fix_crc(b);
    vqr_hessian *out = nullptr;
    EXPECT_EQ(vqr_hessian_deserialize(b.data(), b.size(), &out), VQR_ERR_CORRUPT) << "flag cleared";
    b = good;
    const size_t d_off = kHeader + (size_t)(n * (n + 1) / 2) * (extra ? 8 : 4);
    if (extra)
      put_le<double>(b, d_off + 8 * 5, std::nan(""));
    else
      put_le<float>(b, d_off + 4 * 5, std::nanf(""));
    fix_crc(b);
    EXPECT_EQ(vqr_hessian_deserialize(b.data(), b.size(), &out), VQR_ERR_NONFINITE) << "NaN in D";
    // Truncated by one byte.
    EXPECT_NE(vqr_hessian_deserialize(good.data(), good.size() - 1, &out), VQR_OK);
  }
}

// ---------------------------------------------------------------------------------------------
// Errors: every failing call leaves the accumulator (H, D, tokens) unchanged.
// ---------------------------------------------------------------------------------------------
struct Snapshot {
  std::vector<float> h, d;
  int64_t tokens;
};
Snapshot snapshot(const vqr_hessian *h) {
  Snapshot s;
  s.h = read_hessian(h);
  if (vqr_hessian_flags(h) & VQR_HESSIAN_ASYMMETRIC) s.d = read_d(h);
  s.tokens = vqr_hessian_token_count(h);
  return s;
}
::testing::AssertionResult unchanged(const vqr_hessian *h, const Snapshot &before) {
  const Snapshot now = snapshot(h);
  if (now.tokens != before.tokens)
    return ::testing::AssertionFailure() << "tokens " << now.tokens << " vs " << before.tokens;
  if (!bits_equal(now.h, before.h)) return ::testing::AssertionFailure() << "H changed";
  if (!bits_equal(now.d, before.d)) return ::testing::AssertionFailure() << "D changed";
  return ::testing::AssertionSuccess();
}

TEST(HessianAsym, ArgumentErrorsLeaveStateUnchanged) {
  const int64_t t = 40, n = 8;
  std::vector<float> xq, xf;
  make_pair(18, t, n, xq, xf);
  auto h = new_hessian(n);
  ASSERT_EQ(add_pair_rows(h.get(), xq, xf, n, 0, t), VQR_OK);
  const Snapshot before = snapshot(h.get());
  vqr_tensor q = vqr_tensor_2d(xq.data(), VQR_DTYPE_F32, t, n, 0);
  vqr_tensor f = vqr_tensor_2d(xf.data(), VQR_DTYPE_F32, t, n, 0);
  // Shapes.
  vqr_tensor f_short = vqr_tensor_2d(xf.data(), VQR_DTYPE_F32, t - 1, n, 0);
  EXPECT_EQ(vqr_hessian_add_pair(h.get(), &q, &f_short), VQR_ERR_INVALID_ARGUMENT) << "rows differ";
  EXPECT_STRNE(vqr_last_error(), "");
  EXPECT_TRUE(unchanged(h.get(), before));
  vqr_tensor q_narrow = vqr_tensor_2d(xq.data(), VQR_DTYPE_F32, t, n - 1, 0);
  vqr_tensor f_narrow = vqr_tensor_2d(xf.data(), VQR_DTYPE_F32, t, n - 1, 0);
  EXPECT_EQ(vqr_hessian_add_pair(h.get(), &q_narrow, &f), VQR_ERR_INVALID_ARGUMENT) << "x_q width";
  EXPECT_EQ(vqr_hessian_add_pair(h.get(), &q, &f_narrow), VQR_ERR_INVALID_ARGUMENT) << "x_fp width";
  EXPECT_EQ(vqr_hessian_add_pair(h.get(), &q_narrow, &f_narrow), VQR_ERR_INVALID_ARGUMENT) << "both narrow";
  vqr_tensor bad_stride = vqr_tensor_2d(xf.data(), VQR_DTYPE_F32, t, n, n - 1);
  EXPECT_EQ(vqr_hessian_add_pair(h.get(), &q, &bad_stride), VQR_ERR_INVALID_ARGUMENT) << "stride < cols";
  EXPECT_EQ(vqr_hessian_add_pair(h.get(), nullptr, &f), VQR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(vqr_hessian_add_pair(h.get(), &q, nullptr), VQR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(vqr_hessian_add_pair(nullptr, &q, &f), VQR_ERR_INVALID_ARGUMENT);
  EXPECT_TRUE(unchanged(h.get(), before));
  // Non-finite values in either stream, at the first, a middle and the last element.
  for (float bad : {std::nanf(""), INFINITY, -INFINITY})
    for (int64_t pos : {(int64_t)0, (int64_t)17, t * n - 1})
      for (int which : {0, 1}) {
        std::vector<float> yq = xq, yf = xf;
        (which ? yf : yq)[(size_t)pos] = bad;
        vqr_tensor a = vqr_tensor_2d(yq.data(), VQR_DTYPE_F32, t, n, 0);
        vqr_tensor b = vqr_tensor_2d(yf.data(), VQR_DTYPE_F32, t, n, 0);
        EXPECT_EQ(vqr_hessian_add_pair(h.get(), &a, &b), VQR_ERR_NONFINITE)
            << (which ? "x_fp" : "x_q") << "[" << pos << "] = " << bad;
        EXPECT_NE(std::string(vqr_last_error()).find(which ? "x_fp" : "x_q"), std::string::npos) << vqr_last_error();
        ASSERT_TRUE(unchanged(h.get(), before)) << (which ? "x_fp" : "x_q") << "[" << pos << "] = " << bad;
      }
  // f16 Inf in x_fp.
  std::vector<uint16_t> fh(xf.size(), 0x3C00);
  fh[5] = 0x7C00;
  vqr_tensor th = vqr_tensor_2d(fh.data(), VQR_DTYPE_F16, t, n, 0);
  EXPECT_EQ(vqr_hessian_add_pair(h.get(), &q, &th), VQR_ERR_NONFINITE);
  EXPECT_TRUE(unchanged(h.get(), before));

  // add_pair on a symmetric accumulator; read_d on a symmetric accumulator.
  auto sym = new_hessian(n, 0);
  ASSERT_EQ(vqr_hessian_add(sym.get(), &q), VQR_OK);
  const Snapshot sym_before = snapshot(sym.get());
  EXPECT_EQ(vqr_hessian_add_pair(sym.get(), &q, &f), VQR_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(vqr_last_error()).find("asymmetric"), std::string::npos) << vqr_last_error();
  EXPECT_TRUE(unchanged(sym.get(), sym_before));
  std::vector<float> out((size_t)(n * n), -3.0f);
  EXPECT_EQ(vqr_hessian_read_d(sym.get(), out.data(), 0), VQR_ERR_INVALID_ARGUMENT);
  EXPECT_STRNE(vqr_last_error(), "");
  for (float v : out) ASSERT_EQ(v, -3.0f) << "read_d wrote into out on failure";
  EXPECT_EQ(vqr_hessian_flags(sym.get()), 0u);
  EXPECT_EQ(vqr_hessian_flags(nullptr), 0u);
  auto sym64 = new_hessian(n, VQR_HESSIAN_F64);
  EXPECT_EQ(vqr_hessian_read_d(sym64.get(), out.data(), 0), VQR_ERR_INVALID_ARGUMENT);
}

// vqr_hessian_add on an asymmetric accumulator means x_fp = x_q: H gains x x^T, D gains nothing,
// and the result equals add_pair(x, x).
TEST(HessianAsym, PlainAddLeavesDUnchanged) {
  const int64_t t = 60, n = 12;
  std::vector<float> xq, xf;
  make_pair(19, t, n, xq, xf);
  auto h = new_hessian(n);
  ASSERT_EQ(add_pair_rows(h.get(), xq, xf, n, 0, 30), VQR_OK);
  const std::vector<float> d30 = read_d(h.get());
  // D in units of the sum: read_d scales by 2/T, so compare the unnormalized sums (T/2) D.
  vqr_tensor x = vqr_tensor_2d(xq.data() + 30 * n, VQR_DTYPE_F32, t - 30, n, 0);
  ASSERT_EQ(vqr_hessian_add(h.get(), &x), VQR_OK) << vqr_last_error();
  EXPECT_EQ(vqr_hessian_token_count(h.get()), t);
  const std::vector<float> d60 = read_d(h.get());
  std::vector<double> want((size_t)(n * n));
  for (size_t i = 0; i < want.size(); ++i) want[i] = (double)d30[i] * 30.0 / 60.0;  // same sum, T doubled
  EXPECT_TRUE(vectors_near("D after add(): the sum is unchanged", d60, want, 3.0 * kU32, 0.0, n));
  EXPECT_TRUE(within_bound("H after add()", read_hessian(h.get()), hessian_ref(xq, t, n), h_bound(xq, t, n), n));
  // Compared with add_pair(x, x) on a fresh accumulator: identical.
  auto g = new_hessian(n);
  ASSERT_EQ(add_pair_rows(g.get(), xq, xf, n, 0, 30), VQR_OK);
  ASSERT_EQ(add_pair_rows(g.get(), xq, xq, n, 30, t), VQR_OK);
  EXPECT_TRUE(bits_equal(read_d(g.get()), d60));
  // The whole D of a stream paired with itself is exactly zero.
  auto z = new_hessian(n);
  ASSERT_EQ(add_pair_rows(z.get(), xq, xq, n, 0, t), VQR_OK);
  EXPECT_TRUE(vectors_equal("D(x, x)", read_d(z.get()), std::vector<float>((size_t)(n * n), 0.f), n));
}

}  // namespace
