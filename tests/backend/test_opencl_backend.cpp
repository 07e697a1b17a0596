// The OpenCL backend (src/backend/opencl) against the CPU reference, on whatever OpenCL device the
// machine has (PoCL's CPU device in CI; the setup script installs it).
//
// Tolerance: every GEMM/SYRK element must lie within (k + 2) u sum_p |a_ip b_pj| (+ the alpha/beta
// terms) of the exact product computed in double (backend_checks.h). That is the standard bound of
// a k-term fp32 dot product in any order (Higham, Accuracy and Stability §3.1), so it holds for the
// device's tiled, fma-accumulated order as it does for OpenBLAS's; it is not a fit to one machine.
//
// Without an OpenCL device the tests skip, unless VQR_REQUIRE_OPENCL=1 (CI), where they fail.
// The no-platform fallback runs as its own ctest with OCL_ICD_VENDORS pointing at an empty folder
// (the device list is read once per process).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "backend/opencl/cl_devices.h"
#include "backend/opencl/opencl_backend.h"
#include "backend/select.h"
#include "backend_checks.h"
#include "core/context.h"
#include "core/dtype.h"
#include "core/error.h"
#include "core/splitmix64.h"
#include "hessian/hessian.h"
#include "model/block_backward.h"
#include "model/data_dir.h"
#include "model/model.h"
#include "model/random_model.h"
#include "quant/config.h"
#include "quant/gptq.h"
#include "vqround/vqround.h"
#include "opencl_device.h"

namespace {

using namespace backend_checks;
using vqr::backend::Kind;

// Tiny, odd, tile-straddling (the kernel's tile is 64 x 64, depth 16) and padded shapes.
const Shape kShapes[] = {{1, 1, 1, 0},    {13, 7, 5, 3},   {64, 64, 16, 0}, {65, 63, 17, 1},
                         {130, 70, 33, 2}, {3, 129, 200, 0}, {200, 2, 64, 5}, {96, 160, 1, 0}};

TEST(OpenClBackend, GemmEveryTransposeAndShapeFloatAndDouble) {
  OPENCL_OR_SKIP(be);
  for (const Shape &s : kShapes)
    for (Op op_a : {Op::None, Op::Trans})
      for (Op op_b : {Op::None, Op::Trans}) {
        check_gemm<float>(*be, op_a, op_b, s);
        check_gemm<double>(*be, op_a, op_b, s);
        if (HasFatalFailure()) return;
      }
}

TEST(OpenClBackend, SyrkComputesOnlyItsTriangle) {
  OPENCL_OR_SKIP(be);
  for (const Shape &s : kShapes)
    for (Triangle uplo : {Triangle::Upper, Triangle::Lower})
      for (Op op : {Op::None, Op::Trans}) {
        check_syrk<float>(*be, uplo, op, s);
        check_syrk<double>(*be, uplo, op, s);
        if (HasFatalFailure()) return;
      }
}

// BLAS semantics: beta = 0 never reads C (NaN there stays out), k = 0 scales C by beta.
TEST(OpenClBackend, BetaZeroIgnoresCAndEmptyKScales) {
  OPENCL_OR_SKIP(be);
  const int64_t m = 70, n = 9, k = 4;
  const auto a = random_matrix<float>(m, k, 1), b = random_matrix<float>(k, n, 2);
  std::vector<float> c((size_t)(m * n), NAN), ref((size_t)(m * n), NAN);
  be->gemm(Op::None, Op::None, m, n, k, 1.0f, a.data(), k, b.data(), n, 0.0f, c.data(), n);
  vqr::backend::cpu().gemm(Op::None, Op::None, m, n, k, 1.0f, a.data(), k, b.data(), n, 0.0f, ref.data(), n);
  for (size_t i = 0; i < c.size(); ++i) ASSERT_TRUE(std::isfinite(c[i])) << i;
  std::vector<float> d((size_t)(m * n), 2.0f);
  be->gemm(Op::None, Op::None, m, n, 0, 1.0f, a.data(), k, b.data(), n, 0.5f, d.data(), n);
  for (float v : d) ASSERT_EQ(v, 1.0f);
}

// Long k split into slices that accumulate in the device's C (a tiny slice limit forces ~10 slices).
TEST(OpenClBackend, KSlicesAccumulateLikeOneProduct) {
  OPENCL_OR_SKIP(be);
  std::string why;
  const auto *dev = vqr::backend::opencl::choose("", "", false, &why);
  ASSERT_NE(dev, nullptr) << why;
  auto sliced = vqr::backend::opencl::make_backend(*dev, "", /*slice_bytes=*/4 * 70 * 50);
  check_gemm<float>(*sliced, Op::Trans, Op::None, Shape{70, 33, 517, 2});
  check_gemm<float>(*sliced, Op::None, Op::Trans, Shape{33, 70, 517, 1});
  check_syrk<float>(*sliced, Triangle::Upper, Op::Trans, Shape{70, 70, 517, 3});
  check_gemm<double>(*sliced, Op::None, Op::None, Shape{20, 70, 300, 0});
}

// The Hessian statistic from 16-bit batches is widened on the device; the widening is exact, so
// the result meets the fp32 SYRK bound against the same values widened on the host.
TEST(OpenClBackend, HessianFromF16AndBf16MatchesTheCpu) {
  OPENCL_OR_SKIP(be);
  const int64_t t = 300, n = 77, ld = 80;
  vqr::SplitMix64 rng(5);
  for (vqr::DType dt : {vqr::DType::F16, vqr::DType::BF16, vqr::DType::F32}) {
    std::vector<uint16_t> x16((size_t)(t * ld));
    std::vector<float> x32((size_t)(t * ld)), xw((size_t)(t * n));
    for (int64_t r = 0; r < t; ++r)
      for (int64_t c = 0; c < ld; ++c) {
        const float v = (float)(2.0 * rng.uniform() - 1.0);
        x16[(size_t)(r * ld + c)] = dt == vqr::DType::F16 ? vqr::f32_to_f16(v) : vqr::f32_to_bf16(v);
        x32[(size_t)(r * ld + c)] = v;
      }
    const void *data = dt == vqr::DType::F32 ? (const void *)x32.data() : (const void *)x16.data();
    const vqr::TensorView view = vqr::tensor_2d(data, dt, t, n, ld);
    vqr::view_rows_to_f32(xw.data(), view, ld, 0, t);
    vqr::hessian::Hessian on_device(n, false, false, *be), on_cpu(n, false, false, vqr::backend::cpu());
    on_device.add(view);
    on_cpu.add(view);
    std::vector<float> hd((size_t)(n * n)), hc((size_t)(n * n));
    on_device.read(hd.data(), n);  // S accumulated in device memory (Hessian's resident mode)
    on_cpu.read(hc.data(), n);
    // The host-matrix form of the same operation, into a padded matrix whose lower triangle and
    // padding must stay untouched.
    const int64_t lds = n + 3;
    std::vector<float> direct((size_t)(n * lds), 7.0f);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = i; j < n; ++j) direct[(size_t)(i * lds + j)] = 0.0f;
    be->syrk_upper_view(view, ld, direct.data(), lds);
    const double u = std::ldexp(1.0, -24);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double mag = 0;
        for (int64_t p = 0; p < t; ++p) mag += std::fabs((double)xw[(size_t)(p * n + i)] * xw[(size_t)(p * n + j)]);
        // Each side within (t + 2) u mag of the exact sum, times the scale 2/T (exact power of 2 here
        // would need T a power of 2; the extra rounding of the scale is one more u).
        const double bound = 2.0 * (double)(t + 3) * u * mag * 2.0 / (double)t;
        ASSERT_NEAR(hd[(size_t)(i * n + j)], hc[(size_t)(i * n + j)], bound) << "dtype " << (int)dt << " at " << i << ", " << j;
        if (j >= i)
          ASSERT_NEAR(direct[(size_t)(i * lds + j)] * 2.0 / (double)t, hc[(size_t)(i * n + j)], bound) << i << ", " << j;
        else
          ASSERT_EQ(direct[(size_t)(i * lds + j)], 7.0f) << "below the diagonal: " << i << ", " << j;
      }
  }
}

// An accumulator whose S lives on the device: merging and serializing read it back first, and a
// merged accumulator keeps accumulating on the device.
TEST(OpenClBackend, ResidentHessianMergesAndSerializes) {
  OPENCL_OR_SKIP(be);
  const int64_t n = 70, t = 50;
  const auto x1 = random_matrix<float>(t, n, 21), x2 = random_matrix<float>(t, n, 22), x3 = random_matrix<float>(t, n, 23);
  auto view = [&](const std::vector<float> &x) { return vqr::tensor_2d(x.data(), vqr::DType::F32, t, n, 0); };
  vqr::hessian::Hessian a(n, false, false, *be), b(n, false, false, *be), ref(n, false);
  a.add(view(x1));
  b.add(view(x2));
  a.merge(b);
  a.add(view(x3));
  for (const auto *x : {&x1, &x2, &x3}) ref.add(view(*x));
  ASSERT_EQ(a.tokens(), 3 * t);
  std::vector<float> ha((size_t)(n * n)), hr((size_t)(n * n));
  a.read(ha.data(), n);
  ref.read(hr.data(), n);
  for (size_t i = 0; i < ha.size(); ++i) {
    const int64_t r = (int64_t)i / n, c = (int64_t)i % n;
    double mag = 0;
    for (const auto *x : {&x1, &x2, &x3})
      for (int64_t p = 0; p < t; ++p) mag += std::fabs((double)(*x)[(size_t)(p * n + r)] * (*x)[(size_t)(p * n + c)]);
    ASSERT_NEAR(ha[i], hr[i], 2.0 * (3 * t + 3) * std::ldexp(1.0, -24) * mag * 2.0 / (3.0 * t)) << r << ", " << c;
  }
  std::vector<unsigned char> bytes(a.serialized_size());
  a.serialize(bytes.data());
  const vqr::hessian::Hessian back = vqr::hessian::Hessian::deserialize(bytes.data(), bytes.size());
  std::vector<float> hb((size_t)(n * n));
  back.read(hb.data(), n);
  EXPECT_EQ(std::memcmp(hb.data(), ha.data(), ha.size() * sizeof(float)), 0);
}

// The asymmetric accumulator (GPTAQ/ResComp) on the device: S and Dsum both stay resident; H and
// D against the CPU accumulator's within the bound of a (2 batches x t)-term fp32 sum, after a merge.
TEST(OpenClBackend, ResidentAsymmetricHessianMatchesTheCpu) {
  OPENCL_OR_SKIP(be);
  const int64_t n = 45, t = 60;
  const auto q1 = random_matrix<float>(t, n, 31), f1 = random_matrix<float>(t, n, 32);
  const auto q2 = random_matrix<float>(t, n, 33), f2 = random_matrix<float>(t, n, 34);
  auto view = [&](const std::vector<float> &x) { return vqr::tensor_2d(x.data(), vqr::DType::F32, t, n, 0); };
  vqr::hessian::Hessian a(n, false, true, *be), b(n, false, true, *be), ref(n, false, true);
  a.add_pair(view(q1), view(f1));
  b.add_pair(view(q2), view(f2));
  a.merge(b);
  ref.add_pair(view(q1), view(f1));
  ref.add_pair(view(q2), view(f2));
  std::vector<float> ha((size_t)(n * n)), hr((size_t)(n * n)), da((size_t)(n * n)), dr((size_t)(n * n));
  a.read(ha.data(), n);
  ref.read(hr.data(), n);
  a.read_d(da.data(), n);
  ref.read_d(dr.data(), n);
  const double u = std::ldexp(1.0, -24), scale = 2.0 / (2.0 * t);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double mag_h = 0, mag_d = 0;
      for (const auto *pr : {&q1, &q2}) {
        const auto &q = *pr;
        const auto &f = pr == &q1 ? f1 : f2;
        for (int64_t p = 0; p < t; ++p) {
          const size_t pi = (size_t)(p * n + i), pj = (size_t)(p * n + j);
          mag_h += std::fabs((double)q[pi] * q[pj]);
          mag_d += std::fabs(((double)f[pi] - q[pi]) * q[pj]);
        }
      }
      const size_t ij = (size_t)(i * n + j);
      ASSERT_NEAR(ha[ij], hr[ij], 2.0 * (2 * t + 3) * u * mag_h * scale) << "H " << i << ", " << j;
      // dX = Xf - Xq is formed on the host in both (one rounding each, 2u relative more).
      ASSERT_NEAR(da[ij], dr[ij], 2.0 * (2 * t + 5) * u * mag_d * scale) << "D " << i << ", " << j;
    }
}

// GPTQ on the same Hessian: the sweep's cross-block GEMMs run on the device, so the weights the
// later blocks quantize differ from the CPU's by reordered-sum roundings; a code may then differ
// only where the value sat at a rounding tie of the grid. Measured here: every differing code is
// one grid step away, and they are rare.
TEST(OpenClBackend, GptqCodesMatchTheCpuExceptAtTies) {
  OPENCL_OR_SKIP(be);
  const int64_t m = 96, n = 384, t = 1024;  // three 128-column blocks: two cross-block GEMMs
  const auto x = random_matrix<float>(t, n, 9);
  const auto w = random_matrix<float>(m, n, 11);
  vqr::hessian::Hessian h(n, false);
  h.add(vqr::tensor_2d(x.data(), vqr::DType::F32, t, n, 0));
  for (int64_t group : {int64_t(-1), int64_t(32)}) {
    vqr::quant::QuantConfig qc;
    qc.method = vqr::quant::Method::Gptq;
    qc.bits = 3;
    qc.group_size = group;
    qc = vqr::quant::resolve_presets(qc);
    vqr::Context cpu_ctx, cl_ctx;
    cl_ctx.backend = be;
    const auto a = vqr::quant::gptq_quantize(w.data(), m, n, h.view(), qc, &cpu_ctx, 1, nullptr);
    const auto b = vqr::quant::gptq_quantize(w.data(), m, n, h.view(), qc, &cl_ctx, 1, nullptr);
    ASSERT_EQ(a.codes.size(), b.codes.size());
    int64_t differ = 0;
    for (size_t i = 0; i < a.codes.size(); ++i)
      if (a.codes[i] != b.codes[i]) {
        ++differ;
        ASSERT_EQ(std::abs((int)a.codes[i] - (int)b.codes[i]), 1) << "code " << i << " moved more than one step";
      }
    // The first block sees no device arithmetic at all: identical codes there.
    for (int64_t r = 0; r < m; ++r)
      for (int64_t c = 0; c < 128; ++c) ASSERT_EQ(a.codes[(size_t)(r * n + c)], b.codes[(size_t)(r * n + c)]);
    EXPECT_LE(differ, (int64_t)a.codes.size() / 200) << "group " << group;
    std::printf("gptq group %lld: %lld of %zu codes differ from the cpu\n", (long long)group, (long long)differ,
                a.codes.size());
  }
}

// The block backward (end-to-end distillation, block-wise AutoRound) on the device: dL/dx and every
// dL/dW against the CPU's. Each output is a chain of at most a dozen products of length <= 48 (the
// widest here), each within k u of its magnitudes (backend_checks.h), so 1e-4 of the largest
// magnitude bounds the difference with room (48 x 12 x 2^-24 is about 3.4e-5).
TEST(OpenClBackend, BlockBackwardMatchesTheCpu) {
  OPENCL_OR_SKIP(be);
  vqr::model::ModelConfig c;
  c.dim = 32, c.hidden_dim = 48, c.n_layers = 2, c.n_heads = 4, c.n_kv_heads = 2, c.vocab_size = 17, c.seq_len = 16;
  vqr::model::Model m(c);
  vqr_test::fill_random(m, 5);
  const int64_t T = 13;
  const auto x = random_matrix<float>(T, c.dim, 41), dy = random_matrix<float>(T, c.dim, 42);
  auto run = [&](vqr::backend::Backend &b, std::vector<float> &dx, std::vector<std::vector<float>> &dw) {
    vqr::model::BlockBackward bb(m, T, 1);
    bb.set_backend(b);
    dx.assign(x.size(), 0.0f);
    dw.assign(7, {});
    bb.run(1, x.data(), T, dy.data(), dx.data(), [&](vqr::model::LinearKind k, const float *g, int64_t rows, int64_t cols) {
      dw[static_cast<int>(k)].assign(g, g + rows * cols);
    });
  };
  std::vector<float> dx_cpu, dx_cl;
  std::vector<std::vector<float>> dw_cpu, dw_cl;
  run(vqr::backend::cpu(), dx_cpu, dw_cpu);
  run(*be, dx_cl, dw_cl);
  auto expect_close = [](const std::vector<float> &a, const std::vector<float> &b, const char *what) {
    ASSERT_EQ(a.size(), b.size()) << what;
    double scale = 0, worst = 0;
    for (size_t i = 0; i < a.size(); ++i) {
      scale = std::max(scale, (double)std::fabs(a[i]));
      worst = std::max(worst, (double)std::fabs(a[i] - b[i]));
    }
    EXPECT_GT(scale, 0.0) << what;
    EXPECT_LE(worst, 1e-4 * scale) << what << ": max |diff| " << worst << " of max |value| " << scale;
  };
  expect_close(dx_cpu, dx_cl, "dx");
  for (int k = 0; k < 7; ++k) expect_close(dw_cpu[k], dw_cl[k], vqr::model::linear_kind_name((vqr::model::LinearKind)k));
}

// A kernel folder whose gemm.cl does not compile: selecting "opencl" fails with Unsupported and the
// compiler's log; "auto" falls back to the CPU; a folder without the file is an I/O error; the
// built-in kernels still work afterwards.
TEST(OpenClBackend, KernelBuildFailureIsAStatusWithTheLog) {
  OPENCL_OR_SKIP(be);
  const std::string broken = std::string(VQR_SOURCE_DIR) + "/tests/backend/broken_kernels";
  setenv("VQR_OPENCL_KERNELS_DIR", broken.c_str(), 1);
  try {
    vqr::backend::select(Kind::OpenCl, "", "", nullptr);
    ADD_FAILURE() << "a broken kernel built";
  } catch (const vqr::Error &e) {
    EXPECT_EQ(e.status(), vqr::Status::Unsupported);
    EXPECT_NE(std::string(e.what()).find("build log"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("undeclared_identifier_vqr"), std::string::npos) << e.what();
  }
  std::string logged;
  vqr::Context ctx;
  ctx.log_fn = [&](vqr::LogLevel, const char *m) { logged += m; };
  EXPECT_EQ(vqr::backend::select(Kind::Auto, "", "0", &ctx), nullptr);
  EXPECT_NE(logged.find("computing on the CPU"), std::string::npos) << logged;
  setenv("VQR_OPENCL_KERNELS_DIR", (broken + "/missing").c_str(), 1);
  try {
    vqr::backend::select(Kind::OpenCl, "", "", nullptr);
    ADD_FAILURE() << "a missing kernel folder was accepted";
  } catch (const vqr::Error &e) {
    EXPECT_EQ(e.status(), vqr::Status::Io) << e.what();
  }
  unsetenv("VQR_OPENCL_KERNELS_DIR");
  EXPECT_EQ(vqr::backend::select(Kind::OpenCl, "", "", nullptr), be);  // built once, shared
}

// Device specs: an index, a name substring, "P:D"; out-of-range and unmatched specs are errors for
// "opencl" with the reason in the message.
TEST(OpenClBackend, DeviceSpecsChooseAndRefuse) {
  OPENCL_OR_SKIP(be);
  const auto &all = vqr::backend::opencl::devices();
  ASSERT_FALSE(all.empty());
  std::string why;
  EXPECT_EQ(vqr::backend::opencl::choose("", "0", false, &why), &all[0]);
  EXPECT_EQ(vqr::backend::opencl::choose("0", "0", false, &why), &all[0]);
  const std::string part = all[0].name.substr(0, std::min<size_t>(6, all[0].name.size()));
  EXPECT_EQ(vqr::backend::opencl::choose("", part, false, &why), &all[0]);
  EXPECT_EQ(vqr::backend::opencl::choose("", "9999", false, &why), nullptr);
  EXPECT_NE(why.find("out of range"), std::string::npos) << why;
  EXPECT_EQ(vqr::backend::opencl::choose("no-such-platform-xyz", "", false, &why), nullptr);
  EXPECT_NE(why.find("no-such-platform-xyz"), std::string::npos) << why;

  vqr_context *ctx = nullptr;
  ASSERT_EQ(vqr_context_create(&ctx), VQR_OK);
  EXPECT_EQ(vqr_context_set_backend(ctx, VQR_BACKEND_OPENCL, "no-such-device-xyz"), VQR_ERR_UNSUPPORTED);
  EXPECT_NE(std::string(vqr_last_error()).find("no-such-device-xyz"), std::string::npos) << vqr_last_error();
  EXPECT_EQ(std::string(vqr_context_backend(ctx)).rfind("cpu: ", 0), 0u);  // unchanged on error
  ASSERT_EQ(vqr_context_set_backend(ctx, VQR_BACKEND_OPENCL, "0:0"), VQR_OK);
  EXPECT_EQ(std::string(vqr_context_backend(ctx)).rfind("opencl: ", 0), 0u) << vqr_context_backend(ctx);
  EXPECT_EQ(vqr_context_set_backend(ctx, (vqr_backend)7, nullptr), VQR_ERR_INVALID_ARGUMENT);
  ASSERT_EQ(vqr_context_set_backend(ctx, VQR_BACKEND_CPU, nullptr), VQR_OK);
  EXPECT_EQ(std::string(vqr_context_backend(ctx)).rfind("cpu: ", 0), 0u);
  vqr_context_free(ctx);

  ASSERT_EQ(vqr_device_count(), (int)all.size());
  vqr_device_info info;
  std::memset(&info, 0, sizeof info);
  info.struct_size = sizeof info;
  ASSERT_EQ(vqr_device_get(0, &info), VQR_OK);
  EXPECT_EQ(std::string(info.name), all[0].name.substr(0, 127));
  EXPECT_GT(info.global_mem_bytes, 0u);
  EXPECT_GT(info.compute_units, 0);
  EXPECT_EQ(vqr_device_get((int)all.size(), &info), VQR_ERR_OUT_OF_RANGE);
  EXPECT_EQ(vqr_device_get(0, nullptr), VQR_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(vqr_build_info()).find(all[0].name), std::string::npos) << vqr_build_info();
}

// With no OpenCL platform (ctest runs this with OCL_ICD_VENDORS at an empty folder): no device,
// "auto" computes on the CPU with a log line, "opencl" is an error with a message, "cpu" is fine.
TEST(NoOpenClPlatform, FallsBackToTheCpu) {
  if (!std::getenv("VQR_TEST_NO_PLATFORM")) GTEST_SKIP() << "run by the no-platform ctest only";
  EXPECT_TRUE(vqr::backend::opencl::devices().empty());
  EXPECT_EQ(vqr_device_count(), 0);
  EXPECT_NE(std::string(vqr_build_info()).find("OpenCL devices: none"), std::string::npos) << vqr_build_info();
  vqr_context *ctx = nullptr;
  ASSERT_EQ(vqr_context_create(&ctx), VQR_OK);
  std::string logged;
  vqr_context_set_log(
      ctx, [](void *user, vqr_log_level, const char *m) { *(std::string *)user += m; }, &logged, VQR_LOG_INFO);
  EXPECT_EQ(vqr_context_set_backend(ctx, VQR_BACKEND_AUTO, nullptr), VQR_OK);
  EXPECT_NE(logged.find("computing on the CPU"), std::string::npos) << logged;
  EXPECT_EQ(std::string(vqr_context_backend(ctx)).rfind("cpu: ", 0), 0u);
  EXPECT_EQ(vqr_context_set_backend(ctx, VQR_BACKEND_OPENCL, nullptr), VQR_ERR_UNSUPPORTED);
  EXPECT_NE(std::string(vqr_last_error()).find("no OpenCL platform"), std::string::npos) << vqr_last_error();
  EXPECT_EQ(vqr_context_set_backend(ctx, VQR_BACKEND_CPU, nullptr), VQR_OK);
  vqr_context_free(ctx);
}

}  // namespace
