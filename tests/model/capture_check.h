// Activation-capture self-consistency: rebuild each block in double from the captured inputs of
// its linear layers (plain matmuls, RoPE in closed form, causal attention) and check that every
// captured activation and the final logits agree with what the forward pass produced.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "model/forward.h"
#include "model/model.h"

namespace vqr_test {

using vqr::model::LinearInput;
using vqr::model::LinearKind;

struct CaptureLog {
  struct Entry {
    int layer;
    LinearInput input;
    int64_t tokens, width;
    std::vector<float> x;
  };
  std::vector<Entry> entries;  // in the order the sink saw them

  vqr::model::ActivationSink sink() {
    return [this](int layer, LinearInput input, const float *x, int64_t tokens, int64_t width) {
      entries.push_back({layer, input, tokens, width, std::vector<float>(x, x + tokens * width)});
    };
  }
  const Entry &at(int layer, LinearInput input) const {
    return entries.at(static_cast<size_t>(layer * vqr::model::kLinearInputCount + static_cast<int>(input)));
  }
};

// max |got - want| / max |want|: a scale-free error for one tensor.
inline double rel_max_err(const std::vector<float> &got, const std::vector<double> &want) {
  double num = 0.0, den = 1e-30;
  for (size_t i = 0; i < want.size(); ++i) {
    num = std::fmax(num, std::fabs(static_cast<double>(got[i]) - want[i]));
    den = std::fmax(den, std::fabs(want[i]));
  }
  return num / den;
}

// y (T x m) = x (T x n) W^T for a row-major m x n weight, in double.
inline std::vector<double> ref_matmul(const std::vector<float> &x, const vqr::model::LinearWeight &w, int64_t T) {
  std::vector<double> y(static_cast<size_t>(T * w.rows));
  for (int64_t t = 0; t < T; ++t)
    for (int64_t o = 0; o < w.rows; ++o) {
      double s = 0.0;
      for (int64_t j = 0; j < w.cols; ++j) s += static_cast<double>(w.data[o * w.cols + j]) * x[static_cast<size_t>(t * w.cols + j)];
      y[static_cast<size_t>(t * w.rows + o)] = s;
    }
  return y;
}

inline std::vector<double> ref_rmsnorm(const std::vector<double> &x, const float *g, int64_t T, int64_t C, double eps) {
  std::vector<double> y(x.size());
  for (int64_t t = 0; t < T; ++t) {
    double ss = 0.0;
    for (int64_t j = 0; j < C; ++j) ss += x[static_cast<size_t>(t * C + j)] * x[static_cast<size_t>(t * C + j)];
    const double r = 1.0 / std::sqrt(ss / static_cast<double>(C) + eps);
    for (int64_t j = 0; j < C; ++j) y[static_cast<size_t>(t * C + j)] = g[j] * r * x[static_cast<size_t>(t * C + j)];
  }
  return y;
}

// Rotates pairs (2i, 2i+1) of each head of width HS by angle pos * theta^(-2i/HS).
inline void ref_rope(std::vector<double> &v, int64_t T, int64_t width, int64_t HS, double theta) {
  for (int64_t t = 0; t < T; ++t)
    for (int64_t c = 0; c < width; c += 2) {
      const double ang = static_cast<double>(t) * std::pow(theta, -static_cast<double>(c % HS) / static_cast<double>(HS));
      double &a = v[static_cast<size_t>(t * width + c)], &b = v[static_cast<size_t>(t * width + c + 1)];
      const double a0 = a, b0 = b;
      a = a0 * std::cos(ang) - b0 * std::sin(ang);
      b = a0 * std::sin(ang) + b0 * std::cos(ang);
    }
}

// Checks shapes, order, and every captured tensor against the double rebuild. tol: bound on
// rel_max_err; fp32 vs fp64 over one block of these sizes stays near 1e-6, so 1e-4 has headroom.
inline void check_capture_consistency(const vqr::model::Model &m, const std::vector<int32_t> &tokens,
                                      const std::vector<float> &logits, const CaptureLog &log, double tol = 1e-4) {
  const auto &c = m.config();
  const int64_t T = static_cast<int64_t>(tokens.size()), C = c.dim, KV = c.kv_dim(), HS = c.head_size();
  ASSERT_EQ(log.entries.size(), static_cast<size_t>(c.n_layers * vqr::model::kLinearInputCount));
  for (size_t i = 0; i < log.entries.size(); ++i) {
    const auto &e = log.entries[i];
    ASSERT_EQ(e.layer, static_cast<int>(i) / vqr::model::kLinearInputCount);
    ASSERT_EQ(static_cast<int>(e.input), static_cast<int>(i) % vqr::model::kLinearInputCount);
    ASSERT_EQ(e.tokens, T);
    ASSERT_EQ(e.width, e.input == LinearInput::kFfnHidden ? c.hidden_dim : c.dim);
    // each captured input has the width its consumers expect
    for (LinearKind k : vqr::model::kAllLinearKinds) {
      if (vqr::model::input_of(k) == e.input) {
        ASSERT_EQ(m.linear(e.layer, k).cols, e.width);
      }
    }
  }

  std::vector<double> x(static_cast<size_t>(T * C));
  for (int64_t t = 0; t < T; ++t)
    for (int64_t j = 0; j < C; ++j) x[static_cast<size_t>(t * C + j)] = m.token_embedding()[tokens[static_cast<size_t>(t)] * C + j];

  for (int l = 0; l < c.n_layers; ++l) {
    SCOPED_TRACE("layer " + std::to_string(l));
    const auto &an = log.at(l, LinearInput::kAttnNorm).x;
    EXPECT_LT(rel_max_err(an, ref_rmsnorm(x, m.rms_att(l), T, C, c.norm_eps)), tol) << "attn_norm";
    std::vector<double> q = ref_matmul(an, m.linear(l, LinearKind::kWq), T);
    std::vector<double> k = ref_matmul(an, m.linear(l, LinearKind::kWk), T);
    const std::vector<double> v = ref_matmul(an, m.linear(l, LinearKind::kWv), T);
    ref_rope(q, T, C, HS, c.rope_theta);
    ref_rope(k, T, KV, HS, c.rope_theta);
    std::vector<double> att(static_cast<size_t>(T * C), 0.0);
    const int64_t group = c.n_heads / c.n_kv_heads;
    for (int64_t t = 0; t < T; ++t)
      for (int64_t h = 0; h < c.n_heads; ++h) {
        std::vector<double> w(static_cast<size_t>(t + 1));
        double mx = -1e300, sum = 0.0;
        for (int64_t s = 0; s <= t; ++s) {
          double d = 0.0;
          for (int64_t i = 0; i < HS; ++i)
            d += q[static_cast<size_t>(t * C + h * HS + i)] * k[static_cast<size_t>(s * KV + (h / group) * HS + i)];
          w[static_cast<size_t>(s)] = d / std::sqrt(static_cast<double>(HS));
          mx = std::fmax(mx, w[static_cast<size_t>(s)]);
        }
        for (auto &a : w) sum += (a = std::exp(a - mx));
        for (int64_t s = 0; s <= t; ++s)
          for (int64_t i = 0; i < HS; ++i)
            att[static_cast<size_t>(t * C + h * HS + i)] +=
                w[static_cast<size_t>(s)] / sum * v[static_cast<size_t>(s * KV + (h / group) * HS + i)];
      }
    const auto &ao = log.at(l, LinearInput::kAttnOut).x;
    EXPECT_LT(rel_max_err(ao, att), tol) << "attn_out (from the captured wq/wk/wv input)";
    const std::vector<double> o = ref_matmul(ao, m.linear(l, LinearKind::kWo), T);
    for (size_t i = 0; i < x.size(); ++i) x[i] += o[i];

    const auto &fn = log.at(l, LinearInput::kFfnNorm).x;
    EXPECT_LT(rel_max_err(fn, ref_rmsnorm(x, m.rms_ffn(l), T, C, c.norm_eps)), tol) << "ffn_norm";
    const std::vector<double> a = ref_matmul(fn, m.linear(l, LinearKind::kW1), T);
    const std::vector<double> b = ref_matmul(fn, m.linear(l, LinearKind::kW3), T);
    std::vector<double> hid(a.size());
    for (size_t i = 0; i < a.size(); ++i) hid[i] = a[i] / (1.0 + std::exp(-a[i])) * b[i];
    const auto &fh = log.at(l, LinearInput::kFfnHidden).x;
    EXPECT_LT(rel_max_err(fh, hid), tol) << "ffn_hidden";
    const std::vector<double> d = ref_matmul(fh, m.linear(l, LinearKind::kW2), T);
    for (size_t i = 0; i < x.size(); ++i) x[i] += d[i];
  }
  const std::vector<double> xf = ref_rmsnorm(x, m.rms_final(), T, C, c.norm_eps);
  std::vector<float> xf32(xf.begin(), xf.end());
  vqr::model::LinearWeight cls{m.classifier(), c.vocab_size, C};
  EXPECT_LT(rel_max_err(logits, ref_matmul(xf32, cls, T)), tol) << "logits";
}

}  // namespace vqr_test
