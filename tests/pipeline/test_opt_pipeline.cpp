// The OPT family through the pipeline (issue 19 item 2) on small random OPT models loaded from
// Hugging Face folders written here (pre-LN, and post-LN with word_embed_proj_dim projections):
// every method quantizes the six linears per block (no w3) with finite results, the calibrated
// methods end closer to the full-precision logits than RTN; the all-at-once order takes every
// statistic from the unquantized block; GPTQ and compressed-tensors folders in the module layout
// transformers and vLLM load for OPT load back to the quantized model's logits bit for bit; GGUF is
// refused with a clear message.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "common/scratch_files.h"
#include "core/error.h"
#include "model/forward.h"
#include "model/evaluate.h"
#include "model/hf_checkpoint.h"
#include "model/model.h"
#include "model/model_source.h"
#include "model/opt_reference.h"
#include "pipeline/checkpoint_export.h"
#include "pipeline/export.h"
#include "pipeline/model_session.h"
#include "pipeline/sequential_quantizer.h"

namespace {

using vqr::model::LinearKind;
using vqr::model::Model;
using vqr::model::ModelConfig;
using vqr::pipeline::PipelineOptions;
using vqr::pipeline::QuantizedModel;
using vqr::quant::Method;
using Windows = std::vector<std::vector<int32_t>>;

// Token windows from a random walk over the vocabulary (neighbouring tokens correlate, so the
// layers' inputs have structure for the Hessian-aware methods to use).
Windows walk_windows(int count, int length, int vocab, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> step(-3, 3), start(0, vocab - 1);
  Windows w;
  for (int s = 0; s < count; ++s) {
    int t = start(rng);
    w.emplace_back();
    for (int i = 0; i < length; ++i) {
      t = ((t + step(rng)) % vocab + vocab) % vocab;
      w.back().push_back(t);
    }
  }
  return w;
}

struct OptSetup {
  vqr_test::TempDir dir;
  vqr::model::ModelSource source;
  std::optional<Model> fp;
  Windows calib, eval;
  explicit OptSetup(const ModelConfig &c, const std::string &tag, uint32_t seed) : dir(tag) {
    Model m(c);
    vqr_test::fill_random_opt(m, seed);
    const std::string folder = dir.file("source");
    std::filesystem::create_directories(folder);
    vqr::model::save_hf_checkpoint(m, folder, "", "F32");
    source = vqr::model::resolve_model_source(folder, "");
    fp.emplace(vqr::model::load_hf_checkpoint(folder));
    calib = walk_windows(8, c.seq_len, c.vocab_size, seed + 1);
    eval = walk_windows(6, c.seq_len, c.vocab_size, seed + 2);
  }
};

ModelConfig pre_ln() { return vqr_test::opt_config(32, 64, 4, 2, 61, 24); }
ModelConfig post_ln() {
  ModelConfig c = vqr_test::opt_config(32, 48, 4, 2, 53, 24);
  c.pre_norm = false;
  c.final_norm = false;
  c.embed_dim = 16;
  return c;
}

std::vector<float> logits(const Model &m, const std::vector<int32_t> &tokens) {
  vqr::model::Forward f(m, (int64_t)tokens.size(), 1);
  std::vector<float> z(tokens.size() * (size_t)m.config().vocab_size);
  f.run(tokens.data(), (int64_t)tokens.size(), z.data());
  return z;
}

// Mean squared difference of the quantized model's logits from the full-precision model's over
// the evaluation windows; NaN when a logit is not finite.
double distortion(const Model &q, const Model &fp, const Windows &eval) {
  double sum = 0;
  int64_t n = 0;
  for (const auto &w : eval) {
    const auto a = logits(q, w), b = logits(fp, w);
    for (size_t i = 0; i < a.size(); ++i) {
      if (!std::isfinite(a[i])) return NAN;
      sum += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
    }
    n += (int64_t)a.size();
  }
  return sum / (double)n;
}

PipelineOptions options(Method method, int bits = 3) {
  PipelineOptions o;
  o.config.method = method;
  o.config.bits = bits;
  o.config.group_size = 16;
  o.threads = 1;
  return o;
}

void expect_six_linears_per_block(const QuantizedModel &r, const ModelConfig &c) {
  ASSERT_EQ(r.layers.size(), (size_t)c.n_layers * 6);
  ASSERT_EQ(r.results.size(), r.layers.size());
  for (size_t i = 0; i < r.layers.size(); ++i) {
    EXPECT_NE(r.layers[i].kind, LinearKind::kW3);
    EXPECT_FALSE(r.layers[i].skipped);
    EXPECT_TRUE(r.results[i].has_codes()) << r.layers[i].name;
  }
}

struct MethodCase {
  const char *name;
  PipelineOptions o;
  bool beats_rtn;  // a calibrated method: must end closer to the fp logits than RTN
};

// An end-to-end case: 40 steps, evaluated every 10, batches of 2 windows, a top-8 teacher.
MethodCase e2e_case(const char *name, Method method, bool beats_rtn) {
  MethodCase mc{name, options(method), beats_rtn};
  mc.o.config.steps = 40;
  mc.o.config.e2e = true;
  mc.o.config.eval_every = 10;
  mc.o.config.e2e_batch = 2;
  mc.o.config.teacher_topk = 8;
  return mc;
}

std::vector<MethodCase> method_cases() {
  std::vector<MethodCase> cases;
  cases.push_back({"rtn", options(Method::Rtn), false});
  cases.push_back({"gptq", options(Method::Gptq), true});
  cases.push_back({"gptaq", options(Method::Gptaq), true});
  cases.push_back({"rescomp", options(Method::ResComp), true});
  MethodCase ada{"adaround", options(Method::AdaRound), true};
  ada.o.config.steps = 300;
  cases.push_back(ada);
  MethodCase ar{"autoround", options(Method::AutoRound), true};
  ar.o.config.steps = 100;
  cases.push_back(ar);
  MethodCase arb{"autoround block-wise", options(Method::AutoRound), true};
  arb.o.config.steps = 100;
  arb.o.config.blockwise = true;
  arb.o.config.block_batch = 4;
  cases.push_back(arb);
  MethodCase vq{"vqround", options(Method::VqRound), true};
  vq.o.config.steps = 300;
  vq.o.config.codebook_size = 64;  // from RTN's decisions (the default): what training alone achieves
  cases.push_back(vq);
  MethodCase lora{"loraround", options(Method::LoraRound), true};
  lora.o.config.steps = 200;
  cases.push_back(lora);
  // AdaRound's end-to-end run from RTN's decisions: 40 steps lower its distillation loss (checked
  // below) without yet moving the hard-rounded logits below RTN's on this model.
  cases.push_back(e2e_case("adaround e2e", Method::AdaRound, false));
  MethodCase e2e = e2e_case("vqround e2e", Method::VqRound, true);
  e2e.o.config.codebook_size = 64;
  e2e.o.config.init = vqr::quant::Init::Gptq;
  cases.push_back(e2e);
  return cases;
}

void run_every_method(const ModelConfig &c, const char *tag, uint32_t seed) {
  OptSetup s(c, tag, seed);
  double rtn = NAN;
  for (const MethodCase &mc : method_cases()) {
    SCOPED_TRACE(mc.name);
    Model m = s.fp->clone();
    const QuantizedModel r = vqr::pipeline::quantize_sequential(m, s.calib, mc.o, nullptr);
    expect_six_linears_per_block(r, c);
    const double d = distortion(m, *s.fp, s.eval);
    std::printf("%s %-22s logit MSE vs fp %.5g%s\n", tag, mc.name, d,
                std::isnan(rtn) ? "" : (" (" + std::to_string(d / rtn) + " of RTN's)").c_str());
    ASSERT_TRUE(std::isfinite(d));
    EXPECT_GT(d, 0.0) << "3-bit weights must change the logits";
    if (std::isnan(rtn)) rtn = d;
    if (mc.o.config.e2e) {  // the backward through OPT trains: the soft distillation loss falls
      EXPECT_TRUE(r.distill.ran);
      ASSERT_GE(r.distill.loss.size(), 10u);
      const double first = (r.distill.loss[0] + r.distill.loss[1]) / 2;
      const double last = (r.distill.loss[r.distill.loss.size() - 1] + r.distill.loss[r.distill.loss.size() - 2]) / 2;
      std::printf("%s %-22s soft distillation loss, first two steps %.5g, last two %.5g\n", tag, mc.name, first, last);
      EXPECT_LT(last, first);
    }
    if (mc.beats_rtn) {
      EXPECT_LT(d, rtn);
    }
  }
}

TEST(OptPipeline, EveryMethodPreLn) { run_every_method(pre_ln(), "pre-LN", 11); }
TEST(OptPipeline, EveryMethodPostLnWithProjections) { run_every_method(post_ln(), "post-LN", 12); }

// All at once (VQR_PARAM_TRUE_SEQUENTIAL 0): every linear's statistics come from the unquantized
// block, so whether q/k/v are quantized or skipped cannot change out_proj, fc1 or fc2 of block 0;
// in the true-sequential order it does (their inputs see q/k/v's quantization).
TEST(OptPipeline, AllAtOnceTakesStatisticsFromTheUnquantizedBlock) {
  OptSetup s(pre_ln(), "opt_order", 21);
  auto run = [&](bool true_sequential, bool skip_qkv) {
    PipelineOptions o = options(Method::Gptq);
    o.config.true_sequential = true_sequential;
    if (skip_qkv) o.overrides.push_back({"blk.0.w[qkv]", {}, true});
    Model m = s.fp->clone();
    return vqr::pipeline::quantize_sequential(m, s.calib, o, nullptr);
  };
  auto codes_of = [](const QuantizedModel &r, size_t i) {
    vqr::quant::QuantizedLayer scratch;
    return r.results[i].with_codes(scratch).codes;
  };
  auto codes_after_qkv = [&](const QuantizedModel &r) {
    std::vector<std::vector<uint8_t>> out;
    for (size_t i = 0; i < r.layers.size(); ++i) {
      const LinearKind k = r.layers[i].kind;
      if (r.layers[i].layer == 0 && k != LinearKind::kWq && k != LinearKind::kWk && k != LinearKind::kWv)
        out.push_back(codes_of(r, i));
    }
    return out;
  };
  const QuantizedModel once = run(false, false), once_skip = run(false, true);
  const QuantizedModel seq = run(true, false), seq_skip = run(true, true);
  ASSERT_EQ(codes_after_qkv(once).size(), 3u);
  EXPECT_EQ(codes_after_qkv(once), codes_after_qkv(once_skip));
  EXPECT_NE(codes_after_qkv(seq), codes_after_qkv(seq_skip));
  // q/k/v see the same (unquantized) block input either way: the same codes in both orders.
  EXPECT_EQ(codes_of(once, 0), codes_of(seq, 0));
  EXPECT_NE(codes_after_qkv(once), codes_after_qkv(seq));
  // The record order is the same: q, k, v, out_proj, fc1, fc2 per block.
  for (size_t i = 0; i < once.layers.size(); ++i) EXPECT_EQ(once.layers[i].name, seq.layers[i].name);
}

nlohmann::json config_json(const std::string &folder) {
  return nlohmann::json::parse(vqr_test::read_file(folder + "/config.json"));
}

void check_exports(const ModelConfig &c, const char *tag, uint32_t seed) {
  OptSetup s(c, tag, seed);
  for (bool sequential : {true, false}) {
    SCOPED_TRACE(sequential ? "true-sequential" : "all at once");
    PipelineOptions o = options(Method::Gptq, 4);
    o.config.scale_dtype = vqr::DType::F16;  // what both formats store: the folder reloads exactly
    o.config.true_sequential = sequential;
    Model m = s.fp->clone();
    const QuantizedModel r = vqr::pipeline::quantize_sequential(m, s.calib, o, nullptr);
    const std::vector<float> want = logits(m, s.eval[0]);
    const std::string gptq = s.dir.file(std::string("gptq") + (sequential ? "1" : "0"));
    const std::string ct = s.dir.file(std::string("ct") + (sequential ? "1" : "0"));
    vqr::pipeline::write_gptq_checkpoint(m, s.source, o, r, vqr::pipeline::ExportOptions{}, gptq, nullptr);
    vqr::pipeline::write_compressed_tensors_checkpoint(m, s.source, o, r, vqr::pipeline::ExportOptions{}, ct, nullptr);
    const nlohmann::json qc = config_json(gptq)["quantization_config"];
    EXPECT_EQ(qc["quant_method"], "gptq");
    EXPECT_EQ(qc["true_sequential"], sequential);
    EXPECT_EQ(config_json(gptq)["architectures"][0], "OPTForCausalLM");
    const nlohmann::json ct_qc = config_json(ct)["quantization_config"];
    EXPECT_EQ(ct_qc["quant_method"], "compressed-tensors");
    // Every nn.Linear outside the blocks is ignored (the loaders would look for packed weights).
    auto ignored = [&](const char *m) {
      for (const auto &x : ct_qc["ignore"])
        if (x == m) return true;
      return false;
    };
    EXPECT_TRUE(ignored("lm_head"));
    EXPECT_EQ(ignored("model.decoder.project_in"), c.embed_dim > 0);
    EXPECT_EQ(ignored("model.decoder.project_out"), c.embed_dim > 0);
    const std::string gptq_header = vqr_test::read_file(gptq + "/model.safetensors").substr(0, 1 << 16);
    for (const char *name : {"model.decoder.layers.1.fc1.qweight", "model.decoder.layers.1.self_attn.out_proj.qzeros",
                             "model.decoder.layers.0.fc2.scales", "model.decoder.layers.0.fc2.bias",
                             "model.decoder.embed_positions.weight"})
      EXPECT_NE(gptq_header.find(name), std::string::npos) << name;
    EXPECT_EQ(gptq_header.find("model.decoder.layers.0.fc1.weight\""), std::string::npos) << "a dense copy of fc1";
    const std::string ct_header = vqr_test::read_file(ct + "/model.safetensors").substr(0, 1 << 16);
    EXPECT_NE(ct_header.find("model.decoder.layers.1.self_attn.q_proj.weight_packed"), std::string::npos);
    for (const std::string &folder : {gptq, ct}) {
      SCOPED_TRACE(folder);
      for (auto storage : {vqr::model::Storage::kResident, vqr::model::Storage::kStreamed}) {
        const Model back = vqr::model::load_hf_checkpoint(folder, storage);
        EXPECT_TRUE(back.config().is_opt());
        EXPECT_EQ(logits(back, s.eval[0]), want);
      }
    }
  }
  // GGUF: refused, naming the reason and the formats that work.
  Model m = s.fp->clone();
  const QuantizedModel r = vqr::pipeline::quantize_sequential(m, s.calib, options(Method::Rtn, 4), nullptr);
  vqr::pipeline::ExportSubject subject;
  subject.model = &m;
  subject.source = &s.source;
  vqr::pipeline::ExportRequest request;
  request.format = vqr::pipeline::Format::Gguf;
  const std::string path = s.dir.file("out.gguf");
  vqr::Status status = vqr::Status::Ok;
  std::string message;
  try {
    vqr::pipeline::export_model(subject, request, path, nullptr);
  } catch (const vqr::Error &e) {
    status = e.status();
    message = e.what();
  }
  EXPECT_EQ(status, vqr::Status::Unsupported);
  EXPECT_NE(message.find("OPT"), std::string::npos) << message;
  EXPECT_NE(message.find("gptq"), std::string::npos) << message;
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(OptExport, GptqAndCompressedTensorsRoundTripPreLn) { check_exports(pre_ln(), "opt_export_pre", 31); }
TEST(OptExport, GptqAndCompressedTensorsRoundTripPostLn) { check_exports(post_ln(), "opt_export_post", 32); }

// The session behind vqr_model (the C API, the tool and the Python binding): six linears per block
// in its list, four statistics per block, quantization and evaluation through it, GGUF refused.
TEST(OptSession, ListsQuantizesEvaluatesAndExports) {
  OptSetup s(post_ln(), "opt_session", 41);
  vqr::pipeline::ModelSession session = vqr::pipeline::ModelSession::load(s.source.model_file, std::nullopt);
  const ModelConfig &c = session.model().config();
  EXPECT_EQ(session.architecture(), "OPTForCausalLM");
  ASSERT_EQ(session.linear_count(), (int64_t)c.n_layers * 6);
  const char *kinds[6] = {"wq", "wk", "wv", "wo", "w1", "w2"};
  for (int64_t i = 0; i < session.linear_count(); ++i) {
    const vqr::pipeline::LinearEntry e = session.linear(i);
    EXPECT_EQ(*e.name, "blk." + std::to_string(i / 6) + "." + kinds[i % 6]);
    const LinearKind k = (LinearKind)(i % 6);
    EXPECT_EQ(e.weight.rows, c.linear_rows(k));
    EXPECT_EQ(e.weight.cols, c.input_width(vqr::model::input_of(k)));
  }
  const vqr::model::NllResult before = session.evaluate(nullptr, s.eval);
  vqr::quant::QuantConfig q = options(Method::Gptq, 4).config;
  session.quantize(nullptr, q, s.calib);
  EXPECT_EQ(session.quantized_layers(), (int64_t)c.n_layers * 6);
  const vqr::model::NllResult after = session.evaluate(nullptr, s.eval);
  std::printf("session NLL: fp %.6f, 4-bit GPTQ %.6f\n", before.mean_nll(), after.mean_nll());
  EXPECT_TRUE(std::isfinite(after.mean_nll()));
  EXPECT_NE(after.mean_nll(), before.mean_nll());
  EXPECT_LT(std::fabs(after.mean_nll() - before.mean_nll()), 0.1 * before.mean_nll()) << "4 bits stay close";
  vqr::pipeline::ExportRequest gguf;
  gguf.format = vqr::pipeline::Format::Gguf;
  EXPECT_THROW(session.export_to(gguf, s.dir.file("s.gguf"), nullptr), vqr::Error);
  vqr::pipeline::ExportRequest ct;
  ct.format = vqr::pipeline::Format::CompressedTensors;
  session.export_to(ct, s.dir.file("s_ct"), nullptr);
  EXPECT_TRUE(vqr::model::load_hf_checkpoint(s.dir.file("s_ct")).config().is_opt());
}

// The evaluation protocol (packed windows, model/evaluate.h) on OPT: the same mean NLL as the
// textbook forward's logits window by window (positions restart in every packed window).
TEST(OptEvaluate, GptqProtocolMatchesTheTextbookForward) {
  OptSetup s(pre_ln(), "opt_eval", 51);
  const Model &m = *s.fp;
  std::vector<int32_t> stream;
  for (const auto &w : s.eval) stream.insert(stream.end(), w.begin(), w.end());
  const int64_t seqlen = 16;
  const vqr::model::NllResult r = vqr::model::eval_gptq_protocol(m, stream, seqlen, 1, nullptr);
  double want = 0;
  int64_t predicted = 0;
  const int64_t V = m.config().vocab_size;
  for (size_t w0 = 0; w0 + (size_t)seqlen <= stream.size(); w0 += (size_t)seqlen) {
    const std::vector<int32_t> win(stream.begin() + (long)w0, stream.begin() + (long)w0 + seqlen);
    const vqr_test::OptVec z = vqr_test::opt_logits(m, win);
    for (int64_t t = 0; t + 1 < seqlen; ++t) {
      double mx = -1e300, sum = 0;
      for (int64_t v = 0; v < V; ++v) mx = std::max(mx, z[(size_t)(t * V + v)]);
      for (int64_t v = 0; v < V; ++v) sum += std::exp(z[(size_t)(t * V + v)] - mx);
      want += mx + std::log(sum) - z[(size_t)(t * V + win[(size_t)t + 1])];
      ++predicted;
    }
  }
  EXPECT_EQ(r.predicted_tokens, predicted);
  std::printf("mean NLL %.9f, textbook %.9f\n", r.mean_nll(), want / (double)predicted);
  // fp32 logits within ~1e-6 relative of the exact ones (OptForward's bound) move an NLL of ~4 by
  // far less than 1e-5.
  EXPECT_NEAR(r.mean_nll(), want / (double)predicted, 1e-5);
}

}  // namespace
