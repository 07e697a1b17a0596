// Streamed loading (issue 16 item 1; model/mapped_sources.h, model/quantized_linear_source.h): every
// loader's Storage::kStreamed model leaves its large tensors in the mapped file, and what it reads
// back equals the resident load bit for bit — each linear weight (whole, through the block cache,
// and as a partial row range), the embedding and classifier rows, the norms and biases — and so
// does the NLL of a few windows (the same forward, MatmulPath::kBlas, the same windows). Covered:
// stories260K and gutenberg4M (llama2.c, shared data), Hugging Face folders in BF16 and F16
// (sharded, Qwen2 biases, Qwen3 q/k norms, an untied classifier), GGUF files with Q4_0 / Q8_0 /
// Q4_1 / F16 tensors, and GPTQ and compressed-tensors folders (weights kept packed). Also: the block
// cache's budget bounds resident_bytes(), release() drops the mapped pages from the RSS, a damaged
// weight is refused when read with the resident loader's message, and a hostile config is still
// refused before allocating.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "common/memory_limit.h"
#include "common/scratch_files.h"
#include "core/dtype.h"
#include "core/error.h"
#include "data_dir.h"
#include "io/gguf.h"
#include "io/mapped_file.h"
#include "io/safetensors.h"
#include "model/evaluate.h"
#include "model/gguf_model.h"
#include "model/hf_checkpoint.h"
#include "model/llama2c_format.h"
#include "model/mapped_sources.h"
#include "model/model_source.h"
#include "model/tokenizer.h"
#include "pipeline/checkpoint_export.h"
#include "pipeline/layer_codes.h"
#include "pipeline/model_session.h"
#include "pipeline/sequential_quantizer.h"
#include "synthetic_files.h"

namespace {

namespace fs = std::filesystem;
using vqr::Status;
using vqr::model::LinearKind;
using vqr::model::Model;
using vqr::model::ModelConfig;
using vqr::model::Storage;
using vqr::model::TensorId;

// Expects n floats of `got` and `want` to be the same bits; names the first difference.
void expect_same_bits(const float *got, const float *want, int64_t n, const std::string &what) {
  for (int64_t i = 0; i < n; ++i)
    if (std::memcmp(&got[i], &want[i], sizeof(float)) != 0) {
      ADD_FAILURE() << what << ": element " << i << " is " << got[i] << ", the resident model has " << want[i];
      return;
    }
}

void expect_same_bits(const std::vector<float> &got, const std::vector<float> &want, const std::string &what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  expect_same_bits(got.data(), want.data(), (int64_t)got.size(), what);
}

std::vector<float> linear_rows(const Model &m, int layer, LinearKind kind, int64_t r0, int64_t r1) {
  std::vector<float> out((size_t)((r1 - r0) * m.linear_cols(kind)));
  m.read_linear_rows(layer, kind, r0, r1, out.data());
  return out;
}

// The small tensors a streamed model keeps in its arena: the same bits as the resident ones.
void expect_same_small_tensors(const Model &streamed, const Model &resident) {
  const ModelConfig &c = resident.config();
  for (int l = 0; l < c.n_layers; ++l) {
    const std::string at = " of layer " + std::to_string(l);
    expect_same_bits(streamed.rms_att(l), resident.rms_att(l), c.dim, "rms_att" + at);
    expect_same_bits(streamed.rms_ffn(l), resident.rms_ffn(l), c.dim, "rms_ffn" + at);
    for (LinearKind k : {LinearKind::kWq, LinearKind::kWk, LinearKind::kWv})
      if (resident.bias(l, k)) expect_same_bits(streamed.bias(l, k), resident.bias(l, k), c.linear_rows(k), "bias" + at);
    if (c.qk_norm) {
      expect_same_bits(streamed.q_norm(l), resident.q_norm(l), c.head_size(), "q_norm" + at);
      expect_same_bits(streamed.k_norm(l), resident.k_norm(l), c.head_size(), "k_norm" + at);
    }
  }
  expect_same_bits(streamed.rms_final(), resident.rms_final(), c.dim, "rms_final");
}

// Every value the streamed model reads equals the resident model's: linear weights whole (through
// linear(), i.e. the block cache), straight from the source, and as a middle row range; embedding
// and classifier rows; the small tensors.
void expect_same_model(const Model &streamed, const Model &resident) {
  ASSERT_TRUE(streamed.streamed());
  ASSERT_FALSE(resident.streamed());
  const ModelConfig &c = resident.config();
  ASSERT_EQ(streamed.config().dim, c.dim);
  ASSERT_EQ(streamed.config().vocab_size, c.vocab_size);
  ASSERT_EQ(streamed.config().shared_classifier, c.shared_classifier);
  for (int l = 0; l < c.n_layers; ++l)
    for (LinearKind k : vqr::model::kAllLinearKinds) {
      const std::string name = Model::linear_name(l, k);
      const int64_t rows = c.linear_rows(k), cols = resident.linear_cols(k);
      ASSERT_NE(streamed.linear_source(l, k), nullptr) << name;
      std::vector<float> direct((size_t)(rows * cols));
      streamed.linear_source(l, k)->read_rows(0, rows, direct.data());
      expect_same_bits(direct, linear_rows(resident, l, k, 0, rows), name + " (source)");
      const int64_t r0 = rows / 3, r1 = 2 * rows / 3 + 1;
      expect_same_bits(linear_rows(streamed, l, k, r0, r1), linear_rows(resident, l, k, r0, r1), name + " (rows)");
      const vqr::model::LinearWeight w = streamed.linear(l, k);
      ASSERT_EQ(w.rows, rows);
      ASSERT_EQ(w.cols, cols);
      expect_same_bits(w.data, resident.linear(l, k).data, rows * cols, name + " (block cache)");
    }
  const int64_t V = c.vocab_size, C = c.dim;
  std::vector<float> got((size_t)(V * C)), want((size_t)(V * C));
  streamed.read_embedding_rows(0, V, got.data());
  resident.read_embedding_rows(0, V, want.data());
  expect_same_bits(got, want, "embedding");
  streamed.read_classifier_rows(0, V, got.data());
  resident.read_classifier_rows(0, V, want.data());
  expect_same_bits(got, want, "classifier");
  const std::vector<int32_t> ids = {0, (int32_t)(V - 1), (int32_t)(V / 2), 1};
  got.resize(ids.size() * (size_t)C);
  want.resize(got.size());
  streamed.gather_embedding(ids.data(), (int64_t)ids.size(), got.data());
  resident.gather_embedding(ids.data(), (int64_t)ids.size(), want.data());
  expect_same_bits(got, want, "gathered embedding rows");
  expect_same_small_tensors(streamed, resident);
}

// `count` windows of `length` seeded token ids in [0, vocab).
std::vector<std::vector<int32_t>> windows(const ModelConfig &c, int count, int length) {
  std::mt19937 rng(1234);
  std::vector<std::vector<int32_t>> w((size_t)count);
  for (auto &seq : w)
    for (int t = 0; t < std::min(length, c.seq_len); ++t) seq.push_back((int32_t)(rng() % (uint32_t)c.vocab_size));
  return w;
}

// The NLL of a few windows is the same double on both models (the forward reads the same values
// in the same order; its BLAS path is deterministic for fixed shapes and threads).
void expect_same_nll(const Model &streamed, const Model &resident) {
  const auto seqs = windows(resident.config(), 3, 48);
  std::vector<vqr::model::TokenSpan> spans;
  for (const auto &s : seqs) spans.push_back({s.data(), (int64_t)s.size()});
  const vqr::model::NllResult a = vqr::model::eval_spans(streamed, spans, 1, nullptr, vqr::model::MatmulPath::kBlas);
  const vqr::model::NllResult b = vqr::model::eval_spans(resident, spans, 1, nullptr, vqr::model::MatmulPath::kBlas);
  EXPECT_GT(b.predicted_tokens, 0);
  EXPECT_EQ(a.predicted_tokens, b.predicted_tokens);
  EXPECT_EQ(a.sum_nll, b.sum_nll);
  std::printf("NLL of %zu windows: streamed %.9f, resident %.9f\n", seqs.size(), a.mean_nll(), b.mean_nll());
}

// Loads `source` both ways through load_model and compares everything.
void expect_streamed_equals_resident(const vqr::model::ModelSource &source) {
  const Model resident = vqr::model::load_model(source, Storage::kResident);
  const Model streamed = vqr::model::load_model(source, Storage::kStreamed);
  EXPECT_GT(streamed.source_bytes(), 0);
  // Only the small tensors are in the streamed arena.
  EXPECT_LT(streamed.resident_bytes(), resident.resident_bytes());
  expect_same_model(streamed, resident);
  expect_same_nll(streamed, resident);
}

// ------------------------------------------------------------------------------------------------
// llama2.c: the shared data's models
// ------------------------------------------------------------------------------------------------

TEST(StreamedLoad, Stories260K) {
  VQR_DATA_DIR_OR_SKIP(data);
  expect_streamed_equals_resident(vqr::model::resolve_model_source(data + "/models/stories260K/stories260K.bin", ""));
}

TEST(StreamedLoad, Gutenberg4M) {
  VQR_DATA_DIR_OR_SKIP(data);
  expect_streamed_equals_resident(
      vqr::model::resolve_model_source(data + "/models/gutenberg4M/gutenberg4M.bin", data + "/models/gutenberg4M/tok4096.bin"));
}

// ModelSession (what vqr_model_load builds) loads streamed; its per-layer copy equals the weight.
TEST(StreamedLoad, SessionLoadsStreamedAndCopiesOneLayer) {
  VQR_DATA_DIR_OR_SKIP(data);
  const std::string path = data + "/models/stories260K/stories260K.bin";
  const vqr::pipeline::ModelSession s = vqr::pipeline::ModelSession::load(path, std::nullopt);
  ASSERT_TRUE(s.model().streamed());
  const Model resident = vqr::model::load_llama2c(path);
  EXPECT_EQ(s.model().total_floats(), resident.total_floats());  // vqr_model_info.parameters
  for (int64_t i : {int64_t{0}, int64_t{12}, s.linear_count() - 1}) {
    const vqr::pipeline::LinearEntry e = s.linear(i);
    const int layer = (int)(i / vqr::model::kLinearKindCount);
    const LinearKind kind = vqr::model::kAllLinearKinds[i % vqr::model::kLinearKindCount];
    expect_same_bits(e.weight.data, resident.linear(layer, kind).data, e.weight.rows * e.weight.cols, *e.name);
  }
}

// ------------------------------------------------------------------------------------------------
// Synthetic checkpoints
// ------------------------------------------------------------------------------------------------

// A model of `arch` with random weights exactly representable in `dtype` (so save_hf_checkpoint
// stores that dtype rather than falling back to F32): norms near 1, the rest N(0, 0.1^2).
Model random_model(const std::string &config_json, const std::string &dtype, uint32_t seed) {
  Model m(vqr::model::parse_hf_config(config_json, "config.json"));
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 0.1f);
  for (int id = 0; id < vqr::model::kTensorCount; ++id) {
    const TensorId t = (TensorId)id;
    const bool norm = t == TensorId::kRmsAtt || t == TensorId::kRmsFfn || t == TensorId::kRmsFinal ||
                      t == TensorId::kQNorm || t == TensorId::kKNorm;
    float *p = m.tensor(t);
    for (int64_t i = 0; i < m.tensor_floats(t); ++i) {
      const float x = (norm ? 1.0f : 0.0f) + normal(rng);
      p[i] = dtype == "BF16" ? vqr::bf16_to_f32(vqr::f32_to_bf16(x)) : dtype == "F16" ? vqr::f16_to_f32(vqr::f32_to_f16(x)) : x;
    }
  }
  return m;
}

std::string hf_config(const std::string &arch, bool tied) {
  return "{\"architectures\": [\"" + arch + "\"], \"hidden_size\": 64, \"intermediate_size\": 96, "
         "\"num_hidden_layers\": 2, \"num_attention_heads\": 4, \"num_key_value_heads\": 2, \"vocab_size\": 300, "
         "\"max_position_embeddings\": 64, \"tie_word_embeddings\": " + std::string(tied ? "true" : "false") + "}";
}

// The dtype save_hf_checkpoint stored a tensor in.
vqr::io::StDtype stored_dtype(const std::string &dir, const std::string &name) {
  const vqr::io::SafetensorsCheckpoint ckpt = vqr::io::SafetensorsCheckpoint::open_dir(dir);
  const vqr::io::StTensor *t = ckpt.find(name, nullptr);
  return t ? t->dtype : vqr::io::StDtype::kU8;
}

TEST(StreamedLoad, HuggingFaceBf16AndF16Folders) {
  const vqr_test::TempDir dir("streamed_hf");
  struct Case {
    const char *arch;
    bool tied;
    const char *dtype;
    vqr::io::StDtype expect;
    int64_t shard_bytes;
  };
  const Case cases[] = {{"LlamaForCausalLM", true, "BF16", vqr::io::StDtype::kBF16, int64_t{5} << 30},
                        {"Qwen2ForCausalLM", false, "F16", vqr::io::StDtype::kF16, 20000},  // sharded
                        {"Qwen3ForCausalLM", false, "BF16", vqr::io::StDtype::kBF16, int64_t{5} << 30}};
  int n = 0;
  for (const Case &c : cases) {
    SCOPED_TRACE(std::string(c.arch) + " " + c.dtype);
    const std::string folder = dir.file("hf" + std::to_string(n++));
    fs::create_directories(folder);
    const std::string config = hf_config(c.arch, c.tied);
    vqr::model::save_hf_checkpoint(random_model(config, c.dtype, 11), folder, config, c.dtype, c.shard_bytes);
    ASSERT_EQ(stored_dtype(folder, vqr::model::hf_linear_name(vqr::model::ModelConfig{}, 1, LinearKind::kW2)), c.expect);
    expect_streamed_equals_resident(vqr::model::resolve_model_source(folder, ""));
  }
}

// A NaN in a weight: the resident load refuses the folder; the streamed load succeeds (the values
// stay in the file) and reading that layer fails with the same message.
TEST(StreamedLoad, NonFiniteWeightIsRefusedWhenRead) {
  const vqr_test::TempDir dir("streamed_nan");
  const std::string folder = dir.file("hf");
  fs::create_directories(folder);
  const std::string config = hf_config("LlamaForCausalLM", false);
  Model m = random_model(config, "F32", 5);
  const int64_t cols = m.linear_cols(LinearKind::kWv);
  m.linear_data(1, LinearKind::kWv)[5 * cols + 3] = std::nanf("");
  vqr::model::save_hf_checkpoint(m, folder, config, "F32");
  const std::string message = "non-finite weight in model.layers.1.self_attn.v_proj.weight at element " + std::to_string(5 * cols + 3);
  vqr_test::expect_error([&] { vqr::model::load_hf_checkpoint(folder); }, Status::Format, message);
  const Model streamed = vqr::model::load_hf_checkpoint(folder, Storage::kStreamed);
  std::vector<float> rows((size_t)(8 * cols));
  streamed.read_linear_rows(1, LinearKind::kWv, 0, 4, rows.data());  // rows before the damage read fine
  vqr_test::expect_error([&] { streamed.read_linear_rows(1, LinearKind::kWv, 4, 8, rows.data()); }, Status::Format, message);
  vqr_test::expect_error([&] { streamed.linear(1, LinearKind::kWv); }, Status::Format, message);
}

// The pre-allocation shape checks still run first in streamed storage: a 10^9 vocabulary claim is
// refused from the index within 1 GiB of address space.
TEST(StreamedLoad, HostileConfigIsRefusedBeforeAllocating) {
  const vqr_test::TempDir dir("streamed_hostile");
  const std::string folder = dir.file("hf");
  fs::create_directories(folder);
  const std::string config = hf_config("LlamaForCausalLM", true);
  vqr::model::save_hf_checkpoint(random_model(config, "F32", 3), folder, config, "F32");
  std::string claim = config;
  claim.replace(claim.find("\"vocab_size\": 300"), 17, "\"vocab_size\": 1000000000");
  vqr_test::write_file(folder + "/config.json", claim);
  vqr_test::expect_error_within_memory([&] { vqr::model::load_hf_checkpoint(folder, Storage::kStreamed); }, Status::Format,
                                       "config.json claims vocab_size 1000000000 but model.embed_tokens.weight has shape [300, 64]");
}

// ------------------------------------------------------------------------------------------------
// Quantized: GPTQ and compressed-tensors folders, GGUF block types
// ------------------------------------------------------------------------------------------------

// A random resident model saved as an F32 folder under `dir`/source, then quantized with `config`:
// *m holds the dequantized weights afterwards.
struct QuantizedRun {
  vqr::model::ModelSource source;
  vqr::pipeline::PipelineOptions options;
  vqr::pipeline::QuantizedModel result;
};

QuantizedRun quantize_random(Model *m, const std::string &config_json, const std::string &dir,
                             const vqr::quant::QuantConfig &config) {
  const std::string source_dir = dir + "/source";
  fs::create_directories(source_dir);
  vqr::model::save_hf_checkpoint(*m, source_dir, config_json, "F32");
  QuantizedRun run;
  run.source = vqr::model::resolve_model_source(source_dir, "");
  run.options.config = config;
  run.options.threads = 1;
  const std::vector<std::vector<int32_t>> calib = {{1, 5, 9, 13, 17, 21, 25, 29}, {2, 4, 8, 16, 32, 3, 6, 12}};
  run.result = vqr::pipeline::quantize_sequential(*m, calib, run.options, nullptr);
  return run;
}

TEST(StreamedLoad, GptqAndCompressedTensorsStayPacked) {
  const vqr_test::TempDir dir("streamed_quantized");
  const std::string config = hf_config("Qwen2ForCausalLM", false);
  Model m = random_model(config, "F32", 9);
  vqr::quant::QuantConfig q;
  q.method = vqr::quant::Method::Rtn;
  q.bits = 4;
  q.group_size = 16;
  q.sym = false;
  q.scale_dtype = vqr::DType::F16;  // scales the folders store exactly, so the loads equal the quantizer's weights
  const QuantizedRun run = quantize_random(&m, config, dir.path(), q);
  const std::string gptq = dir.file("gptq"), ct = dir.file("ct");
  vqr::pipeline::write_gptq_checkpoint(m, run.source, run.options, run.result, vqr::pipeline::ExportOptions{}, gptq, nullptr);
  vqr::pipeline::write_compressed_tensors_checkpoint(m, run.source, run.options, run.result, vqr::pipeline::ExportOptions{}, ct,
                                                     nullptr);
  for (const std::string &folder : {gptq, ct}) {
    SCOPED_TRACE(folder);
    const Model streamed = vqr::model::load_hf_checkpoint(folder, Storage::kStreamed);
    // Packed: a 4-bit layer's stored bytes are about an eighth of its fp32 bytes.
    const vqr::model::TensorSource *w1 = streamed.linear_source(0, LinearKind::kW1);
    ASSERT_NE(w1, nullptr);
    EXPECT_LT(w1->stored_bytes() * 4, w1->rows() * w1->cols() * 4);
    expect_streamed_equals_resident(vqr::model::resolve_model_source(folder, ""));
    // Both equal the quantizer's own dequantized weights (the resident loader's contract).
    for (LinearKind k : vqr::model::kAllLinearKinds)
      expect_same_bits(streamed.linear(1, k).data, m.linear(1, k).data, m.linear_rows(k) * m.linear_cols(k),
                       Model::linear_name(1, k));
  }
}

// GGUF files whose linears are Q4_0 (4-bit symmetric, groups of 32, fp16 scales), Q8_0 (8-bit) and
// Q4_1 or F16 (4-bit asymmetric, whichever stores the grid exactly), embedding and classifier F16.
TEST(StreamedLoad, GgufBlockTypes) {
  const vqr_test::TempDir dir("streamed_gguf");
  vqr_test::TempFile tok_file("streamed_gguf_tok.bin");
  tok_file.write(vqr_test::tokenizer_bytes(vqr_test::small_vocab(), 8));
  const vqr::model::Tokenizer tok = vqr::model::Tokenizer::load(tok_file.path(), 0);
  std::string config = hf_config("LlamaForCausalLM", false);
  config.replace(config.find("\"vocab_size\": 300"), 17, "\"vocab_size\": " + std::to_string(tok.vocab_size()));
  std::map<uint32_t, int> types_seen;
  int n = 0;
  for (const auto &[bits, sym] : {std::pair<int, bool>{4, true}, {8, true}, {4, false}}) {
    SCOPED_TRACE("bits " + std::to_string(bits) + (sym ? " sym" : " asym"));
    const std::string sub = dir.file("run" + std::to_string(n++));
    Model m = random_model(config, "F32", 21);
    vqr::quant::QuantConfig q;
    q.method = vqr::quant::Method::Rtn;
    q.bits = bits;
    q.group_size = 32;
    q.sym = sym;
    q.scale_dtype = vqr::DType::F16;  // fp16-exact scales: the grid maps onto a ggml block type
    const QuantizedRun run = quantize_random(&m, config, sub, q);
    std::map<std::pair<int, int>, vqr::io::GridCodes> codes;
    for (size_t i = 0; i < run.result.layers.size(); ++i)
      codes[{run.result.layers[i].layer, (int)run.result.layers[i].kind}] = vqr::pipeline::grid_codes_of(run.result.results[i]);
    vqr::model::GgufWriteOptions o;
    o.dtype = "F16";
    o.codes = [&codes](int layer, LinearKind kind) -> const vqr::io::GridCodes * { return &codes.at({layer, (int)kind}); };
    const std::string path = sub + "/model.gguf";
    vqr::model::save_gguf(m, tok, path, o, nullptr);
    const vqr::io::GgufFile written = vqr::io::GgufFile::open(path);
    for (const auto &t : written.tensors()) ++types_seen[t.type];
    expect_streamed_equals_resident(vqr::model::resolve_model_source(path, ""));
  }
  for (vqr::io::GgmlType t : {vqr::io::GgmlType::kQ4_0, vqr::io::GgmlType::kQ8_0, vqr::io::GgmlType::kF16})
    EXPECT_GT(types_seen[(uint32_t)t], 0) << vqr::io::ggml_type_name((uint32_t)t);
}

// ------------------------------------------------------------------------------------------------
// Memory: the block cache's budget, and release() dropping the mapped pages
// ------------------------------------------------------------------------------------------------

TEST(StreamedLoad, CacheBudgetBoundsResidentBytes) {
  const vqr_test::TempDir dir("streamed_budget");
  const std::string folder = dir.file("hf");
  fs::create_directories(folder);
  std::string config = hf_config("LlamaForCausalLM", true);
  config.replace(config.find("\"num_hidden_layers\": 2"), 22, "\"num_hidden_layers\": 5");
  vqr::model::save_hf_checkpoint(random_model(config, "BF16", 2), folder, config, "BF16");
  Model m = vqr::model::load_hf_checkpoint(folder, Storage::kStreamed);
  const int64_t arena = m.resident_bytes(), block = m.block_bytes();
  m.set_cache_budget(0);  // one block is always kept, never more
  for (int l = 0; l < m.config().n_layers; ++l) {
    m.linear(l, LinearKind::kW2);
    EXPECT_EQ(m.resident_bytes(), arena + block) << "layer " << l;
  }
  m.set_cache_budget(2 * block);
  for (int l = 0; l < m.config().n_layers; ++l) m.linear(l, LinearKind::kWq);
  EXPECT_EQ(m.resident_bytes(), arena + 2 * block);
  m.release_cache();
  EXPECT_EQ(m.resident_bytes(), arena);
}

// Resident pages of this process (/proc/self/statm's second field), in bytes.
int64_t rss_bytes() {
  std::ifstream statm("/proc/self/statm");
  int64_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * (int64_t)sysconf(_SC_PAGESIZE);
}

// A 64 MiB fp32 region of a file read through a mapped source raises the RSS by about its size;
// release() takes it back down (madvise MADV_DONTNEED), and the values read again are the same.
TEST(StreamedLoad, ReleaseDropsTheMappedPages) {
  vqr_test::TempFile file("streamed_pages.bin");
  constexpr int64_t kRows = 4096, kCols = 4096, kHeader = 28;  // an offset that is not page aligned
  {
    std::vector<char> bytes((size_t)(kHeader + kRows * kCols * 4));
    for (int64_t i = 0; i < kRows * kCols; ++i) {
      const float x = (float)(i % 1000) * 0.001f;
      std::memcpy(&bytes[(size_t)(kHeader + 4 * i)], &x, 4);
    }
    file.write(bytes);
  }
  auto mapped = std::make_shared<const vqr::io::MappedFile>(vqr::io::MappedFile::open(file.path(), "a test file"));
  EXPECT_FALSE(mapped->drop_pages(0, mapped->size() + 1));  // outside the mapping
  EXPECT_TRUE(mapped->drop_pages(kHeader, 0));
  const auto source = vqr::model::llama2c_source(mapped, file.path(), "tensor test", kHeader, kRows, kCols);
  EXPECT_EQ(source->stored_bytes(), kRows * kCols * 4);
  std::vector<float> chunk((size_t)(64 * kCols));
  const int64_t before = rss_bytes();
  float sum = 0;
  for (int64_t r = 0; r < kRows; r += 64) {  // touches every page of the region
    source->read_rows(r, r + 64, chunk.data());
    sum += chunk[(size_t)(r % kCols)];
  }
  const int64_t touched = rss_bytes();
  source->release();
  const int64_t released = rss_bytes();
  std::printf("RSS: %lld MiB before, %lld after reading the 64 MiB region, %lld after release (checksum %g)\n",
              (long long)(before >> 20), (long long)(touched >> 20), (long long)(released >> 20), (double)sum);
  EXPECT_GE(touched - before, int64_t{48} << 20);
  EXPECT_LE(released - before, int64_t{16} << 20);
  source->read_rows(kRows - 1, kRows, chunk.data());
  EXPECT_EQ(chunk[(size_t)(kCols - 1)], (float)(((kRows - 1) * kCols + kCols - 1) % 1000) * 0.001f);
}

}  // namespace
