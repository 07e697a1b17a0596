// Finite-difference checks of every gradient of the learned-rounding engine, run in double on
// small layers (the engine is templated on its real type for exactly this).
//  - The H-form objective against tr(E H E^T) - 2 tr(E D^T W^T) computed here from the
//    activations themselves, and its gradient against central differences.
//  - AdaRound and VQRound: the soft weights are smooth away from the clip kinks, so the
//    library's analytic gradients (objective and regularizer) must match central differences of
//    the library's own forward pass at interior points.
//  - AutoRound and LoRA-rounding train through round() with the straight-through estimator, whose
//    gradient is the derivative of a surrogate: the same forward pass with the rounding offsets,
//    the fp16 cast offset of the scale, the zero-point's rounding offset and the clamp decisions
//    frozen at the base point. That surrogate is written here from the spec's formulas
//    (spec learned_rounding §1.3, §4) and differentiated numerically.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <vector>

#include "common/gradient_check.h"
#include "common/test_util.h"
#include "hessian/hessian.h"
#include "learn/layer_objective.h"
#include "learn/relaxed_rounding.h"
#include "learn/rounding_init.h"
#include "learn/ste_rounding.h"
#include "quant/config.h"

namespace {

using vqr::learn::LayerObjective;
using vqr::learn::ParamGroup;
using vqr::learn::Rounding;

struct Layer {
  int64_t m, n, T;
  std::vector<float> W, Xq, Xf;
  std::unique_ptr<vqr::hessian::Hessian> h;
};

Layer make_layer(int64_t m, int64_t n, bool asymmetric, uint64_t seed) {
  vqrt::Rng rng(seed);
  Layer L{m, n, 48, {}, {}, {}, nullptr};
  L.W.resize((size_t)(m * n));
  for (auto &w : L.W) w = (float)rng.normal();
  L.Xq.resize((size_t)(L.T * n));
  L.Xf.resize((size_t)(L.T * n));
  for (size_t i = 0; i < L.Xq.size(); ++i) {
    L.Xq[i] = (float)rng.normal();
    L.Xf[i] = L.Xq[i] + 0.3f * (float)rng.normal();
  }
  L.h = std::make_unique<vqr::hessian::Hessian>(n, /*f64=*/true, asymmetric);
  vqr::TensorView xq{L.Xq.data(), vqr::DType::F32, L.T, n, 0}, xf{L.Xf.data(), vqr::DType::F32, L.T, n, 0};
  if (asymmetric)
    L.h->add_pair(xq, xf);
  else
    L.h->add(xq);
  return L;
}

// The objective written from the activations: (2/T) (||(W' - W) Xq^T||^2 - 2 <(W' - W) Xq^T, W (Xf - Xq)^T>).
double reference_objective(const Layer &L, const std::vector<double> &Wq, bool asymmetric) {
  double total = 0;
  for (int64_t t = 0; t < L.T; ++t)
    for (int64_t r = 0; r < L.m; ++r) {
      double e = 0, c = 0;
      for (int64_t j = 0; j < L.n; ++j) {
        const double xq = L.Xq[(size_t)(t * L.n + j)], xf = L.Xf[(size_t)(t * L.n + j)];
        e += (Wq[(size_t)(r * L.n + j)] - L.W[(size_t)(r * L.n + j)]) * xq;
        c += L.W[(size_t)(r * L.n + j)] * (xf - xq);
      }
      total += e * e - (asymmetric ? 2.0 * e * c : 0.0);
    }
  return 2.0 * total / (double)L.T;
}

// Central differences of f along every coordinate of p (or the listed ones), against grad.
void expect_fd_gradient(double *p, const double *grad, int64_t size, const std::function<double()> &f,
                        const std::string &what, double step = 1e-6, double tol = 1e-6) {
  int checked = 0;
  for (int64_t i = 0; i < size; ++i) {
    const double fd = vqr_test::central_difference(p[i], step, f);
    const double scale = std::max({1.0, std::fabs(fd), std::fabs(grad[i])});
    EXPECT_NEAR(grad[i], fd, tol * scale) << what << " coordinate " << i;
    ++checked;
  }
  EXPECT_GT(checked, 0);
}

vqr::quant::QuantConfig small_config(vqr::quant::Method method, int bits, int64_t group_size) {
  vqr::quant::QuantConfig c;
  c.method = method;
  c.bits = bits;
  c.group_size = group_size;
  c.steps = 10;
  c = vqr::quant::resolve_presets(c);
  return c;
}

// Fills every parameter of the group with uniform values in [lo, hi].
void randomize(const ParamGroup<double> &g, double lo, double hi, uint64_t seed) {
  vqrt::Rng rng(seed);
  for (int64_t i = 0; i < g.size; ++i) g.data[i] = rng.uniform(lo, hi);
}

// Objective of the rounding's current forward pass, and its analytic parameter gradient.
double objective_of(Rounding<double> &rounding, LayerObjective<double> &obj, int64_t count, bool with_grad) {
  std::vector<double> Wq((size_t)count), G((size_t)count);
  rounding.forward(Wq.data());
  const double v = obj.evaluate(Wq.data(), with_grad ? G.data() : nullptr).loss;
  if (with_grad) rounding.backward(G.data());
  return v;
}

TEST(LearnGradients, ObjectiveMatchesActivationsAndItsGradient) {
  for (bool asym : {false, true}) {
    Layer L = make_layer(4, 12, asym, 11);
    LayerObjective<double> obj(vqr::backend::cpu(), L.W.data(), L.m, L.n, L.h->view(), 1);
    vqrt::Rng rng(5);
    std::vector<double> Wq((size_t)(L.m * L.n)), G(Wq.size());
    for (size_t i = 0; i < Wq.size(); ++i) Wq[i] = L.W[i] + 0.2 * rng.normal();
    const double v = obj.evaluate(Wq.data(), G.data()).loss;
    EXPECT_NEAR(v, reference_objective(L, Wq, asym), 1e-7 * std::fabs(v)) << "asym " << asym;
    expect_fd_gradient(Wq.data(), G.data(), (int64_t)Wq.size(), [&] { return obj.evaluate(Wq.data(), nullptr).loss; },
                       asym ? "asymmetric objective" : "objective");
  }
}

TEST(LearnGradients, AdaRoundObjectiveAndRegularizer) {
  for (int64_t gs : {-1, 4}) {
    Layer L = make_layer(5, 16, true, 21);
    const auto c = small_config(vqr::quant::Method::AdaRound, 3, gs);
    const auto init = vqr::learn::make_rounding_init(L.W.data(), L.m, L.n, L.h->view(), c, nullptr, 1);
    auto rounding = vqr::learn::make_adaround<double>(init, c.lr, 1);
    LayerObjective<double> obj(vqr::backend::cpu(), L.W.data(), L.m, L.n, L.h->view(), 1);
    const ParamGroup<double> g = rounding->groups()[0];
    ASSERT_EQ(g.size, L.m * L.n);
    randomize(g, -2.0, 2.0, 3);  // inside (-ln 11, ln 11): h is smooth there
    objective_of(*rounding, obj, L.m * L.n, true);
    std::vector<double> grad(g.grad, g.grad + g.size);
    expect_fd_gradient(g.data, grad.data(), g.size, [&] { return objective_of(*rounding, obj, L.m * L.n, false); },
                       "adaround objective");

    // The regularizer alone: zero objective gradient, then regularize() adds its own.
    for (double beta : {2.0, 7.5, 20.0}) {
      std::vector<double> Wq((size_t)(L.m * L.n)), zeros(Wq.size(), 0.0);
      rounding->forward(Wq.data());
      rounding->backward(zeros.data());
      rounding->regularize(beta, 0.37);
      std::vector<double> rgrad(g.grad, g.grad + g.size);
      expect_fd_gradient(g.data, rgrad.data(), g.size,
                         [&] {
                           rounding->forward(Wq.data());
                           return rounding->regularize(beta, 0.37);
                         },
                         "adaround regularizer beta " + std::to_string(beta));
    }
  }
}

TEST(LearnGradients, VqRoundCodebookObjectiveAndRegularizer) {
  Layer L = make_layer(6, 20, false, 31);  // 120 weights: 30 vectors of D = 4, K = 7
  auto c = small_config(vqr::quant::Method::VqRound, 2, -1);
  c.vq_dim = 4;
  c.codebook_size = 7;
  c.kmeans_iters = 5;
  const auto init = vqr::learn::make_rounding_init(L.W.data(), L.m, L.n, L.h->view(), c, nullptr, 1);
  vqr::learn::VqStats stats;
  auto rounding = vqr::learn::make_vqround<double>(init, c, nullptr, 1, &stats);
  EXPECT_EQ(stats.codebook_size, 7);
  LayerObjective<double> obj(vqr::backend::cpu(), L.W.data(), L.m, L.n, L.h->view(), 1);
  const ParamGroup<double> g = rounding->groups()[0];
  ASSERT_EQ(g.size, 7 * 4);
  randomize(g, -2.0, 2.0, 4);
  objective_of(*rounding, obj, L.m * L.n, true);
  std::vector<double> grad(g.grad, g.grad + g.size);
  expect_fd_gradient(g.data, grad.data(), g.size, [&] { return objective_of(*rounding, obj, L.m * L.n, false); },
                     "vqround objective");
  std::vector<double> Wq((size_t)(L.m * L.n)), zeros(Wq.size(), 0.0);
  rounding->forward(Wq.data());
  rounding->backward(zeros.data());
  rounding->regularize(4.0, 0.5);
  std::vector<double> rgrad(g.grad, g.grad + g.size);
  expect_fd_gradient(g.data, rgrad.data(), g.size,
                     [&] {
                       rounding->forward(Wq.data());
                       return rounding->regularize(4.0, 0.5);
                     },
                     "vqround regularizer");
}

// ---- straight-through methods: surrogates with the discrete structure frozen ------------------

double rne(double x) { return std::nearbyint(x); }
double f16(double s) { return (double)vqrt::half_to_float(vqrt::float_to_half((float)s)); }

// AutoRound's forward pass for one variant (0 = asym A, 1 = GPTQ-sym C, 2 = full range B) on
// per-group multipliers mn, mx and offsets V, per spec learned_rounding §1.3. With `frozen`
// filled, it records the discrete choices at the current point; with `use_frozen` it replays
// them (the straight-through surrogate).
struct AutoRoundSurrogate {
  int64_t m, n, gs, G;
  int bits, variant;
  std::vector<double> W, wmin, wmax;
  std::vector<double> d_round, d_scale, d_zero;  // rounding offsets, fp16 cast offsets, zp offsets
  std::vector<int> status;                       // -1 clamped low, 0 in range, +1 clamped high
  std::vector<int> side;                         // which extreme sets the scale (C, B)

  double maxq() const { return (double)((1 << bits) - 1); }
  double half() const { return (double)(1 << (bits - 1)); }

  std::vector<double> forward(const double *V, const double *mn, const double *mx, bool record) {
    std::vector<double> Wq((size_t)(m * n));
    if (record) {
      d_round.assign((size_t)(m * n), 0);
      status.assign((size_t)(m * n), 0);
      d_scale.assign((size_t)(m * G), 0);
      d_zero.assign((size_t)(m * G), 0);
      side.assign((size_t)(m * G), 0);
    }
    for (int64_t r = 0; r < m; ++r)
      for (int64_t g = 0; g < G; ++g) {
        const size_t k = (size_t)(r * G + g);
        const double lo = wmin[k] * mn[k], hi = wmax[k] * mx[k];
        double s_raw, zp;
        if (record) side[k] = variant == 2 ? (hi < -lo ? 1 : 0) : (lo < 0 && -lo > hi ? 1 : 0);
        if (variant == 2)
          s_raw = (side[k] ? -lo : -hi) / half();
        else if (variant == 1)
          s_raw = (lo < 0 ? 2.0 * (side[k] ? -lo : hi) : hi) / maxq();
        else
          s_raw = (hi - lo) / maxq();
        if (record) d_scale[k] = f16(s_raw) - s_raw;
        const double s = s_raw + d_scale[k];
        if (variant == 0) {
          if (record) d_zero[k] = rne(-lo / s) - (-lo / s);
          zp = -lo / s + d_zero[k];
        } else {
          zp = half();
        }
        for (int64_t j = g * gs; j < std::min(n, (g + 1) * gs); ++j) {
          const size_t i = (size_t)(r * n + j);
          const double x = W[i] / s + V[i];
          if (record) {
            d_round[i] = rne(x) - x;
            const double qv = rne(x) + rne(zp);
            status[i] = qv < 0 ? -1 : (qv > maxq() ? 1 : 0);
          }
          const double q = status[i] == 0 ? x + d_round[i] + zp : (status[i] < 0 ? 0.0 : maxq());
          Wq[i] = s * (q - zp);
        }
      }
    return Wq;
  }
};

TEST(LearnGradients, AutoRoundStraightThroughAllVariants) {
  struct Case {
    vqr::quant::Grid grid;
    int sym, variant;
  } cases[] = {{vqr::quant::Grid::Gptq, 0, 0}, {vqr::quant::Grid::Gptq, 1, 1}, {vqr::quant::Grid::FullRange, 0, 2}};
  for (const Case &cs : cases) {
    Layer L = make_layer(4, 16, false, 41 + cs.variant);
    auto c = small_config(vqr::quant::Method::AutoRound, 3, 8);
    c.grid = cs.grid;
    c.sym = cs.sym;
    auto rounding = vqr::learn::make_autoround<double>(L.W.data(), L.m, L.n, c, 1);
    LayerObjective<double> obj(vqr::backend::cpu(), L.W.data(), L.m, L.n, L.h->view(), 1);
    auto groups = rounding->groups();
    ASSERT_EQ(groups.size(), 3u);
    randomize(groups[0], -0.45, 0.45, 7);  // V
    randomize(groups[1], 0.6, 1.0, 8);     // min multipliers
    randomize(groups[2], 0.6, 1.0, 9);     // max multipliers

    AutoRoundSurrogate sur{L.m, L.n, 8, 2, 3, cs.variant, {}, {}, {}, {}, {}, {}, {}, {}};
    sur.W.assign(L.W.begin(), L.W.end());
    sur.wmin.assign((size_t)(L.m * 2), 0.0);
    sur.wmax.assign((size_t)(L.m * 2), 0.0);
    for (int64_t r = 0; r < L.m; ++r)
      for (int64_t j = 0; j < L.n; ++j) {
        const size_t k = (size_t)(r * 2 + j / 8);
        sur.wmin[k] = std::min(sur.wmin[k], sur.W[(size_t)(r * L.n + j)]);
        sur.wmax[k] = std::max(sur.wmax[k], sur.W[(size_t)(r * L.n + j)]);
      }
    const std::vector<double> base = sur.forward(groups[0].data, groups[1].data, groups[2].data, true);
    // The library's forward equals the spec's at the base point.
    std::vector<double> Wq(base.size());
    rounding->forward(Wq.data());
    for (size_t i = 0; i < Wq.size(); ++i) ASSERT_NEAR(Wq[i], base[i], 1e-12) << "variant " << cs.variant;

    objective_of(*rounding, obj, L.m * L.n, true);
    auto f = [&] {
      const auto w = sur.forward(groups[0].data, groups[1].data, groups[2].data, false);
      return obj.evaluate(w.data(), nullptr).loss;
    };
    const char *names[] = {"V", "min_scale", "max_scale"};
    for (int k = 0; k < 3; ++k) {
      std::vector<double> grad(groups[(size_t)k].grad, groups[(size_t)k].grad + groups[(size_t)k].size);
      expect_fd_gradient(groups[(size_t)k].data, grad.data(), groups[(size_t)k].size, f,
                         std::string("autoround variant ") + std::to_string(cs.variant) + " " + names[k], 1e-7, 1e-5);
    }
  }
}

TEST(LearnGradients, LoraRoundStraightThrough) {
  Layer L = make_layer(6, 16, true, 51);
  auto c = small_config(vqr::quant::Method::LoraRound, 3, -1);
  c.rank = 3;
  const auto init = vqr::learn::make_rounding_init(L.W.data(), L.m, L.n, L.h->view(), c, nullptr, 1);
  auto rounding = vqr::learn::make_loraround<double>(vqr::backend::cpu(), L.W.data(), init, c, 1, 1);
  LayerObjective<double> obj(vqr::backend::cpu(), L.W.data(), L.m, L.n, L.h->view(), 1);
  auto groups = rounding->groups();
  ASSERT_EQ(groups.size(), 2u);
  ASSERT_EQ(groups[0].size, L.m * 3);
  ASSERT_EQ(groups[1].size, L.n * 3);
  randomize(groups[0], -1.0, 1.0, 5);
  randomize(groups[1], -1.0, 1.0, 6);

  // Surrogate: V = 0.5 tanh(A B^T), W' = s (q - z), q = W/s + V + (frozen rounding offset) + z
  // in range, else the frozen bound.
  const vqr::learn::ElementGrid<double> grid(init.layer);
  const int64_t m = L.m, n = L.n, r = 3;
  std::vector<double> d_round((size_t)(m * n));
  std::vector<int> status((size_t)(m * n));
  auto surrogate = [&](bool record) {
    std::vector<double> Wq((size_t)(m * n));
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double p = 0;
        for (int64_t k = 0; k < r; ++k) p += groups[0].data[i * r + k] * groups[1].data[j * r + k];
        const double s = grid.s(i, j), z = grid.z(i, j), x = L.W[(size_t)(i * n + j)] / s + 0.5 * std::tanh(p);
        const size_t e = (size_t)(i * n + j);
        if (record) {
          d_round[e] = rne(x) - x;
          const double qv = rne(x) + z;
          status[e] = qv < 0 ? -1 : (qv > grid.maxq ? 1 : 0);
        }
        const double q = status[e] == 0 ? x + d_round[e] + z : (status[e] < 0 ? 0.0 : grid.maxq);
        Wq[e] = s * (q - z);
      }
    return Wq;
  };
  const auto base = surrogate(true);
  std::vector<double> Wq(base.size());
  rounding->forward(Wq.data());
  for (size_t i = 0; i < Wq.size(); ++i) ASSERT_NEAR(Wq[i], base[i], 1e-12);
  objective_of(*rounding, obj, m * n, true);
  auto f = [&] {
    const auto w = surrogate(false);
    return obj.evaluate(w.data(), nullptr).loss;
  };
  for (int k = 0; k < 2; ++k) {
    std::vector<double> grad(groups[(size_t)k].grad, groups[(size_t)k].grad + groups[(size_t)k].size);
    expect_fd_gradient(groups[(size_t)k].data, grad.data(), groups[(size_t)k].size, f,
                       k == 0 ? "loraround A" : "loraround B");
  }
}

}  // namespace
