// LLaMA-family models as GGUF files (model/gguf_model.h), against references written here:
// - stories260K saved as F32 loads back bit-identical with identical logits; as F16 it loads back
//   as the fp16-rounded weights; its GGUF tokenizer encodes TinyStories exactly as the llama2.c
//   tokenizer does (and gutenberg4M's SentencePiece model likewise);
// - random small models whose linear layers sit on a grid: Q4_0, Q8_0 and Q4_1 tensors decode to
//   exactly scales * (codes - zeros) computed here, and a grid Q4_1 cannot hold falls back with a note;
// - Qwen2-like, Qwen3-like and Hugging Face-layout llama models round-trip (q/k rows of the latter
//   permuted to llama.cpp's adjacent-pair RoPE by an independent permutation written here);
// - files written by hand here with llama.cpp's names load, and broken ones fail as documented.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/error.h"
#include "data_dir.h"
#include "io/gguf.h"
#include "model/forward.h"
#include "model/gguf_model.h"
#include "model/llama2c_format.h"
#include "model/model_source.h"
#include "model/text_corpus.h"
#include "model/tokenizer.h"
#include "small_models.h"
#include "synthetic_files.h"
#include "common/memory_limit.h"
#include "common/scratch_files.h"

using vqr::io::GgmlType;
using vqr::io::GgufFile;
using vqr::io::GgufWriter;
using vqr::model::GgufWriteOptions;
using vqr::model::GridCodes;
using vqr::model::LinearKind;
using vqr::model::Model;
using vqr::model::ModelConfig;
using vqr::model::RopeLayout;
using vqr::model::TensorId;
using vqr::model::Tokenizer;

namespace {

using vqr_test::TempDir;

namespace fs = std::filesystem;

// save_gguf's argument errors (bad codes, dtype) carry no file hint: the hint is optional here.
template <class Fn>
void expect_error(Fn &&fn, vqr::Status status, const std::string &needle) {
  vqr_test::expect_error(fn, status, needle, vqr_test::Hint::kOptional);
}

// The level of the first note containing `needle`, or VQR_LOG_NONE when none does.
vqr::LogLevel level_of(const vqr::ExportNotes &notes, const std::string &needle) {
  for (const vqr::ExportNote &n : notes)
    if (n.text.find(needle) != std::string::npos) return n.level;
  return vqr::LogLevel::None;
}

bool contains(const vqr::ExportNotes &notes, const std::string &needle) {
  return level_of(notes, needle) != vqr::LogLevel::None;
}

std::vector<float> logits_of(const Model &m, const std::vector<int32_t> &tokens) {
  vqr::model::Forward f(m, static_cast<int64_t>(tokens.size()), 1);
  std::vector<float> out(tokens.size() * static_cast<size_t>(m.config().vocab_size));
  f.run(tokens.data(), static_cast<int64_t>(tokens.size()), out.data());
  return out;
}

std::vector<int32_t> some_tokens(int vocab, int n) {
  std::vector<int32_t> t{1};
  for (int i = 1; i < n; ++i) t.push_back(static_cast<int32_t>((i * 37 + 11) % vocab));
  return t;
}

bool same_tensor(const Model &a, const Model &b, TensorId id) {
  return a.tensor_floats(id) == b.tensor_floats(id) &&
         std::memcmp(a.tensor(id), b.tensor(id), static_cast<size_t>(a.tensor_floats(id)) * sizeof(float)) == 0;
}

void expect_same_weights(const Model &a, const Model &b) {
  for (int i = 0; i < vqr::model::kTensorCount; ++i)
    EXPECT_TRUE(same_tensor(a, b, static_cast<TensorId>(i))) << "tensor id " << i;
}

// llama.cpp's LLAMA rope pairs adjacent rows: per head of hs rows, half-layout row p*hs/2 + j
// becomes row 2j + p (the converter's permute(): reshape(heads, 2, hs/2, cols).swapaxes(1, 2)).
std::vector<float> half_to_interleaved(const float *w, int64_t heads, int64_t hs, int64_t cols) {
  std::vector<float> out(static_cast<size_t>(heads * hs * cols));
  for (int64_t h = 0; h < heads; ++h)
    for (int64_t p = 0; p < 2; ++p)
      for (int64_t j = 0; j < hs / 2; ++j)
        std::memcpy(&out[static_cast<size_t>((h * hs + 2 * j + p) * cols)], w + (h * hs + p * (hs / 2) + j) * cols,
                    static_cast<size_t>(cols) * sizeof(float));
  return out;
}

// ------------------------------------------------------------------------------------------------
// Small random models and grids
// ------------------------------------------------------------------------------------------------

// The synthetic llama2.c vocabulary of synthetic_files.h (275 pieces), written to a file.
struct SmallTokenizer {
  vqr_test::TempFile file{"gguf_tok.bin"};
  Tokenizer tok;
  SmallTokenizer() {
    file.write(vqr_test::tokenizer_bytes(vqr_test::small_vocab(), 8));
    tok = Tokenizer::load(file.path(), 0);
  }
};

using vqr_test::random_model;
using vqr_test::small_config;

enum class GridKind { kSymmetric4, kSymmetric8, kAsymmetricExact, kAsymmetricInexact };

// A grid with owned arrays; the model's weight is set to its values s * (q - z).
struct Grid {
  std::vector<uint8_t> codes;
  std::vector<float> scales, zeros;
  GridCodes g;
  float value(int64_t o, int64_t i) const {
    const int64_t k = (i / g.group_size) * g.rows + o;
    return scales[k] * (static_cast<float>(codes[o * g.cols + i]) - zeros[k]);
  }
};

Grid make_grid(Model &m, int layer, LinearKind kind, GridKind gk, int64_t group, std::mt19937 &rng) {
  Grid grid;
  const int64_t rows = m.linear_rows(kind), cols = m.linear_cols(kind), groups = (cols + group - 1) / group;
  const int bits = gk == GridKind::kSymmetric8 ? 8 : 4;
  grid.codes.resize(static_cast<size_t>(rows * cols));
  for (uint8_t &q : grid.codes) q = static_cast<uint8_t>(rng() % (1u << bits));
  for (int64_t k = 0; k < groups * rows; ++k) {
    float s = 0.0f, z = 0.0f;
    switch (gk) {
      case GridKind::kSymmetric4:
      case GridKind::kSymmetric8:
      case GridKind::kAsymmetricInexact:
        // Any fp16 value in [2^-10, 2^-4): exact in fp16 by construction.
        s = vqr::f16_to_f32(static_cast<uint16_t>(((5 + rng() % 6) << 10) | (rng() & 0x3ff)));
        z = gk == GridKind::kSymmetric4 ? 8.0f : gk == GridKind::kSymmetric8 ? 128.0f : 7.0f;
        break;
      case GridKind::kAsymmetricExact:
        // s = k 2^-e with k < 8 and an integer z < 16: s z has at most 7 significant bits.
        s = static_cast<float>(1 + rng() % 7) * std::ldexp(1.0f, -static_cast<int>(6 + rng() % 4));
        z = static_cast<float>(rng() % 16);
        break;
    }
    grid.scales.push_back(s);
    grid.zeros.push_back(z);
  }
  grid.g = {bits, rows, cols, group, nullptr, nullptr, nullptr};
  float *w = m.linear_data(layer, kind);
  for (int64_t o = 0; o < rows; ++o)
    for (int64_t i = 0; i < cols; ++i) w[o * cols + i] = grid.value(o, i);
  return grid;
}

// Grids for every linear layer of `m`, and the options that hand them to save_gguf.
struct Grids {
  std::map<std::pair<int, int>, Grid> by_layer;
  GgufWriteOptions options(const std::string &dtype) {
    GgufWriteOptions o;
    o.dtype = dtype;
    for (auto &[key, grid] : by_layer) grid.g.codes = grid.codes.data(), grid.g.scales = grid.scales.data(), grid.g.zeros = grid.zeros.data();
    o.codes = [this](int layer, LinearKind kind) -> const GridCodes * {
      auto it = by_layer.find({layer, static_cast<int>(kind)});
      return it == by_layer.end() ? nullptr : &it->second.g;
    };
    return o;
  }
};

Grids grids_for(Model &m, GridKind gk, uint32_t seed) {
  std::mt19937 rng(seed);
  Grids gs;
  for (int l = 0; l < m.config().n_layers; ++l)
    for (LinearKind k : vqr::model::kAllLinearKinds) gs.by_layer[{l, static_cast<int>(k)}] = make_grid(m, l, k, gk, 32, rng);
  return gs;
}

// Every linear weight of `loaded` equals the grid's values bit for bit (rows permuted by `perm`
// for q/k when given).
void expect_grid_weights(const Model &loaded, Grids &gs) {
  for (auto &[key, grid] : gs.by_layer) {
    const auto w = loaded.linear(key.first, static_cast<LinearKind>(key.second));
    int64_t diff = 0;
    for (int64_t o = 0; o < w.rows; ++o)
      for (int64_t i = 0; i < w.cols; ++i) {
        const float want = grid.value(o, i), got = w.data[o * w.cols + i];
        diff += std::memcmp(&want, &got, sizeof(float)) != 0;
      }
    EXPECT_EQ(diff, 0) << Model::linear_name(key.first, static_cast<LinearKind>(key.second));
  }
}

std::map<std::string, uint32_t> tensor_types(const std::string &path) {
  std::map<std::string, uint32_t> out;
  const GgufFile f = GgufFile::open(path);
  for (const auto &t : f.tensors()) out[t.name] = t.type;
  return out;
}

// ------------------------------------------------------------------------------------------------
// stories260K
// ------------------------------------------------------------------------------------------------

class Stories : public ::testing::Test {
 protected:
  void SetUp() override {
    data_ = vqr_test::data_dir();
    if (data_.empty()) {
      if (vqr_test::data_required()) FAIL() << "shared data folder not found";
      GTEST_SKIP() << "shared data folder not found";
    }
  }
  Model model() const { return vqr::model::load_llama2c(data_ + "/models/stories260K/stories260K.bin"); }
  Tokenizer tokenizer() const { return Tokenizer::load(data_ + "/models/stories260K/tok512.bin", 512); }
  std::string data_;
};

TEST_F(Stories, F32RoundTripIsBitIdentical) {
  const Model ref = model();
  TempDir dir("f32");
  const std::string path = dir.path() + "/stories260K.gguf";
  vqr::ExportNotes notes;
  vqr::model::save_gguf(ref, tokenizer(), path, GgufWriteOptions{"F32", {}, {}}, &notes);
  EXPECT_TRUE(vqr_test::temporaries_beside(path).empty());
  EXPECT_TRUE(notes.empty()) << notes[0].text;
  EXPECT_TRUE(vqr::model::is_gguf_file(path));
  EXPECT_FALSE(vqr::model::is_gguf_file(data_ + "/models/stories260K/stories260K.bin"));
  EXPECT_FALSE(vqr::model::is_gguf_file(dir.path()));
  EXPECT_FALSE(vqr::model::is_gguf_file(dir.path() + "/absent.gguf"));

  // The metadata llama.cpp reads.
  const GgufFile f = GgufFile::open(path);
  EXPECT_EQ(f.get_string("general.architecture"), "llama");
  EXPECT_EQ(f.get_string("general.name"), "stories260K");
  EXPECT_EQ(f.get_u32("llama.embedding_length"), 64u);
  EXPECT_EQ(f.get_u32("llama.feed_forward_length"), 172u);
  EXPECT_EQ(f.get_u32("llama.block_count"), 5u);
  EXPECT_EQ(f.get_u32("llama.attention.head_count"), 8u);
  EXPECT_EQ(f.get_u32("llama.attention.head_count_kv"), 4u);
  EXPECT_EQ(f.get_u32("llama.rope.dimension_count"), 8u);
  EXPECT_EQ(f.get_u32("llama.context_length"), 512u);
  EXPECT_EQ(f.get_u32("llama.vocab_size"), 512u);
  EXPECT_EQ(f.get_f32("llama.attention.layer_norm_rms_epsilon"), 1e-5f);
  EXPECT_EQ(f.get_f32("llama.rope.freq_base"), 10000.0f);
  EXPECT_EQ(f.get_u32("general.file_type"), 0u);
  EXPECT_FALSE(f.has("general.quantization_version"));
  EXPECT_FALSE(f.has("llama.attention.key_length"));
  EXPECT_EQ(f.get_string("tokenizer.ggml.model"), "llama");
  EXPECT_EQ(f.get_strings("tokenizer.ggml.tokens")[1], "<s>");
  EXPECT_TRUE(f.get_bool("tokenizer.ggml.add_bos_token"));
  EXPECT_EQ(f.find_tensor("output.weight"), nullptr);  // tied
  EXPECT_EQ(f.find_tensor("token_embd.weight")->ne, (std::vector<int64_t>{64, 512}));
  EXPECT_EQ(f.find_tensor("blk.4.ffn_down.weight")->ne, (std::vector<int64_t>{172, 64}));
  EXPECT_EQ(f.tensors().size(), 1u + 5u * 9u + 1u);
  for (const auto &t : f.tensors()) EXPECT_EQ(t.type, 0u) << t.name;

  const Model back = vqr::model::load_gguf(path);
  const ModelConfig &c = back.config();
  EXPECT_EQ(c.architecture, "LlamaForCausalLM");
  EXPECT_EQ(c.rope_layout, RopeLayout::kInterleaved);
  EXPECT_EQ(c.dim, 64);
  EXPECT_EQ(c.n_kv_heads, 4);
  EXPECT_EQ(c.vocab_size, 512);
  EXPECT_EQ(c.seq_len, 512);
  EXPECT_TRUE(c.shared_classifier);
  EXPECT_EQ(c.head_size(), 8);
  expect_same_weights(back, ref);
  const std::vector<int32_t> tokens = some_tokens(512, 48);
  const std::vector<float> a = logits_of(ref, tokens), b = logits_of(back, tokens);
  EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(float)));

  // Through model_source: a GGUF file is its own tokenizer.
  const auto src = vqr::model::resolve_model_source(path, "");
  EXPECT_EQ(src.format, vqr::model::ModelFormat::kGguf);
  EXPECT_STREQ(vqr::model::model_format_name(src.format), "gguf");
  EXPECT_EQ(src.tokenizer_file, path);
  expect_same_weights(vqr::model::load_model(src), ref);
  const std::string tok = data_ + "/models/stories260K/tok512.bin";
  EXPECT_EQ(vqr::model::resolve_model_source(path, tok).tokenizer_file, tok);
}

TEST_F(Stories, F16RoundTripGivesTheRoundedWeights) {
  const Model ref = model();
  TempDir dir("f16");
  const std::string path = dir.path() + "/s.gguf";
  vqr::ExportNotes notes;
  vqr::model::save_gguf(ref, tokenizer(), path, GgufWriteOptions{}, &notes);  // default dtype F16
  EXPECT_TRUE(contains(notes, "token_embd.weight: stored as F16 (lossy")) << notes.size();
  EXPECT_TRUE(contains(notes, "blk.0.attn_q.weight: stored as F16 (lossy"));
  EXPECT_EQ(level_of(notes, "token_embd.weight: stored as F16 (lossy"), vqr::LogLevel::Warn) << "values that round warn";
  const auto types = tensor_types(path);
  EXPECT_EQ(types.at("token_embd.weight"), 1u);
  EXPECT_EQ(types.at("blk.2.ffn_gate.weight"), 1u);
  EXPECT_EQ(types.at("blk.2.ffn_norm.weight"), 0u);  // norms stay F32
  EXPECT_EQ(types.at("output_norm.weight"), 0u);
  EXPECT_EQ(GgufFile::open(path).get_u32("general.file_type"), 1u);

  Model rounded = ref.clone();
  for (TensorId id : {TensorId::kTokenEmbedding, TensorId::kWq, TensorId::kWk, TensorId::kWv, TensorId::kWo, TensorId::kW1,
                      TensorId::kW2, TensorId::kW3}) {
    float *p = rounded.tensor(id);
    for (int64_t k = 0; k < rounded.tensor_floats(id); ++k) p[k] = vqr::f16_to_f32(vqr::f32_to_f16(p[k]));
  }
  const Model back = vqr::model::load_gguf(path);
  expect_same_weights(back, rounded);
  EXPECT_FALSE(same_tensor(back, ref, TensorId::kW2)) << "the rounding must be visible";
}

// The GGUF vocabulary written from tok512.bin, read back as a GGUF tokenizer (llama.cpp's SPM
// algorithm), encodes real text exactly as run.c's encoder does.
TEST_F(Stories, GgufTokenizerEncodesLikeTheLlama2cTokenizer) {
  const Tokenizer bin = tokenizer();
  TempDir dir("tok");
  const std::string path = dir.path() + "/s.gguf";
  vqr::model::save_gguf(model(), bin, path, GgufWriteOptions{"F32", {}, {}}, nullptr);
  const Tokenizer g = Tokenizer::load(path, 512);
  EXPECT_EQ(g.kind(), Tokenizer::Kind::kGguf);
  EXPECT_EQ(g.bos_id(), 1);
  EXPECT_EQ(g.eos_id(), 2);
  EXPECT_EQ(g.unk_id(), 0);
  EXPECT_EQ(g.piece(1), "<s>");
  EXPECT_EQ(g.token_type(2), vqr::model::TokenType::kControl);
  EXPECT_EQ(g.token_type(3 + 0x0A), vqr::model::TokenType::kByte);
  for (int32_t id = 3; id < 512; ++id) {
    ASSERT_EQ(g.score(id), bin.score(id)) << id;
    ASSERT_EQ(g.decode(7, id), bin.decode(7, id)) << id;
  }
  const auto paragraphs = vqr::model::split_paragraphs(vqr::model::read_text_file(data_ + "/text/tinystories/tinystories_val.txt"));
  ASSERT_GE(paragraphs.size(), 50u);
  for (size_t p = 0; p < 50; ++p) ASSERT_EQ(g.encode(paragraphs[p], true, false), bin.encode(paragraphs[p], true, false)) << "paragraph " << p;
  EXPECT_EQ(g.encode("", true, true), (std::vector<int32_t>{1, 2}));
}

TEST_F(Stories, GgufTokenizerFromSentencePieceEncodesLikeSentencePiece) {
  const std::string dir4m = data_ + "/models/gutenberg4M/";
  const Tokenizer sp = Tokenizer::load(dir4m + "tokenizer.model", 4096);
  const Model m = vqr::model::load_llama2c(dir4m + "gutenberg4M.bin");
  TempDir dir("sp");
  const std::string path = dir.path() + "/g.gguf";
  vqr::model::save_gguf(m, sp, path, GgufWriteOptions{"F16", {}, {}}, nullptr);
  const Tokenizer g = Tokenizer::load(path, 4096);
  for (int32_t id = 0; id < 4096; ++id) {
    ASSERT_EQ(g.piece(id), sp.piece(id)) << id;
    ASSERT_EQ(g.token_type(id), sp.token_type(id)) << id;
  }
  EXPECT_EQ(g.token_type(0), vqr::model::TokenType::kUnknown);
  EXPECT_EQ(g.token_type(1), vqr::model::TokenType::kControl);
  EXPECT_EQ(g.token_type(3), vqr::model::TokenType::kByte);
  const auto paragraphs = vqr::model::split_paragraphs(vqr::model::read_text_file(data_ + "/text/gutenberg/gutenberg_heldout.txt"));
  ASSERT_GE(paragraphs.size(), 50u);
  for (size_t p = 0; p < 50; ++p) ASSERT_EQ(g.encode(paragraphs[p], true, false), sp.encode(paragraphs[p], true, false)) << "paragraph " << p;
}

// ------------------------------------------------------------------------------------------------
// Grid codes as ggml blocks
// ------------------------------------------------------------------------------------------------

struct GridCase {
  GridKind kind;
  uint32_t type;       // expected ggml type of every linear tensor
  uint32_t file_type;  // llama_ftype
};

class GridBlocks : public ::testing::TestWithParam<GridCase> {};

TEST_P(GridBlocks, LoadBackExactlyOnTheGrid) {
  const GridCase gc = GetParam();
  const SmallTokenizer tok;
  Model m = random_model(small_config(""), 7);
  Grids gs = grids_for(m, gc.kind, 11);
  TempDir dir("grid" + std::to_string(gc.type));
  const std::string path = dir.path() + "/q.gguf";
  vqr::ExportNotes notes;
  vqr::model::save_gguf(m, tok.tok, path, gs.options("F16"), &notes);
  for (const vqr::ExportNote &n : notes)
    EXPECT_EQ(n.text.find("blk."), std::string::npos) << "no linear layer falls back: " << n.text;
  const auto types = tensor_types(path);
  for (int l = 0; l < 2; ++l)
    for (const char *name : {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_down", "ffn_up"})
      EXPECT_EQ(types.at("blk." + std::to_string(l) + "." + name + ".weight"), gc.type) << name;
  EXPECT_EQ(types.at("output.weight"), 1u);
  const GgufFile f = GgufFile::open(path);
  EXPECT_EQ(f.get_u32("general.file_type"), gc.file_type);
  EXPECT_EQ(f.get_u32("general.quantization_version"), 2u);
  const Model back = vqr::model::load_gguf(path);
  expect_grid_weights(back, gs);
  // Everything else as written: norms exact, embedding and classifier rounded to fp16.
  Model ref = m.clone();
  for (TensorId id : {TensorId::kTokenEmbedding, TensorId::kClassifier}) {
    float *p = ref.tensor(id);
    for (int64_t k = 0; k < ref.tensor_floats(id); ++k) p[k] = vqr::f16_to_f32(vqr::f32_to_f16(p[k]));
  }
  expect_same_weights(back, ref);
  const std::vector<int32_t> tokens = some_tokens(275, 16);
  EXPECT_EQ(logits_of(back, tokens), logits_of(ref, tokens));
}

INSTANTIATE_TEST_SUITE_P(Types, GridBlocks,
                         ::testing::Values(GridCase{GridKind::kSymmetric4, 2, 2}, GridCase{GridKind::kSymmetric8, 8, 7},
                                           GridCase{GridKind::kAsymmetricExact, 3, 3}),
                         [](const ::testing::TestParamInfo<GridCase> &info) {
                           return std::string(vqr::io::ggml_type_info(info.param.type)->name);
                         });

TEST(GridFallback, GridsWithoutABlockTypeAreStoredDenseWithANote) {
  const SmallTokenizer tok;
  Model m = random_model(small_config(""), 8);
  Grids gs = grids_for(m, GridKind::kAsymmetricInexact, 12);  // zero 7, 11-bit scales: Q4_1's m rounds
  std::mt19937 rng(5);
  gs.by_layer[{1, static_cast<int>(LinearKind::kWo)}] = make_grid(m, 1, LinearKind::kWo, GridKind::kSymmetric4, 64, rng);
  gs.by_layer[{0, static_cast<int>(LinearKind::kW2)}] = make_grid(m, 0, LinearKind::kW2, GridKind::kSymmetric4, 32, rng);
  TempDir dir("fallback");
  const std::string path = dir.path() + "/q.gguf";
  vqr::ExportNotes notes;
  vqr::model::save_gguf(m, tok.tok, path, gs.options("F32"), &notes);
  EXPECT_TRUE(contains(notes, "blk.0.attn_q.weight: its scales and zero points are not exact as Q4_1's fp16 d and m"));
  EXPECT_TRUE(contains(notes, "blk.1.attn_output.weight: group size 64 has no GGUF block type (Q4_0, Q4_1 and Q8_0 need 32); stored as F32"));
  EXPECT_FALSE(contains(notes, "blk.0.ffn_down.weight"));
  EXPECT_EQ(level_of(notes, "blk.1.attn_output.weight: group size 64"), vqr::LogLevel::Info) << "exact F32 storage informs";
  const auto types = tensor_types(path);
  EXPECT_EQ(types.at("blk.0.attn_q.weight"), 0u);
  EXPECT_EQ(types.at("blk.1.attn_output.weight"), 0u);
  EXPECT_EQ(types.at("blk.0.ffn_down.weight"), 2u);
  EXPECT_EQ(GgufFile::open(path).get_u32("general.file_type"), 2u);
  expect_grid_weights(vqr::model::load_gguf(path), gs);

  // In F16 the same fallback says whether it rounds.
  notes.clear();
  vqr::model::save_gguf(m, tok.tok, dir.path() + "/h.gguf", gs.options("F16"), &notes);
  EXPECT_TRUE(contains(notes, "blk.0.attn_q.weight: its scales and zero points are not exact as Q4_1's fp16 d and m (block "));
  EXPECT_TRUE(contains(notes, "); stored as F16 ("));
}

TEST(GridFallback, BadCodesAreRefusedBeforeAnyFileExists) {
  const SmallTokenizer tok;
  Model m = random_model(small_config(""), 9);
  Grids gs = grids_for(m, GridKind::kSymmetric4, 13);
  TempDir dir("badcodes");
  const std::string path = dir.path() + "/q.gguf";
  Grid &g = gs.by_layer[{0, 0}];
  g.codes[5] = 16;  // does not fit 4 bits
  expect_error([&] { vqr::model::save_gguf(m, tok.tok, path, gs.options("F16"), nullptr); }, vqr::Status::InvalidArgument,
               "code 16 does not fit 4 bits");
  g.codes[5] = 3;
  const GgufWriteOptions o = gs.options("F16");
  g.g.rows = 7;  // after options(), which sets only the pointers
  expect_error([&] { vqr::model::save_gguf(m, tok.tok, path, o, nullptr); }, vqr::Status::InvalidArgument,
               "codes of blk.0.wq: shape 7 x 64 differs from the layer's 64 x 64");
  EXPECT_FALSE(fs::exists(path));
  EXPECT_TRUE(vqr_test::temporaries_beside(path).empty());
}

// ------------------------------------------------------------------------------------------------
// Architectures
// ------------------------------------------------------------------------------------------------

TEST(GgufArchitectures, Qwen3LikeRoundTripsBitIdentically) {
  const SmallTokenizer tok;
  ModelConfig c = small_config("Qwen3ForCausalLM");
  c.head_dim = 32;  // q_dim 128 != dim 64
  c.qk_norm = true;
  c.shared_classifier = true;
  const Model m = random_model(c, 21);
  TempDir dir("qwen3");
  const std::string path = dir.path() + "/q3.gguf";
  vqr::ExportNotes notes;
  vqr::model::save_gguf(m, tok.tok, path, GgufWriteOptions{"F32", {}, {}}, &notes);
  EXPECT_TRUE(notes.empty());
  const GgufFile f = GgufFile::open(path);
  EXPECT_EQ(f.get_string("general.architecture"), "qwen3");
  EXPECT_EQ(f.get_u32("qwen3.attention.key_length"), 32u);
  EXPECT_EQ(f.get_u32("qwen3.attention.value_length"), 32u);
  EXPECT_EQ(f.get_u32("qwen3.rope.dimension_count"), 32u);
  EXPECT_EQ(f.get_f32("qwen3.rope.freq_base"), 1000000.0f);
  EXPECT_EQ(f.find_tensor("blk.1.attn_q_norm.weight")->ne, (std::vector<int64_t>{32}));
  EXPECT_EQ(f.find_tensor("blk.1.attn_q.weight")->ne, (std::vector<int64_t>{64, 128}));
  EXPECT_EQ(f.find_tensor("blk.1.attn_output.weight")->ne, (std::vector<int64_t>{128, 64}));
  const Model back = vqr::model::load_gguf(path);
  EXPECT_EQ(back.config().architecture, "Qwen3ForCausalLM");
  EXPECT_EQ(back.config().rope_layout, RopeLayout::kHalf);
  EXPECT_EQ(back.config().head_size(), 32);
  EXPECT_TRUE(back.config().qk_norm);
  EXPECT_EQ(back.config().norm_eps, 1e-6f);
  expect_same_weights(back, m);
  const std::vector<int32_t> tokens = some_tokens(275, 20);
  const std::vector<float> a = logits_of(m, tokens), b = logits_of(back, tokens);
  EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(float)));
}

TEST(GgufArchitectures, Qwen2LikeWithBiasesRoundTrips) {
  const SmallTokenizer tok;
  ModelConfig c = small_config("Qwen2ForCausalLM");
  c.qkv_bias = true;
  c.rope_scaling = vqr::model::RopeScaling::kLinear;
  c.rope_factor = 2.0f;
  const Model m = random_model(c, 22);
  TempDir dir("qwen2");
  const std::string path = dir.path() + "/q2.gguf";
  vqr::model::save_gguf(m, tok.tok, path, GgufWriteOptions{"F32", {}, {}}, nullptr);
  const GgufFile f = GgufFile::open(path);
  EXPECT_EQ(f.get_string("general.architecture"), "qwen2");
  EXPECT_EQ(f.get_string("qwen2.rope.scaling.type"), "linear");
  EXPECT_EQ(f.get_f32("qwen2.rope.scaling.factor"), 2.0f);
  EXPECT_EQ(f.find_tensor("blk.0.attn_k.bias")->ne, (std::vector<int64_t>{32}));
  EXPECT_EQ(f.find_tensor("blk.0.attn_k.bias")->type, 0u);
  const Model back = vqr::model::load_gguf(path);
  EXPECT_TRUE(back.config().qkv_bias);
  EXPECT_EQ(back.config().rope_scaling, vqr::model::RopeScaling::kLinear);
  EXPECT_EQ(back.config().rope_factor, 2.0f);
  expect_same_weights(back, m);
  const std::vector<int32_t> tokens = some_tokens(275, 20);
  EXPECT_EQ(logits_of(m, tokens), logits_of(back, tokens));
}

TEST(GgufArchitectures, HuggingFaceLlamaIsPermutedToAdjacentPairs) {
  const SmallTokenizer tok;
  Model m = random_model(small_config("LlamaForCausalLM"), 23);
  // wq on a Q4_0 grid too: the permutation must move whole block rows.
  std::mt19937 rng(3);
  Grids gs;
  gs.by_layer[{1, static_cast<int>(LinearKind::kWq)}] = make_grid(m, 1, LinearKind::kWq, GridKind::kSymmetric4, 32, rng);
  TempDir dir("hfllama");
  const std::string path = dir.path() + "/l.gguf";
  vqr::ExportNotes notes;
  vqr::model::save_gguf(m, tok.tok, path, gs.options("F32"), &notes);
  EXPECT_TRUE(contains(notes, "q/k rows permuted from the half RoPE layout to llama's interleaved one"));
  EXPECT_EQ(tensor_types(path).at("blk.1.attn_q.weight"), 2u);
  const Model back = vqr::model::load_gguf(path);
  EXPECT_EQ(back.config().rope_layout, RopeLayout::kInterleaved);
  EXPECT_EQ(back.config().architecture, "LlamaForCausalLM");
  const int64_t hs = m.config().head_size();
  for (int l = 0; l < 2; ++l) {
    for (LinearKind k : vqr::model::kAllLinearKinds) {
      const auto w = m.linear(l, k);
      std::vector<float> want(w.data, w.data + w.rows * w.cols);
      if (k == LinearKind::kWq || k == LinearKind::kWk)
        want = half_to_interleaved(w.data, k == LinearKind::kWq ? m.config().n_heads : m.config().n_kv_heads, hs, w.cols);
      EXPECT_EQ(0, std::memcmp(back.linear(l, k).data, want.data(), want.size() * sizeof(float)))
          << Model::linear_name(l, k);
    }
  }
  for (TensorId id : {TensorId::kTokenEmbedding, TensorId::kRmsAtt, TensorId::kRmsFfn, TensorId::kRmsFinal, TensorId::kClassifier})
    EXPECT_TRUE(same_tensor(back, m, id));
  // Same model, other rotation pairing: logits agree up to the order of the head-dimension sums.
  const std::vector<int32_t> tokens = some_tokens(275, 24);
  const std::vector<float> a = logits_of(m, tokens), b = logits_of(back, tokens);
  double gap = 0, scale = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    gap = std::max(gap, static_cast<double>(std::fabs(a[i] - b[i])));
    scale = std::max(scale, static_cast<double>(std::fabs(a[i])));
  }
  EXPECT_LT(gap / (1 + scale), 1e-5);
  // Without the permutation the logits would be far off (the check can fail).
  Model unpermuted = back.clone();
  const_cast<ModelConfig &>(unpermuted.config()).rope_layout = RopeLayout::kHalf;
  const std::vector<float> c = logits_of(unpermuted, tokens);
  double wrong = 0;
  for (size_t i = 0; i < a.size(); ++i) wrong = std::max(wrong, static_cast<double>(std::fabs(a[i] - c[i])));
  EXPECT_GT(wrong / (1 + scale), 1e-3);
}

TEST(GgufArchitectures, InexpressibleModelsAreRefusedBeforeAnyFileExists) {
  const SmallTokenizer tok;
  TempDir dir("refused");
  const std::string path = dir.path() + "/x.gguf";
  ModelConfig mistral = small_config("MistralForCausalLM");
  mistral.sliding_window = 16;
  expect_error([&] { vqr::model::save_gguf(random_model(mistral, 1), tok.tok, path, {}, nullptr); }, vqr::Status::Unsupported,
               "sliding attention window");
  ModelConfig other = small_config("GPT2LMHeadModel");
  expect_error([&] { vqr::model::save_gguf(Model(other), tok.tok, path, {}, nullptr); }, vqr::Status::Unsupported, "GPT2LMHeadModel");
  ModelConfig big = small_config("");
  big.vocab_size = 300;
  expect_error([&] { vqr::model::save_gguf(Model(big), tok.tok, path, {}, nullptr); }, vqr::Status::InvalidArgument, "275 pieces");
  expect_error([&] { vqr::model::save_gguf(Model(small_config("")), tok.tok, path, GgufWriteOptions{"BF16", {}, {}}, nullptr); },
               vqr::Status::InvalidArgument, "F32 or F16");
  EXPECT_FALSE(fs::exists(path));
  EXPECT_TRUE(vqr_test::temporaries_beside(path).empty());
  // Mistral without a window is plain llama.
  vqr::model::save_gguf(random_model(small_config("MistralForCausalLM"), 2), tok.tok, path, {}, nullptr);
  EXPECT_EQ(GgufFile::open(path).get_string("general.architecture"), "llama");
}

// ------------------------------------------------------------------------------------------------
// Files written by hand with llama.cpp's names, and broken ones
// ------------------------------------------------------------------------------------------------

// A llama file from the names of llama.cpp's converter, every tensor F32 (no permutation: the
// model is taken to be interleaved already). `edit` may change the tensor list before writing.
struct HandTensor {
  std::string name;
  std::vector<int64_t> ne;
  GgmlType type;
  std::vector<float> data;
};

void write_hand_llama(const std::string &path, const Model &m, const std::function<void(std::vector<HandTensor> *)> &edit,
                      const std::function<void(GgufWriter *)> &metadata = {}) {
  const ModelConfig &c = m.config();
  std::vector<HandTensor> t;
  auto add = [&](const std::string &name, std::vector<int64_t> ne, const float *p) {
    int64_t n = 1;
    for (int64_t d : ne) n *= d;
    t.push_back({name, ne, GgmlType::kF32, std::vector<float>(p, p + n)});
  };
  add("token_embd.weight", {c.dim, c.vocab_size}, m.token_embedding());
  const char *names[] = {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_down", "ffn_up"};
  for (int l = 0; l < c.n_layers; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    add(p + "attn_norm.weight", {c.dim}, m.rms_att(l));
    add(p + "ffn_norm.weight", {c.dim}, m.rms_ffn(l));
    for (int k = 0; k < 7; ++k) {
      const auto w = m.linear(l, static_cast<LinearKind>(k));
      add(p + names[k] + ".weight", {w.cols, w.rows}, w.data);
    }
  }
  add("output_norm.weight", {c.dim}, m.rms_final());
  add("output.weight", {c.dim, c.vocab_size}, m.classifier());
  if (edit) edit(&t);
  GgufWriter w;
  if (metadata) {
    metadata(&w);
  } else {
    w.set_string("general.architecture", "llama");
    w.set_u32("llama.context_length", static_cast<uint32_t>(c.seq_len));
    w.set_u32("llama.embedding_length", static_cast<uint32_t>(c.dim));
    w.set_u32("llama.block_count", static_cast<uint32_t>(c.n_layers));
    w.set_u32("llama.feed_forward_length", static_cast<uint32_t>(c.hidden_dim));
    w.set_u32("llama.attention.head_count", static_cast<uint32_t>(c.n_heads));
    w.set_u32("llama.attention.head_count_kv", static_cast<uint32_t>(c.n_kv_heads));
    w.set_f32("llama.attention.layer_norm_rms_epsilon", c.norm_eps);
  }
  for (const HandTensor &h : t) w.add_tensor(h.name, h.ne, h.type, h.data.data(), 4 * static_cast<int64_t>(h.data.size()));  // F32 or I32
  w.write(path);
}

// llama3 RoPE scaling (Llama-3.1/3.2) as llama.cpp reads it: one factor per rotation pair in
// rope_freqs.weight, by which it divides that pair's frequency. Head size 64 with theta 500000 and
// an original context of 64 put pairs in all three bands (factor 1, the ramp, `factor`); the
// tensor's values are checked against the transformers formula written here in double, the
// parameters read back exactly, and the reloaded model's logits equal the original's.
TEST(GgufArchitectures, Llama3RopeRoundTripsThroughRopeFreqs) {
  const SmallTokenizer tok;
  ModelConfig c = small_config("LlamaForCausalLM");
  c.n_heads = 1;
  c.n_kv_heads = 1;  // head size 64: 32 pairs
  c.rope_theta = 500000.0f;
  c.rope_scaling = vqr::model::RopeScaling::kLlama3;
  c.rope_factor = 8.0f;
  c.rope_low_freq_factor = 1.0f;
  c.rope_high_freq_factor = 4.0f;
  c.rope_original_context = 64;
  c.rope_layout = RopeLayout::kInterleaved;  // llama's: no permutation, so the same logits bits
  const Model m = random_model(c, 25);
  TempDir dir("llama3");
  const std::string path = dir.path() + "/l3.gguf";
  vqr::model::save_gguf(m, tok.tok, path, GgufWriteOptions{"F32", {}, {}}, nullptr);
  const GgufFile f = GgufFile::open(path);
  const auto *t = f.find_tensor("rope_freqs.weight");
  ASSERT_NE(t, nullptr);
  ASSERT_EQ(t->ne, (std::vector<int64_t>{32}));
  std::vector<float> factors(32);
  f.read_f32(*t, factors.data());
  int bands[3] = {0, 0, 0};
  for (int j = 0; j < 32; ++j) {
    const double freq = std::pow(500000.0, -2.0 * j / 64), wavelen = 2 * M_PI / freq;
    double want;
    if (wavelen < 64.0 / 4) {
      want = 1, ++bands[0];
    } else if (wavelen > 64.0) {
      want = 8, ++bands[2];
    } else {
      const double smooth = (64.0 / wavelen - 1) / (4 - 1);
      want = 1 / ((1 - smooth) / 8 + smooth), ++bands[1];
    }
    EXPECT_NEAR(factors[(size_t)j], want, 1e-5 * want) << "pair " << j;
  }
  EXPECT_GT(bands[0], 0);
  EXPECT_GT(bands[1], 0);
  EXPECT_GT(bands[2], 0);
  const Model back = vqr::model::load_gguf(path);
  EXPECT_EQ(back.config().rope_scaling, vqr::model::RopeScaling::kLlama3);
  EXPECT_EQ(back.config().rope_factor, 8.0f);
  EXPECT_EQ(back.config().rope_original_context, 64);
  const std::vector<int32_t> tokens = some_tokens(275, 20);
  EXPECT_EQ(logits_of(m, tokens), logits_of(back, tokens));

  // As llama.cpp's converter writes it (the tensor, none of our keys): Llama-3.1's parameters
  // (factor 8, low 1, high 4, original context 8192) are recognized from the factors.
  ModelConfig c31 = c;
  c31.rope_original_context = 8192;
  c31.n_heads = 4;
  c31.n_kv_heads = 2;
  const Model m31 = random_model(c31, 26);
  vqr::model::save_gguf(m31, tok.tok, path, GgufWriteOptions{"F32", {}, {}}, nullptr);
  const std::string stripped = dir.path() + "/l31.gguf";
  {
    const GgufFile full = GgufFile::open(path);
    std::vector<float> rf(8);
    full.read_f32(*full.find_tensor("rope_freqs.weight"), rf.data());
    const Model interleaved = vqr::model::load_gguf(path);
    const ModelConfig &ic = interleaved.config();
    write_hand_llama(
        stripped, interleaved, [&](std::vector<HandTensor> *ts) { ts->push_back({"rope_freqs.weight", {8}, GgmlType::kF32, rf}); },
        [&](GgufWriter *w) {
          w->set_string("general.architecture", "llama");
          w->set_u32("llama.context_length", static_cast<uint32_t>(ic.seq_len));
          w->set_u32("llama.embedding_length", static_cast<uint32_t>(ic.dim));
          w->set_u32("llama.block_count", static_cast<uint32_t>(ic.n_layers));
          w->set_u32("llama.feed_forward_length", static_cast<uint32_t>(ic.hidden_dim));
          w->set_u32("llama.attention.head_count", static_cast<uint32_t>(ic.n_heads));
          w->set_u32("llama.attention.head_count_kv", static_cast<uint32_t>(ic.n_kv_heads));
          w->set_f32("llama.attention.layer_norm_rms_epsilon", ic.norm_eps);
          w->set_f32("llama.rope.freq_base", ic.rope_theta);
        });
  }
  const Model back31 = vqr::model::load_gguf(stripped);
  EXPECT_EQ(back31.config().rope_scaling, vqr::model::RopeScaling::kLlama3);
  EXPECT_EQ(back31.config().rope_factor, 8.0f);
  EXPECT_EQ(back31.config().rope_original_context, 8192);
}

TEST(GgufLoad, HandWrittenFileLoadsAndBrokenOnesFail) {
  const Model m = random_model(small_config(""), 31);
  TempDir dir("hand");
  const std::string path = dir.path() + "/h.gguf";
  write_hand_llama(path, m, {});
  const Model back = vqr::model::load_gguf(path);
  expect_same_weights(back, m);
  EXPECT_EQ(back.config().rope_theta, 10000.0f);  // llama.cpp's default when rope.freq_base is absent
  EXPECT_FALSE(back.config().shared_classifier);

  auto broken = [&](const std::function<void(std::vector<HandTensor> *)> &edit, vqr::Status status, const std::string &needle) {
    SCOPED_TRACE(needle);
    write_hand_llama(path, m, edit);
    expect_error([&] { vqr::model::load_gguf(path); }, status, needle);
  };
  auto find = [](std::vector<HandTensor> *t, const std::string &name) -> HandTensor & {
    for (HandTensor &h : *t)
      if (h.name == name) return h;
    throw std::runtime_error("no tensor " + name);
  };
  auto erase = [](std::vector<HandTensor> *t, const std::string &name) {
    for (auto it = t->begin(); it != t->end(); ++it)
      if (it->name == name) {
        t->erase(it);
        return;
      }
  };
  broken([&](std::vector<HandTensor> *t) { erase(t, "blk.1.ffn_up.weight"); }, vqr::Status::Format, "missing tensor blk.1.ffn_up.weight");
  broken([&](std::vector<HandTensor> *t) { find(t, "blk.1.attn_k.weight").ne = {32, 64}; }, vqr::Status::Format,
         "tensor blk.1.attn_k.weight has ne [32, 64], expected [64, 32]");
  broken([&](std::vector<HandTensor> *t) { t->push_back({"blk.0.attn_q.bias", {64}, GgmlType::kF32, std::vector<float>(64)}); },
         vqr::Status::Format, "unexpected tensor \"blk.0.attn_q.bias\"");
  broken([&](std::vector<HandTensor> *t) { find(t, "blk.0.ffn_norm.weight").type = GgmlType::kI32; }, vqr::Status::Unsupported,
         "tensor \"blk.0.ffn_norm.weight\" has type I32");
  broken([&](std::vector<HandTensor> *t) { find(t, "blk.1.ffn_up.weight").data[17] = NAN; }, vqr::Status::Format,
         "non-finite weight in blk.1.ffn_up.weight at element 17");
  broken([&](std::vector<HandTensor> *t) { t->push_back({"rope_freqs.weight", {4}, GgmlType::kF32, std::vector<float>(4, 1.0f)}); },
         vqr::Status::Format, "tensor rope_freqs.weight has ne [4], expected [8]");
  broken([&](std::vector<HandTensor> *t) { t->push_back({"rope_freqs.weight", {8}, GgmlType::kF32, std::vector<float>(8, 2.0f)}); },
         vqr::Status::Unsupported, "not llama3 scaling");
  broken([&](std::vector<HandTensor> *t) { erase(t, "token_embd.weight"); }, vqr::Status::Format, "missing tensor token_embd.weight");
  // Without output.weight the classifier is the embedding.
  write_hand_llama(path, m, [&](std::vector<HandTensor> *t) { erase(t, "output.weight"); });
  EXPECT_TRUE(vqr::model::load_gguf(path).config().shared_classifier);

  auto bad_metadata = [&](const std::function<void(GgufWriter *)> &md, vqr::Status status, const std::string &needle) {
    SCOPED_TRACE(needle);
    write_hand_llama(path, m, {}, md);
    expect_error([&] { vqr::model::load_gguf(path); }, status, needle);
  };
  bad_metadata([](GgufWriter *) {}, vqr::Status::Format, "missing metadata key \"general.architecture\"");
  bad_metadata([](GgufWriter *w) { w->set_string("general.architecture", "gpt2"); }, vqr::Status::Unsupported, "\"gpt2\"");
  bad_metadata([](GgufWriter *w) { w->set_string("general.architecture", "llama"); }, vqr::Status::Format,
               "missing metadata key \"llama.embedding_length\"");
  bad_metadata(
      [](GgufWriter *w) {
        w->set_string("general.architecture", "llama");
        w->set_f32("llama.embedding_length", 64.0f);
      },
      vqr::Status::Format, "\"llama.embedding_length\" has type f32, expected u32");
  const auto full = [](GgufWriter *w, uint32_t heads_kv, const char *scaling) {
    w->set_string("general.architecture", "llama");
    w->set_u32("llama.context_length", 32);
    w->set_u32("llama.embedding_length", 64);
    w->set_u32("llama.block_count", 2);
    w->set_u32("llama.feed_forward_length", 96);
    w->set_u32("llama.attention.head_count", 4);
    w->set_u32("llama.attention.head_count_kv", heads_kv);
    w->set_f32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
    if (scaling) w->set_string("llama.rope.scaling.type", scaling);
  };
  bad_metadata([&](GgufWriter *w) { full(w, 3, nullptr); }, vqr::Status::Format, "not a multiple of head_count_kv 3");
  bad_metadata([&](GgufWriter *w) { full(w, 4, nullptr); }, vqr::Status::Format, "tensor blk.0.attn_k.weight has ne [64, 32], expected [64, 64]");
  bad_metadata([&](GgufWriter *w) { full(w, 2, "yarn"); }, vqr::Status::Unsupported, "RoPE scaling type \"yarn\"");
  bad_metadata(
      [&](GgufWriter *w) {
        full(w, 2, nullptr);
        w->set_u32("llama.rope.dimension_count", 8);
      },
      vqr::Status::Unsupported, "partial rotary");
  bad_metadata(
      [&](GgufWriter *w) {
        full(w, 2, nullptr);
        w->set_u32("llama.vocab_size", 100);
      },
      vqr::Status::Format, "llama.vocab_size 100 differs");
}

}  // namespace

// Metadata that claims more than the tensor infos hold is refused from the tensor table, before the
// model's fp32 arrays exist: each load runs under a 1 GiB address-space budget, where the claimed
// model (2 GB to 400 GB) cannot be allocated.
TEST(GgufLoad, ClaimedWidthsTheTensorsDoNotHoldAreRefusedBeforeAllocating) {
  const Model m = random_model(small_config(""), 37);
  TempDir dir("hostile");
  const std::string path = dir.path() + "/h.gguf";
  auto claim = [&](uint32_t width, uint32_t ffn, const std::string &needle) {
    SCOPED_TRACE(needle);
    write_hand_llama(path, m, {}, [&](GgufWriter *w) {
      w->set_string("general.architecture", "llama");
      w->set_u32("llama.context_length", 32);
      w->set_u32("llama.embedding_length", width);
      w->set_u32("llama.block_count", 2);
      w->set_u32("llama.feed_forward_length", ffn);
      w->set_u32("llama.attention.head_count", 4);
      w->set_u32("llama.attention.head_count_kv", 2);
      w->set_f32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
    });
    vqr_test::expect_error_within_memory([&] { vqr::model::load_gguf(path); }, vqr::Status::Format, needle);
  };
  claim(8192, 96, "tensor token_embd.weight has ne [64, 275], expected [8192, 275]");
  claim(64, 1u << 28, "tensor blk.0.ffn_gate.weight has ne [64, 96], expected [64, 268435456]");
}
