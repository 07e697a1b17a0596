// GPTQ and compressed-tensors checkpoints (pipeline/checkpoint_export.h, model/hf_checkpoint.h):
// stories260K quantized by the sequential pipeline (fp16-exact scales), exported, and loaded back.
// The references are the test's own: its dequantization of the QuantizedLayer codes, its reading of
// the safetensors header (JSON parsed here), its unpacking with the bit order of spec api_formats
// §4.2 / §4.3, hand-computed packed words, and the config keys the spec lists.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/error.h"
#include "core/version.h"
#include "io/safetensors.h"
#include "model/data_dir.h"
#include "model/evaluate.h"
#include "model/forward.h"
#include "model/hf_checkpoint.h"
#include "model/llama2c_format.h"
#include "model/model_source.h"
#include "pipeline/checkpoint_export.h"
#include "pipeline/sequential_quantizer.h"
#include "common/scratch_files.h"

namespace {

using vqr_test::TempDir;
using vqr_test::read_file;
using vqr_test::write_file;
using vqr_test::expect_error;

namespace fs = std::filesystem;
using json = nlohmann::json;
using vqr::model::LinearKind;
using vqr::model::Model;
using vqr::pipeline::ExportOptions;
using vqr::pipeline::GptqCheckpointVersion;
using vqr::pipeline::QuantizedModel;
using vqr::quant::QuantizedLayer;

template <class F>
std::pair<vqr::Status, std::string> error_of(F &&f) {
  try {
    f();
  } catch (const vqr::Error &e) {
    return {e.status(), e.what()};
  }
  return {vqr::Status::Ok, ""};
}

// ---- the test's own safetensors reading (spec api_formats §4.1) -------------------------------

struct RawTensor {
  std::string dtype;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;
  int64_t elements() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
  }
  template <class T>
  T at(int64_t i) const {
    T v;
    std::memcpy(&v, bytes.data() + i * (int64_t)sizeof(T), sizeof(T));
    return v;
  }
};

// All tensors of a single-file checkpoint: u64 header length, JSON header, data.
std::map<std::string, RawTensor> read_raw(const std::string &path) {
  const std::string file = read_file(path);
  uint64_t n = 0;
  std::memcpy(&n, file.data(), 8);
  const json header = json::parse(file.substr(8, n));
  std::map<std::string, RawTensor> out;
  for (const auto &item : header.items()) {
    if (item.key() == "__metadata__") continue;
    RawTensor t;
    t.dtype = item.value()["dtype"];
    t.shape = item.value()["shape"].get<std::vector<int64_t>>();
    const int64_t b = item.value()["data_offsets"][0], e = item.value()["data_offsets"][1];
    t.bytes.assign(file.begin() + 8 + (int64_t)n + b, file.begin() + 8 + (int64_t)n + e);
    out[item.key()] = std::move(t);
  }
  return out;
}

json header_metadata(const std::string &path) {
  const std::string file = read_file(path);
  uint64_t n = 0;
  std::memcpy(&n, file.data(), 8);
  return json::parse(file.substr(8, n))["__metadata__"];
}

// Writes `tensors` back (for corrupting a checkpoint) through the library's writer.
void write_raw(const std::string &path, const std::map<std::string, RawTensor> &tensors) {
  std::vector<vqr::io::StTensorData> out;
  for (const auto &[name, t] : tensors) {
    vqr::io::StDtype d;
    EXPECT_TRUE(vqr::io::st_dtype_from_name(t.dtype, &d)) << t.dtype;
    out.push_back({name, d, t.shape, t.bytes.data(), (int64_t)t.bytes.size()});
  }
  vqr::io::write_safetensors(path, out);
}

// Value i of a little-endian stream of 32-bit words, lowest bits first (spec §4.2 / §4.3; for
// 3 bits the value may straddle two words). word(w) gives word w.
uint32_t stream_value(const std::function<uint32_t(int64_t)> &word, int64_t i, int bits) {
  const int64_t bit = i * bits;
  uint64_t two = word(bit / 32);
  if (bit % 32 + bits > 32) two |= (uint64_t)word(bit / 32 + 1) << 32;
  return (uint32_t)((two >> (bit % 32)) & ((1u << bits) - 1u));
}

// ---- fixtures ---------------------------------------------------------------------------------

// The dequantization the checkpoint must reproduce: s * (c - z) per column's group.
std::vector<float> own_dequant(const QuantizedLayer &q) {
  std::vector<float> w((size_t)(q.rows * q.cols));
  for (int64_t r = 0; r < q.rows; ++r)
    for (int64_t j = 0; j < q.cols; ++j) {
      const int64_t g = q.g_idx[(size_t)j] * q.rows + r;
      w[(size_t)(r * q.cols + j)] = q.scales[(size_t)g] * ((float)q.codes[(size_t)(r * q.cols + j)] - q.zeros[(size_t)g]);
    }
  return w;
}

int64_t count_bit_diffs(const float *a, const float *b, int64_t n) {
  int64_t d = 0;
  for (int64_t i = 0; i < n; ++i) d += std::memcmp(&a[i], &b[i], sizeof(float)) != 0;
  return d;
}

// Half-layout row r of a q/k projection holds interleaved row src(r): per head of size HS,
// interleaved row 2j + p is half row p * HS/2 + j (transformers' convert_llama_weights_to_hf).
int64_t interleaved_source_row(int64_t r, int64_t hs) {
  const int64_t h = r / hs, within = r % hs, p = within / (hs / 2), j = within % (hs / 2);
  return h * hs + 2 * j + p;
}

std::vector<std::vector<int32_t>> random_sequences(int count, int length, int vocab, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<std::vector<int32_t>> out(count, std::vector<int32_t>(length));
  for (auto &s : out)
    for (int32_t &t : s) t = (int32_t)(rng() % (uint32_t)vocab);
  return out;
}

double sum_nll(const Model &m, const std::vector<std::vector<int32_t>> &seqs) {
  std::vector<vqr::model::TokenSpan> spans;
  for (const auto &s : seqs) spans.push_back({s.data(), (int64_t)s.size()});
  return vqr::model::eval_spans(m, spans, 1, nullptr).sum_nll;
}

vqr::quant::QuantConfig make_config(vqr::quant::Method method, int bits, int64_t group_size, bool sym) {
  vqr::quant::QuantConfig c;
  c.method = method;
  c.bits = bits;
  c.group_size = group_size;
  c.allow_partial_group = true;     // stories260K's FFN width 172 is not a multiple of 16 or 32
  c.sym = sym;
  c.scale_dtype = vqr::DType::F16;    // scales exact in fp16, so the checkpoints are bit-exact
  return c;
}

class Export : public ::testing::Test {
 protected:
  void SetUp() override {
    data_ = vqr_test::data_dir();
    if (data_.empty()) {
      if (vqr_test::data_required()) FAIL() << "VQR_REQUIRE_DATA=1 but the shared data folder is missing";
      GTEST_SKIP() << "shared data folder not found (set VQR_DATA_DIR); skipping";
    }
    llama2c_ = vqr::model::load_llama2c(data_ + "/models/stories260K/stories260K.bin");
    calib_ = random_sequences(4, 32, llama2c_->config().vocab_size, 1);
    eval_ = random_sequences(3, 40, llama2c_->config().vocab_size, 2);
  }

  vqr::model::ModelSource llama2c_source() const {
    vqr::model::ModelSource s;
    s.format = vqr::model::ModelFormat::kLlama2c;
    s.model_file = data_ + "/models/stories260K/stories260K.bin";
    s.tokenizer_file = data_ + "/models/stories260K/tok512.bin";
    return s;
  }

  // A Hugging Face copy of stories260K in `dtype` (values rounded first for F16/BF16) with the side
  // files a real folder has; returns its source and loads its model into *model.
  vqr::model::ModelSource hf_source(const TempDir &dir, const std::string &dtype, Model *model) const {
    Model m = llama2c_->clone();
    if (dtype == "BF16")
      for (int id = 0; id < vqr::model::kTensorCount; ++id) {
        float *p = m.tensor((vqr::model::TensorId)id);
        for (int64_t i = 0; i < m.tensor_floats((vqr::model::TensorId)id); ++i) p[i] = vqr::bf16_to_f32(vqr::f32_to_bf16(p[i]));
      }
    const std::string folder = dir.path() + "/source";
    fs::create_directories(folder);
    vqr::model::save_hf_checkpoint(m, folder, "", dtype);
    for (const char *name : {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "generation_config.json"})
      write_file(folder + "/" + name, std::string("{\"file\": \"") + name + "\"}\n");
    fs::copy_file(data_ + "/models/stories260K/tok512.bin", folder + "/tokenizer.bin");
    *model = vqr::model::load_hf_checkpoint(folder);
    return vqr::model::resolve_model_source(folder, "");
  }

  QuantizedModel quantize(Model &m, const vqr::pipeline::PipelineOptions &o) const {
    return vqr::pipeline::quantize_sequential(m, calib_, o, nullptr);
  }

  std::string data_;
  std::optional<Model> llama2c_;
  std::vector<std::vector<int32_t>> calib_, eval_;
};

vqr::pipeline::PipelineOptions options_for(const vqr::quant::QuantConfig &c) {
  vqr::pipeline::PipelineOptions o;
  o.config = c;
  o.threads = 1;
  return o;
}

// Every linear of `loaded` equals the test's dequantization of the result (rows permuted into the
// half layout when `from_interleaved`), every other tensor equals `expected`'s.
void expect_weights_match(const Model &loaded, const Model &expected, const QuantizedModel &r, bool from_interleaved) {
  const auto &c = expected.config();
  std::map<std::pair<int, int>, const QuantizedLayer *> codes;
  for (size_t i = 0; i < r.layers.size(); ++i)
    if (!r.layers[i].skipped) codes[{r.layers[i].layer, (int)r.layers[i].kind}] = &r.results[i];
  for (int l = 0; l < c.n_layers; ++l)
    for (LinearKind k : vqr::model::kAllLinearKinds) {
      const auto got = loaded.linear(l, k), mem = expected.linear(l, k);
      const int64_t m = got.rows, n = got.cols;
      std::vector<float> ref(mem.data, mem.data + m * n);
      const auto it = codes.find({l, (int)k});
      if (it != codes.end()) ref = own_dequant(*it->second);
      // The in-memory quantized model holds the same dequantized weights.
      EXPECT_EQ(count_bit_diffs(ref.data(), mem.data, m * n), 0) << Model::linear_name(l, k);
      const bool qk = k == LinearKind::kWq || k == LinearKind::kWk;
      int64_t diffs = 0;
      for (int64_t row = 0; row < m; ++row) {
        const int64_t src = from_interleaved && qk ? interleaved_source_row(row, c.head_size()) : row;
        diffs += count_bit_diffs(got.data + row * n, ref.data() + src * n, n);
      }
      EXPECT_EQ(diffs, 0) << Model::linear_name(l, k) << (it != codes.end() ? " (quantized)" : " (dense)");
    }
  using vqr::model::TensorId;
  for (TensorId id : {TensorId::kTokenEmbedding, TensorId::kRmsAtt, TensorId::kRmsFfn, TensorId::kRmsFinal})
    EXPECT_EQ(count_bit_diffs(loaded.tensor(id), expected.tensor(id), expected.tensor_floats(id)), 0) << (int)id;
}

json config_of(const std::string &dir) { return json::parse(read_file(dir + "/config.json")); }

std::set<std::string> keys_of(const json &j) {
  std::set<std::string> s;
  for (const auto &item : j.items()) s.insert(item.key());
  return s;
}

// ---- GPTQ -------------------------------------------------------------------------------------

struct GptqCase {
  const char *name;
  vqr::quant::Method method;
  int bits;
  int64_t group_size;
  bool sym, act_order, static_groups;
  const char *expected_format;
};

TEST_F(Export, GptqRoundTripsBitExactly) {
  const GptqCase cases[] = {
      {"v1_sym4_g32", vqr::quant::Method::Gptq, 4, 32, true, false, false, "gptq"},
      {"v2_asym3_channel", vqr::quant::Method::Gptq, 3, -1, false, false, false, "gptq_v2"},
      {"sym2_g4", vqr::quant::Method::Gptq, 2, 4, true, false, false, "gptq"},
      {"asym2_g16", vqr::quant::Method::Rtn, 2, 16, false, false, false, "gptq_v2"},
      {"asym8_g32", vqr::quant::Method::Gptq, 8, 32, false, false, false, "gptq_v2"},
      {"actorder_asym4_g16", vqr::quant::Method::Gptq, 4, 16, false, true, false, "gptq_v2"},
      {"actorder_static_sym4_g32", vqr::quant::Method::Gptq, 4, 32, true, true, true, "gptq"},
  };
  TempDir dir("gptq_rt");
  Model source_model(llama2c_->config());
  const auto source = hf_source(dir, "F32", &source_model);
  for (const GptqCase &tc : cases) {
    SCOPED_TRACE(tc.name);
    Model m = source_model.clone();
    auto c = make_config(tc.method, tc.bits, tc.group_size, tc.sym);
    c.act_order = tc.act_order;
    c.static_groups = tc.static_groups;
    const auto o = options_for(c);
    const QuantizedModel r = quantize(m, o);
    const std::string out = dir.path() + "/" + tc.name;
    vqr::ExportNotes log;
    vqr::pipeline::write_gptq_checkpoint(m, source, o, r, ExportOptions{}, out, &log);
    const json qc = config_of(out)["quantization_config"];
    EXPECT_EQ(qc["checkpoint_format"], tc.expected_format);
    EXPECT_EQ(qc["bits"], tc.bits);
    EXPECT_EQ(qc["group_size"], tc.group_size);
    EXPECT_EQ(qc["sym"], tc.sym);
    EXPECT_EQ(qc["desc_act"], tc.act_order);
    bool logged = false;
    for (const vqr::ExportNote &line : log)
      logged |= line.text.find(std::string("checkpoint_format ") + tc.expected_format) != std::string::npos;
    EXPECT_TRUE(logged) << "the log names the format chosen";
    // Act-order with dynamic groups leaves g_idx non-monotone; the file keeps it as is.
    if (tc.act_order && !tc.static_groups) {
      const auto raw = read_raw(out + "/model.safetensors");
      const RawTensor &g = raw.at("model.layers.0.self_attn.q_proj.g_idx");
      bool monotone = true;
      for (int64_t j = 1; j < g.elements(); ++j) monotone = monotone && g.at<int32_t>(j) >= g.at<int32_t>(j - 1);
      EXPECT_FALSE(monotone);
    }

    const Model back = vqr::model::load_hf_checkpoint(out);
    expect_weights_match(back, m, r, /*from_interleaved=*/false);
    EXPECT_EQ(sum_nll(back, eval_), sum_nll(m, eval_));  // bit-identical weights, bit-identical NLL
    const auto info = vqr::model::read_hf_quantization_info(out);
    EXPECT_EQ(info.method, "gptq");
    EXPECT_EQ(info.bits, tc.bits);
    EXPECT_EQ(info.group_size, tc.group_size);
    EXPECT_EQ(info.sym, tc.sym);
    EXPECT_EQ(info.checkpoint_format, tc.expected_format);
  }
}

// The file layout field by field against spec api_formats §4.2, with overrides and skips.
TEST_F(Export, GptqHeadersConfigAndFilesFollowTheSpec) {
  TempDir dir("gptq_spec");
  Model m(llama2c_->config());
  const auto source = hf_source(dir, "F32", &m);
  auto o = options_for(make_config(vqr::quant::Method::Gptq, 4, 32, true));
  o.overrides = {{"blk.0.*", {{vqr::quant::Param::Bits, 8}}, false}, {"*.w2", {}, true}};
  QuantizedModel r = quantize(m, o);
  // A hand-checked word (spec learned_rounding §2.2 worked example): the first 8 codes of blk.1.wq's
  // row 0 set to u = [11, 0, 9, 15, 7, 13, 6, 15], packed LSB first = 0xF6D7F90B. The model's
  // weight follows the edited codes so the folder still round-trips.
  size_t wq1 = 0;
  while (r.layers[wq1].name != "blk.1.wq") ++wq1;
  const uint8_t u[8] = {11, 0, 9, 15, 7, 13, 6, 15};
  std::copy(u, u + 8, r.results[wq1].codes.begin());
  r.results[wq1].dequantize(m.linear_data(1, LinearKind::kWq), 1);

  ExportOptions eo;
  eo.metadata_json = "{\"format\": \"vqround-native\"}\n";
  const std::string out = dir.path() + "/out";
  vqr::pipeline::write_gptq_checkpoint(m, source, o, r, eo, out, nullptr);

  const auto raw = read_raw(out + "/model.safetensors");
  EXPECT_EQ(header_metadata(out + "/model.safetensors"), json({{"format", "pt"}}));
  const auto &c = m.config();
  for (const auto &rec : r.layers) {
    SCOPED_TRACE(rec.name);
    const std::string module = vqr::model::hf_linear_module(m.config(), rec.layer, rec.kind);
    if (rec.skipped) {
      EXPECT_EQ(raw.count(module + ".qweight"), 0u);
      ASSERT_EQ(raw.count(module + ".weight"), 1u);
      continue;
    }
    EXPECT_EQ(raw.count(module + ".weight"), 0u);
    const QuantizedLayer &q = r.results[&rec - &r.layers[0]];
    const int b = rec.layer == 0 ? 8 : 4;
    ASSERT_EQ(q.bits, b);
    const int64_t in = q.cols, out_f = q.rows, G = (in + 31) / 32;
    const RawTensor &qw = raw.at(module + ".qweight"), &qz = raw.at(module + ".qzeros"), &sc = raw.at(module + ".scales"),
                    &gi = raw.at(module + ".g_idx");
    EXPECT_EQ(qw.dtype, "I32");
    EXPECT_EQ(qw.shape, (std::vector<int64_t>{(in * b + 31) / 32, out_f}));
    EXPECT_EQ(qz.dtype, "I32");
    const int64_t zcols = (out_f * b + 31) / 32;
    EXPECT_EQ(qz.shape, (std::vector<int64_t>{G, zcols}));
    EXPECT_EQ(sc.dtype, "F16");
    EXPECT_EQ(sc.shape, (std::vector<int64_t>{G, out_f}));
    EXPECT_EQ(gi.dtype, "I32");
    EXPECT_EQ(gi.shape, (std::vector<int64_t>{in}));
    // Symmetric v1: zero 2^(b-1) stored minus one: 0x77777777 (4-bit), 0x7F7F7F7F (8-bit); the
    // last word of a width that does not fill it (172 4-bit zeros: 21.5 words) is zero-padded.
    for (int64_t i = 0; i < qz.elements(); ++i) {
      const int64_t used = std::min<int64_t>(32 / b, out_f - (i % zcols) * (32 / b));
      const uint64_t full = b == 4 ? 0x77777777u : 0x7F7F7F7Fu;
      ASSERT_EQ((uint32_t)qz.at<int32_t>(i), (uint32_t)(full & ((uint64_t{1} << (used * b)) - 1))) << "word " << i;
    }
    // qweight unpacked here with the spec's bit order: word r of column o holds inputs
    // r*(32/b) + j at bits j*b.
    int64_t code_diffs = 0, scale_diffs = 0, g_diffs = 0;
    for (int64_t o2 = 0; o2 < out_f; ++o2)
      for (int64_t j = 0; j < in; ++j) {
        const uint32_t v = stream_value([&](int64_t w) { return (uint32_t)qw.at<int32_t>(w * out_f + o2); }, j, b);
        code_diffs += v != q.codes[(size_t)(o2 * in + j)];
      }
    for (int64_t i = 0; i < G * out_f; ++i) scale_diffs += vqr::f16_to_f32(sc.at<uint16_t>(i)) != q.scales[(size_t)i];
    for (int64_t j = 0; j < in; ++j) g_diffs += gi.at<int32_t>(j) != (int32_t)(j / 32);
    EXPECT_EQ(code_diffs, 0);
    EXPECT_EQ(scale_diffs, 0);
    EXPECT_EQ(g_diffs, 0);
  }
  EXPECT_EQ((uint32_t)raw.at("model.layers.1.self_attn.q_proj.qweight").at<int32_t>(0), 0xF6D7F90Bu);
  // Dense tensors keep their names; F16 where exact (the norms of stories260K are not all).
  EXPECT_EQ(raw.count("model.embed_tokens.weight"), 1u);
  EXPECT_EQ(raw.count("model.norm.weight"), 1u);

  // quantization_config: exactly the spec's keys, plus dynamic for the overrides.
  const json qc = config_of(out)["quantization_config"];
  EXPECT_EQ(keys_of(qc), (std::set<std::string>{"quant_method", "bits", "group_size", "desc_act", "sym", "static_groups",
                                                "true_sequential", "damp_percent", "checkpoint_format", "pack_dtype",
                                                "lm_head", "meta", "dynamic"}));
  EXPECT_EQ(qc["quant_method"], "gptq");
  EXPECT_EQ(qc["bits"], 4);
  EXPECT_EQ(qc["group_size"], 32);
  EXPECT_EQ(qc["desc_act"], false);
  EXPECT_EQ(qc["sym"], true);
  EXPECT_EQ(qc["static_groups"], false);
  EXPECT_EQ(qc["true_sequential"], true);
  EXPECT_DOUBLE_EQ(qc["damp_percent"].get<double>(), 0.01);
  EXPECT_EQ(qc["checkpoint_format"], "gptq");
  EXPECT_EQ(qc["pack_dtype"], "int32");
  EXPECT_EQ(qc["lm_head"], false);
  EXPECT_EQ(qc["meta"]["quantizer"], json::array({std::string("vqround:") + vqr::kVersionString}));
  json dynamic = json::object();
  for (int l = 0; l < c.n_layers; ++l) dynamic["-:model\\.layers\\." + std::to_string(l) + "\\.mlp\\.down_proj$"] = json::object();
  for (const char *m0 : {"self_attn\\.q_proj", "self_attn\\.k_proj", "self_attn\\.v_proj", "self_attn\\.o_proj",
                         "mlp\\.gate_proj", "mlp\\.up_proj"})
    dynamic[std::string("+:model\\.layers\\.0\\.") + m0 + "$"] = {{"bits", 8}, {"group_size", 32}, {"sym", true}};
  EXPECT_EQ(qc["dynamic"], dynamic);
  EXPECT_EQ(json::parse(read_file(out + "/quantize_config.json")), qc);
  // The rest of config.json is the source's.
  json rest = config_of(out);
  rest.erase("quantization_config");
  EXPECT_EQ(rest, json::parse(read_file(source.model_file + "/config.json")));

  for (const char *name : {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "generation_config.json",
                           "tokenizer.bin"})
    EXPECT_EQ(read_file(out + "/" + name), read_file(source.model_file + "/" + name)) << name;
  EXPECT_EQ(read_file(out + "/vqround.json"), eo.metadata_json);

  // The dynamic entries load back: block 0 as 8-bit, w2 dense.
  const Model back = vqr::model::load_hf_checkpoint(out);
  expect_weights_match(back, m, r, false);
  EXPECT_EQ(sum_nll(back, eval_), sum_nll(m, eval_));
}

TEST_F(Export, GptqVersionChoiceAndRefusals) {
  TempDir dir("gptq_version");
  Model m(llama2c_->config());
  const auto source = hf_source(dir, "F32", &m);
  const auto o = options_for(make_config(vqr::quant::Method::Rtn, 2, 16, false));
  QuantizedModel r = quantize(m, o);
  // Make sure some group has zero-point 0 (2-bit asymmetric groups often do; force one).
  r.results[0].zeros[0] = 0.0f;
  r.results[0].dequantize(m.linear_data(r.layers[0].layer, r.layers[0].kind), 1);

  ExportOptions v1;
  v1.gptq_version = GptqCheckpointVersion::kV1;
  const std::string out = dir.path() + "/v1";
  auto [status, message] = error_of([&] { vqr::pipeline::write_gptq_checkpoint(m, source, o, r, v1, out, nullptr); });
  EXPECT_EQ(status, vqr::Status::Unsupported);
  EXPECT_NE(message.find("zero-point 0"), std::string::npos) << message;
  EXPECT_FALSE(fs::exists(out));
  for (const auto &e : fs::directory_iterator(dir.path())) EXPECT_EQ(e.path().filename().string().find(".partial"), std::string::npos);

  // Auto picks v2 and says why; the zero-point 0 survives the round trip.
  vqr::ExportNotes log;
  vqr::pipeline::write_gptq_checkpoint(m, source, o, r, ExportOptions{}, out, &log);
  EXPECT_EQ(config_of(out)["quantization_config"]["checkpoint_format"], "gptq_v2");
  bool why = false;
  for (const auto &line : log)
    why |= line.text.find("asymmetric") != std::string::npos && line.text.find("gptq_v2") != std::string::npos;
  EXPECT_TRUE(why);
  expect_weights_match(vqr::model::load_hf_checkpoint(out), m, r, false);

  // A width GPTQ does not pack is refused before anything is written.
  {
    Model m5 = vqr::model::load_hf_checkpoint(source.model_file);
    const auto o5 = options_for(make_config(vqr::quant::Method::Rtn, 5, 32, true));
    const QuantizedModel r5 = quantize(m5, o5);
    const std::string out5 = dir.path() + "/five";
    std::tie(status, message) =
        error_of([&] { vqr::pipeline::write_gptq_checkpoint(m5, source, o5, r5, ExportOptions{}, out5, nullptr); });
    EXPECT_EQ(status, vqr::Status::Unsupported);
    EXPECT_NE(message.find("5-bit"), std::string::npos) << message;
    EXPECT_FALSE(fs::exists(out5));
  }

  // An existing folder is refused.
  std::tie(status, message) = error_of([&] { vqr::pipeline::write_gptq_checkpoint(m, source, o, r, ExportOptions{}, out, nullptr); });
  EXPECT_EQ(status, vqr::Status::InvalidArgument);

  // Explicit v2 for a symmetric model, and sharding.
  const auto os = options_for(make_config(vqr::quant::Method::Rtn, 4, 32, true));
  Model fresh = vqr::model::load_hf_checkpoint(source.model_file);
  const QuantizedModel rs = quantize(fresh, os);
  ExportOptions v2;
  v2.gptq_version = GptqCheckpointVersion::kV2;
  v2.max_shard_bytes = 60000;
  const std::string out2 = dir.path() + "/v2";
  vqr::pipeline::write_gptq_checkpoint(fresh, source, os, rs, v2, out2, nullptr);
  EXPECT_EQ(config_of(out2)["quantization_config"]["checkpoint_format"], "gptq_v2");
  EXPECT_TRUE(fs::exists(out2 + "/model.safetensors.index.json"));
  expect_weights_match(vqr::model::load_hf_checkpoint(out2), fresh, rs, false);
}

// Scales the stored dtype cannot hold are rounded (nearest even) and logged as lossy.
TEST_F(Export, InexactScalesAreRoundedAndLogged) {
  TempDir dir("lossy");
  Model m(llama2c_->config());
  const auto source = hf_source(dir, "F32", &m);
  auto c = make_config(vqr::quant::Method::Rtn, 4, 32, true);
  c.scale_dtype = vqr::DType::F32;
  const auto o = options_for(c);
  const QuantizedModel r = quantize(m, o);
  size_t inexact = 0;
  for (const auto &q : r.results) inexact += !vqr::pipeline::scales_exact_in(q, "F16");
  ASSERT_GT(inexact, 0u);
  for (const auto &q : r.results) EXPECT_TRUE(vqr::pipeline::scales_exact_in(q, "F32"));
  vqr::ExportNotes log;
  const std::string out = dir.path() + "/out";
  vqr::pipeline::write_gptq_checkpoint(m, source, o, r, ExportOptions{}, out, &log);
  bool lossy = false;
  for (const auto &line : log)
    if (line.text.find("lossy: " + std::to_string(inexact) + " of 35") != std::string::npos) {
      lossy = true;
      EXPECT_EQ(line.level, vqr::LogLevel::Warn) << "a lossy conversion warns";
    }
  EXPECT_TRUE(lossy);
  // Loaded weights: the codes with fp16-rounded scales, nothing else.
  QuantizedModel rounded = r;
  for (auto &q : rounded.results)
    for (float &s : q.scales) s = vqr::f16_to_f32(vqr::f32_to_f16(s));
  const Model back = vqr::model::load_hf_checkpoint(out);
  Model expected = m.clone();
  for (size_t i = 0; i < rounded.layers.size(); ++i)
    rounded.results[i].dequantize(expected.linear_data(rounded.layers[i].layer, rounded.layers[i].kind), 1);
  expect_weights_match(back, expected, rounded, false);

  // scales_exact_in itself.
  QuantizedLayer q(2, 4, -1, 4);
  q.scales = {0.5f, -0.25f};
  EXPECT_TRUE(vqr::pipeline::scales_exact_in(q, "F16"));
  EXPECT_TRUE(vqr::pipeline::scales_exact_in(q, "BF16"));
  q.scales[1] = 0.1f;
  EXPECT_FALSE(vqr::pipeline::scales_exact_in(q, "F16"));
  EXPECT_FALSE(vqr::pipeline::scales_exact_in(q, "BF16"));
  q.scales[1] = 1.0f + 1.0f / 1024;  // 11 significant bits: F16 yes, BF16 (8) no
  EXPECT_TRUE(vqr::pipeline::scales_exact_in(q, "F16"));
  EXPECT_FALSE(vqr::pipeline::scales_exact_in(q, "BF16"));
}

// ---- compressed-tensors -----------------------------------------------------------------------

struct CtCase {
  const char *name;
  int bits;
  int64_t group_size;
  bool sym, act_order;
};

TEST_F(Export, CompressedTensorsRoundTripsAndFollowsTheSpec) {
  const CtCase cases[] = {
      {"sym4_g32", 4, 32, true, false},  {"asym4_g16", 4, 16, false, false}, {"sym8_channel", 8, -1, true, false},
      {"asym8_channel", 8, -1, false, false}, {"asym4_g32_actorder", 4, 32, false, true},
  };
  TempDir dir("ct");
  Model source_model(llama2c_->config());
  const auto source = hf_source(dir, "F32", &source_model);
  for (const CtCase &tc : cases) {
    SCOPED_TRACE(tc.name);
    Model m = source_model.clone();
    auto c = make_config(vqr::quant::Method::Gptq, tc.bits, tc.group_size, tc.sym);
    c.act_order = tc.act_order;
    const auto o = options_for(c);
    QuantizedModel r = quantize(m, o);
    // Hand-checked words on blk.1.wq: codes of row 0 (4-bit: spec learned_rounding §2.2's
    // example, 0xF6D7F90B; 8-bit: 1, 2, 3, 4 -> 0x04030201) and, when asymmetric, the zeros of
    // rows 0..7 (4-bit: 1..8 -> 0x87654321) or 0..3 (8-bit: 9, 8, 7, 6 -> 0x06070809) of group 0.
    size_t wq1 = 0;
    while (r.layers[wq1].name != "blk.1.wq") ++wq1;
    QuantizedLayer &q1 = r.results[wq1];
    const std::vector<uint8_t> codes4 = {11, 0, 9, 15, 7, 13, 6, 15}, codes8 = {1, 2, 3, 4};
    const auto &codes = tc.bits == 4 ? codes4 : codes8;
    std::copy(codes.begin(), codes.end(), q1.codes.begin());
    if (!tc.sym) {
      const std::vector<float> z4 = {1, 2, 3, 4, 5, 6, 7, 8}, z8 = {9, 8, 7, 6};
      const auto &z = tc.bits == 4 ? z4 : z8;
      std::copy(z.begin(), z.end(), q1.zeros.begin());
    }
    q1.dequantize(m.linear_data(1, LinearKind::kWq), 1);

    const std::string out = dir.path() + "/" + tc.name;
    vqr::pipeline::write_compressed_tensors_checkpoint(m, source, o, r, ExportOptions{}, out, nullptr);
    const auto raw = read_raw(out + "/model.safetensors");
    EXPECT_EQ((uint32_t)raw.at("model.layers.1.self_attn.q_proj.weight_packed").at<int32_t>(0),
              tc.bits == 4 ? 0xF6D7F90Bu : 0x04030201u);
    if (!tc.sym) {
      EXPECT_EQ((uint32_t)raw.at("model.layers.1.self_attn.q_proj.weight_zero_point").at<int32_t>(0),
                tc.bits == 4 ? 0x87654321u : 0x06070809u);
    }
    const int b = tc.bits, pf = 32 / b;
    for (size_t i = 0; i < r.layers.size(); ++i) {
      const auto &rec = r.layers[i];
      const QuantizedLayer &q = r.results[i];
      SCOPED_TRACE(rec.name);
      const std::string module = vqr::model::hf_linear_module(m.config(), rec.layer, rec.kind);
      const int64_t in = q.cols, out_f = q.rows, G = tc.group_size > 0 ? (in + tc.group_size - 1) / tc.group_size : 1;
      const RawTensor &wp = raw.at(module + ".weight_packed"), &ws = raw.at(module + ".weight_scale"),
                      &sh = raw.at(module + ".weight_shape");
      EXPECT_EQ(raw.count(module + ".weight"), 0u);
      EXPECT_EQ(wp.dtype, "I32");
      EXPECT_EQ(wp.shape, (std::vector<int64_t>{out_f, (in + pf - 1) / pf}));
      EXPECT_EQ(ws.dtype, "F16");
      EXPECT_EQ(ws.shape, (std::vector<int64_t>{out_f, G}));
      EXPECT_EQ(sh.dtype, "I64");
      ASSERT_EQ(sh.shape, (std::vector<int64_t>{2}));
      EXPECT_EQ(sh.at<int64_t>(0), out_f);
      EXPECT_EQ(sh.at<int64_t>(1), in);
      EXPECT_EQ(raw.count(module + ".weight_zero_point"), tc.sym ? 0u : 1u);
      EXPECT_EQ(raw.count(module + ".weight_g_idx"), tc.act_order ? 1u : 0u);
      // Unpacked here: row o's words hold inputs along the input dimension, value = signed code +
      // 2^(b-1) = our unsigned code; zero points signed + 2^(b-1) along the output dimension.
      int64_t diffs = 0;
      for (int64_t o2 = 0; o2 < out_f; ++o2)
        for (int64_t j = 0; j < in; ++j)
          diffs += stream_value([&](int64_t w) { return (uint32_t)wp.at<int32_t>(o2 * wp.shape[1] + w); }, j, b) !=
                   q.codes[(size_t)(o2 * in + j)];
      for (int64_t o2 = 0; o2 < out_f; ++o2)
        for (int64_t k = 0; k < G; ++k) diffs += vqr::f16_to_f32(ws.at<uint16_t>(o2 * G + k)) != q.scales[(size_t)(k * out_f + o2)];
      if (!tc.sym) {
        const RawTensor &zp = raw.at(module + ".weight_zero_point");
        EXPECT_EQ(zp.shape, (std::vector<int64_t>{(out_f + pf - 1) / pf, G}));
        for (int64_t k = 0; k < G; ++k)
          for (int64_t o2 = 0; o2 < out_f; ++o2) {
            const int32_t signed_zp =
                (int32_t)stream_value([&](int64_t w) { return (uint32_t)zp.at<int32_t>(w * G + k); }, o2, b) - (1 << (b - 1));
            diffs += signed_zp != (int32_t)q.zeros[(size_t)(k * out_f + o2)] - (1 << (b - 1));
          }
      }
      if (tc.act_order) {
        const RawTensor &gi = raw.at(module + ".weight_g_idx");
        for (int64_t j = 0; j < in; ++j) diffs += gi.at<int32_t>(j) != q.g_idx[(size_t)j];
      }
      EXPECT_EQ(diffs, 0);
    }

    const json qc = config_of(out)["quantization_config"];
    EXPECT_EQ(keys_of(qc), (std::set<std::string>{"quant_method", "format", "quantization_status", "ignore",
                                                  "kv_cache_scheme", "config_groups"}));
    EXPECT_EQ(qc["quant_method"], "compressed-tensors");
    EXPECT_EQ(qc["format"], "pack-quantized");
    EXPECT_EQ(qc["quantization_status"], "compressed");
    EXPECT_EQ(qc["ignore"], json::array({"lm_head"}));
    EXPECT_TRUE(qc["kv_cache_scheme"].is_null());
    const json weights = {{"num_bits", tc.bits},
                          {"type", "int"},
                          {"symmetric", tc.sym},
                          {"strategy", tc.group_size > 0 ? "group" : "channel"},
                          {"group_size", tc.group_size > 0 ? json(tc.group_size) : json(nullptr)},
                          {"dynamic", false},
                          {"actorder", tc.act_order ? json("group") : json(nullptr)},
                          {"observer", "minmax"},
                          {"observer_kwargs", json::object()},
                          {"block_structure", nullptr}};
    EXPECT_EQ(qc["config_groups"], json({{"group_0",
                                          {{"targets", {"Linear"}},
                                           {"input_activations", nullptr},
                                           {"output_activations", nullptr},
                                           {"weights", weights}}}}));
    const Model back = vqr::model::load_hf_checkpoint(out);
    expect_weights_match(back, m, r, false);
    EXPECT_EQ(sum_nll(back, eval_), sum_nll(m, eval_));
    const auto info = vqr::model::read_hf_quantization_info(out);
    EXPECT_EQ(info.method, "compressed-tensors");
    EXPECT_EQ(info.checkpoint_format, "pack-quantized");
    EXPECT_EQ(info.bits, tc.bits);
    EXPECT_EQ(info.sym, tc.sym);
    EXPECT_EQ(info.group_size, tc.group_size);
  }
}

// Mixed schemes get one config group each with explicit module names; skipped layers go to ignore;
// a BF16 source gets BF16 scales.
TEST_F(Export, CompressedTensorsMixedSchemesAndBf16) {
  TempDir dir("ct_mixed");
  Model m(llama2c_->config());
  const auto source = hf_source(dir, "BF16", &m);
  auto c = make_config(vqr::quant::Method::Rtn, 4, 32, true);
  c.scale_dtype = vqr::DType::BF16;
  auto o = options_for(c);
  o.overrides = {{"*.w2", {{vqr::quant::Param::Bits, 8}, {vqr::quant::Param::Sym, 0}}, false}, {"blk.4.*", {}, true}};
  const QuantizedModel r = quantize(m, o);
  const std::string out = dir.path() + "/out";
  vqr::ExportNotes log;
  vqr::pipeline::write_compressed_tensors_checkpoint(m, source, o, r, ExportOptions{}, out, &log);
  const json qc = config_of(out)["quantization_config"];
  ASSERT_EQ(qc["config_groups"].size(), 2u);
  const json &g0 = qc["config_groups"]["group_0"], &g1 = qc["config_groups"]["group_1"];
  EXPECT_EQ(g0["weights"]["num_bits"], 4);
  EXPECT_EQ(g1["weights"]["num_bits"], 8);
  EXPECT_EQ(g1["weights"]["symmetric"], false);
  EXPECT_EQ(g1["targets"], json::array({"model.layers.0.mlp.down_proj", "model.layers.1.mlp.down_proj",
                                        "model.layers.2.mlp.down_proj", "model.layers.3.mlp.down_proj"}));
  EXPECT_EQ(g0["targets"].size(), 24u);
  json ignore = json::array({"lm_head"});
  for (const char *s : {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj",
                        "mlp.down_proj", "mlp.up_proj"})
    ignore.push_back(std::string("model.layers.4.") + s);
  EXPECT_EQ(qc["ignore"], ignore);
  const auto raw = read_raw(out + "/model.safetensors");
  EXPECT_EQ(raw.at("model.layers.0.self_attn.q_proj.weight_scale").dtype, "BF16");
  EXPECT_EQ(raw.at("model.layers.4.self_attn.q_proj.weight").dtype, "BF16");  // skipped: dense, source dtype
  EXPECT_EQ(raw.at("model.embed_tokens.weight").dtype, "BF16");
  bool kept = false;
  for (const auto &line : log)
    kept |= line.text.find("blk.4.wq") != std::string::npos && line.text.find("full precision") != std::string::npos;
  EXPECT_TRUE(kept);
  const Model back = vqr::model::load_hf_checkpoint(out);
  expect_weights_match(back, m, r, false);
  EXPECT_EQ(sum_nll(back, eval_), sum_nll(m, eval_));
}

TEST_F(Export, CompressedTensorsRefusesOtherWidthsBeforeWriting) {
  TempDir dir("ct_3bit");
  Model m(llama2c_->config());
  const auto source = hf_source(dir, "F32", &m);
  const auto o = options_for(make_config(vqr::quant::Method::Rtn, 3, 32, true));
  const QuantizedModel r = quantize(m, o);
  const std::string out = dir.path() + "/out";
  const auto [status, message] =
      error_of([&] { vqr::pipeline::write_compressed_tensors_checkpoint(m, source, o, r, ExportOptions{}, out, nullptr); });
  EXPECT_EQ(status, vqr::Status::Unsupported);
  EXPECT_NE(message.find("gptq"), std::string::npos) << message;
  EXPECT_FALSE(fs::exists(out));
  for (const auto &e : fs::directory_iterator(dir.path())) EXPECT_EQ(e.path().filename().string().find("out"), std::string::npos);
}

// ---- llama2.c sources: written in the Hugging Face half layout --------------------------------

TEST_F(Export, Llama2cSourceIsWrittenInTheHalfLayout) {
  TempDir dir("llama2c");
  const auto source = llama2c_source();
  for (const char *format : {"gptq", "compressed-tensors"}) {
    SCOPED_TRACE(format);
    Model m = llama2c_->clone();
    const auto o = options_for(make_config(vqr::quant::Method::Gptq, 4, 32, false));
    const QuantizedModel r = quantize(m, o);
    const std::string out = dir.path() + "/" + format;
    if (std::string(format) == "gptq")
      vqr::pipeline::write_gptq_checkpoint(m, source, o, r, ExportOptions{}, out, nullptr);
    else
      vqr::pipeline::write_compressed_tensors_checkpoint(m, source, o, r, ExportOptions{}, out, nullptr);
    const json config = config_of(out);
    EXPECT_EQ(config["architectures"], json::array({"LlamaForCausalLM"}));
    EXPECT_EQ(config["torch_dtype"], "float16");
    EXPECT_EQ(read_file(out + "/tokenizer.bin"), read_file(source.tokenizer_file));
    const Model back = vqr::model::load_hf_checkpoint(out);
    EXPECT_EQ(back.config().rope_layout, vqr::model::RopeLayout::kHalf);
    expect_weights_match(back, m, r, /*from_interleaved=*/true);
    // Same function, other RoPE pairing: logits agree to fp32 rounding.
    const auto &seq = eval_[0];
    const int64_t V = m.config().vocab_size, T = (int64_t)seq.size();
    std::vector<float> a((size_t)(T * V)), b((size_t)(T * V));
    vqr::model::Forward(m, T, 1).run(seq.data(), T, a.data());
    vqr::model::Forward(back, T, 1).run(seq.data(), T, b.data());
    double worst = 0, scale = 0;
    for (size_t i = 0; i < a.size(); ++i) {
      worst = std::max(worst, (double)std::fabs(a[i] - b[i]));
      scale = std::max(scale, (double)std::fabs(a[i]));
    }
    EXPECT_LE(worst, 1e-5 * scale) << "largest logit difference " << worst << " of " << scale;
  }
}

// ---- damaged checkpoints ----------------------------------------------------------------------

TEST_F(Export, CorruptedQuantizedCheckpointsFailCleanly) {
  TempDir dir("corrupt");
  Model m(llama2c_->config());
  const auto source = hf_source(dir, "F32", &m);
  const auto o = options_for(make_config(vqr::quant::Method::Rtn, 4, 32, true));
  const QuantizedModel r = quantize(m, o);
  const std::string good = dir.path() + "/good", ct_good = dir.path() + "/ct_good", bad = dir.path() + "/bad";
  vqr::pipeline::write_gptq_checkpoint(m, source, o, r, ExportOptions{}, good, nullptr);
  vqr::pipeline::write_compressed_tensors_checkpoint(m, source, o, r, ExportOptions{}, ct_good, nullptr);
  const std::string q = "model.layers.2.self_attn.q_proj", down = "model.layers.2.mlp.down_proj";

  // A copy of `from` with the tensors and / or the config edited, then loaded.
  auto load_edited = [&](const std::string &from, const std::function<void(std::map<std::string, RawTensor> &)> &edit_tensors,
                         const std::function<void(json &)> &edit_config) {
    fs::remove_all(bad);
    fs::copy(from, bad);
    if (edit_tensors) {
      auto t = read_raw(bad + "/model.safetensors");
      edit_tensors(t);
      write_raw(bad + "/model.safetensors", t);
    }
    if (edit_config) {
      json c = config_of(bad);
      edit_config(c);
      write_file(bad + "/config.json", c.dump(2));
    }
    return error_of([&] { vqr::model::load_hf_checkpoint(bad); });
  };
  auto expect_error = [](const std::pair<vqr::Status, std::string> &got, vqr::Status status, const std::string &needle) {
    EXPECT_EQ(got.first, status) << got.second;
    EXPECT_NE(got.second.find(needle), std::string::npos) << got.second;
    EXPECT_NE(got.second.find("hint:"), std::string::npos) << got.second;
  };

  EXPECT_EQ(load_edited(good, nullptr, nullptr).first, vqr::Status::Ok);
  EXPECT_EQ(load_edited(ct_good, nullptr, nullptr).first, vqr::Status::Ok);

  // qweight with a word row missing.
  expect_error(load_edited(good,
                           [&](auto &t) {
                             RawTensor &x = t.at(q + ".qweight");
                             x.shape[0] -= 1;
                             x.bytes.resize(x.bytes.size() - (size_t)x.shape[1] * 4);
                           },
                           nullptr),
               vqr::Status::Format, q + ".qweight has shape");
  // fp16 scales relabelled as I16.
  expect_error(load_edited(good, [&](auto &t) { t.at(q + ".scales").dtype = "I16"; }, nullptr), vqr::Status::Format,
               "has dtype I16");
  // A g_idx entry past the last group.
  expect_error(load_edited(good,
                           [&](auto &t) {
                             const int32_t G = (int32_t)t.at(q + ".scales").shape[0];
                             std::memcpy(t.at(q + ".g_idx").bytes.data() + 4 * 5, &G, 4);
                           },
                           nullptr),
               vqr::Status::Format, "outside [0, 2)");
  // A set bit in the padding of down_proj's last qweight word (172 4-bit inputs = 21.5 words).
  expect_error(load_edited(good,
                           [&](auto &t) {
                             RawTensor &x = t.at(down + ".qweight");
                             ASSERT_EQ(x.shape[0], 22);
                             x.bytes[(size_t)(21 * x.shape[1]) * 4 + 3] |= 0x80;
                           },
                           nullptr),
               vqr::Status::Format, "bits set past");
  // v1 qzeros holding 15 (zero 16): out of range.
  expect_error(load_edited(good, [&](auto &t) { t.at(q + ".qzeros").bytes[0] = 0x7F; }, nullptr), vqr::Status::Format,
               "zero-point 16");
  // A missing qzeros.
  expect_error(load_edited(good, [&](auto &t) { t.erase(q + ".qzeros"); }, nullptr), vqr::Status::Format, "missing tensor");
  // Config problems: another quant_method, a width GPTQ does not define, a skip that contradicts
  // the tensors, a broken regex.
  expect_error(load_edited(good, nullptr, [](json &c) { c["quantization_config"]["quant_method"] = "awq"; }),
               vqr::Status::Unsupported, "awq");
  expect_error(load_edited(good, nullptr, [](json &c) { c["quantization_config"]["bits"] = 5; }), vqr::Status::Unsupported,
               "bits 5");
  expect_error(load_edited(good, nullptr,
                           [&](json &c) { c["quantization_config"]["dynamic"] = {{"-:model\\.layers\\.2\\.", json::object()}}; }),
               vqr::Status::Format, "leaves " + std::string("model.layers.2"));
  expect_error(load_edited(good, nullptr, [](json &c) { c["quantization_config"]["dynamic"] = {{"+:(", json::object()}}; }),
               vqr::Status::Format, "invalid regular expression");
  expect_error(load_edited(good, nullptr, [](json &c) { c["quantization_config"]["checkpoint_format"] = "marlin"; }),
               vqr::Status::Unsupported, "marlin");
  // compressed-tensors: another format, 3-bit, a weight_shape that disagrees, an unexplained tensor.
  expect_error(load_edited(ct_good, nullptr, [](json &c) { c["quantization_config"]["format"] = "float-quantized"; }),
               vqr::Status::Unsupported, "float-quantized");
  expect_error(load_edited(ct_good, nullptr,
                           [](json &c) { c["quantization_config"]["config_groups"]["group_0"]["weights"]["num_bits"] = 3; }),
               vqr::Status::Unsupported, "num_bits 3");
  expect_error(load_edited(ct_good,
                           [&](auto &t) {
                             const int64_t wrong = 7;
                             std::memcpy(t.at(q + ".weight_shape").bytes.data(), &wrong, 8);
                           },
                           nullptr),
               vqr::Status::Format, "weight_shape");
  // A zero-point tensor on a symmetric layer: nothing in the config explains it.
  expect_error(load_edited(ct_good, [&](auto &t) { t[q + ".weight_zero_point"] = RawTensor{"I32", {1, 1}, {0, 0, 0, 0}}; },
                           nullptr),
               vqr::Status::Format, "unexpected tensor");
  // Truncated safetensors: every cut fails cleanly.
  for (double frac : {0.0, 0.001, 0.5, 0.999}) {
    fs::remove_all(bad);
    fs::copy(good, bad);
    const std::string st = bad + "/model.safetensors";
    fs::resize_file(st, (uintmax_t)(frac * (double)fs::file_size(st)));
    EXPECT_EQ(error_of([&] { vqr::model::load_hf_checkpoint(bad); }).first, vqr::Status::Format) << frac;
  }
}

TEST_F(Export, QuantizationInfoOfOtherFolders) {
  TempDir dir("info");
  Model m(llama2c_->config());
  const auto source = hf_source(dir, "F32", &m);
  EXPECT_EQ(vqr::model::read_hf_quantization_info(source.model_file).method, "");
  json c = json::parse(read_file(source.model_file + "/config.json"));
  c["quantization_config"] = {{"quant_method", "awq"}, {"bits", 4}};
  write_file(source.model_file + "/config.json", c.dump());
  const auto info = vqr::model::read_hf_quantization_info(source.model_file);
  EXPECT_EQ(info.method, "awq");
  EXPECT_EQ(info.bits, 0);
  const auto [status, message] = error_of([&] { vqr::model::load_hf_checkpoint(source.model_file); });
  EXPECT_EQ(status, vqr::Status::Unsupported);
  EXPECT_NE(message.find("awq"), std::string::npos) << message;
}

}  // namespace
