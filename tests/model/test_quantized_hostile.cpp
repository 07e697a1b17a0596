// Hostile quantized checkpoint folders (model/hf_checkpoint.h, io/quantized_tensors.h; issue 16
// item 7): a small GPTQ and a compressed-tensors pack-quantized folder, written by the library's own
// exporters from a quantized synthetic model, then edited so that config.json claims sizes far
// larger than the packed tensors hold, or so that one packed tensor disagrees with the config. Each
// load must fail with the loader's status for that defect and a message naming it, while the
// loading process may grow by no more than 1 GiB (common/memory_limit.h): the claims are refused
// from the files' index before the model's fp32 arrays are allocated.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "io/safetensors.h"
#include "model/hf_checkpoint.h"
#include "model/model_source.h"
#include "pipeline/checkpoint_export.h"
#include "pipeline/sequential_quantizer.h"
#include "common/memory_limit.h"
#include "common/scratch_files.h"

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using vqr::Status;
using vqr::model::Model;
using vqr_test::TempDir;

// One tensor of a checkpoint, owned, for editing.
struct Owned {
  vqr::io::StDtype dtype;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;
};
using Tensors = std::map<std::string, Owned>;

Tensors read_tensors(const std::string &path) {
  const vqr::io::SafetensorsFile f = vqr::io::SafetensorsFile::open(path);
  Tensors out;
  for (const vqr::io::StTensor &t : f.tensors()) {
    const uint8_t *p = f.data(t);
    out[t.name] = Owned{t.dtype, t.shape, std::vector<uint8_t>(p, p + (t.end - t.begin))};
  }
  return out;
}

void write_tensors(const std::string &path, const Tensors &tensors) {
  std::vector<vqr::io::StTensorData> out;
  for (const auto &[name, t] : tensors) out.push_back({name, t.dtype, t.shape, t.bytes.data(), (int64_t)t.bytes.size()});
  vqr::io::write_safetensors(path, out);
}

// A Llama of hidden 32, FFN 48, 2 layers, 4 heads (2 KV), vocab 40 with random weights, quantized
// by RTN (4 bits, groups of 16) and exported as a GPTQ folder `gptq` and a compressed-tensors
// folder `ct` under `dir`.
class QuantizedHostile : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string config =
        "{\"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": 32, \"intermediate_size\": 48, "
        "\"num_hidden_layers\": 2, \"num_attention_heads\": 4, \"num_key_value_heads\": 2, \"vocab_size\": 40, "
        "\"max_position_embeddings\": 64}";
    Model m(vqr::model::parse_hf_config(config, "config.json"));
    std::mt19937 rng(7);
    std::normal_distribution<float> normal(0.0f, 0.1f);
    for (int id = 0; id < vqr::model::kTensorCount; ++id) {
      float *p = m.tensor((vqr::model::TensorId)id);
      for (int64_t i = 0; i < m.tensor_floats((vqr::model::TensorId)id); ++i) p[i] = normal(rng);
    }
    const std::string source_dir = dir_.file("source");
    fs::create_directories(source_dir);
    vqr::model::save_hf_checkpoint(m, source_dir, config, "F32");
    const vqr::model::ModelSource source = vqr::model::resolve_model_source(source_dir, "");
    vqr::pipeline::PipelineOptions o;
    o.config.method = vqr::quant::Method::Rtn;
    o.config.bits = 4;
    o.config.group_size = 16;
    o.config.sym = true;
    o.threads = 1;
    const std::vector<std::vector<int32_t>> calib = {{1, 5, 9, 13, 17, 21, 25, 29}, {2, 4, 8, 16, 32, 3, 6, 12}};
    const vqr::pipeline::QuantizedModel r = vqr::pipeline::quantize_sequential(m, calib, o, nullptr);
    vqr::pipeline::write_gptq_checkpoint(m, source, o, r, vqr::pipeline::ExportOptions{}, gptq(), nullptr);
    vqr::pipeline::write_compressed_tensors_checkpoint(m, source, o, r, vqr::pipeline::ExportOptions{}, ct(), nullptr);
  }

  std::string gptq() const { return dir_.file("gptq"); }
  std::string ct() const { return dir_.file("ct"); }

  // A copy of folder `from` with its config.json and / or its tensors edited, loaded under the
  // memory limit: it must fail with `status` and a message containing `needle`.
  void expect_refused(const std::string &from, const std::function<void(json &)> &edit_config,
                      const std::function<void(Tensors &)> &edit_tensors, Status status, const std::string &needle) {
    const std::string bad = dir_.file("bad");
    fs::remove_all(bad);
    fs::copy(from, bad);
    if (edit_config) {
      json c = json::parse(vqr_test::read_file(bad + "/config.json"));
      edit_config(c);
      vqr_test::write_file(bad + "/config.json", c.dump(2));
    }
    if (edit_tensors) {
      Tensors t = read_tensors(bad + "/model.safetensors");
      edit_tensors(t);
      write_tensors(bad + "/model.safetensors", t);
    }
    vqr_test::expect_error_within_memory([&] { vqr::model::load_hf_checkpoint(bad); }, status, needle);
  }

  TempDir dir_{"quantized_hostile"};
};

const std::string kQ = "model.layers.0.self_attn.q_proj";
const std::string kGate = "model.layers.0.mlp.gate_proj";

// Sets config.json fields (the sizes a hostile config claims).
std::function<void(json &)> claim(const json &fields) {
  return [fields](json &c) {
    for (const auto &item : fields.items()) c[item.key()] = item.value();
  };
}

// Sets tensor `name`'s shape to `shape` with as many bytes as that shape holds (zeros), so the file
// itself is consistent and only the shape disagrees with the config.
std::function<void(Tensors &)> reshape(const std::string &name, const std::vector<int64_t> &shape) {
  return [name, shape](Tensors &t) {
    Owned &x = t.at(name);
    int64_t n = vqr::io::st_dtype_size(x.dtype);
    for (int64_t d : shape) n *= d;
    x.shape = shape;
    x.bytes.assign((size_t)n, 0);
  };
}

}  // namespace

TEST_F(QuantizedHostile, HonestFoldersLoad) {
  EXPECT_EQ(vqr::model::load_hf_checkpoint(gptq()).config().dim, 32);
  EXPECT_EQ(vqr::model::load_hf_checkpoint(ct()).config().dim, 32);
}

// config.json claims sizes the packed tensors do not hold: refused from the index, before the
// model's arrays (gigabytes for these claims) exist.
TEST_F(QuantizedHostile, ConfigClaimsBeyondThePackedTensorsAreRefusedBeforeAllocating) {
  for (const std::string &folder : {gptq(), ct()}) {
    SCOPED_TRACE(folder);
    // GPTQ's qweight holds the in x out codes; compressed-tensors' weight_shape says out x in first.
    const std::string gate = folder == gptq() ? "tensor " + kGate + ".qweight has shape [4, 48], expected [4, 10000000]"
                                              : kGate + ".weight_shape: says [48, 32], the model needs [10000000, 32]";
    expect_refused(folder, claim({{"vocab_size", 1000000000}}), nullptr, Status::Format,
                   "config.json claims vocab_size 1000000000 but model.embed_tokens.weight has shape [40, 32]");
    expect_refused(folder, claim({{"hidden_size", 1000000}}), nullptr, Status::Format,
                   "config.json claims hidden_size 1000000 but model.embed_tokens.weight has shape [40, 32]");
    expect_refused(folder, claim({{"intermediate_size", 10000000}}), nullptr, Status::Format, gate);
    expect_refused(folder, claim({{"num_hidden_layers", 65536}}), nullptr, Status::Format, "missing tensor model.layers.2.");
    // Everything at once (a 10^6-wide model of 65536 layers): the first claim checked fails.
    expect_refused(folder,
                   claim({{"vocab_size", 1000000000}, {"hidden_size", 1000000}, {"intermediate_size", 1000000},
                          {"num_hidden_layers", 65536}}),
                   nullptr, Status::Format, "config.json claims vocab_size 1000000000 and hidden_size 1000000");
  }
}

// The packed tensors of a GPTQ layer disagree with the config: qweight rows against bits x
// in_features, qzeros / scales rows against the groups, g_idx against in_features.
TEST_F(QuantizedHostile, GptqTensorsInconsistentWithTheConfigAreRefused) {
  // bits 8 in the config: q_proj's 32 inputs need 8 qweight rows, the file has 4.
  expect_refused(gptq(), [](json &c) { c["quantization_config"]["bits"] = 8; }, nullptr, Status::Format,
                 kQ + ".qweight has shape [4, 32], expected [8, 32]");
  // qweight rows for 10^6 inputs.
  expect_refused(gptq(), nullptr, reshape(kQ + ".qweight", {125000, 32}), Status::Format,
                 kQ + ".qweight has shape [125000, 32], expected [4, 32]");
  // g_idx one entry too long, and far too long.
  expect_refused(gptq(), nullptr, reshape(kQ + ".g_idx", {33}), Status::Format, kQ + ".g_idx has shape [33], expected [32]");
  expect_refused(gptq(), nullptr, reshape(kQ + ".g_idx", {1000000}), Status::Format,
                 kQ + ".g_idx has shape [1000000], expected [32]");
  // Groups of 1 in the config: 32 rows of zeros and scales expected, the file has 2.
  expect_refused(gptq(), [](json &c) { c["quantization_config"]["group_size"] = 1; }, nullptr, Status::Format,
                 kQ + ".qzeros has shape [2, 4], expected [32, 4]");
  // scales claiming 10^6 groups.
  expect_refused(gptq(), nullptr, reshape(kQ + ".scales", {1000000, 32}), Status::Format,
                 kQ + ".scales has shape [1000000, 32], expected [2, 32]");
  // Every layer's tensors are checked from the index before anything is read: the last layer's
  // g_idx is reported, not the damaged (NaN) first norm that reading would meet first.
  expect_refused(gptq(), nullptr,
                 [](Tensors &t) {
                   Owned &norm = t.at("model.layers.0.input_layernorm.weight");
                   std::fill(norm.bytes.begin(), norm.bytes.end(), 0xFF);  // NaN in F32, F16 and BF16
                   reshape("model.layers.1.self_attn.q_proj.g_idx", {33})(t);
                 },
                 Status::Format, "model.layers.1.self_attn.q_proj.g_idx has shape [33], expected [32]");
}

// The same for a compressed-tensors pack-quantized layer: weight_shape's values, weight_packed,
// weight_scale; and a width pack-quantized does not define.
TEST_F(QuantizedHostile, CompressedTensorsInconsistentWithTheConfigAreRefused) {
  auto weight_shape = [](int64_t rows, int64_t cols) {
    return [rows, cols](Tensors &t) {
      Owned &x = t.at(kQ + ".weight_shape");
      ASSERT_EQ(x.dtype, vqr::io::StDtype::kI64);
      std::memcpy(x.bytes.data(), &rows, 8);
      std::memcpy(x.bytes.data() + 8, &cols, 8);
    };
  };
  expect_refused(ct(), nullptr, weight_shape(1000000000, 64), Status::Format,
                 kQ + ".weight_shape: says [1000000000, 64], the model needs [32, 32]");
  // weight_shape agreeing with a config that claims more than weight_packed holds.
  expect_refused(ct(), claim({{"hidden_size", 1000000}}), weight_shape(1000000, 1000000), Status::Format,
                 "config.json claims hidden_size 1000000");
  expect_refused(ct(), nullptr, reshape(kQ + ".weight_packed", {1000000, 4}), Status::Format,
                 kQ + ".weight_packed has shape [1000000, 4], expected [32, 4]");
  expect_refused(ct(), nullptr, reshape(kQ + ".weight_scale", {32, 1000000}), Status::Format,
                 kQ + ".weight_scale has shape [32, 1000000], expected [32, 2]");
  // 8 bits in the config: 8 packed words per row expected, the file has 4.
  expect_refused(ct(), [](json &c) { c["quantization_config"]["config_groups"]["group_0"]["weights"]["num_bits"] = 8; },
                 nullptr, Status::Format, kQ + ".weight_packed has shape [32, 4], expected [32, 8]");
  // 3 bits: pack-quantized defines 4 and 8 only.
  expect_refused(ct(), [](json &c) { c["quantization_config"]["config_groups"]["group_0"]["weights"]["num_bits"] = 3; },
                 nullptr, Status::Unsupported, "num_bits 3 with pack-quantized");
}
