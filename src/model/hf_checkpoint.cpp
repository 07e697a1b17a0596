// Hugging Face checkpoint folders (hf_checkpoint.h): config.json parsing, tensor mapping, writing.
#include "model/hf_checkpoint.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <vector>

#include "core/dtype.h"
#include "core/error.h"
#include "core/shape_text.h"
#include "io/files.h"
#include "io/quantized_tensors.h"
#include "io/safetensors.h"
#include "model/mapped_sources.h"
#include "model/quantized_linear_source.h"
#include "model/rope_layout.h"
#include "model/weight_rows.h"

namespace vqr::model {

namespace {

using nlohmann::json;

// The supported classes and the model_type transformers writes beside them.
struct Architecture {
  const char *name;
  const char *model_type;
};
constexpr Architecture kArchitectures[] = {{"LlamaForCausalLM", "llama"},
                                           {"MistralForCausalLM", "mistral"},
                                           {"Qwen2ForCausalLM", "qwen2"},
                                           {"Qwen3ForCausalLM", "qwen3"},
                                           {"OPTForCausalLM", "opt"}};
constexpr const char *kOptArchitecture = "OPTForCausalLM";

std::string supported_list() {
  std::string s;
  for (const Architecture &a : kArchitectures) s += (s.empty() ? "" : ", ") + std::string(a.name);
  return s;
}

// Typed access to config.json fields with one error style.
class Fields {
 public:
  Fields(const json &j, const std::string &path, const std::string &prefix = "")
      : j_(j), path_(path), prefix_(prefix) {}

  bool has(const char *key) const { return j_.contains(key) && !j_.at(key).is_null(); }

  int64_t integer(const char *key, int64_t lo, int64_t hi) const {
    if (!has(key)) fail(Status::Format, path_, "missing field \"" + prefix_ + key + "\"", kHint);
    const json &v = j_.at(key);
    if (!v.is_number_integer())
      fail(Status::Format, path_, "field \"" + prefix_ + key + "\" is not an integer (" + v.dump() + ")", kHint);
    const int64_t x = v.get<int64_t>();
    if (x < lo || x > hi)
      fail(Status::Format, path_,
           "field \"" + prefix_ + key + "\" = " + std::to_string(x) + " is outside [" + std::to_string(lo) + ", " +
               std::to_string(hi) + "]",
           kHint);
    return x;
  }
  int64_t integer(const char *key, int64_t lo, int64_t hi, int64_t fallback) const {
    return has(key) ? integer(key, lo, hi) : fallback;
  }

  double number(const char *key, double fallback) const {
    if (!has(key)) return fallback;
    const json &v = j_.at(key);
    if (!v.is_number() || !std::isfinite(v.get<double>()))
      fail(Status::Format, path_, "field \"" + prefix_ + key + "\" is not a finite number (" + v.dump() + ")", kHint);
    return v.get<double>();
  }
  double number(const char *key) const {
    if (!has(key)) fail(Status::Format, path_, "missing field \"" + prefix_ + key + "\"", kHint);
    return number(key, 0.0);
  }

  bool boolean(const char *key, bool fallback) const {
    if (!has(key)) return fallback;
    const json &v = j_.at(key);
    if (!v.is_boolean()) fail(Status::Format, path_, "field \"" + prefix_ + key + "\" is not true/false", kHint);
    return v.get<bool>();
  }

  std::string string(const char *key, const std::string &fallback) const {
    if (!has(key)) return fallback;
    const json &v = j_.at(key);
    if (!v.is_string()) fail(Status::Format, path_, "field \"" + prefix_ + key + "\" is not a string", kHint);
    return v.get<std::string>();
  }

 private:
  static constexpr const char *kHint = "is this a Hugging Face config.json of a causal language model?";
  const json &j_;
  const std::string &path_;
  std::string prefix_;
};

[[noreturn]] void unsupported(const std::string &path, const std::string &problem) {
  fail(Status::Unsupported, path, problem,
       "supported: " + supported_list() + " (LLaMA-family classes with SiLU MLPs and default, linear or llama3 RoPE; OPT with ReLU)");
}

void parse_rope(const Fields &f, const json &root, const std::string &path, ModelConfig *c) {
  // transformers >= 5 moves theta and scaling into "rope_parameters"; older files use rope_theta
  // and "rope_scaling". Both are read; rope_parameters wins.
  c->rope_theta = static_cast<float>(f.number("rope_theta", 10000.0));
  const json *scaling = nullptr;
  if (root.contains("rope_parameters") && root.at("rope_parameters").is_object()) scaling = &root.at("rope_parameters");
  else if (f.has("rope_scaling")) scaling = &root.at("rope_scaling");
  if (scaling == nullptr) return;
  if (!scaling->is_object()) fail(Status::Format, path, "field \"rope_scaling\" is not an object", "fix config.json");
  const Fields s(*scaling, path, "rope_scaling.");
  if (s.has("rope_theta")) c->rope_theta = static_cast<float>(s.number("rope_theta"));
  const std::string type = s.string("rope_type", s.string("type", "default"));
  if (type == "default") return;
  if (type == "linear") {
    c->rope_scaling = RopeScaling::kLinear;
    c->rope_factor = static_cast<float>(s.number("factor"));
  } else if (type == "llama3") {
    c->rope_scaling = RopeScaling::kLlama3;
    c->rope_factor = static_cast<float>(s.number("factor"));
    c->rope_low_freq_factor = static_cast<float>(s.number("low_freq_factor"));
    c->rope_high_freq_factor = static_cast<float>(s.number("high_freq_factor"));
    c->rope_original_context = static_cast<int>(s.integer("original_max_position_embeddings", 1, INT32_MAX));
  } else {
    unsupported(path, "RoPE scaling type \"" + type + "\"");
  }
}

// HF names of the non-linear tensors of a layer.
std::string layer_prefix(const ModelConfig &c, int layer) {
  return (c.is_opt() ? "model.decoder.layers." : "model.layers.") + std::to_string(layer) + ".";
}

const char *hf_linear_suffix(const ModelConfig &c, LinearKind kind) {
  if (c.is_opt()) switch (kind) {  // OPTDecoderLayer: fc1 / fc2 play w1 / w2 (no w3)
      case LinearKind::kWq: return "self_attn.q_proj";
      case LinearKind::kWk: return "self_attn.k_proj";
      case LinearKind::kWv: return "self_attn.v_proj";
      case LinearKind::kWo: return "self_attn.out_proj";
      case LinearKind::kW1: return "fc1";
      case LinearKind::kW2: return "fc2";
      case LinearKind::kW3: return "?";
    }
  switch (kind) {
    case LinearKind::kWq: return "self_attn.q_proj";
    case LinearKind::kWk: return "self_attn.k_proj";
    case LinearKind::kWv: return "self_attn.v_proj";
    case LinearKind::kWo: return "self_attn.o_proj";
    case LinearKind::kW1: return "mlp.gate_proj";
    case LinearKind::kW2: return "mlp.down_proj";
    case LinearKind::kW3: return "mlp.up_proj";
  }
  return "?";
}

// config.json's names for the widths a tensor's dimensions take (the pre-allocation check names
// the claim a file contradicts).
const char *const kVocab = "vocab_size";
const char *const kHidden = "hidden_size";
const char *const kFfn = "intermediate_size";
const char *const kHead = "head_dim";
const char *const kQWidth = "num_attention_heads * head_dim";
const char *const kKvWidth = "num_key_value_heads * head_dim";

// OPT's config names the same widths differently (and has no GQA or head_dim).
const char *opt_field(const char *field) {
  if (field == kFfn) return "ffn_dim";
  if (field == kQWidth || field == kKvWidth) return kHidden;
  return field;
}

const char *rows_field(const ModelConfig &c, LinearKind kind) {
  if (c.is_opt()) {
    ModelConfig llama;
    return opt_field(rows_field(llama, kind));
  }
  switch (kind) {
    case LinearKind::kWq: return kQWidth;
    case LinearKind::kWk:
    case LinearKind::kWv: return kKvWidth;
    case LinearKind::kWo:
    case LinearKind::kW2: return kHidden;
    case LinearKind::kW1:
    case LinearKind::kW3: return kFfn;
  }
  return "?";
}

const char *cols_field(const ModelConfig &c, LinearKind kind) {
  const LinearInput in = input_of(kind);
  const char *f = in == LinearInput::kFfnHidden ? kFfn : in == LinearInput::kAttnOut ? kQWidth : kHidden;
  return c.is_opt() ? opt_field(f) : f;
}

const char *embedding_name(const ModelConfig &c) {
  return c.is_opt() ? "model.decoder.embed_tokens.weight" : "model.embed_tokens.weight";
}
const char *const kClassifierName = "lm_head.weight";

// One tensor of the model as the checkpoint names and shapes it; `fields` names the config.json
// width of each dimension.
struct TensorSlot {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<const char *> fields;
  float *data;  // NULL when the slots were listed before the model exists
  int layer = -1;  // a linear layer's weight: its block and kind; -1 for every other tensor
  LinearKind kind = LinearKind::kWq;
};

// Every tensor the config implies, in a fixed order (the loader's expectations, the writer's
// output). With m NULL the data pointers are NULL: the shapes alone, checked before allocating.
std::vector<TensorSlot> opt_tensor_slots(const ModelConfig &c, Model *m);

std::vector<TensorSlot> tensor_slots(const ModelConfig &c, Model *m) {
  if (c.is_opt()) return opt_tensor_slots(c, m);
  const int64_t C = c.dim, V = c.vocab_size, HS = c.head_size();
  auto at = [&](TensorId id, int64_t offset) { return m ? m->tensor(id) + offset : nullptr; };
  std::vector<TensorSlot> slots;
  slots.push_back({"model.embed_tokens.weight", {V, C}, {kVocab, kHidden}, at(TensorId::kTokenEmbedding, 0)});
  for (int l = 0; l < c.n_layers; ++l) {
    const std::string p = layer_prefix(c, l);
    slots.push_back({p + "input_layernorm.weight", {C}, {kHidden}, at(TensorId::kRmsAtt, l * C)});
    slots.push_back({p + "post_attention_layernorm.weight", {C}, {kHidden}, at(TensorId::kRmsFfn, l * C)});
    for (LinearKind k : c.linear_kinds()) {
      const int64_t rows = c.linear_rows(k);
      slots.push_back({hf_linear_name(c, l, k), {rows, c.input_width(input_of(k))}, {rows_field(c, k), cols_field(c, k)},
                       m && !m->streamed() ? m->linear_data(l, k) : nullptr, l, k});
      if (c.qkv_bias && (k == LinearKind::kWq || k == LinearKind::kWk || k == LinearKind::kWv))
        slots.push_back({p + hf_linear_suffix(c, k) + ".bias", {rows}, {rows_field(c, k)}, m ? const_cast<float *>(m->bias(l, k)) : nullptr});
    }
    if (c.qk_norm) {
      slots.push_back({p + "self_attn.q_norm.weight", {HS}, {kHead}, m ? const_cast<float *>(m->q_norm(l)) : nullptr});
      slots.push_back({p + "self_attn.k_norm.weight", {HS}, {kHead}, m ? const_cast<float *>(m->k_norm(l)) : nullptr});
    }
  }
  slots.push_back({"model.norm.weight", {C}, {kHidden}, at(TensorId::kRmsFinal, 0)});
  if (!c.shared_classifier) slots.push_back({"lm_head.weight", {V, C}, {kVocab, kHidden}, at(TensorId::kClassifier, 0)});
  return slots;
}

// OPTForCausalLM's tensors (transformers' modeling_opt): the decoder's embeddings and projections,
// then per layer its two LayerNorms, the six linears with their biases, then the final LayerNorm.
std::vector<TensorSlot> opt_tensor_slots(const ModelConfig &c, Model *m) {
  const int64_t C = c.dim, V = c.vocab_size, E = c.embed_width();
  const char *const kEmbed = "word_embed_proj_dim", *const kPositions = "max_position_embeddings + 2";
  auto at = [&](TensorId id, int64_t offset) { return m ? m->tensor(id) + offset : nullptr; };
  std::vector<TensorSlot> slots;
  slots.push_back({embedding_name(c), {V, E}, {kVocab, c.embed_dim > 0 ? kEmbed : kHidden}, at(TensorId::kTokenEmbedding, 0)});
  slots.push_back({"model.decoder.embed_positions.weight", {c.position_rows(), C}, {kPositions, kHidden}, at(TensorId::kPositions, 0)});
  if (c.embed_dim > 0) {
    slots.push_back({"model.decoder.project_in.weight", {C, E}, {kHidden, kEmbed}, at(TensorId::kProjectIn, 0)});
    slots.push_back({"model.decoder.project_out.weight", {E, C}, {kEmbed, kHidden}, at(TensorId::kProjectOut, 0)});
  }
  for (int l = 0; l < c.n_layers; ++l) {
    const std::string p = layer_prefix(c, l);
    slots.push_back({p + "self_attn_layer_norm.weight", {C}, {kHidden}, at(TensorId::kRmsAtt, l * C)});
    slots.push_back({p + "self_attn_layer_norm.bias", {C}, {kHidden}, at(TensorId::kNormAttBias, l * C)});
    for (LinearKind k : c.linear_kinds()) {
      const int64_t rows = c.linear_rows(k);
      slots.push_back({hf_linear_name(c, l, k), {rows, c.input_width(input_of(k))}, {rows_field(c, k), cols_field(c, k)},
                       m && !m->streamed() ? m->linear_data(l, k) : nullptr, l, k});
      if (c.linear_bias)
        slots.push_back({p + hf_linear_suffix(c, k) + ".bias", {rows}, {rows_field(c, k)}, m ? const_cast<float *>(m->bias(l, k)) : nullptr});
    }
    slots.push_back({p + "final_layer_norm.weight", {C}, {kHidden}, at(TensorId::kRmsFfn, l * C)});
    slots.push_back({p + "final_layer_norm.bias", {C}, {kHidden}, at(TensorId::kNormFfnBias, l * C)});
  }
  if (c.final_norm) {
    slots.push_back({"model.decoder.final_layer_norm.weight", {C}, {kHidden}, at(TensorId::kRmsFinal, 0)});
    slots.push_back({"model.decoder.final_layer_norm.bias", {C}, {kHidden}, at(TensorId::kNormFinalBias, 0)});
  }
  if (!c.shared_classifier) slots.push_back({kClassifierName, {V, E}, {kVocab, c.embed_dim > 0 ? kEmbed : kHidden}, at(TensorId::kClassifier, 0)});
  return slots;
}

// Tensors a loader may meet and skip: RoPE tables older exports saved as buffers.
bool ignorable(const std::string &name, bool tied) {
  return name.find("rotary_emb.inv_freq") != std::string::npos || (tied && name == "lm_head.weight");
}

// Shortest decimal that reads back as the same float (so config.json shows 1e-05, not 9.99e-06).
double float_as_decimal(float f) {
  char buf[32];
  for (int digits = 6; digits <= 9; ++digits) {
    std::snprintf(buf, sizeof buf, "%.*g", digits, static_cast<double>(f));
    if (std::strtof(buf, nullptr) == f) break;
  }
  return std::strtod(buf, nullptr);
}

}  // namespace

namespace {

// OPTConfig's fields (configuration_opt.py) for an OPT model.
std::string opt_generated_config(const ModelConfig &c, const std::string &dtype) {
  json j;
  j["architectures"] = json::array({kOptArchitecture});
  j["model_type"] = "opt";
  j["hidden_size"] = c.dim;
  j["ffn_dim"] = c.hidden_dim;
  j["num_hidden_layers"] = c.n_layers;
  j["num_attention_heads"] = c.n_heads;
  j["vocab_size"] = c.vocab_size;
  j["max_position_embeddings"] = c.seq_len;
  j["word_embed_proj_dim"] = c.embed_width();
  j["do_layer_norm_before"] = c.pre_norm;
  j["_remove_final_layer_norm"] = c.pre_norm && !c.final_norm;
  j["activation_function"] = "relu";
  j["enable_bias"] = c.linear_bias;
  j["layer_norm_elementwise_affine"] = true;
  j["tie_word_embeddings"] = c.shared_classifier;
  j["torch_dtype"] = dtype == "F16" ? "float16" : dtype == "BF16" ? "bfloat16" : "float32";
  j["pad_token_id"] = 1;
  j["bos_token_id"] = 2;
  j["eos_token_id"] = 2;
  return j.dump(2) + "\n";
}

}  // namespace

std::string hf_generated_config(const ModelConfig &c, const std::string &dtype) {
  if (c.is_opt()) return opt_generated_config(c, dtype);
  const std::string arch = c.architecture.empty() ? "LlamaForCausalLM" : c.architecture;
  std::string model_type = "llama";
  for (const Architecture &a : kArchitectures)
    if (arch == a.name) model_type = a.model_type;
  json j;
  j["architectures"] = json::array({arch});
  j["model_type"] = model_type;
  j["hidden_size"] = c.dim;
  j["intermediate_size"] = c.hidden_dim;
  j["num_hidden_layers"] = c.n_layers;
  j["num_attention_heads"] = c.n_heads;
  j["num_key_value_heads"] = c.n_kv_heads;
  j["head_dim"] = c.head_size();
  j["vocab_size"] = c.vocab_size;
  j["max_position_embeddings"] = c.seq_len;
  j["rms_norm_eps"] = float_as_decimal(c.norm_eps);
  j["rope_theta"] = float_as_decimal(c.rope_theta);
  if (c.rope_scaling == RopeScaling::kLinear) {
    j["rope_scaling"] = {{"rope_type", "linear"}, {"factor", float_as_decimal(c.rope_factor)}};
  } else if (c.rope_scaling == RopeScaling::kLlama3) {
    j["rope_scaling"] = {{"rope_type", "llama3"},
                         {"factor", float_as_decimal(c.rope_factor)},
                         {"low_freq_factor", float_as_decimal(c.rope_low_freq_factor)},
                         {"high_freq_factor", float_as_decimal(c.rope_high_freq_factor)},
                         {"original_max_position_embeddings", c.rope_original_context}};
  } else {
    j["rope_scaling"] = nullptr;
  }
  j["tie_word_embeddings"] = c.shared_classifier;
  j["hidden_act"] = "silu";
  if (model_type == "mistral") j["sliding_window"] = c.sliding_window > 0 ? json(c.sliding_window) : json(nullptr);
  if (model_type == "llama" || model_type == "qwen3") j["attention_bias"] = false;
  j["torch_dtype"] = dtype == "F16" ? "float16" : dtype == "BF16" ? "bfloat16" : "float32";
  j["bos_token_id"] = 1;
  j["eos_token_id"] = 2;
  return j.dump(2) + "\n";
}

namespace {

// OPTConfig (configuration_opt.py): hidden_size, ffn_dim, num_hidden_layers, num_attention_heads,
// vocab_size, max_position_embeddings (2048), word_embed_proj_dim (hidden_size),
// do_layer_norm_before (true), _remove_final_layer_norm (false), activation_function ("relu"),
// enable_bias (true), layer_norm_elementwise_affine (true), tie_word_embeddings (true). LayerNorm's
// eps is nn.LayerNorm's 1e-5 (no field).
ModelConfig parse_opt_config(const Fields &f, const std::string &path) {
  ModelConfig c;
  c.architecture = kOptArchitecture;
  c.family = BlockFamily::kOpt;
  c.rope_layout = RopeLayout::kHalf;  // no RoPE: q/k rows stay as stored
  constexpr int64_t kMax = int64_t{1} << 30;
  c.dim = static_cast<int>(f.integer("hidden_size", 1, kMax));
  c.hidden_dim = static_cast<int>(f.integer("ffn_dim", 1, kMax));
  c.n_layers = static_cast<int>(f.integer("num_hidden_layers", 1, 1 << 16));
  c.n_heads = static_cast<int>(f.integer("num_attention_heads", 1, 1 << 16));
  c.n_kv_heads = c.n_heads;
  c.vocab_size = static_cast<int>(f.integer("vocab_size", 1, kMax));
  c.seq_len = static_cast<int>(f.integer("max_position_embeddings", 1, kMax - kOptPositionOffset, 2048));
  if (c.dim % c.n_heads != 0)
    fail(Status::Format, path,
         "hidden_size " + std::to_string(c.dim) + " is not a multiple of num_attention_heads " + std::to_string(c.n_heads),
         "fix config.json (OPT's attention splits hidden_size evenly into heads)");
  c.head_dim = c.dim / c.n_heads;
  const int embed = static_cast<int>(f.integer("word_embed_proj_dim", 1, kMax, c.dim));
  c.embed_dim = embed == c.dim ? 0 : embed;
  c.pre_norm = f.boolean("do_layer_norm_before", true);
  c.final_norm = c.pre_norm && !f.boolean("_remove_final_layer_norm", false);
  c.linear_bias = f.boolean("enable_bias", true);
  c.shared_classifier = f.boolean("tie_word_embeddings", true);
  c.norm_eps = 1e-5f;
  const std::string act = f.string("activation_function", "relu");
  if (act != "relu") unsupported(path, "OPT activation_function \"" + act + "\" (ReLU only)");
  if (!f.boolean("layer_norm_elementwise_affine", true))
    unsupported(path, "OPT layer_norm_elementwise_affine false (LayerNorms without weight and bias)");
  return c;
}

}  // namespace

std::string hf_declared_dtype(const std::string &config_text) {
  const json j = json::parse(config_text, nullptr, /*allow_exceptions=*/false);
  for (const char *key : {"torch_dtype", "dtype"})
    if (j.is_object() && j.contains(key) && j.at(key).is_string()) {
      const std::string v = j.at(key).get<std::string>();
      return v == "bfloat16" ? "BF16" : v == "float16" ? "F16" : "F32";
    }
  return "F32";
}

bool is_hf_checkpoint_dir(const std::string &dir) {
  return io::is_directory(dir) && io::is_regular_file(dir + "/" + kHfConfigFileName);
}

std::string hf_linear_name(const ModelConfig &config, int layer, LinearKind kind) {
  return hf_linear_module(config, layer, kind) + ".weight";
}

std::string hf_linear_module(const ModelConfig &config, int layer, LinearKind kind) {
  return layer_prefix(config, layer) + hf_linear_suffix(config, kind);
}

ModelConfig parse_hf_config(const std::string &text, const std::string &path) {
  const json root = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded()) fail(Status::Format, path, "is not valid JSON", "restore the checkpoint's config.json");
  if (!root.is_object()) fail(Status::Format, path, "is not a JSON object", "restore the checkpoint's config.json");
  const Fields f(root, path);

  ModelConfig c;
  std::string arch;
  if (f.has("architectures")) {
    const json &a = root.at("architectures");
    if (!a.is_array() || a.empty() || !a.at(0).is_string())
      fail(Status::Format, path, "field \"architectures\" is not a list of class names", "fix config.json");
    arch = a.at(0).get<std::string>();
  } else {
    const std::string type = f.string("model_type", "");
    for (const Architecture &x : kArchitectures)
      if (type == x.model_type) arch = x.name;
    if (arch.empty()) unsupported(path, "no \"architectures\" and model_type \"" + type + "\"");
  }
  bool known = false;
  for (const Architecture &x : kArchitectures) known |= arch == x.name;
  if (!known) unsupported(path, "architecture \"" + arch + "\"");
  c.architecture = arch;
  if (arch == kOptArchitecture) return parse_opt_config(f, path);
  const bool qwen2 = arch == "Qwen2ForCausalLM", qwen3 = arch == "Qwen3ForCausalLM";

  constexpr int64_t kMax = int64_t{1} << 30;  // far above any real model, keeps products in int64
  c.dim = static_cast<int>(f.integer("hidden_size", 1, kMax));
  c.hidden_dim = static_cast<int>(f.integer("intermediate_size", 1, kMax));
  c.n_layers = static_cast<int>(f.integer("num_hidden_layers", 1, 1 << 16));
  c.n_heads = static_cast<int>(f.integer("num_attention_heads", 1, 1 << 16));
  c.n_kv_heads = static_cast<int>(f.integer("num_key_value_heads", 1, 1 << 16, c.n_heads));
  c.vocab_size = static_cast<int>(f.integer("vocab_size", 1, kMax));
  c.seq_len = static_cast<int>(f.integer("max_position_embeddings", 1, kMax, 2048));
  // Qwen3Config's head_dim defaults to 128; the others derive it.
  c.head_dim = static_cast<int>(f.integer("head_dim", 1, 1 << 16, qwen3 ? 128 : (c.dim % c.n_heads ? 0 : c.dim / c.n_heads)));
  if (c.head_dim == 0) fail(Status::Format, path, "hidden_size is not a multiple of num_attention_heads and there is no head_dim", "fix config.json");
  const int64_t q_width = static_cast<int64_t>(c.head_dim) * c.n_heads;  // in int64: 2^16 * 2^16 overflows int
  if (q_width > kMax)
    fail(Status::Format, path, "num_attention_heads * head_dim = " + std::to_string(q_width) + " is outside [1, " + std::to_string(kMax) + "]",
         "fix config.json");
  c.norm_eps = static_cast<float>(f.number("rms_norm_eps", 1e-6));
  c.shared_classifier = f.boolean("tie_word_embeddings", false);
  c.rope_layout = RopeLayout::kHalf;
  parse_rope(f, root, path, &c);

  const std::string act = f.string("hidden_act", "silu");
  if (act != "silu") unsupported(path, "hidden_act \"" + act + "\" (SwiGLU with SiLU only)");
  if (f.boolean("mlp_bias", false)) unsupported(path, "mlp_bias");
  if (!qwen2 && f.boolean("attention_bias", false)) unsupported(path, "attention_bias (biases on all four attention projections)");
  c.qkv_bias = qwen2;  // Qwen2Attention: q/k/v with bias, o without
  c.qk_norm = qwen3;
  if (arch == "MistralForCausalLM") {
    c.sliding_window = static_cast<int>(f.integer("sliding_window", 1, kMax, 0));
  } else if (f.boolean("use_sliding_window", false)) {
    unsupported(path, "use_sliding_window (per-layer sliding windows)");
  }

  if (c.n_heads % c.n_kv_heads != 0)
    fail(Status::Format, path,
         "num_attention_heads " + std::to_string(c.n_heads) + " is not a multiple of num_key_value_heads " +
             std::to_string(c.n_kv_heads),
         "fix config.json");
  if (c.head_dim % 2 != 0) fail(Status::Format, path, "head_dim " + std::to_string(c.head_dim) + " is odd", "fix config.json");
  return c;
}

namespace {

// A quantized lm_head or embedding (transformers' lm_head=True, or a compressed-tensors config
// targeting every Linear without ignoring lm_head) has no slot in this loader.
void refuse_quantized_head(const io::SafetensorsCheckpoint &ckpt, const std::string &dir) {
  for (const char *name : {"lm_head.qweight", "lm_head.weight_packed", "model.embed_tokens.qweight",
                           "model.embed_tokens.weight_packed"})
    if (ckpt.find(name, nullptr) != nullptr)
      fail(Status::Unsupported, dir, std::string("quantized ") + name, "only decoder-layer linears may be quantized");
}

// A dense tensor's shape against the config's claim: "config.json claims vocab_size 1000000000
// but model.embed_tokens.weight has shape [512, 64]", naming the widths that differ.
void check_dense(const io::SafetensorsCheckpoint &ckpt, const TensorSlot &s, const ModelConfig &c, const std::string &dir) {
  const io::StTensor &t = ckpt.find_required(s.name, nullptr);
  if (t.shape == s.shape) return;
  std::string claims;
  for (size_t i = 0; i < s.shape.size(); ++i)
    if (t.shape.size() != s.shape.size() || t.shape[i] != s.shape[i])
      claims += (claims.empty() ? "" : " and ") + std::string(s.fields[i]) + " " + std::to_string(s.shape[i]);
  fail(Status::Format, dir, std::string(kHfConfigFileName) + " claims " + claims + " but " + s.name + " has shape " + shape_text(t.shape),
       "the config does not match the weights (" + c.architecture + " expects " + s.name + " " + shape_text(s.shape) +
           "); restore the checkpoint's own config.json");
}

// The module a linear's slot names ("<module>.weight"): its quantized tensors hang off it.
std::string slot_module(const TensorSlot &s) { return s.name.substr(0, s.name.size() - std::strlen(".weight")); }

// Where a linear layer's weight is: quantized (with its format) when its marker tensor is there,
// else dense. Checks its shape from the index (the same messages as reading it would give).
struct LinearSource {
  bool quantized = false;
  io::QuantizedLinearFormat format;
};

LinearSource locate_linear(const io::SafetensorsCheckpoint &ckpt, const io::QuantizationConfig &qc, const TensorSlot &s,
                           const ModelConfig &c, const std::string &dir) {
  const std::string module = slot_module(s);
  LinearSource src;
  const bool configured = qc.format_of(module, &src.format);
  const bool gptq = qc.method() == "gptq";
  const std::string marker = io::quantized_marker_name(
      module, gptq ? io::QuantizedLinearFormat::Kind::kGptq : io::QuantizedLinearFormat::Kind::kCompressed);
  if (ckpt.find(marker, nullptr) != nullptr) {
    if (!configured)
      fail(Status::Format, dir, "tensor " + marker + " is quantized but quantization_config leaves " + module + " unquantized",
           "the config and the weights disagree; re-export the checkpoint");
    io::check_quantized_linear(ckpt, module, src.format, s.shape[0], s.shape[1]);
    src.quantized = true;
    return src;
  }
  // Dense: a skipped / ignored layer, or one a partial quantization left alone.
  if (configured && ckpt.find(s.name, nullptr) == nullptr)
    fail(Status::Format, dir, "missing tensor " + marker + " (the config quantizes " + module + ")",
         "the checkpoint is incomplete; re-download or re-export it");
  check_dense(ckpt, s, c, dir);
  return src;
}

// A streamed model's source for the large tensor of slot s (a linear weight, the embedding or the
// classifier), over the mapped checkpoint.
std::shared_ptr<const TensorSource> streamed_source(const std::shared_ptr<const io::SafetensorsCheckpoint> &ckpt,
                                                    const TensorSlot &s, const LinearSource &where,
                                                    std::vector<std::string> *used) {
  if (where.quantized)
    return std::make_shared<QuantizedLinearSource>(ckpt, slot_module(s), where.format, s.shape[0],
                                                   s.shape[1], used);
  return safetensors_source(ckpt, s.name, s.shape[0], s.shape[1]);
}

}  // namespace

Model load_hf_checkpoint(const std::string &dir, Storage storage) {
  const std::string config_path = dir + "/" + kHfConfigFileName;
  const std::string config_text = io::read_file(config_path, "check the model folder");
  const ModelConfig config = parse_hf_config(config_text, config_path);
  const io::QuantizationConfig qc = io::QuantizationConfig::parse(config_text, config_path);
  // Shared: a streamed model's sources keep the mapped shards alive.
  const auto shared = std::make_shared<const io::SafetensorsCheckpoint>(io::SafetensorsCheckpoint::open_dir(dir));
  const io::SafetensorsCheckpoint &ckpt = *shared;
  if (qc.quantized()) refuse_quantized_head(ckpt, dir);

  // Every tensor the config implies is checked against the files' index before the model's fp32
  // arrays (sized by the config's claims) are allocated: a small folder whose config.json claims
  // a huge vocabulary or width fails here instead of committing gigabytes first.
  check_model_config(config);
  // OPT checkpoints converted from metaseq's (opt-350m among them) store OPTModel's names,
  // "decoder.*", where OPTForCausalLM's are "model.decoder.*": both load.
  const bool bare_opt = config.is_opt() && ckpt.find("model.decoder.embed_tokens.weight", nullptr) == nullptr &&
                        ckpt.find("decoder.embed_tokens.weight", nullptr) != nullptr;
  auto named = [bare_opt](std::vector<TensorSlot> v) {
    if (bare_opt)
      for (TensorSlot &s : v)
        if (s.name.compare(0, 6, "model.") == 0) s.name.erase(0, 6);
    return v;
  };
  std::vector<TensorSlot> slots = named(tensor_slots(config, nullptr));
  std::vector<LinearSource> sources(slots.size());
  for (size_t i = 0; i < slots.size(); ++i) {
    if (qc.quantized() && slots[i].layer >= 0)
      sources[i] = locate_linear(ckpt, qc, slots[i], config, dir);
    else
      check_dense(ckpt, slots[i], config, dir);
  }

  Model model(config, storage);
  slots = named(tensor_slots(config, &model));
  std::set<std::string> expected;
  std::vector<std::string> used;
  for (size_t i = 0; i < slots.size(); ++i) {
    const TensorSlot &s = slots[i];
    expected.insert(s.name);
    if (s.data == nullptr) {  // streamed: a large tensor stays in the file (checked as it is read)
      std::shared_ptr<const TensorSource> source = streamed_source(shared, s, sources[i], &used);
      if (s.layer >= 0) model.set_linear_source(s.layer, s.kind, std::move(source));
      else if (s.name == kClassifierName) model.set_classifier_source(std::move(source));
      else model.set_embedding_source(std::move(source));
      continue;
    }
    if (sources[i].quantized)
      io::read_quantized_linear(ckpt, slot_module(s), sources[i].format, s.shape[0], s.shape[1], s.data, &used);
    else
      ckpt.read_f32(s.name, s.shape, s.data);
    int64_t count = 1;
    for (int64_t d : s.shape) count *= d;
    const int64_t bad = find_nonfinite(s.data, count);
    if (bad >= 0)
      fail(Status::Format, dir, "non-finite weight in " + s.name + " at element " + std::to_string(bad),
           "the checkpoint is damaged or was exported from a diverged run");
  }
  expected.insert(used.begin(), used.end());
  // After the expected ones, so a config that disagrees with the weights reports a shape first.
  for (const std::string &name : ckpt.names())
    if (expected.count(name) == 0 && !ignorable(name, config.shared_classifier))
      fail(Status::Format, dir, "unexpected tensor \"" + name + "\" for " + config.architecture,
           qc.quantized() ? "the checkpoint has tensors its quantization_config does not explain; re-export it"
                          : "quantized checkpoints need a quantization_config; otherwise config.json does not match the weights");
  return model;
}

HfQuantizationInfo read_hf_quantization_info(const std::string &dir) {
  const std::string config_path = dir + "/" + kHfConfigFileName;
  const io::QuantizationConfig qc =
      io::QuantizationConfig::parse(io::read_file(config_path, "check the model folder"), config_path, /*accept_other_methods=*/true);
  HfQuantizationInfo info;
  info.method = qc.method();
  if (qc.quantized()) {
    info.bits = qc.bits();
    info.group_size = qc.group_size();
    info.sym = qc.sym();
    info.checkpoint_format = qc.checkpoint_format();
  }
  return info;
}

namespace {


// A slot's values in either storage: the large tensors through the row readers, the small ones
// (norms, biases) from the arena as count x 1.
TensorRows slot_rows(const Model &m, const TensorSlot &s) {
  if (s.layer >= 0) return linear_tensor_rows(m, s.layer, s.kind);
  if (s.name == embedding_name(m.config())) return embedding_tensor_rows(m);
  if (s.name == kClassifierName) return classifier_tensor_rows(m);
  int64_t count = 1;
  for (int64_t d : s.shape) count *= d;
  return memory_tensor_rows(s.data, count, 1);
}

// True when every value of t converts to F16 (or BF16) and back to the same bits; stops reading at
// the first value that does not.
bool exact_in_half(const TensorRows &t, bool bf16) {
  bool exact = true;
  for_each_row_chunk(t, {}, [&](const float *x, int64_t n) {
    for (int64_t i = 0; i < n * t.cols && exact; ++i) {
      const float back = bf16 ? bf16_to_f32(f32_to_bf16(x[i])) : f16_to_f32(f32_to_f16(x[i]));
      exact = std::memcmp(&back, &x[i], sizeof(float)) == 0;
    }
    return exact;
  });
  return exact;
}

}  // namespace

std::vector<io::StTensorData> hf_dense_tensors(const Model &model, const std::string &dtype,
                                               const std::function<bool(const std::string &)> &keep) {
  require(dtype == "F32" || dtype == "F16" || dtype == "BF16", Status::InvalidArgument,
          "save: dtype must be F32, F16 or BF16, not " + dtype);
  const ModelConfig &c = model.config();
  const std::vector<TensorSlot> slots = tensor_slots(c, &const_cast<Model &>(model));  // read-only below
  std::vector<io::StTensorData> out;
  const std::string q = hf_linear_suffix(c, LinearKind::kWq), k = hf_linear_suffix(c, LinearKind::kWk);
  for (const TensorSlot &s : slots) {
    if (keep && !keep(s.name)) continue;
    const bool is_q = s.name.find(q) != std::string::npos, is_k = s.name.find(k) != std::string::npos;
    std::vector<int64_t> map;
    if (c.rope_layout == RopeLayout::kInterleaved && !c.is_opt() && (is_q || is_k))  // OPT has no RoPE
      map = rope_row_sources(is_q ? c.n_heads : c.n_kv_heads, c.head_size(), /*to_half=*/true);
    // The dtype goes into the header before any data: a first reading of the tensor decides it
    // (the order of rows does not matter to it), the writer's producer reads it again.
    const bool half = dtype != "F32" && exact_in_half(slot_rows(model, s), dtype == "BF16");
    const bool bf16 = half && dtype == "BF16";
    io::StTensorData t{s.name, half ? (bf16 ? io::StDtype::kBF16 : io::StDtype::kF16) : io::StDtype::kF32, s.shape};
    t.produce = [&model, s, map, half, bf16](const io::ByteSink &sink) {
      const TensorRows rows = slot_rows(model, s);
      std::vector<uint16_t> h;
      for_each_row_chunk(rows, map, [&](const float *x, int64_t n) {
        const int64_t count = n * rows.cols;
        if (!half) {
          sink(x, static_cast<size_t>(count) * sizeof(float));
          return true;
        }
        h.resize(static_cast<size_t>(count));
        for (int64_t i = 0; i < count; ++i) h[static_cast<size_t>(i)] = bf16 ? f32_to_bf16(x[i]) : f32_to_f16(x[i]);
        sink(h.data(), h.size() * sizeof(uint16_t));
        return true;
      });
    };
    out.push_back(std::move(t));
  }
  return out;
}

void save_hf_checkpoint(const Model &model, const std::string &dir, const std::string &config_json_text,
                        const std::string &dtype, int64_t max_shard_bytes, const io::TensorProgress &progress) {
  const std::vector<io::StTensorData> tensors = hf_dense_tensors(model, dtype);
  std::string config_text = config_json_text.empty() ? hf_generated_config(model.config(), dtype) : config_json_text;
  // A quantized source's config would make the dense weights written here unreadable.
  const nlohmann::ordered_json parsed = nlohmann::ordered_json::parse(config_text, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_object() && parsed.contains("quantization_config")) {
    nlohmann::ordered_json copy = parsed;
    copy.erase("quantization_config");
    config_text = copy.dump(2) + "\n";
  }
  io::write_text_file(dir + "/" + kHfConfigFileName, config_text);
  io::write_safetensors_sharded(dir, tensors, max_shard_bytes, {}, progress);
}

}  // namespace vqr::model
