// The OPT family (model.h BlockFamily::kOpt): the forward on both MatmulPaths against the textbook
// double-precision OPT of opt_reference.h (pre-LN, post-LN with word_embed_proj_dim projections,
// untied classifier, odd sizes), packed sequences, Hugging Face folders written and loaded back
// (resident and streamed) with hostile configs and folders, and the block and model backward
// against central finite differences of the textbook forward.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "common/error_status.h"
#include "common/gradient_check.h"
#include "common/scratch_files.h"
#include "core/error.h"
#include "model/block_backward.h"
#include "model/forward.h"
#include "model/hf_checkpoint.h"
#include "model/llama2c_format.h"
#include "model/model.h"
#include "model/model_backward.h"
#include "backward_runs.h"
#include "opt_reference.h"

namespace {

using vqr::Status;
using vqr::model::BlockBackward;
using vqr::model::Forward;
using vqr::model::LinearKind;
using vqr::model::MatmulPath;
using vqr::model::Model;
using vqr::model::ModelConfig;
using vqr_test::expect_sampled_gradient;
using vqr_test::OptVec;

// Bound on max|fp32 logit - exact logit| / max|exact logit|, the argument of forward_paths.h with
// one fp32 evaluation against an exact one (half its two-orders bound) and OPT's parts: each of
// the D = 4 sequential linears per block (q/k/v, out_proj, fc1, fc2), the classifier and, with
// embed_dim, project_in and project_out is a dot product of length <= n with error <= n u sum|w||x|
// (plus one addend for its bias); attention adds u (2 HS + T) per block; each LayerNorm's mean and
// variance are summed in double and rounded once (a few u, counted as width u to stay on the safe
// side, 2 per block plus the final one); the position add is exact to u. kGain = 4 covers
// sum|w||x| / |y| and the gains of the norms, ReLU and softmax on these well-scaled models.
double opt_tolerance(const ModelConfig &c) {
  constexpr double u = 1.0 / (1 << 24), kGain = 4.0;
  const double n = std::max({c.dim, c.hidden_dim, c.embed_width()});
  const double D = 4.0 * c.n_layers + 1.0 + (c.embed_dim > 0 ? 2.0 : 0.0);
  const double attention = c.n_layers * (2.0 * c.head_size() + c.seq_len);
  const double norms = (2.0 * c.n_layers + 1.0) * c.dim;
  return kGain * u * (D * (n + 1.0) + attention + norms + 1.0);
}

// max|got - want| <= tol * max|want|, printing the largest difference and its share of the bound.
void expect_near_exact(const std::vector<float> &got, const OptVec &want, double tol, const char *what) {
  ASSERT_EQ(got.size(), want.size());
  double scale = 0, worst = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    scale = std::max(scale, std::fabs(want[i]));
    const double d = std::fabs((double)got[i] - want[i]);
    if (!(d <= worst)) worst = d;
  }
  std::printf("%s: max|logit| %.3g, max |fp32 - exact| %.3g = %.3g of the bound %.3g\n", what, scale, worst,
              worst / (tol * scale), tol * scale);
  EXPECT_GT(scale, 0.1) << what << ": logits too small to test anything";
  EXPECT_LE(worst, tol * scale) << what;
}

std::vector<int32_t> random_tokens(int64_t T, int vocab, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int32_t> pick(0, vocab - 1);
  std::vector<int32_t> t((size_t)T);
  for (int32_t &x : t) x = pick(rng);
  return t;
}

std::vector<float> logits_of(const Model &m, const std::vector<int32_t> &tokens, MatmulPath path) {
  Forward f(m, (int64_t)tokens.size(), 2, path);
  std::vector<float> z(tokens.size() * (size_t)m.config().vocab_size);
  f.run(tokens.data(), (int64_t)tokens.size(), z.data());
  return z;
}

struct Variant {
  const char *name;
  ModelConfig config;
};

std::vector<Variant> variants() {
  std::vector<Variant> v;
  v.push_back({"pre-LN (125M-like)", vqr_test::opt_config(32, 48, 4, 2, 41, 16)});
  ModelConfig odd = vqr_test::opt_config(15, 29, 3, 3, 37, 13);  // head size 5, prime widths
  v.push_back({"pre-LN, odd sizes", odd});
  ModelConfig post = vqr_test::opt_config(24, 40, 4, 2, 43, 16);  // 350M-like
  post.pre_norm = false;
  post.final_norm = false;
  post.embed_dim = 10;
  v.push_back({"post-LN with projections (350M-like)", post});
  ModelConfig untied = vqr_test::opt_config(20, 36, 2, 2, 29, 12);
  untied.shared_classifier = false;
  untied.embed_dim = 28;  // wider than dim
  v.push_back({"pre-LN, untied, embed wider than dim", untied});
  return v;
}

TEST(OptForward, MatchesTheTextbookForwardOnBothPaths) {
  uint32_t seed = 1;
  for (const Variant &v : variants()) {
    SCOPED_TRACE(v.name);
    Model m(v.config);
    vqr_test::fill_random_opt(m, seed++);
    EXPECT_EQ(m.config().linear_kinds().size(), 6);
    const auto tokens = random_tokens(v.config.seq_len, v.config.vocab_size, seed++);
    const OptVec want = vqr_test::opt_logits(m, tokens);
    const double tol = opt_tolerance(v.config);
    expect_near_exact(logits_of(m, tokens, MatmulPath::kBlas), want, tol, (std::string(v.name) + ", BLAS").c_str());
    expect_near_exact(logits_of(m, tokens, MatmulPath::kReference), want, tol,
                      (std::string(v.name) + ", reference").c_str());
  }
}

TEST(OptForward, PartsMatter) {
  // The test above is sensitive to OPT's parts: the position offset, the linear and LayerNorm
  // biases each move the logits far beyond its bound.
  ModelConfig c = variants()[2].config;
  Model m(c);
  vqr_test::fill_random_opt(m, 7);
  const auto tokens = random_tokens(c.seq_len, c.vocab_size, 8);
  const OptVec want = vqr_test::opt_logits(m, tokens);
  auto far = [&](const Model &other) {
    const std::vector<float> got = logits_of(other, tokens, MatmulPath::kBlas);
    double worst = 0, scale = 0;
    for (size_t i = 0; i < want.size(); ++i) {
      worst = std::max(worst, std::fabs(got[i] - want[i]));
      scale = std::max(scale, std::fabs(want[i]));
    }
    return worst > 100 * opt_tolerance(c) * scale;
  };
  Model shifted = m.clone();  // positions one row off
  std::memmove(shifted.tensor(vqr::model::TensorId::kPositions), shifted.tensor(vqr::model::TensorId::kPositions) + c.dim,
               (size_t)((c.position_rows() - 1) * c.dim) * sizeof(float));
  EXPECT_TRUE(far(shifted));
  Model no_bias = m.clone();
  std::fill(no_bias.tensor(vqr::model::TensorId::kB1), no_bias.tensor(vqr::model::TensorId::kB1) + c.n_layers * c.hidden_dim, 0.0f);
  EXPECT_TRUE(far(no_bias));
  Model no_norm_bias = m.clone();
  std::fill(no_norm_bias.tensor(vqr::model::TensorId::kNormFfnBias),
            no_norm_bias.tensor(vqr::model::TensorId::kNormFfnBias) + c.n_layers * c.dim, 0.0f);
  EXPECT_TRUE(far(no_norm_bias));
  EXPECT_FALSE(far(m));
}

TEST(OptForward, PackedSequencesRestartTheirPositions) {
  const ModelConfig c = variants()[0].config;
  Model m(c);
  vqr_test::fill_random_opt(m, 3);
  const auto a = random_tokens(9, c.vocab_size, 4), b = random_tokens(7, c.vocab_size, 5);
  const std::vector<float> za = logits_of(m, a, MatmulPath::kReference), zb = logits_of(m, b, MatmulPath::kReference);
  std::vector<int32_t> ab = a;
  ab.insert(ab.end(), b.begin(), b.end());
  Forward f(m, 9, 1, MatmulPath::kReference, 16);
  f.set_segments({9, 7});
  std::vector<float> z(ab.size() * (size_t)c.vocab_size);
  f.run(ab.data(), (int64_t)ab.size(), z.data());
  std::vector<float> want = za;
  want.insert(want.end(), zb.begin(), zb.end());
  EXPECT_EQ(z, want) << "the reference path packs sequences bit for bit";
}

// ---- Hugging Face folders ----

// A copy of a safetensors file with every "model.decoder." in its header renamed "decoder."
// (the names of checkpoints converted from metaseq's, e.g. opt-350m): the 8-byte header length,
// then the JSON header, then the data, whose offsets count from the header's end.
void write_bare_copy(const std::string &from, const std::string &to) {
  const std::string bytes = vqr_test::read_file(from);
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  std::string header = bytes.substr(8, (size_t)n);
  for (size_t at; (at = header.find("\"model.decoder.")) != std::string::npos;) header.replace(at, 15, "\"decoder.");
  const uint64_t m = header.size();
  std::string out(8, '\0');
  std::memcpy(&out[0], &m, 8);
  vqr_test::write_file(to, out + header + bytes.substr(8 + (size_t)n));
}

TEST(OptCheckpoint, WritesAndLoadsBackBitForBit) {
  vqr_test::TempDir dir("opt_ckpt");
  uint32_t seed = 20;
  int n = 0;
  for (const Variant &v : variants()) {
    SCOPED_TRACE(v.name);
    Model m(v.config);
    vqr_test::fill_random_opt(m, seed++);
    const std::string folder = dir.file("m" + std::to_string(n++));
    std::filesystem::create_directories(folder);
    vqr::model::save_hf_checkpoint(m, folder, "", "F32");
    const std::string config_text = vqr_test::read_file(folder + "/config.json");
    EXPECT_NE(config_text.find("\"OPTForCausalLM\""), std::string::npos);
    EXPECT_NE(config_text.find("\"ffn_dim\""), std::string::npos);
    const auto tokens = random_tokens(v.config.seq_len, v.config.vocab_size, seed++);
    const std::vector<float> want = logits_of(m, tokens, MatmulPath::kBlas);
    for (auto storage : {vqr::model::Storage::kResident, vqr::model::Storage::kStreamed}) {
      const Model back = vqr::model::load_hf_checkpoint(folder, storage);
      const ModelConfig &b = back.config();
      EXPECT_TRUE(b.is_opt());
      EXPECT_EQ(b.pre_norm, v.config.pre_norm);
      EXPECT_EQ(b.final_norm, v.config.final_norm);
      EXPECT_EQ(b.embed_dim, v.config.embed_dim);
      EXPECT_EQ(b.shared_classifier, v.config.shared_classifier);
      EXPECT_EQ(b.norm_eps, 1e-5f);
      EXPECT_EQ(logits_of(back, tokens, MatmulPath::kBlas), want);
    }
    // The same tensors under OPTModel's names ("decoder.*") load too.
    const std::string bare = folder + "_bare";
    std::filesystem::create_directories(bare);
    std::filesystem::copy_file(folder + "/config.json", bare + "/config.json");
    write_bare_copy(folder + "/model.safetensors", bare + "/model.safetensors");
    EXPECT_EQ(vqr_test::read_file(bare + "/model.safetensors").find("model.decoder."), std::string::npos);
    EXPECT_EQ(logits_of(vqr::model::load_hf_checkpoint(bare), tokens, MatmulPath::kBlas), want);
  }
}

std::string opt_json(const std::string &extra) {
  return "{\"architectures\": [\"OPTForCausalLM\"], \"model_type\": \"opt\", \"hidden_size\": 32, \"ffn_dim\": 48, "
         "\"num_hidden_layers\": 2, \"num_attention_heads\": 4, \"vocab_size\": 41, \"max_position_embeddings\": 16" +
         extra + "}";
}

TEST(OptCheckpoint, ParsesOptConfigs) {
  using vqr::model::parse_hf_config;
  const ModelConfig c = parse_hf_config(opt_json(""), "c.json");
  EXPECT_TRUE(c.is_opt());
  EXPECT_EQ(c.hidden_dim, 48);
  EXPECT_EQ(c.n_kv_heads, 4);
  EXPECT_TRUE(c.pre_norm && c.final_norm && c.linear_bias && c.shared_classifier);
  EXPECT_EQ(c.embed_dim, 0);
  const ModelConfig m350 = parse_hf_config(
      opt_json(", \"do_layer_norm_before\": false, \"word_embed_proj_dim\": 16, \"activation_function\": \"relu\""), "c.json");
  EXPECT_FALSE(m350.pre_norm);
  EXPECT_FALSE(m350.final_norm);
  EXPECT_EQ(m350.embed_dim, 16);
  EXPECT_EQ(parse_hf_config(opt_json(", \"word_embed_proj_dim\": 32"), "c.json").embed_dim, 0);
  EXPECT_FALSE(parse_hf_config(opt_json(", \"_remove_final_layer_norm\": true"), "c.json").final_norm);
  EXPECT_FALSE(parse_hf_config(opt_json(", \"enable_bias\": false"), "c.json").linear_bias);
  // model_type alone names the class
  EXPECT_TRUE(parse_hf_config("{\"model_type\": \"opt\", \"hidden_size\": 8, \"ffn_dim\": 8, \"num_hidden_layers\": 1, "
                              "\"num_attention_heads\": 2, \"vocab_size\": 5}",
                              "c.json")
                  .is_opt());
}

TEST(OptCheckpoint, HostileConfigsFailClearly) {
  struct Case {
    std::string text;
    Status status;
    const char *needle;
  };
  const Case cases[] = {
      {opt_json(", \"activation_function\": \"gelu\""), Status::Unsupported, "gelu"},
      {opt_json(", \"layer_norm_elementwise_affine\": false"), Status::Unsupported, "layer_norm_elementwise_affine"},
      {"{\"architectures\": [\"OPTForCausalLM\"], \"hidden_size\": 30, \"ffn_dim\": 48, \"num_hidden_layers\": 2, "
       "\"num_attention_heads\": 4, \"vocab_size\": 41}",
       Status::Format, "not a multiple of num_attention_heads"},
      {"{\"architectures\": [\"OPTForCausalLM\"], \"hidden_size\": 32, \"num_hidden_layers\": 2, "
       "\"num_attention_heads\": 4, \"vocab_size\": 41}",
       Status::Format, "ffn_dim"},
      {opt_json(", \"word_embed_proj_dim\": 0"), Status::Format, "word_embed_proj_dim"},
      {opt_json(", \"word_embed_proj_dim\": \"16\""), Status::Format, "word_embed_proj_dim"},
      {opt_json(", \"do_layer_norm_before\": 1"), Status::Format, "do_layer_norm_before"},
      {opt_json(", \"max_position_embeddings\": -3"), Status::Format, "max_position_embeddings"},
      {opt_json(", \"num_hidden_layers\": 0"), Status::Format, "num_hidden_layers"},
  };
  for (const Case &c : cases) {
    SCOPED_TRACE(c.text);
    Status status = Status::Ok;
    std::string message;
    try {
      vqr::model::parse_hf_config(c.text, "cfg.json");
    } catch (const vqr::Error &e) {
      status = e.status();
      message = e.what();
    }
    EXPECT_EQ(status, c.status) << message;
    EXPECT_NE(message.find(c.needle), std::string::npos) << message;
    EXPECT_NE(message.find("cfg.json"), std::string::npos) << message;
  }
}

TEST(OptCheckpoint, MalformedFoldersFailClearly) {
  vqr_test::TempDir dir("opt_bad");
  ModelConfig c = variants()[2].config;  // post-LN with projections
  Model m(c);
  vqr_test::fill_random_opt(m, 31);
  const std::string good = dir.file("good");
  std::filesystem::create_directories(good);
  vqr::model::save_hf_checkpoint(m, good, "", "F32");
  const std::string config = vqr_test::read_file(good + "/config.json");
  auto with_config = [&](const std::string &name, const std::string &text) {
    const std::string d = dir.file(name);
    std::filesystem::create_directories(d);
    std::filesystem::copy_file(good + "/model.safetensors", d + "/model.safetensors",
                               std::filesystem::copy_options::overwrite_existing);
    vqr_test::write_file(d + "/config.json", text);
    return d;
  };
  auto error_of = [](const std::string &d) {
    try {
      vqr::model::load_hf_checkpoint(d);
    } catch (const vqr::Error &e) {
      return std::make_pair(e.status(), std::string(e.what()));
    }
    return std::make_pair(Status::Ok, std::string());
  };
  auto replace = [&](std::string text, const std::string &from, const std::string &to) {
    const size_t at = text.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return at == std::string::npos ? text : text.replace(at, from.size(), to);
  };
  {  // a longer context than the position table holds
    const auto [s, msg] = error_of(with_config("pos", replace(config, "\"max_position_embeddings\": 16", "\"max_position_embeddings\": 20")));
    EXPECT_EQ(s, Status::Format) << msg;
    EXPECT_NE(msg.find("max_position_embeddings + 2"), std::string::npos) << msg;
    EXPECT_NE(msg.find("model.decoder.embed_positions.weight"), std::string::npos) << msg;
  }
  {  // the folder has projections the config does not explain
    const auto [s, msg] = error_of(with_config("proj", replace(config, "\"word_embed_proj_dim\": 10", "\"word_embed_proj_dim\": 24")));
    EXPECT_EQ(s, Status::Format) << msg;
  }
  {  // pre-LN claims a final norm the folder lacks
    const auto [s, msg] = error_of(with_config("final", replace(config, "\"do_layer_norm_before\": false", "\"do_layer_norm_before\": true")));
    EXPECT_EQ(s, Status::Format) << msg;
    EXPECT_NE(msg.find("model.decoder.final_layer_norm"), std::string::npos) << msg;
  }
  {  // biases present but disabled: unexpected tensors
    const auto [s, msg] = error_of(with_config("bias", replace(config, "\"enable_bias\": true", "\"enable_bias\": false")));
    EXPECT_EQ(s, Status::Format) << msg;
    EXPECT_NE(msg.find("unexpected tensor"), std::string::npos) << msg;
  }
  {  // biases enabled but absent from the folder (a model written without them)
    ModelConfig no_bias = c;
    no_bias.linear_bias = false;
    Model nb(no_bias);
    vqr_test::fill_random_opt(nb, 32);
    const std::string d = dir.file("nobias");
    std::filesystem::create_directories(d);
    vqr::model::save_hf_checkpoint(nb, d, "", "F32");
    EXPECT_EQ(error_of(d).first, Status::Ok);
    vqr_test::write_file(d + "/config.json", replace(vqr_test::read_file(d + "/config.json"), "\"enable_bias\": false",
                                                     "\"enable_bias\": true"));
    const auto [s, msg] = error_of(d);
    EXPECT_EQ(s, Status::Format) << msg;
    EXPECT_NE(msg.find("model.decoder.layers.0.self_attn.q_proj.bias"), std::string::npos) << msg;
  }
  EXPECT_EQ(error_of(good).first, Status::Ok);
}

// ---- backward ----

void check_block(const ModelConfig &c, int64_t T, uint32_t seed, const char *name) {
  std::printf("%s\n", name);
  Model m(c);
  vqr_test::fill_random_opt(m, seed);
  const int layer = c.n_layers - 1;
  BlockBackward bb(m, T, 2);
  const vqr_test::BlockBackwardRun r = vqr_test::run_random_block(bb, m, layer, T, seed + 7);
  const std::vector<float> &x = r.x, &dy = r.dy, &dx = r.dx, *dw = r.dw;
  const std::vector<int> &order = r.order;
  EXPECT_EQ(order, (std::vector<int>{5, 4, 3, 0, 1, 2})) << "fc2, fc1, out_proj, q, k, v (no w3)";
  {  // forward() is Forward::block's arithmetic (BLAS path): the same bits
    std::vector<float> y(x.size());
    bb.forward(layer, x.data(), T, y.data());
    Forward fwd(m, T, 2);
    std::memcpy(fwd.load_hidden(), x.data(), x.size() * sizeof(float));
    fwd.block(layer, T);
    EXPECT_EQ(0, std::memcmp(y.data(), fwd.read_hidden(), y.size() * sizeof(float))) << "forward() vs Forward::block";
  }
  vqr_test::OptBlock p = vqr_test::opt_block_of(m, layer);
  OptVec xd(x.begin(), x.end());
  auto loss = [&] {
    const OptVec y = vqr_test::opt_block_forward(c, p, xd, T);
    double s = 0;
    for (size_t i = 0; i < y.size(); ++i) s += y[i] * dy[i];
    return s;
  };
  expect_sampled_gradient("dx", dx, xd, 24, seed + 1, loss);
  const char *names[6] = {"q_proj", "k_proj", "v_proj", "out_proj", "fc1", "fc2"};
  for (int k = 0; k < 6; ++k) expect_sampled_gradient(names[k], dw[k], p.w[k], 16, seed + 10 + k, loss);
}

TEST(OptBackward, BlockPreLn) { check_block(vqr_test::opt_config(24, 40, 4, 2, 19, 12), 11, 3, "OPT pre-LN block"); }

TEST(OptBackward, BlockPostLnOddSizes) {
  ModelConfig c = vqr_test::opt_config(15, 29, 3, 2, 19, 12);
  c.pre_norm = false;
  c.final_norm = false;
  check_block(c, 9, 5, "OPT post-LN block, head size 5");
}

double opt_nll(const Model &m, const std::vector<int32_t> &tokens, const std::vector<vqr_test::OptBlock> &blocks) {
  const OptVec z = vqr_test::opt_logits(m, tokens, &blocks);
  const int64_t V = m.config().vocab_size;
  double nll = 0;
  for (size_t t = 0; t + 1 < tokens.size(); ++t) {
    double mx = -1e300, sum = 0;
    for (int64_t v = 0; v < V; ++v) mx = std::max(mx, z[t * V + v]);
    for (int64_t v = 0; v < V; ++v) sum += std::exp(z[t * V + v] - mx);
    nll += mx + std::log(sum) - z[t * V + tokens[t + 1]];
  }
  return nll;
}

void check_model(const ModelConfig &c, int64_t T, uint32_t seed, const char *name) {
  std::printf("%s\n", name);
  Model m(c);
  vqr_test::fill_random_opt(m, seed);
  const auto tokens = random_tokens(T, c.vocab_size, seed + 3);
  const vqr_test::ModelNllBackward r = vqr_test::run_model_nll(m, tokens);
  const double value = r.nll;
  const std::vector<std::vector<float>> &dw = r.dw;
  std::vector<vqr_test::OptBlock> blocks;
  for (int l = 0; l < c.n_layers; ++l) blocks.push_back(vqr_test::opt_block_of(m, l));
  auto loss = [&] { return opt_nll(m, tokens, blocks); };
  const double want = loss();
  std::printf("  NLL %.9f (double forward %.9f)\n", value, want);
  EXPECT_NEAR(value, want, 1e-4 * std::fabs(want));
  const char *names[6] = {"q_proj", "k_proj", "v_proj", "out_proj", "fc1", "fc2"};
  for (int l : {0, c.n_layers - 1})
    for (int k = 0; k < 6; ++k)
      expect_sampled_gradient("b" + std::to_string(l) + "." + names[k], dw[(size_t)(l * 7 + k)],
                              blocks[(size_t)l].w[k], 8, seed + 20 + 7 * l + k, loss);
}

TEST(OptBackward, ModelNllPreLnTied) { check_model(vqr_test::opt_config(24, 40, 4, 3, 23, 12), 11, 4, "OPT pre-LN, tied"); }

TEST(OptBackward, ModelNllPostLnProjectionsUntied) {
  ModelConfig c = vqr_test::opt_config(24, 40, 4, 2, 23, 12);
  c.pre_norm = false;
  c.final_norm = false;
  c.embed_dim = 10;
  c.shared_classifier = false;
  check_model(c, 11, 6, "OPT post-LN, project_in/out, untied");
}

TEST(OptModel, RejectsW3AndInconsistentConfigs) {
  ModelConfig c = vqr_test::opt_config(16, 24, 2, 1, 11, 8);
  Model m(c);
  EXPECT_EQ(vqr_test::status_of([&] { m.linear(0, LinearKind::kW3); }), Status::InvalidArgument);
  EXPECT_FALSE(vqr::model::llama2c_can_store(c)) << "llama2.c files hold LLaMA blocks only";
  ModelConfig gqa = c;
  gqa.n_kv_heads = 1;
  EXPECT_EQ(vqr_test::status_of([&] { Model bad(gqa); }), Status::InvalidArgument);
  ModelConfig llama_post = vqr_test::base_config(16, 24, 2, 2, 11, 8);
  llama_post.pre_norm = false;
  EXPECT_EQ(vqr_test::status_of([&] { Model bad(llama_post); }), Status::InvalidArgument);
  ModelConfig final_post = c;
  final_post.pre_norm = false;  // a post-LN OPT has no final norm
  EXPECT_EQ(vqr_test::status_of([&] { Model bad(final_post); }), Status::InvalidArgument);
}

}  // namespace
