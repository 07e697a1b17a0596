// Hugging Face checkpoint folders (model/hf_checkpoint.h):
// - a Hugging Face-layout copy of stories260K, written here byte by byte (safetensors by hand, q/k
//   rows permuted into the half-rotation layout as transformers' converter does), gives the same
//   logits as the llama2.c original, in F32 and (with the weights rounded first) BF16 and F16;
// - config.json parsing of every supported architecture and feature;
// - the writer round-trips bit-identically, picks the narrowest exact dtype, shards;
// - malformed folders fail with the documented status and a message naming the problem.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/error.h"
#include "data_dir.h"
#include "model/forward.h"
#include "model/hf_checkpoint.h"
#include "model/llama2c_format.h"
#include "model/model_source.h"
#include "common/memory_limit.h"
#include "common/scratch_files.h"

using vqr::model::Forward;
using vqr::model::LinearKind;
using vqr::model::Model;
using vqr::model::ModelConfig;
using vqr::model::TensorId;

namespace {

using vqr_test::TempDir;
using vqr_test::write_file;

namespace fs = std::filesystem;

// One tensor for the hand-written safetensors file.
struct RawTensor {
  std::string name, dtype;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;
};

// Writes a safetensors file from the format's definition: u64 header length, JSON header with
// dtype / shape / data_offsets, then the data in the listed order.
void write_safetensors_by_hand(const std::string &path, const std::vector<RawTensor> &tensors) {
  std::string header = "{";
  size_t offset = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const RawTensor &t = tensors[i];
    std::string shape;
    for (size_t d = 0; d < t.shape.size(); ++d) shape += (d ? "," : "") + std::to_string(t.shape[d]);
    header += (i ? "," : "") + std::string("\"") + t.name + "\":{\"dtype\":\"" + t.dtype + "\",\"shape\":[" + shape +
              "],\"data_offsets\":[" + std::to_string(offset) + "," + std::to_string(offset + t.bytes.size()) + "]}";
    offset += t.bytes.size();
  }
  header += "}";
  std::ofstream f(path, std::ios::binary);
  const uint64_t n = header.size();
  f.write(reinterpret_cast<const char *>(&n), 8);
  f << header;
  for (const RawTensor &t : tensors) f.write(reinterpret_cast<const char *>(t.bytes.data()), (std::streamsize)t.bytes.size());
}

// fp32 values as the bytes of `dtype` (F32 verbatim, F16/BF16 rounded to nearest even).
std::vector<uint8_t> encode(const float *x, int64_t n, const std::string &dtype) {
  std::vector<uint8_t> out;
  if (dtype == "F32") {
    out.resize((size_t)n * 4);
    std::memcpy(out.data(), x, out.size());
    return out;
  }
  out.resize((size_t)n * 2);
  for (int64_t i = 0; i < n; ++i) {
    const uint16_t h = dtype == "F16" ? vqr::f32_to_f16(x[i]) : vqr::f32_to_bf16(x[i]);
    std::memcpy(&out[(size_t)i * 2], &h, 2);
  }
  return out;
}

// transformers' convert_llama_weights_to_hf.py permute(): per head, rows (2j, 2j+1) of the
// interleaved layout become rows (j, HS/2 + j) of the half layout.
std::vector<float> permute_to_half(const float *w, int64_t heads, int64_t hs, int64_t cols) {
  std::vector<float> out((size_t)(heads * hs * cols));
  for (int64_t h = 0; h < heads; ++h)
    for (int64_t r = 0; r < hs; ++r) {
      const int64_t src = h * hs + r;                                  // interleaved row
      const int64_t dst = h * hs + (r % 2) * (hs / 2) + r / 2;        // its half-layout row
      std::memcpy(&out[(size_t)(dst * cols)], w + src * cols, (size_t)cols * sizeof(float));
    }
  return out;
}

// The tensors of `m` (a llama2.c model) under Hugging Face LlamaForCausalLM names, in `dtype`.
std::vector<RawTensor> hf_tensors(const Model &m, const std::string &dtype) {
  const ModelConfig &c = m.config();
  std::vector<RawTensor> t;
  auto add = [&](const std::string &name, std::vector<int64_t> shape, const float *data) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    t.push_back({name, dtype, shape, encode(data, n, dtype)});
  };
  add("model.embed_tokens.weight", {c.vocab_size, c.dim}, m.token_embedding());
  const char *proj[] = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                        "mlp.gate_proj",    "mlp.down_proj",    "mlp.up_proj"};
  for (int l = 0; l < c.n_layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    add(p + "input_layernorm.weight", {c.dim}, m.rms_att(l));
    add(p + "post_attention_layernorm.weight", {c.dim}, m.rms_ffn(l));
    for (int k = 0; k < 7; ++k) {
      const auto w = m.linear(l, static_cast<LinearKind>(k));
      if (k == 0 || k == 1) {
        const int64_t heads = k == 0 ? c.n_heads : c.n_kv_heads;
        const std::vector<float> perm = permute_to_half(w.data, heads, c.head_size(), w.cols);
        add(p + proj[k] + ".weight", {w.rows, w.cols}, perm.data());
      } else {
        add(p + proj[k] + ".weight", {w.rows, w.cols}, w.data);
      }
    }
  }
  add("model.norm.weight", {c.dim}, m.rms_final());
  if (!c.shared_classifier) add("lm_head.weight", {c.vocab_size, c.dim}, m.classifier());
  return t;
}

// Writes `m` (a llama2.c model) as a Hugging Face LlamaForCausalLM folder in `dtype`.
void write_hf_copy(const Model &m, const std::string &dir, const std::string &dtype, bool sharded = false) {
  const ModelConfig &c = m.config();
  const std::vector<RawTensor> t = hf_tensors(m, dtype);
  const std::string torch_dtype = dtype == "F32" ? "float32" : dtype == "F16" ? "float16" : "bfloat16";
  write_file(dir + "/config.json",
             "{\"architectures\": [\"LlamaForCausalLM\"], \"model_type\": \"llama\", \"hidden_size\": " +
                 std::to_string(c.dim) + ", \"intermediate_size\": " + std::to_string(c.hidden_dim) +
                 ", \"num_hidden_layers\": " + std::to_string(c.n_layers) + ", \"num_attention_heads\": " +
                 std::to_string(c.n_heads) + ", \"num_key_value_heads\": " + std::to_string(c.n_kv_heads) +
                 ", \"vocab_size\": " + std::to_string(c.vocab_size) + ", \"max_position_embeddings\": " +
                 std::to_string(c.seq_len) + ", \"rms_norm_eps\": 1e-05, \"rope_theta\": 10000.0, "
                 "\"tie_word_embeddings\": " + (c.shared_classifier ? "true" : "false") +
                 ", \"hidden_act\": \"silu\", \"torch_dtype\": \"" + torch_dtype + "\"}\n");
  if (!sharded) {
    write_safetensors_by_hand(dir + "/model.safetensors", t);
    return;
  }
  // Two shards split in the middle, and the index naming each tensor's file.
  const size_t half = t.size() / 2;
  write_safetensors_by_hand(dir + "/model-00001-of-00002.safetensors", {t.begin(), t.begin() + (long)half});
  write_safetensors_by_hand(dir + "/model-00002-of-00002.safetensors", {t.begin() + (long)half, t.end()});
  std::string map;
  for (size_t i = 0; i < t.size(); ++i)
    map += (i ? ", " : "") + std::string("\"") + t[i].name + "\": \"model-0000" + (i < half ? "1" : "2") +
           "-of-00002.safetensors\"";
  write_file(dir + "/model.safetensors.index.json", "{\"metadata\": {\"total_size\": 0}, \"weight_map\": {" + map + "}}");
}

std::vector<float> logits_of(const Model &m, const std::vector<int32_t> &tokens) {
  Forward f(m, (int64_t)tokens.size(), 1);
  std::vector<float> out(tokens.size() * (size_t)m.config().vocab_size);
  f.run(tokens.data(), (int64_t)tokens.size(), out.data());
  return out;
}

// max |a - b| / (1 + max |b|)
double relative_gap(const std::vector<float> &a, const std::vector<float> &b) {
  double gap = 0, scale = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    gap = std::max(gap, (double)std::fabs(a[i] - b[i]));
    scale = std::max(scale, (double)std::fabs(b[i]));
  }
  return gap / (1 + scale);
}

// Rounds every weight of `m` through dtype, so the reference model holds what the file holds.
void round_weights(Model &m, const std::string &dtype) {
  for (int i = 0; i < vqr::model::kTensorCount; ++i) {
    float *p = m.tensor(static_cast<TensorId>(i));
    for (int64_t k = 0; k < m.tensor_floats(static_cast<TensorId>(i)); ++k)
      p[k] = dtype == "F16" ? vqr::f16_to_f32(vqr::f32_to_f16(p[k])) : vqr::bf16_to_f32(vqr::f32_to_bf16(p[k]));
  }
}

std::vector<int32_t> some_tokens(int vocab, int n) {
  std::vector<int32_t> t{1};
  for (int i = 1; i < n; ++i) t.push_back((int32_t)((i * 37 + 11) % vocab));
  return t;
}

// The status and message of what `f` throws (VQR_OK when it does not throw).
std::pair<vqr::Status, std::string> error_of(const std::function<void()> &f) {
  try {
    f();
  } catch (const vqr::Error &e) {
    return {e.status(), e.what()};
  }
  return {vqr::Status::Ok, ""};
}

// A minimal valid config, modified by `extra` (a JSON fragment of fields to add or override).
std::string config_text(const std::string &arch, const std::string &extra = "") {
  return "{\"architectures\": [\"" + arch +
         "\"], \"hidden_size\": 32, \"intermediate_size\": 48, \"num_hidden_layers\": 2, "
         "\"num_attention_heads\": 4, \"num_key_value_heads\": 2, \"vocab_size\": 40, "
         "\"max_position_embeddings\": 64" + (extra.empty() ? "" : ", " + extra) + "}";
}

class Stories : public ::testing::Test {
 protected:
  void SetUp() override {
    data_ = vqr_test::data_dir();
    if (data_.empty()) {
      if (vqr_test::data_required()) FAIL() << "shared data folder not found";
      GTEST_SKIP() << "shared data folder not found";
    }
  }
  Model original() const { return vqr::model::load_llama2c(data_ + "/models/stories260K/stories260K.bin"); }
  std::string data_;
};

}  // namespace

TEST_F(Stories, HuggingFaceCopyGivesTheSameLogits) {
  const Model ref = original();
  ASSERT_LT(ref.config().n_kv_heads, ref.config().n_heads) << "the permutation should be exercised with GQA";
  TempDir dir("f32");
  write_hf_copy(ref, dir.path(), "F32");
  const Model hf = vqr::model::load_hf_checkpoint(dir.path());
  EXPECT_EQ(hf.config().architecture, "LlamaForCausalLM");
  EXPECT_EQ(hf.config().rope_layout, vqr::model::RopeLayout::kHalf);
  EXPECT_EQ(hf.config().n_kv_heads, ref.config().n_kv_heads);
  // Everything except q/k is stored unpermuted: identical bits.
  for (LinearKind k : {LinearKind::kWv, LinearKind::kWo, LinearKind::kW1, LinearKind::kW2, LinearKind::kW3})
    EXPECT_EQ(0, std::memcmp(hf.linear(1, k).data, ref.linear(1, k).data,
                             (size_t)(ref.linear_rows(k) * ref.linear_cols(k)) * 4));
  const std::vector<int32_t> tokens = some_tokens(ref.config().vocab_size, 64);
  const std::vector<float> a = logits_of(ref, tokens), b = logits_of(hf, tokens);
  // Same math; only the order of the head-dimension sums in attention differs.
  EXPECT_LT(relative_gap(b, a), 1e-5);
  // And a wrong permutation would be caught: the unpermuted weights under the half layout differ.
  Model wrong = ref.clone();
  const_cast<ModelConfig &>(wrong.config()).rope_layout = vqr::model::RopeLayout::kHalf;
  EXPECT_GT(relative_gap(logits_of(wrong, tokens), a), 1e-3);
}

TEST_F(Stories, HalfPrecisionAndShardedCopies) {
  for (const std::string dtype : {"BF16", "F16"}) {
    Model ref = original();
    TempDir dir("half");
    write_hf_copy(ref, dir.path(), dtype, /*sharded=*/dtype == "F16");
    const Model hf = vqr::model::load_model(vqr::model::resolve_model_source(dir.path(), data_ + "/models/stories260K/tok512.bin"));
    round_weights(ref, dtype);
    const std::vector<int32_t> tokens = some_tokens(ref.config().vocab_size, 32);
    EXPECT_LT(relative_gap(logits_of(hf, tokens), logits_of(ref, tokens)), 1e-5) << dtype;
    // The widened values are exact: the embedding (unpermuted) matches bit for bit.
    EXPECT_EQ(0, std::memcmp(hf.token_embedding(), ref.token_embedding(), (size_t)ref.tensor_floats(TensorId::kTokenEmbedding) * 4));
  }
}

TEST_F(Stories, WriterRoundTripsAndPicksExactDtypes) {
  const Model ref = original();
  TempDir a("save_a"), b("save_b");
  // llama2.c model -> Hugging Face folder (q/k permuted by the writer, config generated).
  vqr::model::save_hf_checkpoint(ref, a.path(), "", "F32");
  const Model hf = vqr::model::load_hf_checkpoint(a.path());
  const std::vector<int32_t> tokens = some_tokens(ref.config().vocab_size, 48);
  EXPECT_LT(relative_gap(logits_of(hf, tokens), logits_of(ref, tokens)), 1e-5);
  // The writer's permutation equals the one written from the converter's definition above.
  const auto q = hf.linear(0, LinearKind::kWq);
  const std::vector<float> expect = permute_to_half(ref.linear(0, LinearKind::kWq).data, ref.config().n_heads,
                                                    ref.config().head_size(), q.cols);
  EXPECT_EQ(0, std::memcmp(q.data, expect.data(), expect.size() * 4));

  // Hugging Face model -> folder again in BF16: tensors that are exact in BF16 are stored as BF16
  // and the reload is bit-identical either way.
  Model rounded = hf.clone();
  for (int64_t k = 0; k < rounded.tensor_floats(TensorId::kTokenEmbedding); ++k) {
    float *e = rounded.tensor(TensorId::kTokenEmbedding) + k;
    *e = vqr::bf16_to_f32(vqr::f32_to_bf16(*e));
  }
  vqr::model::save_hf_checkpoint(rounded, b.path(), "", "BF16", 40000);
  const Model back = vqr::model::load_hf_checkpoint(b.path());
  for (int i = 0; i < vqr::model::kTensorCount; ++i) {
    const TensorId id = static_cast<TensorId>(i);
    ASSERT_EQ(back.tensor_floats(id), rounded.tensor_floats(id));
    EXPECT_EQ(0, std::memcmp(back.tensor(id), rounded.tensor(id), (size_t)rounded.tensor_floats(id) * 4)) << i;
  }
  EXPECT_TRUE(fs::exists(b.path() + "/model.safetensors.index.json")) << "a 40 kB limit must shard";
  // The embedding went in as BF16 (2 bytes per value), the unrounded q/k as F32: the shards hold
  // less than the all-F32 size.
  uintmax_t bytes = 0;
  for (const auto &e : fs::directory_iterator(b.path()))
    if (e.path().extension() == ".safetensors") bytes += e.file_size();
  EXPECT_LT(bytes, (uintmax_t)rounded.total_floats() * 4);
}

TEST(HfConfig, ParsesEveryArchitectureAndFeature) {
  using vqr::model::parse_hf_config;
  const ModelConfig llama = parse_hf_config(config_text("LlamaForCausalLM"), "c.json");
  EXPECT_EQ(llama.dim, 32);
  EXPECT_EQ(llama.head_size(), 8);
  EXPECT_EQ(llama.kv_dim(), 16);
  EXPECT_FALSE(llama.shared_classifier);  // transformers' default for these classes
  EXPECT_FALSE(llama.qkv_bias || llama.qk_norm);
  EXPECT_FLOAT_EQ(llama.norm_eps, 1e-6f);
  EXPECT_FLOAT_EQ(llama.rope_theta, 10000.0f);
  EXPECT_EQ(llama.rope_layout, vqr::model::RopeLayout::kHalf);

  const ModelConfig qwen2 = parse_hf_config(config_text("Qwen2ForCausalLM", "\"rope_theta\": 1000000.0, \"tie_word_embeddings\": true, \"use_sliding_window\": false"), "c.json");
  EXPECT_TRUE(qwen2.qkv_bias);
  EXPECT_TRUE(qwen2.shared_classifier);
  EXPECT_FLOAT_EQ(qwen2.rope_theta, 1e6f);

  const ModelConfig qwen3 = parse_hf_config(config_text("Qwen3ForCausalLM", "\"head_dim\": 16"), "c.json");
  EXPECT_TRUE(qwen3.qk_norm);
  EXPECT_FALSE(qwen3.qkv_bias);
  EXPECT_EQ(qwen3.q_dim(), 64);
  EXPECT_EQ(qwen3.input_width(vqr::model::LinearInput::kAttnOut), 64);

  const ModelConfig mistral = parse_hf_config(config_text("MistralForCausalLM", "\"sliding_window\": 4096"), "c.json");
  EXPECT_EQ(mistral.sliding_window, 4096);
  EXPECT_EQ(parse_hf_config(config_text("MistralForCausalLM", "\"sliding_window\": null"), "c.json").sliding_window, 0);

  const ModelConfig l3 = parse_hf_config(
      config_text("LlamaForCausalLM", "\"rope_theta\": 500000.0, \"rope_scaling\": {\"rope_type\": \"llama3\", "
                                      "\"factor\": 8.0, \"low_freq_factor\": 1.0, \"high_freq_factor\": 4.0, "
                                      "\"original_max_position_embeddings\": 8192}"),
      "c.json");
  EXPECT_EQ(l3.rope_scaling, vqr::model::RopeScaling::kLlama3);
  EXPECT_FLOAT_EQ(l3.rope_factor, 8.0f);
  EXPECT_EQ(l3.rope_original_context, 8192);
  const ModelConfig lin = parse_hf_config(config_text("LlamaForCausalLM", "\"rope_scaling\": {\"type\": \"linear\", \"factor\": 2.0}"), "c.json");
  EXPECT_EQ(lin.rope_scaling, vqr::model::RopeScaling::kLinear);
  EXPECT_FLOAT_EQ(lin.rope_factor, 2.0f);
  // No "architectures": the model_type decides.
  EXPECT_EQ(parse_hf_config("{\"model_type\": \"qwen2\", \"hidden_size\": 32, \"intermediate_size\": 48, \"num_hidden_layers\": 1, \"num_attention_heads\": 4, \"vocab_size\": 40}", "c.json").architecture,
            "Qwen2ForCausalLM");
}

TEST(HfConfig, BadConfigsFailClearly) {
  using vqr::model::parse_hf_config;
  struct Case {
    std::string text;
    vqr::Status status;
    std::string needle;
  } cases[] = {
      {"{\"hidden_size\": ", vqr::Status::Format, "not valid JSON"},
      {"[1, 2]", vqr::Status::Format, "not a JSON object"},
      {config_text("GPT2LMHeadModel"), vqr::Status::Unsupported, "GPT2LMHeadModel"},
      {config_text("LlamaForCausalLM", "\"hidden_act\": \"gelu\""), vqr::Status::Unsupported, "gelu"},
      {config_text("LlamaForCausalLM", "\"attention_bias\": true"), vqr::Status::Unsupported, "attention_bias"},
      {config_text("LlamaForCausalLM", "\"rope_scaling\": {\"rope_type\": \"yarn\", \"factor\": 4.0}"), vqr::Status::Unsupported, "yarn"},
      {config_text("LlamaForCausalLM", "\"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8.0}"), vqr::Status::Format, "low_freq_factor"},
      {config_text("Qwen2ForCausalLM", "\"use_sliding_window\": true"), vqr::Status::Unsupported, "use_sliding_window"},
      {"{\"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": 32}", vqr::Status::Format, "intermediate_size"},
      {config_text("LlamaForCausalLM", "\"num_key_value_heads\": 3"), vqr::Status::Format, "num_key_value_heads"},
      {config_text("LlamaForCausalLM", "\"vocab_size\": -5"), vqr::Status::Format, "vocab_size"},
      {config_text("LlamaForCausalLM", "\"hidden_size\": \"32\""), vqr::Status::Format, "not an integer"},
      {config_text("LlamaForCausalLM", "\"rms_norm_eps\": \"small\""), vqr::Status::Format, "rms_norm_eps"},
  };
  for (const Case &c : cases) {
    const auto [status, message] = error_of([&] { parse_hf_config(c.text, "cfg.json"); });
    EXPECT_EQ(status, c.status) << c.text;
    EXPECT_NE(message.find(c.needle), std::string::npos) << message;
    EXPECT_EQ(message.rfind("cfg.json: ", 0), 0u) << message;
  }
}

TEST_F(Stories, MalformedFoldersFailClearly) {
  const Model ref = original();
  TempDir dir("bad");
  auto fresh = [&] {
    fs::remove_all(dir.path());
    fs::create_directories(dir.path());
    write_hf_copy(ref, dir.path(), "F32");
  };
  auto load = [&] { return error_of([&] { vqr::model::load_hf_checkpoint(dir.path()); }); };
  // The folder with one edit applied to its tensor list.
  auto rewrite = [&](const std::function<void(std::vector<RawTensor> &)> &edit) {
    fresh();
    std::vector<RawTensor> t = hf_tensors(ref, "F32");
    edit(t);
    write_safetensors_by_hand(dir.path() + "/model.safetensors", t);
  };

  fresh();
  EXPECT_EQ(load().first, vqr::Status::Ok);

  rewrite([](std::vector<RawTensor> &t) { t.erase(t.begin() + 3); });
  auto [status, message] = load();
  EXPECT_EQ(status, vqr::Status::Format);
  EXPECT_NE(message.find("missing tensor"), std::string::npos) << message;

  rewrite([](std::vector<RawTensor> &t) {
    for (RawTensor &x : t)
      if (x.name == "model.norm.weight") {
        x.shape = {x.shape[0] / 2, 2};
      }
  });
  std::tie(status, message) = load();
  EXPECT_EQ(status, vqr::Status::Format);
  EXPECT_NE(message.find("model.norm.weight"), std::string::npos) << message;

  rewrite([](std::vector<RawTensor> &t) { t.push_back({"model.layers.0.self_attn.q_proj.qweight", "F32", {1}, {0, 0, 0, 0}}); });
  std::tie(status, message) = load();
  EXPECT_EQ(status, vqr::Status::Format);
  EXPECT_NE(message.find("unexpected tensor"), std::string::npos) << message;

  rewrite([](std::vector<RawTensor> &t) {
    const float nan = std::nanf("");
    std::memcpy(t.back().bytes.data(), &nan, 4);
  });
  std::tie(status, message) = load();
  EXPECT_EQ(status, vqr::Status::Format);
  EXPECT_NE(message.find("non-finite"), std::string::npos) << message;

  // Truncated weights file: every cut fails cleanly.
  fresh();
  const std::string st = dir.path() + "/model.safetensors";
  const auto full = fs::file_size(st);
  for (uintmax_t cut : {uintmax_t{0}, uintmax_t{5}, uintmax_t{100}, full / 2, full - 1}) {
    fresh();
    fs::resize_file(st, cut);
    EXPECT_EQ(load().first, vqr::Status::Format) << "cut at " << cut;
  }

  // Config problems surface through the loader too; a missing weights file is an I/O error.
  fresh();
  write_file(dir.path() + "/config.json", config_text("FalconForCausalLM"));
  EXPECT_EQ(load().first, vqr::Status::Unsupported);
  fresh();
  write_file(dir.path() + "/config.json", "{not json");
  EXPECT_EQ(load().first, vqr::Status::Format);
  fresh();
  fs::remove(st);
  EXPECT_NE(load().first, vqr::Status::Ok);
  // A config that disagrees with the weights (another head count) names the tensor.
  fresh();
  write_file(dir.path() + "/config.json", config_text("LlamaForCausalLM"));
  std::tie(status, message) = load();
  EXPECT_EQ(status, vqr::Status::Format);
  EXPECT_NE(message.find("shape"), std::string::npos) << message;
}

TEST_F(Stories, ResolvesFoldersAndTokenizers) {
  const Model ref = original();
  TempDir dir("resolve");
  write_hf_copy(ref, dir.path(), "F32");
  vqr::model::ModelSource s = vqr::model::resolve_model_source(dir.path(), "");
  EXPECT_EQ(s.format, vqr::model::ModelFormat::kHuggingFace);
  EXPECT_TRUE(s.tokenizer_file.empty()) << "no tokenizer in the folder: none resolved, no error";
  fs::copy_file(data_ + "/models/stories260K/tok512.bin", dir.path() + "/tokenizer.bin");
  s = vqr::model::resolve_model_source(dir.path(), "");
  EXPECT_EQ(s.tokenizer_file, dir.path() + "/tokenizer.bin");
  // tokenizer.model wins over tokenizer.bin in a folder.
  write_file(dir.path() + "/tokenizer.model", "x");
  EXPECT_EQ(vqr::model::resolve_model_source(dir.path(), "").tokenizer_file, dir.path() + "/tokenizer.model");
  // A folder with neither model.bin nor config.json.
  fs::remove(dir.path() + "/config.json");
  EXPECT_EQ(error_of([&] { vqr::model::resolve_model_source(dir.path(), ""); }).first, vqr::Status::Io);
}

// A config.json that claims more than the safetensors hold is refused from the file's index, before
// the model's fp32 arrays exist: each load runs under a 1 GiB address-space budget, where the
// claimed model (2 GB to terabytes; 2^32-wide queries overflow int) cannot be allocated.
TEST(HfHostile, ClaimedShapesTheFileDoesNotHoldAreRefusedBeforeAllocating) {
  const Model small(vqr::model::parse_hf_config(config_text("LlamaForCausalLM"), "c.json"));  // zero weights, 19 KB as F32
  TempDir dir("hostile");
  write_hf_copy(small, dir.path(), "F32");
  const std::string honest = vqr_test::read_file(dir.path() + "/config.json");
  auto claim = [&](const std::string &field, const std::string &value, const std::string &needle) {
    SCOPED_TRACE(field + " " + value);
    const std::string from = "\"" + field + "\": ";
    std::string text = honest;
    const size_t at = text.find(from) + from.size();
    text.replace(at, text.find(',', at) - at, value);
    write_file(dir.path() + "/config.json", text);
    vqr_test::expect_error_within_memory([&] { vqr::model::load_hf_checkpoint(dir.path()); }, vqr::Status::Format, needle);
  };
  claim("vocab_size", "1000000000", "config.json claims vocab_size 1000000000 but model.embed_tokens.weight has shape [40, 32]");
  claim("hidden_size", "1000000", "config.json claims hidden_size 1000000 but model.embed_tokens.weight has shape [40, 32]");
  claim("intermediate_size", "10000000", "config.json claims intermediate_size 10000000 but model.layers.0.mlp.gate_proj.weight has shape [48, 32]");
  claim("num_hidden_layers", "65536", "missing tensor model.layers.2.input_layernorm.weight");
  // 65536 heads of 65536: a query width of 2^32 overflows the int sizes of the config.
  claim("num_attention_heads", "65536, \"head_dim\": 65536", "num_attention_heads * head_dim");
}
