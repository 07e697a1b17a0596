// The writers on streamed models (issue 16; model/weight_rows.h, llama2c_format.h, hf_checkpoint.h,
// gguf_model.h):
// - for_each_row_chunk against a gather written here: every chunk size, row maps, early stop,
//   the span of source rows a permuted chunk reads;
// - a streamed copy of a resident model (streamed_copy.h) writes byte-identical llama2.c files,
//   Hugging Face folders (F32, F16, BF16, sharded) and GGUF files (F32, F16, Q4_0 / Q8_0 / Q4_1
//   grids and a grid without a block type), with the same notes, for llama2.c, Hugging Face Llama,
//   Qwen2 and Qwen3 shapes;
// - writing a streamed model whose fp32 weights (256 MiB) exceed the address space the write may
//   grow by (64 MiB) succeeds, and the files hold the generated values.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "common/memory_limit.h"
#include "common/scratch_files.h"
#include "core/dtype.h"
#include "core/error.h"
#include "io/gguf.h"
#include "io/safetensors.h"
#include "model/gguf_model.h"
#include "model/hf_checkpoint.h"
#include "model/llama2c_format.h"
#include "model/rope_layout.h"
#include "model/tokenizer.h"
#include "model/weight_rows.h"
#include "small_models.h"
#include "streamed_copy.h"
#include "synthetic_files.h"

namespace {

using vqr::model::GgufWriteOptions;
using vqr::model::GridCodes;
using vqr::model::LinearKind;
using vqr::model::Model;
using vqr::model::ModelConfig;
using vqr::model::RopeLayout;
using vqr::model::TensorId;
using vqr::model::TensorRows;
using vqr_test::TempDir;

// ---- for_each_row_chunk -------------------------------------------------------------------------

TEST(RowChunks, ChunksFollowTheMapAndReadOnlyTheSpanTheyNeed) {
  const int64_t rows = 24, cols = 3, hs = 6;
  std::vector<float> values(rows * cols);
  for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(i);
  int releases = 0;
  int64_t widest = 0;
  TensorRows t = vqr::model::memory_tensor_rows(values.data(), rows, cols);
  const auto plain_read = t.read;
  t.read = [&](int64_t r0, int64_t r1, float *out) {
    widest = std::max(widest, r1 - r0);
    plain_read(r0, r1, out);
  };
  t.release = [&] { ++releases; };
  // Half -> interleaved inside heads of 6 rows, as the llama2.c and GGUF writers permute q/k.
  const std::vector<int64_t> rope = vqr::model::rope_row_sources(rows / hs, hs, /*to_half=*/false);
  for (const std::vector<int64_t> &map : {std::vector<int64_t>{}, rope})
    for (int64_t chunk : {1, 4, 5, 6, 24, 100}) {
      SCOPED_TRACE("chunk " + std::to_string(chunk) + (map.empty() ? "" : " with the RoPE map"));
      std::vector<float> got;
      std::vector<int64_t> sizes;
      widest = 0;
      releases = 0;
      vqr::model::for_each_row_chunk(t, map, [&](const float *x, int64_t n) {
        got.insert(got.end(), x, x + n * cols);
        sizes.push_back(n);
        return true;
      }, chunk);
      std::vector<float> want;
      for (int64_t r = 0; r < rows; ++r) {
        const int64_t src = map.empty() ? r : map[r];
        want.insert(want.end(), values.begin() + src * cols, values.begin() + (src + 1) * cols);
      }
      EXPECT_EQ(got, want);
      EXPECT_EQ(static_cast<int64_t>(sizes.size()), (rows + chunk - 1) / chunk);
      for (size_t i = 0; i + 1 < sizes.size(); ++i) EXPECT_EQ(sizes[i], chunk);
      EXPECT_EQ(releases, 1);
      // A chunk reads its own rows, or with the map the span of the heads its rows fall in: at
      // most hs - 1 rows more at each end.
      EXPECT_LE(widest, std::min(rows, map.empty() ? chunk : chunk + 2 * (hs - 1)));
    }
  // visit returning false stops the reading.
  int calls = 0;
  vqr::model::for_each_row_chunk(t, {}, [&](const float *, int64_t) { return ++calls < 2; }, 5);
  EXPECT_EQ(calls, 2);
  vqr_test::expect_error([&] { vqr::model::for_each_row_chunk(t, {0, 1}, [](const float *, int64_t) { return true; }); },
                         vqr::Status::InvalidArgument, "one entry per row", vqr_test::Hint::kOptional);
  std::vector<int64_t> bad(rope);
  bad[3] = rows;
  vqr_test::expect_error([&] { vqr::model::for_each_row_chunk(t, bad, [](const float *, int64_t) { return true; }); },
                         vqr::Status::InvalidArgument, "outside the tensor", vqr_test::Hint::kOptional);
}

// ---- byte-identical files from a streamed copy ------------------------------------------------

// small_models.h's shapes, the classifier tied for llama2.c, Qwen2's biases and Qwen3's q/k norms.
ModelConfig shape_of(const std::string &arch) {
  ModelConfig c = vqr_test::small_config(arch);
  c.shared_classifier = arch.empty();
  c.qkv_bias = arch == "Qwen2ForCausalLM";
  c.qk_norm = arch == "Qwen3ForCausalLM";
  return c;
}

// Random weights; the embedding and the first layer's wq rounded to fp16 and the wv to bf16, so
// the F16 / BF16 writers meet exact and inexact tensors alike.
Model random_weights(const ModelConfig &c, uint32_t seed) {
  Model m = vqr_test::random_model(c, seed);
  auto round = [](float *p, int64_t n, bool bf16) {
    for (int64_t k = 0; k < n; ++k) p[k] = bf16 ? vqr::bf16_to_f32(vqr::f32_to_bf16(p[k])) : vqr::f16_to_f32(vqr::f32_to_f16(p[k]));
  };
  round(m.tensor(TensorId::kTokenEmbedding), m.tensor_floats(TensorId::kTokenEmbedding), false);
  round(m.linear_data(0, LinearKind::kWq), m.linear_rows(LinearKind::kWq) * m.linear_cols(LinearKind::kWq), false);
  round(m.linear_data(1, LinearKind::kWv), m.linear_rows(LinearKind::kWv) * m.linear_cols(LinearKind::kWv), true);
  return m;
}

// Grid codes for every linear layer: Q4_0-, Q8_0- and Q4_1-exact grids in turn (group 32), and
// one layer with group 64, which has no block type and is stored dense.
struct Grids {
  std::map<std::pair<int, int>, std::vector<uint8_t>> codes;
  std::map<std::pair<int, int>, std::vector<float>> scales, zeros;
  std::map<std::pair<int, int>, GridCodes> views;
  explicit Grids(const Model &m) {
    std::mt19937 rng(3);
    int n = 0;
    for (int l = 0; l < m.config().n_layers; ++l)
      for (LinearKind k : vqr::model::kAllLinearKinds) {
        const std::pair<int, int> key{l, static_cast<int>(k)};
        const int kind = n++ % 3;
        const int64_t rows = m.linear_rows(k), cols = m.linear_cols(k), group = (l == 1 && k == LinearKind::kWo) ? 64 : 32;
        const int bits = kind == 1 ? 8 : 4;
        for (int64_t i = 0; i < rows * cols; ++i) codes[key].push_back(static_cast<uint8_t>(rng() % (1u << bits)));
        for (int64_t i = 0; i < (cols + group - 1) / group * rows; ++i) {
          // Scales k 2^-e (k < 8): exact in fp16, and s z exact too for the Q4_1 grids.
          scales[key].push_back(static_cast<float>(1 + rng() % 7) * std::ldexp(1.0f, -static_cast<int>(6 + rng() % 4)));
          zeros[key].push_back(kind == 0 ? 8.0f : kind == 1 ? 128.0f : static_cast<float>(rng() % 16));
        }
        views[key] = {bits, rows, cols, group, codes[key].data(), scales[key].data(), zeros[key].data()};
      }
  }
  GgufWriteOptions options(const std::string &dtype) const {
    GgufWriteOptions o;
    o.dtype = dtype;
    o.codes = [this](int layer, LinearKind kind) -> const GridCodes * { return &views.at({layer, static_cast<int>(kind)}); };
    return o;
  }
};

void expect_same_notes(const vqr::ExportNotes &a, const vqr::ExportNotes &b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].text, b[i].text);
    EXPECT_EQ(static_cast<int>(a[i].level), static_cast<int>(b[i].level)) << a[i].text;
  }
}

TEST(StreamedWriters, AStreamedCopyWritesTheSameBytes) {
  vqr_test::TempFile tok_file("streamed_writers_tok.bin");
  tok_file.write(vqr_test::tokenizer_bytes(vqr_test::small_vocab(), 8));
  const vqr::model::Tokenizer tok = vqr::model::Tokenizer::load(tok_file.path(), 0);
  TempDir dir("streamed_writers");
  for (const std::string arch : {"", "LlamaForCausalLM", "Qwen2ForCausalLM", "Qwen3ForCausalLM"}) {
    SCOPED_TRACE(arch.empty() ? "llama2.c" : arch);
    const Model resident = random_weights(shape_of(arch), 17);
    // A block cache smaller than one block: every read goes to the sources.
    const Model streamed = vqr_test::streamed_copy(resident, 1);
    ASSERT_TRUE(streamed.streamed());
    // The same file names in two folders (GGUF records the file's stem as general.name).
    const std::string base = dir.path() + "/" + (arch.empty() ? "llama2c" : arch);
    const std::string r = base + "/resident/m", s = base + "/streamed/m";
    std::filesystem::create_directories(base + "/resident");
    std::filesystem::create_directories(base + "/streamed");

    if (vqr::model::llama2c_can_store(resident.config())) {
      vqr::model::save_llama2c(resident, r + ".bin");
      vqr::model::save_llama2c(streamed, s + ".bin");
      vqr_test::expect_same_files(r + ".bin", s + ".bin");
    }

    for (const char *dtype : {"F32", "F16", "BF16"})
      for (int64_t shard : {int64_t{5} << 30, int64_t{40000}}) {
        SCOPED_TRACE(std::string("huggingface ") + dtype + " shard " + std::to_string(shard));
        const std::string suffix = std::string("_hf_") + dtype + "_" + std::to_string(shard);
        std::filesystem::create_directories(r + suffix);
        std::filesystem::create_directories(s + suffix);
        vqr::model::save_hf_checkpoint(resident, r + suffix, "", dtype, shard);
        vqr::model::save_hf_checkpoint(streamed, s + suffix, "", dtype, shard);
        vqr_test::expect_same_files(r + suffix, s + suffix);
      }

    const Grids grids(resident);
    for (const char *dtype : {"F32", "F16"})
      for (bool quantized : {false, true}) {
        SCOPED_TRACE(std::string("gguf ") + dtype + (quantized ? " with grids" : ""));
        const std::string suffix = std::string("_") + dtype + (quantized ? "_q" : "") + ".gguf";
        GgufWriteOptions o = quantized ? grids.options(dtype) : GgufWriteOptions{};
        o.dtype = dtype;
        vqr::ExportNotes nr, ns;
        vqr::model::save_gguf(resident, tok, r + suffix, o, &nr);
        vqr::model::save_gguf(streamed, tok, s + suffix, o, &ns);
        vqr_test::expect_same_files(r + suffix, s + suffix);
        expect_same_notes(nr, ns);
        if (quantized) {  // the grids took every path: three block types and a dense fallback
          const vqr::io::GgufFile f = vqr::io::GgufFile::open(s + suffix);
          std::map<std::string, uint32_t> types;
          for (const auto &t : f.tensors()) types[t.name] = t.type;
          EXPECT_EQ(types.at("blk.0.attn_q.weight"), 2u);
          EXPECT_EQ(types.at("blk.0.attn_k.weight"), 8u);
          EXPECT_EQ(types.at("blk.0.attn_v.weight"), 3u);
          EXPECT_EQ(types.at("blk.1.attn_output.weight"), std::string(dtype) == "F16" ? 1u : 0u);
        }
      }
  }
}

// ---- memory: one chunk, not the model ---------------------------------------------------------

// Values generated from the position, exact in fp16: a "checkpoint" that occupies no memory.
float generated(int64_t salt, int64_t r, int64_t c) { return static_cast<float>((r * 131 + c * 7 + salt * 17) % 61 - 30) / 64.0f; }

class GeneratedSource final : public vqr::model::TensorSource {
 public:
  GeneratedSource(int64_t salt, int64_t rows, int64_t cols) : salt_(salt), rows_(rows), cols_(cols) {}
  int64_t rows() const override { return rows_; }
  int64_t cols() const override { return cols_; }
  void read_rows(int64_t r0, int64_t r1, float *out) const override {
    for (int64_t r = r0; r < r1; ++r)
      for (int64_t c = 0; c < cols_; ++c) *out++ = generated(salt_, r, c);
  }
  int64_t stored_bytes() const override { return 0; }

 private:
  int64_t salt_, rows_, cols_;
};

TEST(StreamedWriters, AModelLargerThanTheMemoryBudgetIsWrittenChunkByChunk) {
  ModelConfig c = shape_of("LlamaForCausalLM");
  c.dim = 256;
  c.hidden_dim = 512;
  c.vocab_size = 131072;  // embedding and classifier: 128 MiB of fp32 each
  Model m(c, vqr::model::Storage::kStreamed);
  int64_t salt = 0;
  for (int l = 0; l < c.n_layers; ++l)
    for (LinearKind k : vqr::model::kAllLinearKinds)
      m.set_linear_source(l, k, std::make_shared<GeneratedSource>(++salt, m.linear_rows(k), m.linear_cols(k)));
  m.set_embedding_source(std::make_shared<GeneratedSource>(100, c.vocab_size, c.dim));
  m.set_classifier_source(std::make_shared<GeneratedSource>(101, c.vocab_size, c.dim));
  for (TensorId id : {TensorId::kRmsAtt, TensorId::kRmsFfn, TensorId::kRmsFinal})
    for (int64_t i = 0; i < m.tensor_floats(id); ++i) m.tensor(id)[i] = 1.0f;
  ASSERT_GT(m.total_floats() * 4, int64_t{256} << 20);

  std::vector<std::pair<std::string, float>> vocab = vqr_test::small_vocab();
  for (int i = static_cast<int>(vocab.size()); i < c.vocab_size; ++i) vocab.push_back({"p" + std::to_string(i), -100.0f});
  vqr_test::TempFile tok_file("streamed_writers_big_tok.bin");
  tok_file.write(vqr_test::tokenizer_bytes(vocab, 8));
  const vqr::model::Tokenizer tok = vqr::model::Tokenizer::load(tok_file.path(), 0);

  TempDir dir("streamed_big");
  const std::string hf = dir.path() + "/hf", gguf = dir.path() + "/m.gguf";
  std::filesystem::create_directories(hf);
  constexpr int64_t kBudget = int64_t{64} << 20;  // a quarter of the fp32 weights
  const vqr_test::LimitedOutcome a = vqr_test::run_with_memory_limit([&] { vqr::model::save_hf_checkpoint(m, hf, "", "F16"); }, kBudget);
  EXPECT_EQ(a.end, vqr_test::LimitedOutcome::End::kReturned) << a.message;
  const vqr_test::LimitedOutcome b = vqr_test::run_with_memory_limit([&] {
    GgufWriteOptions o;
    o.dtype = "F16";
    vqr::model::save_gguf(m, tok, gguf, o, nullptr);
  }, kBudget);
  EXPECT_EQ(b.end, vqr_test::LimitedOutcome::End::kReturned) << b.message;

  // The files hold the generated values (in fp16, exact): the last rows of the classifier and a
  // row of a linear weight (the GGUF q rows permuted to adjacent pairs, here row 0 = half row 0).
  const int64_t last = c.vocab_size - 1;
  const vqr::io::SafetensorsFile st = vqr::io::SafetensorsFile::open(hf + "/model.safetensors");
  const vqr::io::StTensor *head = st.find("lm_head.weight");
  ASSERT_NE(head, nullptr);
  EXPECT_EQ(head->dtype, vqr::io::StDtype::kF16);
  std::vector<float> w(static_cast<size_t>(c.vocab_size * c.dim));
  st.read_f32(*head, w.data());
  for (int64_t j = 0; j < c.dim; ++j) EXPECT_EQ(w[static_cast<size_t>(last * c.dim + j)], generated(101, last, j)) << j;
  const vqr::io::GgufFile g = vqr::io::GgufFile::open(gguf);
  const vqr::io::GgufTensorInfo *out = g.find_tensor("output.weight");
  ASSERT_NE(out, nullptr);
  EXPECT_EQ(out->type, 1u);
  g.read_f32(*out, w.data());
  for (int64_t j = 0; j < c.dim; ++j) EXPECT_EQ(w[static_cast<size_t>(last * c.dim + j)], generated(101, last, j)) << j;
}

}  // namespace
