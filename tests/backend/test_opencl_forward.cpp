// The forward on resident device activations (model/resident_forward.h, kernels_cl/forward.cl):
// each pass against its host twin, then whole forwards, packed batches, sinks, explicit weights
// and resident Hessian batches against the CPU's Forward, on the OpenCL device (PoCL in CI).
//
// Tolerances, from the arithmetic (u = 2^-24):
// - RMSNorm, the bias fill and Qwen's q/k norm with RoPE do the host's operations in the host's
//   order (forward.cl: 16 lanes, contraction off, correctly rounded division and sqrt): the same
//   bits, which the test demands.
// - SwiGLU: the device's exp within 3 ulp and glibc's expf within 1, so e = exp(-v) differs by at
//   most 8u relative; 1 + e, 1 / (1 + e), v times it and times hb2 are each rounded on both sides
//   (up to 2u apart apiece): 8u + 4 x 2u = 16u relative, held to kSwigluRel = 20u.
// - Softmax: scores / scale are the same bits (correctly rounded division), the maximum exact; the
//   host's exp (core/vector_exp.h) within 4 ulp and the device's within 3: 14u relative per term;
//   each side's sum of n terms is within (n - 1) u of the exact sum, and the final division
//   rounds: |dp| <= (14 + 14 + 2 (n - 1) + 4) u p, held to (32 + 2n) u max(p).
// - A GEMM of depth k: any two summation orders differ by at most 2 k u sum |a||b| per output.
// - Whole forwards: the bound of tests/model/forward_paths.h (the BLAS and reference paths of the
//   host differ by the same kinds of terms: products' order, RMSNorm's order, softmax's exp).
// Without an OpenCL device the tests skip, unless VQR_REQUIRE_OPENCL=1.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#include "backend/backend.h"
#include "backend/forward_kernels.h"
#include "common/test_util.h"
#include "core/dtype.h"
#include "core/error.h"
#include "hessian/hessian.h"
#include "model/attention.h"
#include "model/elementwise.h"
#include "model/forward.h"
#include "model/forward_paths.h"
#include "model/random_model.h"
#include "opencl_device.h"
#include "pipeline/resident_batch.h"

namespace {

using vqr::backend::Backend;
using vqr::backend::DeviceBuffer;
using vqr::backend::ForwardKernels;
using vqr::backend::Op;
using vqr::model::Forward;
using vqr::model::LinearBatch;
using vqr::model::LinearInput;
using vqr::model::LinearKind;
using vqr::model::Model;
using vqr::model::ModelConfig;
using vqr::model::SinkAction;

constexpr double kU = 0x1p-24;
constexpr double kSwigluRel = 20 * kU;

// n values N(0, scale^2), the same on every standard library (common/test_util.h).
std::vector<float> random_values(size_t n, uint64_t seed, float scale = 1.0f) {
  vqrt::Rng rng(seed);
  return vqrt::normal_matrix(rng, 1, (int64_t)n, scale);
}

std::unique_ptr<DeviceBuffer> upload(Backend &be, const std::vector<float> &v) {
  auto b = be.alloc(std::max<size_t>(v.size(), 1) * sizeof(float));
  b->upload(0, v.data(), v.size() * sizeof(float));
  return b;
}

std::vector<float> download(const DeviceBuffer &b, size_t n) {
  std::vector<float> v(n);
  b.download(0, v.data(), n * sizeof(float));
  return v;
}

TEST(OpenClForwardPasses, RmsNormFillAndRopeAreTheHostsBits) {
  OPENCL_OR_SKIP(cl);
  auto k = cl->make_forward_kernels();
  ASSERT_NE(k, nullptr);
  int cases = 0;
  for (int64_t rows : {1, 3, 33})
    for (int64_t width : {1, 7, 16, 17, 64, 100, 257}) {
      const auto x = random_values((size_t)(rows * width), (uint32_t)(rows * 1000 + width));
      const auto w = random_values((size_t)width, (uint32_t)width, 0.3f);
      std::vector<float> want(x.size());
      vqr::model::rmsnorm_rows(want.data(), x.data(), w.data(), rows, width, 1e-5f, 1);
      auto dx = upload(*cl, x), dw = upload(*cl, w), dout = cl->alloc(x.size() * 4);
      k->rmsnorm_rows(*dout, *dx, *dw, rows, width, 1e-5f);
      EXPECT_EQ(download(*dout, x.size()), want) << rows << " x " << width;
      k->rmsnorm_rows(*dx, *dx, *dw, rows, width, 1e-5f);  // in place
      EXPECT_EQ(download(*dx, x.size()), want) << rows << " x " << width << " in place";

      std::vector<float> filled(x.size());
      vqr::model::fill_rows(filled.data(), w.data(), rows, width, 1);
      k->fill_rows(*dout, *dw, rows, width);
      EXPECT_EQ(download(*dout, x.size()), filled);
      ++cases;
    }
  // RoPE with and without Qwen's q/k norms, both layouts, GQA, the tokens at a row offset.
  for (bool half : {false, true})
    for (bool norms : {false, true})
      for (int64_t HS : {2, 8, 64}) {
        const int64_t NH = 4, NKV = 2, T = 37, row0 = 5, rows = row0 + T;
        std::vector<float> inv(HS / 2);
        for (int64_t j = 0; j < HS / 2; ++j) inv[j] = std::pow(10000.0f, -2.0f * j / HS);
        const auto table = vqr::model::rope_table(inv, T);
        auto q = random_values((size_t)(rows * NH * HS), 11), kk = random_values((size_t)(rows * NKV * HS), 12);
        const auto qn = random_values((size_t)HS, 13, 0.2f), kn = random_values((size_t)HS, 14, 0.2f);
        auto dq = upload(*cl, q), dk = upload(*cl, kk), dt = upload(*cl, table), dqn = upload(*cl, qn),
             dkn = upload(*cl, kn);
        const auto layout = half ? vqr::model::RopeLayout::kHalf : vqr::model::RopeLayout::kInterleaved;
        vqr::model::qk_norm_rope_rows(q.data() + row0 * NH * HS, kk.data() + row0 * NKV * HS, table.data(),
                                      norms ? qn.data() : nullptr, norms ? kn.data() : nullptr, 1e-6f, T, NH, NKV, HS,
                                      layout, 1);
        k->qk_norm_rope_rows(*dq, *dk, row0, *dt, norms ? dqn.get() : nullptr, norms ? dkn.get() : nullptr, 1e-6f, T,
                             NH, NKV, HS, half);
        EXPECT_EQ(download(*dq, q.size()), q) << "HS " << HS << " half " << half << " norms " << norms;
        EXPECT_EQ(download(*dk, kk.size()), kk) << "HS " << HS << " half " << half << " norms " << norms;
        ++cases;
      }
  std::printf("%d shapes bit-identical\n", cases);
}

TEST(OpenClForwardPasses, SwigluWithinTheExpBound) {
  OPENCL_OR_SKIP(cl);
  auto k = cl->make_forward_kernels();
  for (int64_t n : {1, 5, 255, 256, 257, 4099}) {
    auto hb = random_values((size_t)n, (uint32_t)n, 3.0f);
    const auto hb2 = random_values((size_t)n, (uint32_t)n + 1);
    auto dhb = upload(*cl, hb), dhb2 = upload(*cl, hb2);
    vqr::model::swiglu_forward(hb.data(), hb2.data(), n);
    k->swiglu(*dhb, *dhb2, n);
    const auto got = download(*dhb, (size_t)n);
    double worst = 0;
    for (int64_t i = 0; i < n; ++i) {
      const double d = std::fabs((double)got[i] - hb[i]);
      worst = std::max(worst, d / (kSwigluRel * std::fabs(hb[i]) + 1e-300));
      ASSERT_LE(d, kSwigluRel * std::fabs(hb[i])) << "n " << n << " at " << i;
    }
    std::printf("swiglu n %lld: worst %.2f of the bound\n", (long long)n, worst);
  }
}

TEST(OpenClForwardPasses, CausalSoftmaxWithinBoundAndZerosExact) {
  OPENCL_OR_SKIP(cl);
  auto k = cl->make_forward_kernels();
  struct Tile {
    int64_t heads, rows, t0, window;
  };
  // Tiles of the attention row pass: the first tile, a later one (t0 > 0), windows that cut the
  // keys (k0 > 0) and that do not, one row, rows not a multiple of the work-group.
  const Tile tiles[] = {{1, 1, 0, 0}, {3, 5, 0, 0}, {2, 128, 128, 0}, {4, 70, 200, 0}, {2, 100, 300, 64}, {1, 3, 10, 4}, {2, 128, 0, 300}};
  for (const Tile &t : tiles) {
    const int64_t t1 = t.t0 + t.rows, k0 = t.window > 0 && t.t0 >= t.window ? t.t0 - t.window + 1 : 0, nk = t1 - k0;
    const int64_t count = t.heads * t.rows;
    auto scores = random_values((size_t)(count * nk), (uint32_t)(count + nk), 4.0f);
    auto ds = upload(*cl, scores);
    const float scale = std::sqrt(64.0f);
    k->causal_softmax(*ds, count, t.rows, nk, t.t0, k0, t.window, scale);
    const auto got = download(*ds, scores.size());
    double worst = 0;
    for (int64_t r = 0; r < count; ++r) {
      const int64_t pos = t.t0 + r % t.rows;
      const int64_t first = (t.window > 0 && pos >= t.window ? pos - t.window + 1 : 0) - k0, last = pos - k0;
      float *a = scores.data() + r * nk;
      vqr::model::scaled_softmax_row(a + first, last - first + 1, scale);
      const int64_t n = last - first + 1;
      const double bound = (32.0 + 2.0 * n) * kU;
      for (int64_t s = 0; s < nk; ++s) {
        const float g = got[(size_t)(r * nk + s)];
        if (s < first || s > last) {
          ASSERT_EQ(g, 0.0f) << "masked score " << s << " of row " << r;
        } else {
          const double d = std::fabs((double)g - a[s]);
          const double allowed = bound * std::max(std::fabs(a[s]), std::fabs(g));
          worst = std::max(worst, d / allowed);
          ASSERT_LE(d, allowed) << "row " << r << " key " << s << " (t0 " << t.t0 << ")";
        }
      }
    }
    std::printf("softmax %lld heads x %lld rows at t0 %lld window %lld: worst %.3f of the bound\n",
                (long long)t.heads, (long long)t.rows, (long long)t.t0, (long long)t.window, worst);
  }
}

TEST(OpenClForwardPasses, GemmAtOffsetsWithinTheOrderBound) {
  OPENCL_OR_SKIP(cl);
  auto k = cl->make_forward_kernels();
  // Strided views inside larger buffers, as the attention's per-head products read them.
  for (int64_t m : {1, 17, 70})
    for (int64_t n : {1, 33, 65})
      for (int64_t kk : {1, 16, 100})
        for (Op ob : {Op::None, Op::Trans}) {
          const int64_t lda = kk + 3, ldb = (ob == Op::Trans ? kk : n) + 5, ldc = n + 2;
          const int64_t a_off = 7, b_off = 11, c_off = 13;
          const int64_t b_rows = ob == Op::Trans ? n : kk;
          const auto a = random_values((size_t)(a_off + m * lda), 1), b = random_values((size_t)(b_off + b_rows * ldb), 2);
          auto c = random_values((size_t)(c_off + m * ldc), 3);
          auto da = upload(*cl, a), db = upload(*cl, b), dc = upload(*cl, c);
          k->gemm(Op::None, ob, m, n, kk, 1.0f, *da, a_off, lda, *db, b_off, ldb, 1.0f, *dc, c_off, ldc);
          const auto got = download(*dc, c.size());
          for (int64_t i = 0; i < m; ++i)
            for (int64_t j = 0; j < n; ++j) {
              double exact = c[(size_t)(c_off + i * ldc + j)], mag = std::fabs(exact);
              for (int64_t p = 0; p < kk; ++p) {
                const double av = a[(size_t)(a_off + i * lda + p)];
                const double bv = ob == Op::Trans ? b[(size_t)(b_off + j * ldb + p)] : b[(size_t)(b_off + p * ldb + j)];
                exact += av * bv;
                mag += std::fabs(av * bv);
              }
              ASSERT_LE(std::fabs(got[(size_t)(c_off + i * ldc + j)] - exact), 2.0 * (kk + 1) * kU * mag)
                  << m << "x" << n << "x" << kk << " at " << i << "," << j;
            }
          // Outside the view nothing moved.
          for (int64_t i = 0; i < c_off; ++i) ASSERT_EQ(got[(size_t)i], c[(size_t)i]);
        }
}

// A model of config c with random weights, and a CPU and an OpenCL Forward over it.
struct Pair {
  Model model;
  std::unique_ptr<Forward> cpu, cl;
  Pair(const ModelConfig &c, Backend &be, int64_t max_tokens, int64_t batch_tokens = 0) : model(c) {
    vqr_test::fill_random(model, 7);
    cpu = std::make_unique<Forward>(model, max_tokens, 1, vqr::model::MatmulPath::kBlas, batch_tokens);
    cl = std::make_unique<Forward>(model, max_tokens, 1, vqr::model::MatmulPath::kBlas, batch_tokens);
    cl->set_backend(be);
  }
};

std::vector<ModelConfig> configs() {
  std::vector<ModelConfig> out;
  ModelConfig llama = vqr_test::base_config(64, 96, 4, 2, 97, 300);  // GQA; 300 tokens: three query tiles
  out.push_back(llama);
  ModelConfig qwen = llama;  // biases, q/k norms, the half RoPE layout
  qwen.qkv_bias = qwen.qk_norm = true;
  qwen.rope_layout = vqr::model::RopeLayout::kHalf;
  qwen.norm_eps = 1e-6f;
  out.push_back(qwen);
  ModelConfig mistral = vqr_test::base_config(48, 80, 6, 6, 61, 300);  // a sliding window across tiles
  mistral.sliding_window = 150;
  out.push_back(mistral);
  return out;
}

TEST(OpenClForward, WholeForwardsMatchTheHost) {
  OPENCL_OR_SKIP(cl);
  for (const ModelConfig &c : configs()) {
    for (int64_t T : {1, 5, 129, 300}) {
      Pair p(c, *cl, 300);
      std::vector<int32_t> tokens((size_t)T);
      for (int64_t t = 0; t < T; ++t) tokens[(size_t)t] = (int32_t)((t * 31 + 7) % c.vocab_size);
      std::vector<float> want((size_t)(T * c.vocab_size)), got(want.size());
      p.cpu->run(tokens.data(), T, want.data());
      p.cl->run(tokens.data(), T, got.data());
      SCOPED_TRACE("T " + std::to_string(T) + (c.qk_norm ? " qwen" : c.sliding_window ? " window" : " llama"));
      vqr_test::expect_logits_near(got, want, vqr_test::forward_order_tolerance(c));
    }
  }
}

TEST(OpenClForward, PackedSequencesAndBlockPiecesMatchTheHost) {
  OPENCL_OR_SKIP(cl);
  const ModelConfig c = configs()[1];
  const std::vector<int64_t> lengths = {3, 140, 1, 60};
  const int64_t n = 204, C = c.dim;
  Pair p(c, *cl, 140, n);
  std::vector<int32_t> tokens((size_t)n);
  for (int64_t t = 0; t < n; ++t) tokens[(size_t)t] = (int32_t)((t * 13 + 2) % c.vocab_size);
  for (Forward *f : {p.cpu.get(), p.cl.get()}) {
    f->set_segments(lengths);
    f->embed(tokens.data(), n);
  }
  // Block by block, the stream read between blocks (it stays on the device: read_hidden).
  const double tol = vqr_test::forward_order_tolerance(c);
  for (int l = 0; l < c.n_layers; ++l) {
    p.cpu->block(l, n);
    p.cl->block(l, n);
    const std::vector<float> want(p.cpu->read_hidden(), p.cpu->read_hidden() + n * C);
    const std::vector<float> got(p.cl->read_hidden(), p.cl->read_hidden() + n * C);
    vqr_test::expect_logits_near(got, want, tol);
  }
  std::vector<float> want((size_t)(n * c.vocab_size)), got(want.size());
  p.cpu->head(n, want.data());
  p.cl->head(n, got.data());
  vqr_test::expect_logits_near(got, want, tol);
}

// The sequential quantizer's calibration passes: a pass with explicit (original) weights that stops
// at one input, then the model's weights, the sinks reading the batch on the host or on the device
// (a resident Hessian); then the model's weights changed through linear_data.
TEST(OpenClForward, SinksExplicitWeightsAndChangedWeights) {
  OPENCL_OR_SKIP(cl);
  const ModelConfig c = configs()[0];
  const int64_t T = 150, C = c.dim;
  Pair p(c, *cl, T);
  // Explicit weights: the model's scaled by 0.9 (a different block than the model's own).
  std::vector<std::vector<float>> scaled(vqr::model::kLinearKindCount);
  const float *explicit_ptrs[vqr::model::kLinearKindCount];
  for (int k = 0; k < vqr::model::kLinearKindCount; ++k) {
    const auto w = p.model.linear(0, (LinearKind)k);
    scaled[(size_t)k].assign(w.data, w.data + w.rows * w.cols);
    for (float &v : scaled[(size_t)k]) v *= 0.9f;
    explicit_ptrs[k] = scaled[(size_t)k].data();
  }
  const auto x0 = random_values((size_t)(T * C), 5);
  const double tol = vqr_test::forward_order_tolerance(c);
  for (LinearInput stop_at : {LinearInput::kAttnNorm, LinearInput::kAttnOut, LinearInput::kFfnNorm,
                              LinearInput::kFfnHidden}) {
    std::vector<float> seen[2];
    vqr::hessian::Hessian h_cpu(c.input_width(stop_at), false), h_cl(c.input_width(stop_at), false, false, *cl);
    Forward *f[2] = {p.cpu.get(), p.cl.get()};
    for (int s = 0; s < 2; ++s) {
      std::memcpy(f[s]->load_hidden(), x0.data(), x0.size() * sizeof(float));
      f[s]->block(0, T, [&](int, LinearInput input, const LinearBatch &x) {
        if (input != stop_at) return SinkAction::kContinue;
        seen[s].assign(x.host(), x.host() + x.rows() * x.width());
        return SinkAction::kStopBlock;
      }, explicit_ptrs);
      std::memcpy(f[s]->load_hidden(), x0.data(), x0.size() * sizeof(float));
      f[s]->block(0, T, [&](int, LinearInput input, const LinearBatch &x) {
        if (input != stop_at) return SinkAction::kContinue;
        EXPECT_EQ(x.device() != nullptr, s == 1);
        vqr::pipeline::add_linear_batch(s == 0 ? h_cpu : h_cl, x);
        return SinkAction::kStopBlock;
      });
    }
    SCOPED_TRACE("stop at input " + std::to_string((int)stop_at));
    vqr_test::expect_logits_near(seen[1], seen[0], tol);
    const int64_t n = c.input_width(stop_at);
    std::vector<float> hc((size_t)(n * n)), hl(hc.size());
    h_cpu.read(hc.data(), n);
    h_cl.read(hl.data(), n);
    EXPECT_EQ(h_cl.tokens(), T);
    // The inputs differ by the forward's bound; their Gram matrices by twice it plus the SYRK's order.
    vqr_test::expect_logits_near(hl, hc, 2 * tol + 2.0 * T * kU);
  }
  // Changed weights: the device must not keep the block it uploaded before.
  for (Forward *f : {p.cpu.get(), p.cl.get()}) {
    std::memcpy(f->load_hidden(), x0.data(), x0.size() * sizeof(float));
    f->block(0, T);
  }
  float *w2 = p.model.linear_data(0, LinearKind::kW2);
  for (int64_t i = 0; i < p.model.linear_rows(LinearKind::kW2) * p.model.linear_cols(LinearKind::kW2); ++i) w2[i] *= -2.0f;
  std::vector<float> out[2];
  int s = 0;
  for (Forward *f : {p.cpu.get(), p.cl.get()}) {
    std::memcpy(f->load_hidden(), x0.data(), x0.size() * sizeof(float));
    f->block(0, T);
    out[s].assign(f->read_hidden(), f->read_hidden() + T * C);
    ++s;
  }
  vqr_test::expect_logits_near(out[1], out[0], tol);
}

// A resident batch's values are not checked when it is added (they never reach the host): a
// non-finite one surfaces when S is read, as Status::NonFinite; a view outside its buffer is
// rejected at once. The CPU backend's buffers are host memory: add_resident is add there.
TEST(ResidentHessian, NonFiniteSurfacesAtReadAndBadViewsAreRejected) {
  const int64_t n = 5, rows = 4;
  std::vector<float> x = random_values((size_t)(rows * n), 3);
  std::vector<Backend *> backends = {&vqr::backend::cpu()};
  std::string error;
  if (Backend *cl = vqr_test::opencl_backend(&error)) backends.push_back(cl);
  for (Backend *be : backends) {
    auto buf = upload(*be, x);
    vqr::hessian::Hessian h(n, false, false, *be), ref(n, false);
    h.add_resident(*buf, 0, rows);
    ref.add(vqr::tensor_2d(x.data(), vqr::DType::F32, rows, n, 0));
    std::vector<float> got((size_t)(n * n)), want(got.size());
    h.read(got.data(), n);
    ref.read(want.data(), n);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j) {  // two summation orders of `rows` products
        double mag = 0;
        for (int64_t r = 0; r < rows; ++r) mag += std::fabs((double)x[(size_t)(r * n + i)] * x[(size_t)(r * n + j)]);
        EXPECT_NEAR(got[(size_t)(i * n + j)], want[(size_t)(i * n + j)], 2.0 * rows * kU * mag) << be->description();
      }
    EXPECT_THROW(h.add_resident(*buf, 1, rows), vqr::Error) << "one float past the buffer";
    x[7] = NAN;
    auto bad = upload(*be, x);
    vqr::hessian::Hessian hb(n, false, false, *be);
    try {
      hb.add_resident(*bad, 0, rows);
      hb.read(got.data(), n);
      ADD_FAILURE() << be->description() << ": a NaN in a resident batch was accepted";
    } catch (const vqr::Error &e) {
      EXPECT_EQ(e.status(), vqr::Status::NonFinite) << e.what();
    }
    x[7] = 0.5f;
  }
}

}  // namespace
