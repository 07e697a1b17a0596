// The sequential quantizer on streamed models (issue 16) on stories260K and gutenberg4M: a
// streamed copy (streamed_copy.h) gives the resident run's codes, scales, zeros and weights bit
// for bit, for GPTQ and for GPTAQ (the fp stream), with its results parked and its layers read from
// the codes; the hidden states spilled to a file (a tiny memory budget) change nothing; BF16 / F16
// hidden states stay close to fp32's; the block cache stays within its budget; the phase events add
// up; collect_hessians runs block-major on a streamed model with the same Hessians.
#include <gtest/gtest.h>
#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/sanitizer.h"
#include "hessian/hessian.h"
#include "model/data_dir.h"
#include "model/evaluate.h"
#include "model/llama2c_format.h"
#include "model/text_corpus.h"
#include "model/tokenizer.h"
#include "pipeline/collect_hessians.h"
#include "pipeline/quantized_source.h"
#include "pipeline/sequential_quantizer.h"
#include "streamed_copy.h"

namespace {

constexpr bool kSanitized = vqr::kAddressSanitizerBuild;

using vqr::model::LinearKind;
using vqr::model::Model;
using vqr::pipeline::PipelineOptions;
using vqr::pipeline::QuantizedModel;

struct Fixture {
  Model model;
  vqr::model::Tokenizer tok;
  std::vector<std::vector<int32_t>> windows;
};

// Calibration windows of `window` tokens from the model's own text; the last one is shorter
// (tokens is not a multiple of window), so the hidden states have unequal entries.
Fixture load(const std::string &data, const std::string &name, const std::string &tok, const std::string &text,
             int64_t tokens, int64_t window) {
  const std::string dir = data + "/models/" + name + "/";
  Model m = vqr::model::load_llama2c(dir + name + ".bin");
  vqr::model::Tokenizer t = vqr::model::Tokenizer::load(dir + tok, m.config().vocab_size);
  auto windows = vqr::model::calibration_windows(
      t, vqr::model::split_paragraphs(vqr::model::read_text_file(data + "/text/" + text)), tokens, window);
  return {std::move(m), std::move(t), std::move(windows)};
}
Fixture stories(const std::string &data) {
  return load(data, "stories260K", "tok512.bin", "tinystories/tinystories_val.txt", 700, 128);
}
Fixture gutenberg(const std::string &data) {
  return load(data, "gutenberg4M", "tok4096.bin", "gutenberg/gutenberg_calib.txt", kSanitized ? 300 : 700, 256);
}

PipelineOptions options(vqr::quant::Method method, int bits, int group_size) {
  PipelineOptions o;
  o.config.method = method;
  o.config.bits = bits;
  o.config.group_size = group_size;
  o.threads = 1;
  return o;
}

// Two runs' results, parked or not, bit for bit: codes, scales, zeros, g_idx, proxy losses.
void expect_same_results(const QuantizedModel &x, const QuantizedModel &y) {
  ASSERT_EQ(x.results.size(), y.results.size());
  for (size_t i = 0; i < x.results.size(); ++i) {
    const auto &a = x.results[i];
    const auto &b = y.results[i];
    SCOPED_TRACE(x.layers[i].name);
    EXPECT_EQ(x.layers[i].name, y.layers[i].name);
    vqr::quant::QuantizedLayer scratch_a, scratch_b;
    EXPECT_EQ(a.with_codes(scratch_a).codes, b.with_codes(scratch_b).codes);
    EXPECT_EQ(0, std::memcmp(a.scales.data(), b.scales.data(), a.scales.size() * sizeof(float)));
    EXPECT_EQ(0, std::memcmp(a.zeros.data(), b.zeros.data(), a.zeros.size() * sizeof(float)));
    EXPECT_EQ(a.g_idx, b.g_idx);
    EXPECT_EQ(a.report.proxy_loss, b.report.proxy_loss);
  }
}

// Every linear weight of the two models, as the row readers give them, bit for bit.
void expect_same_weights(const Model &a, const Model &b) {
  for (int l = 0; l < a.config().n_layers; ++l)
    for (LinearKind k : vqr::model::kAllLinearKinds) {
      const int64_t rows = a.linear_rows(k), cols = a.linear_cols(k);
      std::vector<float> x((size_t)(rows * cols)), y(x.size());
      a.read_linear_rows(l, k, 0, rows, x.data());
      b.read_linear_rows(l, k, 0, rows, y.data());
      EXPECT_EQ(0, std::memcmp(x.data(), y.data(), x.size() * sizeof(float))) << Model::linear_name(l, k);
    }
}

// Resident and streamed runs of one configuration; the streamed model's layers are QuantizedSources
// over the parked results (their stored bytes are the model's source bytes besides the embedding).
void check_streamed_matches_resident(const Fixture &f, const PipelineOptions &o) {
  Model resident = f.model.clone();
  Model streamed = vqr_test::streamed_copy(f.model);
  const QuantizedModel r = vqr::pipeline::quantize_sequential(resident, f.windows, o, nullptr);
  const QuantizedModel s = vqr::pipeline::quantize_sequential(streamed, f.windows, o, nullptr);
  for (const QuantizedModel *q : {&r, &s})
    std::printf("%s: %.2f s (load %.2f, forward %.2f, hessian %.2f, sweep %.2f), hidden states %lld bytes\n",
                q == &r ? "resident" : "streamed", q->seconds, q->phases.load, q->phases.forward, q->phases.hessian,
                q->phases.sweep, (long long)q->peak_hidden_bytes);
  expect_same_results(r, s);
  expect_same_weights(resident, streamed);
  // Only the streamed run parks its results (every layer is quantized here).
  for (size_t i = 0; i < s.results.size(); ++i) {
    EXPECT_FALSE(r.results[i].parked()) << r.layers[i].name;
    EXPECT_TRUE(s.results[i].parked()) << s.layers[i].name;
  }
  int64_t quantized_bytes = 0;
  for (const auto &q : s.results) quantized_bytes += q.stored_bytes();
  const int64_t embedding = (int64_t)f.model.config().vocab_size * f.model.config().dim * 4;
  EXPECT_EQ(streamed.source_bytes() - embedding, quantized_bytes);
  for (size_t i = 0; i < s.layers.size(); ++i)
    EXPECT_NE(dynamic_cast<const vqr::pipeline::QuantizedSource *>(streamed.linear_source(s.layers[i].layer, s.layers[i].kind)),
              nullptr);
  // Parked 4-bit codes take half a byte per weight (plus one word per layer).
  int64_t weights = 0, code_bytes = 0;
  for (const auto &q : s.results) {
    weights += q.rows * q.cols;
    code_bytes += (int64_t)q.parked_codes->size() * 4;
  }
  if (o.config.bits == 4) {
    EXPECT_LE(code_bytes, weights / 2 + 4 * (int64_t)s.results.size());
  }
}

TEST(StreamedPipeline, Stories260KGptqAndGptaqMatchTheResidentRunBitForBit) {
  VQR_DATA_DIR_OR_SKIP(data);
  const Fixture f = stories(data);
  ASSERT_LT(f.windows.back().size(), f.windows.front().size());
  check_streamed_matches_resident(f, options(vqr::quant::Method::Gptq, 3, -1));
  PipelineOptions partial = options(vqr::quant::Method::Gptaq, 4, 32);
  partial.config.allow_partial_group = true;  // w2's 172 inputs end with a group of 12
  check_streamed_matches_resident(f, partial);
}

TEST(StreamedPipeline, Gutenberg4MGptqAndGptaqMatchTheResidentRunBitForBit) {
  VQR_DATA_DIR_OR_SKIP(data);
  const Fixture f = gutenberg(data);
  check_streamed_matches_resident(f, options(vqr::quant::Method::Gptq, 4, 128));
  check_streamed_matches_resident(f, options(vqr::quant::Method::Gptaq, 3, 128));
}

// A fresh empty folder for spill files; it must be empty again at the end (the file is unlinked).
struct SpillDir {
  std::string path;
  SpillDir() {
    const char *t = std::getenv("TMPDIR");
    std::string p = std::string(t && *t ? t : "/tmp") + "/vqr-spill-test-XXXXXX";
    std::vector<char> buf(p.begin(), p.end());
    buf.push_back('\0');
    EXPECT_NE(::mkdtemp(buf.data()), nullptr);
    path = buf.data();
  }
  ~SpillDir() { EXPECT_EQ(::rmdir(path.c_str()), 0) << path << " is not empty"; }
};

TEST(StreamedPipeline, SpilledHiddenStatesChangeNothing) {
  VQR_DATA_DIR_OR_SKIP(data);
  const Fixture f = stories(data);
  SpillDir dir;
  int64_t tokens = 0;
  for (const auto &w : f.windows) tokens += (int64_t)w.size();
  const int64_t one_set = tokens * f.model.config().dim * 4;  // fp32 hidden states of every window
  for (const vqr::quant::Method method : {vqr::quant::Method::Gptq, vqr::quant::Method::Gptaq}) {
    PipelineOptions o = options(method, 3, 32);
    o.config.allow_partial_group = true;
    const int sets = method == vqr::quant::Method::Gptaq ? 2 : 1;
    Model plain = vqr_test::streamed_copy(f.model);
    const QuantizedModel base = vqr::pipeline::quantize_sequential(plain, f.windows, o, nullptr);
    EXPECT_EQ(base.peak_hidden_bytes, sets * one_set);
    // Everything spilled (1 byte), then about half of each set.
    for (const int64_t budget : {int64_t{1}, sets * one_set / 2}) {
      SCOPED_TRACE("budget " + std::to_string(budget));
      o.max_memory_bytes = budget;
      o.spill_dir = dir.path;
      Model spilled = vqr_test::streamed_copy(f.model);
      const QuantizedModel s = vqr::pipeline::quantize_sequential(spilled, f.windows, o, nullptr);
      EXPECT_LE(s.peak_hidden_bytes, budget);
      EXPECT_LT(s.peak_hidden_bytes, base.peak_hidden_bytes);
      expect_same_results(base, s);
      expect_same_weights(plain, spilled);
    }
  }
}

// BF16 / F16 hidden states round the stream at each block boundary (relative error <= 2^-9 / 2^-12
// per value), so every layer's Hessian changes slightly and GPTQ's error feedback may flip a code
// that sits near a rounding boundary, after which later columns of that row may follow. What must
// hold (4-bit GPTQ per channel; measured 0.93 / 0.94, 0.9998 / 0.9999 and NLL changes of 0.002 /
// 0.005 against a bound of 0.009): at least 90% of the codes equal fp32-calibration's, at least
// 99.9% within one grid step of them, and the quantized model's mean NLL on held-out text within a
// tenth of the damage fp32-calibrated quantization does (its NLL minus the unquantized model's).
TEST(StreamedPipeline, Bf16AndF16HiddenStatesStayCloseToFp32) {
  VQR_DATA_DIR_OR_SKIP(data);
  const Fixture f = stories(data);
  const auto paragraphs =
      vqr::model::split_paragraphs(vqr::model::read_text_file(data + "/text/tinystories/tinystories_val.txt"));
  const int64_t eval_count = 120;
  const double fp_nll = vqr::model::eval_paragraphs(f.model, f.tok, paragraphs, eval_count, 1, nullptr).mean_nll();
  const PipelineOptions base = options(vqr::quant::Method::Gptq, 4, -1);
  Model fp32 = f.model.clone();
  const QuantizedModel ref = vqr::pipeline::quantize_sequential(fp32, f.windows, base, nullptr);
  const double ref_nll = vqr::model::eval_paragraphs(fp32, f.tok, paragraphs, eval_count, 1, nullptr).mean_nll();
  ASSERT_GT(ref_nll, fp_nll);
  for (const vqr::DType dtype : {vqr::DType::BF16, vqr::DType::F16}) {
    SCOPED_TRACE(vqr::dtype_name(dtype));
    PipelineOptions o = base;
    o.calib_dtype = dtype;
    Model m = f.model.clone();
    const QuantizedModel r = vqr::pipeline::quantize_sequential(m, f.windows, o, nullptr);
    EXPECT_EQ(r.peak_hidden_bytes * 2, ref.peak_hidden_bytes);
    int64_t same = 0, near = 0, total = 0;
    for (size_t i = 0; i < r.results.size(); ++i) {
      const auto &a = r.results[i].codes, &b = ref.results[i].codes;
      ASSERT_EQ(a.size(), b.size());
      for (size_t j = 0; j < a.size(); ++j) {
        same += a[j] == b[j];
        near += std::abs((int)a[j] - (int)b[j]) <= 1;
      }
      total += (int64_t)a.size();
    }
    const double nll = vqr::model::eval_paragraphs(m, f.tok, paragraphs, eval_count, 1, nullptr).mean_nll();
    std::printf("%s: %.4f of codes equal fp32's, %.5f within one step; NLL %.6f (fp32 calibration %.6f, unquantized %.6f)\n",
                vqr::dtype_name(dtype), (double)same / (double)total, (double)near / (double)total, nll, ref_nll, fp_nll);
    EXPECT_GE((double)same / (double)total, 0.9);
    EXPECT_GE((double)near / (double)total, 0.999);
    EXPECT_LE(std::fabs(nll - ref_nll), 0.1 * (ref_nll - fp_nll));
  }
}

TEST(StreamedPipeline, TheBlockCacheStaysWithinItsBudgetAndPhasesAddUp) {
  VQR_DATA_DIR_OR_SKIP(data);
  const Fixture f = stories(data);
  Model m = vqr_test::streamed_copy(f.model);
  m.set_cache_budget(0);  // one block at a time
  const int64_t arena = m.resident_bytes(), block = m.block_bytes();
  PipelineOptions o = options(vqr::quant::Method::Gptaq, 4, -1);
  int64_t most = 0;
  std::vector<vqr::pipeline::PhaseEvent> events;
  o.on_layer = [&](const vqr::pipeline::LayerRecord &, int64_t, int64_t) { most = std::max(most, m.resident_bytes()); };
  o.on_phase = [&](const vqr::pipeline::PhaseEvent &e) {
    most = std::max(most, e.model_bytes);
    EXPECT_EQ(e.model_bytes, m.resident_bytes());
    events.push_back(e);
  };
  const QuantizedModel r = vqr::pipeline::quantize_sequential(m, f.windows, o, nullptr);
  EXPECT_EQ(most, arena + block);  // one block widened, never two
  const int blocks = m.config().n_layers;
  ASSERT_EQ((int)events.size(), 5 * blocks);
  QuantizedModel::PhaseSeconds sum;
  double forward = 0;
  const char *order[] = {"block", "load", "forward", "hessian", "sweep"};
  for (size_t i = 0; i < events.size(); ++i) {
    const auto &e = events[i];
    EXPECT_EQ(e.block, (int)(i / 5));
    EXPECT_EQ(e.blocks, blocks);
    EXPECT_STREQ(e.phase, order[i % 5]);
    EXPECT_GE(e.seconds, 0.0);
    EXPECT_EQ(e.hidden_bytes, r.peak_hidden_bytes);
    if (i % 5 == 0) {
      EXPECT_EQ(e.seconds, 0.0);
    }
    if (i % 5 == 1) sum.load += e.seconds;
    if (i % 5 == 2) forward += e.seconds;
    if (i % 5 == 3) sum.hessian += e.seconds;
    if (i % 5 == 4) sum.sweep += e.seconds;
  }
  // Same additions in the same order: equal. The total forward also has the embedding.
  EXPECT_EQ(sum.load, r.phases.load);
  EXPECT_EQ(sum.hessian, r.phases.hessian);
  EXPECT_EQ(sum.sweep, r.phases.sweep);
  EXPECT_LE(forward, r.phases.forward);
  EXPECT_GT(r.phases.hessian, 0.0);
  EXPECT_GT(r.phases.sweep, 0.0);
  EXPECT_LE(r.phases.load + r.phases.forward + r.phases.hessian + r.phases.sweep, r.seconds);
}

TEST(StreamedPipeline, BadHiddenStateOptionsAreRefused) {
  VQR_DATA_DIR_OR_SKIP(data);
  const Fixture f = stories(data);
  for (int which = 0; which < 2; ++which) {
    PipelineOptions o = options(vqr::quant::Method::Rtn, 4, -1);
    if (which == 0) o.calib_dtype = static_cast<vqr::DType>(5);
    if (which == 1) o.max_memory_bytes = -1;
    Model m = f.model.clone();
    try {
      vqr::pipeline::quantize_sequential(m, f.windows, o, nullptr);
      ADD_FAILURE() << "no exception for case " << which;
    } catch (const vqr::Error &e) {
      EXPECT_EQ(e.status(), vqr::Status::InvalidArgument) << e.what();
    }
  }
}

TEST(StreamedPipeline, CollectHessiansBlockMajorGivesTheSameHessians) {
  VQR_DATA_DIR_OR_SKIP(data);
  const Fixture f = stories(data);
  const Model streamed = vqr_test::streamed_copy(f.model);
  const auto a = vqr::pipeline::collect_hessians(f.model, f.windows, nullptr);
  const auto b = vqr::pipeline::collect_hessians(streamed, f.windows, nullptr);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    const int64_t n = a[i].width();
    std::vector<float> x((size_t)(n * n)), y(x.size());
    a[i].read(x.data(), n);
    b[i].read(y.data(), n);
    EXPECT_EQ(a[i].tokens(), b[i].tokens());
    EXPECT_EQ(0, std::memcmp(x.data(), y.data(), x.size() * sizeof(float))) << "Hessian " << i;
  }
}

}  // namespace
