// Forward pass of every architecture variant (llama2.c, GQA, Qwen2 biases, Qwen3 q/k norm and free
// head_dim, linear and llama3 RoPE scaling, Mistral sliding window) against an independent fp64
// reference written from Hugging Face transformers' semantics, plus the RoPE layout identity and
// the config checks of Model. Tiny random models only: the whole binary runs in well under a second.
#include <gtest/gtest.h>

#include "common/error_status.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "core/error.h"
#include "forward_paths.h"
#include "random_model.h"
#include "model/attention.h"
#include "model/forward.h"
#include "model/model.h"

using vqr::model::Forward;
using vqr::model::Model;
using vqr::model::ModelConfig;
using vqr::model::RopeLayout;
using vqr::model::RopeScaling;
using vqr::model::TensorId;
using vqr_test::base_config;
using vqr_test::fill_random;
using vqr_test::status_of;

namespace {

// fp32 forward vs fp64 reference: each logit is a dot product of O(dim) terms after two blocks of
// O(dim + hidden) float accumulations; observed errors are <= 3.2e-6 with max|ref| ~ 4, i.e. under
// 1e-6 * (1 + max|ref|), so 1e-4 leaves two orders of margin while a wrong formula (a missing bias,
// a wrong band) moves logits by more than kMinEffect.
constexpr double kLogitTol = 1e-4;
// Interleaved vs half layout of the same model: the same products summed in another order
// (observed <= 2.7e-6 with logits ~ 4), relative to 1 + max|logit| as above.
constexpr double kLayoutTol = 1e-5;
// rope_inverse_frequencies computes theta^(-2j/HS) in float: a few ulp (1 ulp = 6e-8 relative).
constexpr double kInvFreqTol = 1e-6;
// A feature must move the reference logits by at least this much, or its case could not fail.
constexpr double kMinEffect = 1e-2;

constexpr double kPi = 3.14159265358979323846;

// ---------------------------------------------------------------------------------------------
// Reference (fp64, plain math; reads the model's stacked tensors with its own offsets).

// inv_freq[j] = theta^(-2j/HS), then the config's scaling (transformers
// _compute_linear_scaling_rope_parameters / _compute_llama3_parameters).
std::vector<double> ref_inv_freq(const ModelConfig &c) {
  const int hs = c.head_dim > 0 ? c.head_dim : c.dim / c.n_heads;
  std::vector<double> inv(static_cast<size_t>(hs / 2));
  for (int j = 0; j < hs / 2; ++j) inv[j] = std::pow(static_cast<double>(c.rope_theta), -2.0 * j / hs);
  if (c.rope_scaling == RopeScaling::kLinear) {
    for (double &f : inv) f /= c.rope_factor;
  } else if (c.rope_scaling == RopeScaling::kLlama3) {
    const double ctx = c.rope_original_context, low = c.rope_low_freq_factor, high = c.rope_high_freq_factor;
    const double factor = c.rope_factor;
    for (double &f : inv) {
      const double wavelen = 2.0 * kPi / f;
      if (wavelen > ctx / low) {
        f = f / factor;
      } else if (wavelen < ctx / high) {
        // high frequency: unchanged
      } else {
        const double smooth = (ctx / wavelen - low) / (high - low);
        f = (1.0 - smooth) * f / factor + smooth * f;
      }
    }
  }
  return inv;
}

// Which llama3 band each frequency falls in: 0 long wavelength (divided), 1 smoothed, 2 kept.
// Also returns how close (relative) the nearest wavelength is to a band edge.
std::vector<int> llama3_bands(const ModelConfig &c, double *closest_edge) {
  const int hs = c.head_dim > 0 ? c.head_dim : c.dim / c.n_heads;
  std::vector<int> band;
  *closest_edge = 1e300;
  const double lo_w = c.rope_original_context / static_cast<double>(c.rope_low_freq_factor);
  const double hi_w = c.rope_original_context / static_cast<double>(c.rope_high_freq_factor);
  for (int j = 0; j < hs / 2; ++j) {
    const double wavelen = 2.0 * kPi / std::pow(static_cast<double>(c.rope_theta), -2.0 * j / hs);
    band.push_back(wavelen > lo_w ? 0 : wavelen < hi_w ? 2 : 1);
    *closest_edge = std::min({*closest_edge, std::abs(wavelen / lo_w - 1.0), std::abs(wavelen / hi_w - 1.0)});
  }
  return band;
}

// y = W x (+ b): W rows x cols row-major float, x double.
std::vector<double> ref_linear(const float *w, const float *b, const std::vector<double> &x, int rows, int cols) {
  std::vector<double> y(static_cast<size_t>(rows));
  for (int r = 0; r < rows; ++r) {
    double s = b ? b[r] : 0.0;
    for (int i = 0; i < cols; ++i) s += static_cast<double>(w[static_cast<int64_t>(r) * cols + i]) * x[i];
    y[r] = s;
  }
  return y;
}

// x[off .. off+n) = x / sqrt(mean(x^2) + eps) * w
void ref_rmsnorm(std::vector<double> &x, size_t off, int n, const float *w, double eps) {
  double ss = 0.0;
  for (int i = 0; i < n; ++i) ss += x[off + i] * x[off + i];
  const double r = 1.0 / std::sqrt(ss / n + eps);
  for (int i = 0; i < n; ++i) x[off + i] = x[off + i] * r * w[i];
}

// Rotates one head in place at `pos`. Interleaved: pairs (2j, 2j+1); half (HF rotate_half):
// out = x * cos + rotate_half(x) * sin, rotate_half(x) = (-x2, x1), cos/sin repeated twice.
void ref_rope(double *x, int hs, int pos, const std::vector<double> &inv, RopeLayout layout) {
  std::vector<double> out(static_cast<size_t>(hs));
  const int half = hs / 2;
  if (layout == RopeLayout::kHalf) {
    for (int i = 0; i < hs; ++i) {
      const double ang = pos * inv[i % half];
      const double rot = i < half ? -x[i + half] : x[i - half];
      out[i] = x[i] * std::cos(ang) + rot * std::sin(ang);
    }
  } else {
    for (int j = 0; j < half; ++j) {  // (x0 + i x1) * e^{i ang}
      const double ang = pos * inv[j];
      out[2 * j] = x[2 * j] * std::cos(ang) - x[2 * j + 1] * std::sin(ang);
      out[2 * j + 1] = x[2 * j] * std::sin(ang) + x[2 * j + 1] * std::cos(ang);
    }
  }
  std::copy(out.begin(), out.end(), x);
}

// Logits (n x vocab) of `m`'s weights under the flags of `c` (which may switch off a feature whose
// tensors m has, to measure that feature's effect; sizes must match m's config).
std::vector<double> ref_forward(const Model &m, const ModelConfig &c, const std::vector<int32_t> &tokens) {
  const int D = c.dim, H = c.hidden_dim, NH = c.n_heads, NKV = c.n_kv_heads, V = c.vocab_size;
  const int HS = c.head_dim > 0 ? c.head_dim : D / NH;
  const int QD = NH * HS, KVD = NKV * HS, T = static_cast<int>(tokens.size());
  const double eps = c.norm_eps;
  const std::vector<double> inv = ref_inv_freq(c);
  auto at = [&](TensorId id, int64_t layer, int64_t per_layer) { return m.tensor(id) + layer * per_layer; };

  std::vector<std::vector<double>> x(static_cast<size_t>(T), std::vector<double>(static_cast<size_t>(D)));
  for (int t = 0; t < T; ++t)
    for (int i = 0; i < D; ++i) x[t][i] = m.tensor(TensorId::kTokenEmbedding)[static_cast<int64_t>(tokens[t]) * D + i];

  for (int l = 0; l < c.n_layers; ++l) {
    std::vector<std::vector<double>> q(T), k(T), v(T);
    for (int t = 0; t < T; ++t) {
      std::vector<double> xn = x[t];
      ref_rmsnorm(xn, 0, D, at(TensorId::kRmsAtt, l, D), eps);
      q[t] = ref_linear(at(TensorId::kWq, l, int64_t{QD} * D), c.qkv_bias ? at(TensorId::kBq, l, QD) : nullptr, xn, QD, D);
      k[t] = ref_linear(at(TensorId::kWk, l, int64_t{KVD} * D), c.qkv_bias ? at(TensorId::kBk, l, KVD) : nullptr, xn, KVD, D);
      v[t] = ref_linear(at(TensorId::kWv, l, int64_t{KVD} * D), c.qkv_bias ? at(TensorId::kBv, l, KVD) : nullptr, xn, KVD, D);
      if (c.qk_norm) {
        for (int h = 0; h < NH; ++h) ref_rmsnorm(q[t], static_cast<size_t>(h) * HS, HS, at(TensorId::kQNorm, l, HS), eps);
        for (int h = 0; h < NKV; ++h) ref_rmsnorm(k[t], static_cast<size_t>(h) * HS, HS, at(TensorId::kKNorm, l, HS), eps);
      }
      for (int h = 0; h < NH; ++h) ref_rope(q[t].data() + h * HS, HS, t, inv, c.rope_layout);
      for (int h = 0; h < NKV; ++h) ref_rope(k[t].data() + h * HS, HS, t, inv, c.rope_layout);
    }
    const int group = NH / NKV;
    for (int t = 0; t < T; ++t) {
      std::vector<double> att_out(static_cast<size_t>(QD), 0.0);
      for (int h = 0; h < NH; ++h) {
        const int kvh = h / group;
        std::vector<double> score(static_cast<size_t>(T), -INFINITY);
        double mx = -INFINITY;
        for (int s = 0; s <= t; ++s) {
          if (c.sliding_window > 0 && !(t - c.sliding_window < s)) continue;
          double d = 0.0;
          for (int i = 0; i < HS; ++i) d += q[t][h * HS + i] * k[s][kvh * HS + i];
          score[s] = d / std::sqrt(static_cast<double>(HS));
          mx = std::max(mx, score[s]);
        }
        double sum = 0.0;
        for (int s = 0; s <= t; ++s) sum += std::exp(score[s] - mx);  // exp(-inf) = 0 outside the mask
        for (int s = 0; s <= t; ++s) {
          const double p = std::exp(score[s] - mx) / sum;
          for (int i = 0; i < HS; ++i) att_out[h * HS + i] += p * v[s][kvh * HS + i];
        }
      }
      const std::vector<double> o = ref_linear(at(TensorId::kWo, l, int64_t{D} * QD), nullptr, att_out, D, QD);
      for (int i = 0; i < D; ++i) x[t][i] += o[i];
    }
    for (int t = 0; t < T; ++t) {
      std::vector<double> xn = x[t];
      ref_rmsnorm(xn, 0, D, at(TensorId::kRmsFfn, l, D), eps);
      std::vector<double> a = ref_linear(at(TensorId::kW1, l, int64_t{H} * D), nullptr, xn, H, D);
      const std::vector<double> b = ref_linear(at(TensorId::kW3, l, int64_t{H} * D), nullptr, xn, H, D);
      for (int i = 0; i < H; ++i) a[i] = a[i] / (1.0 + std::exp(-a[i])) * b[i];
      const std::vector<double> o = ref_linear(at(TensorId::kW2, l, int64_t{D} * H), nullptr, a, D, H);
      for (int i = 0; i < D; ++i) x[t][i] += o[i];
    }
  }
  const float *cls = c.shared_classifier ? m.tensor(TensorId::kTokenEmbedding) : m.tensor(TensorId::kClassifier);
  std::vector<double> logits;
  for (int t = 0; t < T; ++t) {
    ref_rmsnorm(x[t], 0, D, m.tensor(TensorId::kRmsFinal), eps);
    const std::vector<double> y = ref_linear(cls, nullptr, x[t], V, D);
    logits.insert(logits.end(), y.begin(), y.end());
  }
  return logits;
}

// ---------------------------------------------------------------------------------------------
// Model construction and comparison helpers.

std::vector<int32_t> random_tokens(int n, int vocab, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int32_t> ud(0, vocab - 1);
  std::vector<int32_t> t(static_cast<size_t>(n));
  for (int32_t &x : t) x = ud(rng);
  return t;
}

std::vector<float> run_forward(const Model &m, const std::vector<int32_t> &tokens, int threads) {
  const int64_t n = static_cast<int64_t>(tokens.size());
  Forward f(m, n, threads);
  std::vector<float> logits(static_cast<size_t>(n * m.config().vocab_size));
  f.run(tokens.data(), n, logits.data());
  return logits;
}

double max_abs(const std::vector<double> &v) {
  double r = 0.0;
  for (double x : v) r = std::max(r, std::abs(x));
  return r;
}

double max_diff(const std::vector<double> &a, const std::vector<double> &b) {
  double r = 0.0;
  for (size_t i = 0; i < a.size(); ++i) r = std::max(r, std::abs(a[i] - b[i]));
  return r;
}

// Checks ours against ref (finite first, then every logit within tol * (1 + max|ref|)); prints the
// first differing entries and the largest difference. Returns the largest difference.
double expect_logits_close(const std::vector<float> &ours, const std::vector<double> &ref, int vocab, double tol,
                           const char *what) {
  EXPECT_EQ(ours.size(), ref.size()) << what;
  if (ours.size() != ref.size()) return INFINITY;
  for (size_t i = 0; i < ours.size(); ++i)
    if (!std::isfinite(ours[i])) {
      ADD_FAILURE() << what << ": logit " << i << " is " << ours[i];
      return INFINITY;
    }
  const double bound = tol * (1.0 + max_abs(ref));
  double worst = 0.0;
  size_t worst_i = 0;
  int shown = 0;
  for (size_t i = 0; i < ours.size(); ++i) {
    const double d = std::abs(ours[i] - ref[i]);
    if (d > worst) worst = d, worst_i = i;
    if (d > bound && shown < 5) {
      ++shown;
      ADD_FAILURE() << what << ": token " << i / vocab << " logit " << i % vocab << ": ours " << ours[i] << " ref "
                    << ref[i] << " (|diff| " << d << " > " << bound << ")";
    }
  }
  EXPECT_LE(worst, bound) << what << ": largest |diff| " << worst << " at token " << worst_i / vocab << " logit "
                          << worst_i % vocab;
  std::printf("[ %-28s ] max |ours - ref| = %.3g (max |ref| = %.3g, bound %.3g)\n", what, worst, max_abs(ref), bound);
  return worst;
}

// inv_freq of the library vs the reference, relative.
void expect_inv_freq_close(const ModelConfig &c) {
  const std::vector<float> ours = vqr::model::rope_inverse_frequencies(c);
  const std::vector<double> ref = ref_inv_freq(c);
  ASSERT_EQ(ours.size(), ref.size());
  for (size_t j = 0; j < ref.size(); ++j)
    EXPECT_NEAR(ours[j] / ref[j], 1.0, kInvFreqTol) << "inv_freq[" << j << "]: ours " << ours[j] << " ref " << ref[j];
}


// Builds a random model of `c`, runs it over seq_len random tokens and compares with the reference.
// `without`: the same config with the case's feature switched off; the reference must move by
// kMinEffect under it, so the case can fail. Returns the reference logits.
std::vector<double> check_case(const ModelConfig &c, uint32_t seed, const char *what, int threads = 1,
                               const ModelConfig *without = nullptr) {
  Model m(c);
  fill_random(m, seed);
  const std::vector<int32_t> tokens = random_tokens(c.seq_len, c.vocab_size, seed + 1000);
  const std::vector<double> ref = ref_forward(m, c, tokens);
  expect_logits_close(run_forward(m, tokens, threads), ref, c.vocab_size, kLogitTol, what);
  expect_inv_freq_close(c);
  if (without != nullptr) {
    const double effect = max_diff(ref, ref_forward(m, *without, tokens));
    EXPECT_GT(effect, kMinEffect) << what << ": the feature under test barely changes the logits";
  }
  return ref;
}

// ---------------------------------------------------------------------------------------------

TEST(ForwardVariants, Llama2cDefaults) {
  const ModelConfig c = base_config(48, 96, 6, 6, 50, 16);  // MHA, interleaved, tied
  check_case(c, 1, "llama2.c defaults");
}

TEST(ForwardVariants, GqaHalfLayoutUntied) {
  ModelConfig c = base_config(64, 80, 8, 2, 53, 20);
  c.rope_layout = RopeLayout::kHalf;
  c.shared_classifier = false;
  ModelConfig interleaved = c;
  interleaved.rope_layout = RopeLayout::kInterleaved;
  check_case(c, 2, "GQA 8/2, half, untied", 2, &interleaved);
}

TEST(ForwardVariants, Qwen2Like) {
  ModelConfig c = base_config(48, 72, 6, 2, 47, 18);
  c.qkv_bias = true;
  c.rope_layout = RopeLayout::kHalf;
  c.rope_theta = 1e6f;
  c.norm_eps = 1e-6f;
  c.shared_classifier = false;
  ModelConfig no_bias = c;
  no_bias.qkv_bias = false;
  check_case(c, 3, "Qwen2-like (qkv bias)", 1, &no_bias);
}

TEST(ForwardVariants, Qwen3Like) {
  ModelConfig c = base_config(48, 64, 4, 2, 50, 16);
  c.head_dim = 16;  // q_dim 64 != dim 48
  c.qk_norm = true;
  c.rope_layout = RopeLayout::kHalf;
  c.rope_theta = 1e6f;
  c.norm_eps = 1e-6f;
  ASSERT_EQ(c.q_dim(), 64);
  ASSERT_EQ(c.kv_dim(), 32);
  ModelConfig no_norm = c;
  no_norm.qk_norm = false;
  check_case(c, 4, "Qwen3-like (qk norm, head 16)", 1, &no_norm);
}

TEST(ForwardVariants, Llama3RopeScaling) {
  // Head size 32, theta 1e4: wavelengths 2*pi*10^(j/4) = 6.3, 11.2, 19.9, 35.3, ... Original
  // context 32, low 1, high 4: long band > 32, short band < 8, so j = 0 kept, j = 1, 2 smoothed,
  // j >= 3 divided by 8.
  ModelConfig c = base_config(64, 96, 2, 2, 50, 24);
  c.rope_layout = RopeLayout::kHalf;
  c.rope_scaling = RopeScaling::kLlama3;
  c.rope_factor = 8.0f;
  c.rope_low_freq_factor = 1.0f;
  c.rope_high_freq_factor = 4.0f;
  c.rope_original_context = 32;
  ASSERT_EQ(c.head_size(), 32);
  double edge = 0.0;
  const std::vector<int> bands = llama3_bands(c, &edge);
  for (int b = 0; b < 3; ++b)
    EXPECT_NE(std::count(bands.begin(), bands.end(), b), 0) << "no frequency in llama3 band " << b;
  EXPECT_GT(edge, 1e-3) << "a wavelength sits on a band edge; float and double could disagree";
  ModelConfig unscaled = c;
  unscaled.rope_scaling = RopeScaling::kNone;
  check_case(c, 5, "llama3 rope scaling", 1, &unscaled);
}

TEST(ForwardVariants, LinearRopeScaling) {
  ModelConfig c = base_config(32, 64, 4, 4, 50, 24);
  c.rope_scaling = RopeScaling::kLinear;
  c.rope_factor = 4.0f;
  ModelConfig unscaled = c;
  unscaled.rope_scaling = RopeScaling::kNone;
  check_case(c, 6, "linear rope scaling x4", 1, &unscaled);
}

TEST(ForwardVariants, MistralSlidingWindow) {
  ModelConfig c = base_config(64, 96, 8, 2, 50, 16);
  c.rope_layout = RopeLayout::kHalf;
  c.sliding_window = 5;
  ModelConfig full = c;
  full.sliding_window = 0;
  const std::vector<double> ref = check_case(c, 7, "Mistral sliding window 5", 1, &full);
  // Positions 0..4 see everything either way: their logits must not depend on the window.
  Model m(c);
  fill_random(m, 7);
  const std::vector<int32_t> tokens = random_tokens(c.seq_len, c.vocab_size, 7 + 1000);
  const std::vector<double> ref_full = ref_forward(m, full, tokens);
  const size_t first5 = static_cast<size_t>(5 * c.vocab_size);
  EXPECT_EQ(max_diff(std::vector<double>(ref.begin(), ref.begin() + first5),
                     std::vector<double>(ref_full.begin(), ref_full.begin() + first5)),
            0.0);
  // The library with window 0 differs from the library with window 5.
  Model mf(full);
  fill_random(mf, 7);
  const std::vector<float> a = run_forward(m, tokens, 1), b = run_forward(mf, tokens, 1);
  double d = 0.0;
  for (size_t i = 0; i < a.size(); ++i) d = std::max(d, static_cast<double>(std::abs(a[i] - b[i])));
  EXPECT_GT(d, kMinEffect);
}

// Everything at once: GQA, qkv bias, qk norm, head_dim != dim / n_heads, llama3 scaling, sliding
// window, untied, non-default theta and eps; in both layouts.
ModelConfig everything_config(RopeLayout layout) {
  ModelConfig c = base_config(48, 80, 4, 2, 51, 24);
  c.head_dim = 32;  // q_dim 128
  c.qkv_bias = true;
  c.qk_norm = true;
  c.rope_layout = layout;
  c.rope_theta = 5e5f;
  c.norm_eps = 1e-6f;
  c.shared_classifier = false;
  c.sliding_window = 7;
  // wavelengths 2*pi*(5e5)^(j/16) = 6.3, 14.3, 32.5, 73.9, ...; original context 40, low 1, high 4:
  // long band > 40, short < 10.
  c.rope_scaling = RopeScaling::kLlama3;
  c.rope_factor = 8.0f;
  c.rope_low_freq_factor = 1.0f;
  c.rope_high_freq_factor = 4.0f;
  c.rope_original_context = 40;
  return c;
}

TEST(ForwardVariants, EverythingCombined) {
  for (RopeLayout layout : {RopeLayout::kHalf, RopeLayout::kInterleaved}) {
    const ModelConfig c = everything_config(layout);
    double edge = 0.0;
    const std::vector<int> bands = llama3_bands(c, &edge);
    for (int b = 0; b < 3; ++b) EXPECT_NE(std::count(bands.begin(), bands.end(), b), 0) << "band " << b;
    EXPECT_GT(edge, 1e-3);
    check_case(c, 8, layout == RopeLayout::kHalf ? "everything, half" : "everything, interleaved", 2);
  }
}

// The BLAS path's attention (per-head GEMMs over query tiles of kAttentionTile rows, attention.h)
// on sequences of several tiles, the last one partial: GQA (4 query heads on 2 KV heads, head_dim
// != dim / n_heads) with no window, a window shorter than a tile (a tile's keys then start inside
// the sequence) and one longer than a tile. Against the fp64 reference, against the reference
// path within the summation-order bound (forward_paths.h), and bit for bit across thread counts.
TEST(ForwardVariants, TiledAttentionMatchesTheReferencePath) {
  using vqr::model::kAttentionTile;
  using vqr::model::MatmulPath;
  for (int window : {0, 50, 150}) {
    ModelConfig c = everything_config(RopeLayout::kHalf);
    c.seq_len = static_cast<int>(2 * kAttentionTile + 37);
    c.sliding_window = window;
    ModelConfig full = c;
    full.sliding_window = 0;
    const std::string what = "tiled attention, window " + std::to_string(window);
    check_case(c, 11, what.c_str(), 2, window > 0 ? &full : nullptr);
    Model m(c);
    fill_random(m, 11);
    const std::vector<int32_t> tokens = random_tokens(c.seq_len, c.vocab_size, 11 + 1000);
    const int64_t T = c.seq_len, V = c.vocab_size;
    std::vector<float> ref(static_cast<size_t>(T * V)), blas1(ref.size()), blas2(ref.size());
    Forward(m, T, 2, MatmulPath::kReference).run(tokens.data(), T, ref.data());
    Forward(m, T, 1, MatmulPath::kBlas).run(tokens.data(), T, blas1.data());
    Forward(m, T, 2, MatmulPath::kBlas).run(tokens.data(), T, blas2.data());
    vqr_test::expect_logits_near(blas2, ref, vqr_test::forward_order_tolerance(c));
    EXPECT_EQ(blas1, blas2) << what << ": the thread count changed the BLAS path's logits";
  }
}

// The BLAS path's attention scratch is sized once per Forward (attention_scratch_floats at
// max_tokens) and used by every shorter sequence, so the size must bound every t <= T: it is
// non-decreasing in T for head counts around the group-size steps. And a 16-head model whose
// Forward holds 129 tokens runs a 128-token sequence (the case a floored group size once
// under-allocated: 15 x 128 x 129 < 16 x 128 x 128 floats, a heap overflow the sanitizer build
// reports) with the bits of a Forward sized for 128.
TEST(ForwardVariants, AttentionScratchCoversShorterSequences) {
  using vqr::model::MatmulPath;
  for (int64_t NH : {1, 2, 3, 8, 15, 16, 17, 32, 64}) {
    int64_t prev = 0;
    for (int64_t T = 1; T <= 3000; ++T) {
      const int64_t f = vqr::model::attention_scratch_floats(MatmulPath::kBlas, T, NH, 2);
      ASSERT_GE(f, prev) << "NH " << NH << ", T " << T;
      ASSERT_GE(f, std::min<int64_t>(T, vqr::model::kAttentionTile) * T) << "one head's tile, T " << T;
      prev = f;
    }
  }
  ModelConfig c = base_config(64, 96, 16, 4, 37, 129);  // 16 heads of 4
  Model m(c);
  fill_random(m, 41);
  const std::vector<int32_t> tokens = random_tokens(128, c.vocab_size, 41 + 1000);
  std::vector<float> wide(static_cast<size_t>(128 * c.vocab_size)), exact(wide.size());
  Forward(m, 129, 2, MatmulPath::kBlas).run(tokens.data(), 128, wide.data());
  Forward(m, 128, 2, MatmulPath::kBlas).run(tokens.data(), 128, exact.data());
  EXPECT_EQ(wide, exact);
}

// Forward::set_segments: sequences packed into one pass score what they score alone, each from
// position 0 with a fresh context. On the reference path bit for bit (per-output sums do not depend
// on the batch); on the BLAS path within the summation-order bound (forward_paths.h: only the
// SGEMMs' blocking over the taller batch differs). Running the same rows as one sequence instead
// moves the later sequences' logits by more than kMinEffect, so a leak across sequences (attention
// or RoPE positions not restarting) could not pass. Bad packs are refused.
TEST(ForwardVariants, PackedSequencesMatchLonePasses) {
  using vqr::model::MatmulPath;
  ModelConfig c = everything_config(RopeLayout::kHalf);  // bias, qk norm, llama3 RoPE, window 7
  c.seq_len = 80;  // the packed rows below fit one context too (the leak check)
  Model m(c);
  fill_random(m, 31);
  const std::vector<int64_t> lengths = {24, 5, 1, 17, 24};
  int64_t total = 0;
  for (int64_t n : lengths) total += n;
  const std::vector<int32_t> tokens = random_tokens(static_cast<int>(total), c.vocab_size, 31 + 1000);
  const int64_t V = c.vocab_size;
  for (MatmulPath path : {MatmulPath::kReference, MatmulPath::kBlas}) {
    const char *what = path == MatmulPath::kBlas ? "blas" : "reference";
    std::vector<float> alone(static_cast<size_t>(total * V)), packed(alone.size()), joined(alone.size());
    Forward single(m, c.seq_len, 2, path);
    int64_t at = 0;
    for (int64_t n : lengths) {
      single.run(tokens.data() + at, n, alone.data() + at * V);
      at += n;
    }
    Forward f(m, c.seq_len, 2, path, total);
    EXPECT_EQ(f.batch_tokens(), std::max<int64_t>(c.seq_len, total));
    f.set_segments(lengths);
    f.run(tokens.data(), total, packed.data());
    if (path == MatmulPath::kReference) {
      EXPECT_EQ(packed, alone) << what << ": packing changed the reference path's bits";
    } else {
      vqr_test::expect_logits_near(packed, alone, vqr_test::forward_order_tolerance(c));
    }
    // The rows run as one sequence of `total` tokens: later sequences see earlier ones.
    Forward one(m, total, 2, path);
    one.run(tokens.data(), total, joined.data());
    double leak = 0;
    for (size_t i = static_cast<size_t>(lengths[0] * V); i < joined.size(); ++i)
      leak = std::max(leak, std::fabs((double)joined[i] - (double)alone[i]));
    EXPECT_GT(leak, kMinEffect) << what << ": a shared context would not be detected";

    EXPECT_EQ(status_of([&] { f.set_segments({24, 0}); }), vqr::Status::InvalidArgument) << "empty sequence";
    EXPECT_EQ(status_of([&] { f.set_segments({c.seq_len + 1}); }), vqr::Status::InvalidArgument) << "too long";
    EXPECT_EQ(status_of([&] { f.set_segments({24, 24, 24, 24}); }), vqr::Status::InvalidArgument) << "too many rows";
    f.set_segments({24, 5});
    EXPECT_EQ(status_of([&] { f.block(0, 30); }), vqr::Status::InvalidArgument) << "rows != the packed sum";
    EXPECT_EQ(status_of([&] { f.embed(tokens.data(), 28); }), vqr::Status::InvalidArgument) << "embed, not the sum";
    EXPECT_EQ(status_of([&] { f.head(24, packed.data()); }), vqr::Status::InvalidArgument) << "head, not the sum";
    f.set_segments({});  // one sequence again: at most max_tokens rows
    EXPECT_EQ(status_of([&] { f.run(tokens.data(), c.seq_len + 1, packed.data()); }), vqr::Status::InvalidArgument);
  }
}

// attention_forward_blas alone against attention_forward on a sequence long enough that the heads
// are taken in several groups per tile (the last one partial: 8 heads, T 600, groups of
// head_group = 1 MB / (128 x 600 x 4 B) = 3), GQA 4:1, with and without a window: within the
// attention part of the order bound (forward_paths.h: scores of length HS, weights summing to 1 over
// at most T values, 2 u (2 HS + T) max|v| with the gain 4), and bit for bit across thread counts.
TEST(ForwardVariants, GroupedHeadsAttentionMatchesReference) {
  using vqr::model::MatmulPath;
  const int64_t T = 600, NH = 8, NKV = 2, HS = 16, C = NH * HS, KV = NKV * HS;
  std::mt19937 rng(21);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> q(static_cast<size_t>(T * C)), k(static_cast<size_t>(T * KV)), v(k.size());
  for (float &x : q) x = nd(rng);
  for (float &x : k) x = nd(rng);
  for (float &x : v) x = nd(rng);
  double vmax = 0;
  for (float x : v) vmax = std::max(vmax, (double)std::fabs(x));
  const double u = 1.0 / (1 << 24), bound = 4.0 * 2.0 * u * (2.0 * HS + T) * vmax;
  for (int64_t window : {int64_t{0}, int64_t{200}}) {
    std::vector<float> ref(q.size()), one(q.size()), two(q.size());
    std::vector<float> scratch(static_cast<size_t>(vqr::model::attention_scratch_floats(MatmulPath::kReference, T, NH, 2)));
    vqr::model::attention_forward(ref.data(), scratch.data(), q.data(), k.data(), v.data(), T, HS, NH, NKV, window, 2);
    for (int threads : {1, 2}) {
      std::vector<float> &out = threads == 1 ? one : two;
      std::vector<float> tiles(static_cast<size_t>(vqr::model::attention_scratch_floats(MatmulPath::kBlas, T, NH, threads)));
      ASSERT_LT(tiles.size(), static_cast<size_t>(NH * vqr::model::kAttentionTile * T)) << "one group holds every head";
      vqr::model::attention_forward_blas(vqr::backend::cpu(), out.data(), tiles.data(), q.data(), k.data(), v.data(), T,
                                         HS, NH, NKV, window, threads);
    }
    EXPECT_EQ(one, two) << "window " << window << ": the thread count changed the bits";
    double worst = 0;
    for (size_t i = 0; i < ref.size(); ++i) worst = std::max(worst, std::fabs((double)one[i] - ref[i]));
    std::printf("grouped attention, window %lld: max |diff| %.3g, bound %.3g\n", static_cast<long long>(window), worst,
                bound);
    EXPECT_LE(worst, bound) << "window " << window;
  }
}

// ---------------------------------------------------------------------------------------------
// Interleaved layout == half layout after permuting each head's rows of Wq, Wk (and of their
// biases and q/k norm gains): half row j <- interleaved row 2j, half row HS/2 + j <- row 2j + 1.

void permute_heads(float *dst, const float *src, int heads, int hs, int row_len) {
  for (int h = 0; h < heads; ++h)
    for (int j = 0; j < hs / 2; ++j) {
      const int64_t base = static_cast<int64_t>(h) * hs;
      std::memcpy(dst + (base + j) * row_len, src + (base + 2 * j) * row_len, sizeof(float) * row_len);
      std::memcpy(dst + (base + hs / 2 + j) * row_len, src + (base + 2 * j + 1) * row_len, sizeof(float) * row_len);
    }
}

double layout_identity(ModelConfig c, uint32_t seed) {
  c.rope_layout = RopeLayout::kInterleaved;
  Model inter(c);
  fill_random(inter, seed);
  ModelConfig ch = c;
  ch.rope_layout = RopeLayout::kHalf;
  Model half(ch);
  for (int i = 0; i < vqr::model::kTensorCount; ++i) {
    const TensorId id = static_cast<TensorId>(i);
    EXPECT_EQ(half.tensor_floats(id), inter.tensor_floats(id));
    std::memcpy(half.tensor(id), inter.tensor(id), sizeof(float) * inter.tensor_floats(id));
  }
  const int HS = c.head_size(), D = c.dim;
  for (int l = 0; l < c.n_layers; ++l) {
    permute_heads(half.tensor(TensorId::kWq) + int64_t{l} * c.q_dim() * D,
                  inter.tensor(TensorId::kWq) + int64_t{l} * c.q_dim() * D, c.n_heads, HS, D);
    permute_heads(half.tensor(TensorId::kWk) + int64_t{l} * c.kv_dim() * D,
                  inter.tensor(TensorId::kWk) + int64_t{l} * c.kv_dim() * D, c.n_kv_heads, HS, D);
    if (c.qkv_bias) {
      permute_heads(half.tensor(TensorId::kBq) + int64_t{l} * c.q_dim(),
                    inter.tensor(TensorId::kBq) + int64_t{l} * c.q_dim(), c.n_heads, HS, 1);
      permute_heads(half.tensor(TensorId::kBk) + int64_t{l} * c.kv_dim(),
                    inter.tensor(TensorId::kBk) + int64_t{l} * c.kv_dim(), c.n_kv_heads, HS, 1);
    }
    if (c.qk_norm) {
      permute_heads(half.tensor(TensorId::kQNorm) + int64_t{l} * HS, inter.tensor(TensorId::kQNorm) + int64_t{l} * HS,
                    1, HS, 1);
      permute_heads(half.tensor(TensorId::kKNorm) + int64_t{l} * HS, inter.tensor(TensorId::kKNorm) + int64_t{l} * HS,
                    1, HS, 1);
    }
  }
  const std::vector<int32_t> tokens = random_tokens(c.seq_len, c.vocab_size, seed + 1000);
  const std::vector<float> a = run_forward(inter, tokens, 1), b = run_forward(half, tokens, 1);
  double worst = 0.0, scale = 0.0;
  for (size_t i = 0; i < a.size(); ++i) {
    worst = std::max(worst, static_cast<double>(std::abs(a[i] - b[i])));
    scale = std::max(scale, static_cast<double>(std::abs(a[i])));
  }
  EXPECT_LE(worst, kLayoutTol * (1.0 + scale)) << "interleaved and permuted-half logits differ";
  // Without the permutation the half-layout model is a different function (so the check can fail).
  std::memcpy(half.tensor(TensorId::kWq), inter.tensor(TensorId::kWq), sizeof(float) * inter.tensor_floats(TensorId::kWq));
  std::memcpy(half.tensor(TensorId::kWk), inter.tensor(TensorId::kWk), sizeof(float) * inter.tensor_floats(TensorId::kWk));
  const std::vector<float> u = run_forward(half, tokens, 1);
  double moved = 0.0;
  for (size_t i = 0; i < a.size(); ++i) moved = std::max(moved, static_cast<double>(std::abs(a[i] - u[i])));
  EXPECT_GT(moved, kMinEffect);
  return worst;
}

TEST(ForwardVariants, InterleavedEqualsPermutedHalf) {
  const double mha = layout_identity(base_config(48, 64, 6, 6, 50, 16), 11);
  const double gqa = layout_identity(base_config(64, 80, 8, 2, 50, 20), 12);
  const double all = layout_identity(everything_config(RopeLayout::kInterleaved), 13);
  std::printf("[ layout identity              ] max |interleaved - half| = %.3g (MHA), %.3g (GQA), %.3g (all)\n",
              mha, gqa, all);
}

// ---------------------------------------------------------------------------------------------
// Config validation.

template <class Fn>
void expect_invalid(Fn fn, const char *what) {
  try {
    fn();
    ADD_FAILURE() << what << ": no error thrown";
  } catch (const vqr::Error &e) {
    EXPECT_EQ(e.status(), vqr::Status::InvalidArgument) << what << ": " << e.what();
  }
}

TEST(ForwardVariants, ModelRejectsBadConfigs) {
  const ModelConfig ok = base_config(48, 64, 6, 2, 50, 16);
  EXPECT_NO_THROW(Model{ok});
  auto bad = [&](const char *what, auto edit) {
    ModelConfig c = ok;
    edit(c);
    expect_invalid([&] { Model m(c); }, what);
  };
  bad("n_heads not a multiple of n_kv_heads", [](ModelConfig &c) { c.n_kv_heads = 4; });
  bad("more kv heads than heads", [](ModelConfig &c) { c.n_kv_heads = 12; });
  bad("odd head size from dim / n_heads", [](ModelConfig &c) { c.dim = 18, c.n_kv_heads = 6; });
  bad("odd explicit head_dim", [](ModelConfig &c) { c.head_dim = 15; });
  bad("dim not a multiple of n_heads", [](ModelConfig &c) { c.dim = 50; });
  bad("linear rope factor 0", [](ModelConfig &c) {
    c.rope_scaling = RopeScaling::kLinear;
    c.rope_factor = 0.0f;
  });
  bad("llama3 rope factor negative", [](ModelConfig &c) {
    c.rope_scaling = RopeScaling::kLlama3;
    c.rope_factor = -2.0f;
  });
  bad("llama3 low >= high", [](ModelConfig &c) {
    c.rope_scaling = RopeScaling::kLlama3;
    c.rope_factor = 8.0f;
    c.rope_low_freq_factor = 4.0f;
    c.rope_high_freq_factor = 4.0f;
  });
  bad("negative sliding window", [](ModelConfig &c) { c.sliding_window = -1; });
  // head_dim set explicitly lifts the dim % n_heads requirement (Qwen3).
  ModelConfig free_head = ok;
  free_head.dim = 50;
  free_head.head_dim = 16;
  EXPECT_NO_THROW(Model{free_head});
}

}  // namespace
