// Unpacking and reading quantized linear layers (quantized_tensors.h).
#include "io/quantized_tensors.h"

#include <cctype>
#include <cstring>
#include <nlohmann/json.hpp>

// GCC 12 reports a false -Wmaybe-uninitialized inside <regex> (std::function moves in the NFA
// builder) when optimizing with sanitizers; the library's own code is not affected.
#if defined(__clang__)
#include <regex>
#else
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <regex>
#pragma GCC diagnostic pop
#endif

#include "core/error.h"
#include "core/shape_text.h"
#include "io/code_stream.h"
#include "io/compressed_packing.h"
#include "io/gptq_packing.h"

namespace vqr::io {

namespace {

[[noreturn]] void bad(const std::string &subject, const std::string &problem) {
  fail(Status::Format, subject, problem, kPackedTensorHint);
}

// The tensor `name`, checked for one of `dtypes` and `shape`; *file gets its shard.
const StTensor &need(const SafetensorsCheckpoint &ckpt, const std::string &name, std::initializer_list<StDtype> dtypes,
                     const std::vector<int64_t> &shape, const SafetensorsFile **file, std::vector<std::string> *used) {
  const StTensor *t = ckpt.find(name, file);
  if (t == nullptr) bad(ckpt.dir(), "missing tensor " + name + " of a quantized layer");
  bool dtype_ok = false;
  std::string expected;
  for (StDtype d : dtypes) {
    dtype_ok |= t->dtype == d;
    expected += (expected.empty() ? "" : " or ") + std::string(st_dtype_name(d));
  }
  const std::string &path = (*file)->path();
  if (!dtype_ok) bad(path, "tensor " + name + " has dtype " + st_dtype_name(t->dtype) + ", expected " + expected);
  if (t->shape != shape) bad(path, "tensor " + name + " has shape " + shape_text(t->shape) + ", expected " + shape_text(shape));
  used->push_back(name);
  return *t;
}

// An I32 tensor's values (the data need not be 4-byte aligned in the mapping, so it is copied).
std::vector<int32_t> read_i32(const SafetensorsCheckpoint &ckpt, const std::string &name, const std::vector<int64_t> &shape,
                              std::vector<std::string> *used, std::string *subject) {
  const SafetensorsFile *file = nullptr;
  const StTensor &t = need(ckpt, name, {StDtype::kI32}, shape, &file, used);
  std::vector<int32_t> v((size_t)t.elements());
  if (!v.empty()) std::memcpy(v.data(), file->data(t), v.size() * sizeof(int32_t));
  *subject = file->path() + ": tensor " + name;
  return v;
}

// Rows [r0, r1) and columns [c0, c1) of a 2-D I32 tensor, row-major (r1 - r0) x (c1 - c0): the
// packed words of some output rows of a layer, without copying the rest of the layer.
std::vector<int32_t> read_i32_block(const SafetensorsCheckpoint &ckpt, const std::string &name, const std::vector<int64_t> &shape,
                                    int64_t r0, int64_t r1, int64_t c0, int64_t c1, std::string *subject) {
  const SafetensorsFile *file = nullptr;
  std::vector<std::string> names;
  const StTensor &t = need(ckpt, name, {StDtype::kI32}, shape, &file, &names);
  const int64_t width = c1 - c0;
  std::vector<int32_t> v((size_t)((r1 - r0) * width));
  for (int64_t r = r0; r < r1 && width > 0; ++r)
    std::memcpy(&v[(size_t)((r - r0) * width)], file->data(t) + (r * shape[1] + c0) * 4, (size_t)width * sizeof(int32_t));
  *subject = file->path() + ": tensor " + name;
  return v;
}

std::vector<float> read_float(const SafetensorsCheckpoint &ckpt, const std::string &name, const std::vector<int64_t> &shape,
                              std::vector<std::string> *used) {
  const SafetensorsFile *file = nullptr;
  const StTensor &t = need(ckpt, name, {StDtype::kF16, StDtype::kBF16, StDtype::kF32}, shape, &file, used);
  std::vector<float> v((size_t)t.elements());
  file->read_f32(t, v.data());
  return v;
}

std::vector<int32_t> default_g_idx(int64_t n, int64_t group_size) {
  std::vector<int32_t> g((size_t)n);
  for (int64_t j = 0; j < n; ++j) g[(size_t)j] = (int32_t)(j / group_size);
  return g;
}

// The marker tensor's shape for an m x n layer (see check_quantized_linear).
std::vector<int64_t> marker_shape(const QuantizedLinearFormat &f, int64_t m, int64_t n) {
  return f.kind == QuantizedLinearFormat::Kind::kGptq ? std::vector<int64_t>{gptq_packed_words(n, f.bits), m}
                                                      : std::vector<int64_t>{m, compressed_packed_words(n, f.bits)};
}

// Refuses a width the format does not define, before any shape depending on it is computed.
void check_width(const SafetensorsCheckpoint &ckpt, const std::string &prefix, const QuantizedLinearFormat &f) {
  const bool gptq = f.kind == QuantizedLinearFormat::Kind::kGptq;
  if (!(gptq ? gptq_supports_bits(f.bits) : compressed_supports_bits(f.bits)))
    fail(Status::Unsupported, ckpt.dir(), prefix + ": " + std::to_string(f.bits) + "-bit " + (gptq ? "GPTQ" : "pack-quantized"),
         gptq ? "GPTQ checkpoints hold 2, 3, 4 or 8 bits" : "pack-quantized holds 4 or 8 bits");
}

// The shapes every tensor of an m x n layer of format f must have (the layouts of
// read_quantized_linear), computed once for checking the index and for reading.
struct LayerShapes {
  int64_t group_size = 0, groups = 0;  // groups of in_features; one group per row when f.group_size <= 0
  std::vector<int64_t> marker, zeros, scales, g_idx;
};

LayerShapes layer_shapes(const QuantizedLinearFormat &f, int64_t m, int64_t n) {
  LayerShapes s;
  s.group_size = f.group_size > 0 ? f.group_size : n;
  s.groups = n == 0 ? 0 : (n + s.group_size - 1) / s.group_size;
  const int64_t G = s.groups;
  s.marker = marker_shape(f, m, n);
  if (f.kind == QuantizedLinearFormat::Kind::kGptq) {
    s.zeros = {G, gptq_packed_words(m, f.bits)};
    s.scales = {G, m};
  } else {
    s.zeros = {compressed_packed_words(m, f.bits), G};
    s.scales = {m, G};
  }
  s.g_idx = {n};
  return s;
}

// A compressed-tensors layer's weight_shape values against the m x n the model needs.
void check_weight_shape(const SafetensorsCheckpoint &ckpt, const std::string &prefix, int64_t m, int64_t n,
                        std::vector<std::string> *used) {
  const SafetensorsFile *file = nullptr;
  const std::string name = prefix + ".weight_shape";
  const StTensor &t = need(ckpt, name, {StDtype::kI64, StDtype::kI32}, {2}, &file, used);
  int64_t shape[2];
  for (int i = 0; i < 2; ++i) {
    if (t.dtype == StDtype::kI64) {
      std::memcpy(&shape[i], file->data(t) + 8 * i, 8);
    } else {
      int32_t v;
      std::memcpy(&v, file->data(t) + 4 * i, 4);
      shape[i] = v;
    }
  }
  if (shape[0] != m || shape[1] != n)
    bad(file->path() + ": tensor " + name,
        "says [" + std::to_string(shape[0]) + ", " + std::to_string(shape[1]) + "], the model needs [" + std::to_string(m) +
            ", " + std::to_string(n) + "]");
}

// Checks every tensor of layer `prefix` from the index alone (its width first, then each tensor's
// dtype and shape and weight_shape's two values, in the order the layer is read) and returns the
// shapes. Appends the names to *used.
LayerShapes check_layer_index(const SafetensorsCheckpoint &ckpt, const std::string &prefix, const QuantizedLinearFormat &f,
                              int64_t m, int64_t n, std::vector<std::string> *used) {
  check_width(ckpt, prefix, f);  // before any shape depending on the width is computed
  const LayerShapes s = layer_shapes(f, m, n);
  const SafetensorsFile *file = nullptr;
  const std::initializer_list<StDtype> floats = {StDtype::kF16, StDtype::kBF16, StDtype::kF32};
  if (f.kind == QuantizedLinearFormat::Kind::kGptq) {
    need(ckpt, prefix + ".qweight", {StDtype::kI32}, s.marker, &file, used);
    need(ckpt, prefix + ".qzeros", {StDtype::kI32}, s.zeros, &file, used);
    need(ckpt, prefix + ".scales", floats, s.scales, &file, used);
    if (ckpt.find(prefix + ".g_idx", nullptr) != nullptr) need(ckpt, prefix + ".g_idx", {StDtype::kI32}, s.g_idx, &file, used);
    return s;
  }
  check_weight_shape(ckpt, prefix, m, n, used);
  need(ckpt, prefix + ".weight_packed", {StDtype::kI32}, s.marker, &file, used);
  need(ckpt, prefix + ".weight_scale", floats, s.scales, &file, used);
  if (!f.symmetric) need(ckpt, prefix + ".weight_zero_point", {StDtype::kI32}, s.zeros, &file, used);
  if (f.g_idx_required || ckpt.find(prefix + ".weight_g_idx", nullptr) != nullptr)
    need(ckpt, prefix + ".weight_g_idx", {StDtype::kI32}, s.g_idx, &file, used);
  return s;
}

// The subject of a message about the packed codes of rows [r0, r1) of an m-row layer: the
// unpackers count rows from r0, so a partial read says where it started.
std::string rows_subject(const std::string &subject, int64_t r0, int64_t r1, int64_t m) {
  return r0 == 0 && r1 == m ? subject : subject + " (output rows from " + std::to_string(r0) + ")";
}

// The readers below run after check_layer_index: the shapes they ask for are the ones it checked.
// They unpack the codes of output rows [r0, r1) ((r1 - r0) x n) and every group's scales and zeros.
void read_gptq(const SafetensorsCheckpoint &ckpt, const std::string &prefix, const QuantizedLinearFormat &f, int64_t m,
               int64_t n, int64_t r0, int64_t r1, const LayerShapes &s, std::vector<uint8_t> *codes, std::vector<float> *scales,
               std::vector<float> *zeros, std::vector<int32_t> *g_idx) {
  std::string subject;
  std::vector<std::string> names;  // already listed by check_layer_index
  // qweight is [words(n), m]: output row o is column o, so rows [r0, r1) are a column range.
  const std::vector<int32_t> qweight = read_i32_block(ckpt, prefix + ".qweight", s.marker, 0, s.marker[0], r0, r1, &subject);
  unpack_gptq_qweight(codes->data(), qweight.data(), r1 - r0, n, f.bits, rows_subject(subject, r0, r1, m));
  const std::vector<int32_t> qzeros = read_i32(ckpt, prefix + ".qzeros", s.zeros, &names, &subject);
  unpack_gptq_qzeros(zeros->data(), qzeros.data(), s.groups, m, f.bits, f.gptq_v1, subject);
  *scales = read_float(ckpt, prefix + ".scales", s.scales, &names);
  if (ckpt.find(prefix + ".g_idx", nullptr) != nullptr) {
    *g_idx = read_i32(ckpt, prefix + ".g_idx", s.g_idx, &names, &subject);
    check_g_idx(g_idx->data(), n, s.groups, subject);
  } else {
    *g_idx = default_g_idx(n, s.group_size);  // AutoRound's auto_gptq packer omits g_idx (spec learned_rounding §2.2)
  }
}

void read_compressed(const SafetensorsCheckpoint &ckpt, const std::string &prefix, const QuantizedLinearFormat &f,
                     int64_t m, int64_t n, int64_t r0, int64_t r1, const LayerShapes &s, std::vector<uint8_t> *codes,
                     std::vector<float> *scales, std::vector<float> *zeros, std::vector<int32_t> *g_idx) {
  std::string subject;
  std::vector<std::string> names;  // already listed by check_layer_index
  const int64_t G = s.groups;
  // weight_packed is [m, words(n)]: output rows [r0, r1) are its rows.
  const std::vector<int32_t> packed = read_i32_block(ckpt, prefix + ".weight_packed", s.marker, r0, r1, 0, s.marker[1], &subject);
  unpack_compressed_weight(codes->data(), packed.data(), r1 - r0, n, f.bits, rows_subject(subject, r0, r1, m));
  const std::vector<float> sc = read_float(ckpt, prefix + ".weight_scale", s.scales, &names);
  for (int64_t o = 0; o < m; ++o)
    for (int64_t k = 0; k < G; ++k) (*scales)[(size_t)(k * m + o)] = sc[(size_t)(o * G + k)];
  if (f.symmetric) {
    zeros->assign((size_t)(G * m), (float)(1 << (f.bits - 1)));
  } else {
    const std::vector<int32_t> zp = read_i32(ckpt, prefix + ".weight_zero_point", s.zeros, &names, &subject);
    unpack_compressed_zero_point(zeros->data(), zp.data(), G, m, f.bits, subject);
  }
  if (f.g_idx_required || ckpt.find(prefix + ".weight_g_idx", nullptr) != nullptr) {
    *g_idx = read_i32(ckpt, prefix + ".weight_g_idx", s.g_idx, &names, &subject);
    check_g_idx(g_idx->data(), n, G, subject);
  } else {
    *g_idx = default_g_idx(n, s.group_size);
  }
}

}  // namespace

void check_g_idx(const int32_t *g_idx, int64_t n, int64_t G, const std::string &subject) {
  for (int64_t j = 0; j < n; ++j)
    if (g_idx[j] < 0 || g_idx[j] >= G)
      bad(subject, "entry " + std::to_string(j) + " is " + std::to_string(g_idx[j]) + ", outside [0, " +
                       std::to_string(G) + ") (the number of scale groups)");
}

namespace {

// Rows [r0, r1) of dequantize_groups' output: out and codes are (r1 - r0) x n, scales and zeros
// G x m for the whole layer.
void dequantize_group_rows(float *out, const uint8_t *codes, const float *scales, const float *zeros, const int32_t *g_idx,
                           int64_t m, int64_t n, int64_t r0, int64_t r1) {
  for (int64_t o = r0; o < r1; ++o)
    for (int64_t j = 0; j < n; ++j) {
      const int64_t g = (int64_t)g_idx[j] * m + o, i = (o - r0) * n + j;
      out[i] = scales[g] * ((float)codes[i] - zeros[g]);  // the expression of QuantizedLayer::dequantize
    }
}

}  // namespace

void dequantize_groups(float *out, const uint8_t *codes, const float *scales, const float *zeros, const int32_t *g_idx,
                       int64_t m, int64_t n) {
  dequantize_group_rows(out, codes, scales, zeros, g_idx, m, n, 0, m);
}

// ----------------------------------------------------------------------------------------------
// quantization_config
// ----------------------------------------------------------------------------------------------

namespace {

// Ordered: GPTQ's `dynamic` is matched first entry first, in file order.
using ojson = nlohmann::ordered_json;

const char *const kConfigHint = "fix config.json's quantization_config, or re-export the checkpoint";

[[noreturn]] void config_bad(const std::string &path, const std::string &problem) {
  fail(Status::Format, path, "quantization_config: " + problem, kConfigHint);
}

[[noreturn]] void config_unsupported(const std::string &path, const std::string &problem, const std::string &hint) {
  fail(Status::Unsupported, path, "quantization_config: " + problem, hint);
}

// Typed access to one JSON object's keys; `where` prefixes key names in messages.
class Keys {
 public:
  Keys(const ojson &j, const std::string &path, const std::string &where) : j_(j), path_(path), where_(where) {
    if (!j.is_object()) config_bad(path, where + " is not an object");
  }
  bool has(const char *key) const { return j_.contains(key) && !j_.at(key).is_null(); }
  const ojson &at(const char *key) const { return j_.at(key); }
  int64_t integer(const char *key, int64_t fallback, bool required = false) const {
    if (!has(key)) {
      if (required) config_bad(path_, "missing \"" + where_ + key + "\"");
      return fallback;
    }
    if (!j_.at(key).is_number_integer()) config_bad(path_, "\"" + where_ + key + "\" is not an integer");
    return j_.at(key).get<int64_t>();
  }
  bool boolean(const char *key, bool fallback) const {
    if (!has(key)) return fallback;
    if (!j_.at(key).is_boolean()) config_bad(path_, "\"" + where_ + key + "\" is not true/false");
    return j_.at(key).get<bool>();
  }
  std::string string(const char *key, const std::string &fallback, bool required = false) const {
    if (!has(key)) {
      if (required) config_bad(path_, "missing \"" + where_ + key + "\"");
      return fallback;
    }
    if (!j_.at(key).is_string()) config_bad(path_, "\"" + where_ + key + "\" is not a string");
    return j_.at(key).get<std::string>();
  }
  // True when the key holds something other than null, false, {} or [] (an enabled feature).
  bool set(const char *key) const {
    if (!has(key)) return false;
    const ojson &v = j_.at(key);
    return !(v.is_boolean() && !v.get<bool>()) && !((v.is_object() || v.is_array()) && v.empty());
  }

 private:
  const ojson &j_;
  const std::string &path_;
  std::string where_;
};

}  // namespace

struct QuantizationConfig::Pattern {
  std::regex re;
};

namespace {

// Python re.match: the pattern must match at the start of the name, not necessarily to its end.
template <class P>
bool re_match(const std::shared_ptr<const P> &p, const std::string &s) {
  return std::regex_search(s, p->re, std::regex_constants::match_continuous);
}

template <class P>
std::shared_ptr<const P> compile(const std::string &pattern, const std::string &path) {
  try {
    return std::make_shared<const P>(P{std::regex(pattern, std::regex::ECMAScript)});
  } catch (const std::regex_error &) {
    config_bad(path, "invalid regular expression \"" + pattern + "\"");
  }
}

int check_gptq_bits(int64_t bits, const std::string &path) {
  if (bits != 2 && bits != 3 && bits != 4 && bits != 8)
    config_unsupported(path, "GPTQ with bits " + std::to_string(bits), "GPTQ checkpoints hold 2, 3, 4 or 8 bits");
  return (int)bits;
}

int64_t gptq_group_size(const Keys &k, int64_t fallback, const std::string &path) {
  const int64_t g = k.integer("group_size", fallback);
  if (g != -1 && g < 1) config_bad(path, "group_size " + std::to_string(g) + " is neither -1 nor positive");
  return g;
}

}  // namespace

QuantizationConfig QuantizationConfig::parse(const std::string &text, const std::string &path,
                                             bool accept_other_methods) {
  QuantizationConfig c;
  const ojson root = ojson::parse(text, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded() || !root.is_object()) fail(Status::Format, path, "is not a JSON object", kConfigHint);
  if (!root.contains("quantization_config") || root.at("quantization_config").is_null()) return c;
  const Keys q(root.at("quantization_config"), path, "quantization_config.");
  c.method_ = q.string("quant_method", "", /*required=*/true);
  if (c.method_ == "gptq") {
    QuantizedLinearFormat &f = c.summary_;
    f.kind = QuantizedLinearFormat::Kind::kGptq;
    f.bits = check_gptq_bits(q.integer("bits", 0, /*required=*/true), path);
    f.group_size = gptq_group_size(q, -1, path);
    f.symmetric = q.boolean("sym", true);
    c.checkpoint_format_ = q.string("checkpoint_format", q.string("format", "gptq"));
    if (c.checkpoint_format_ != "gptq" && c.checkpoint_format_ != "gptq_v2")
      config_unsupported(path, "GPTQ checkpoint_format \"" + c.checkpoint_format_ + "\"",
                         "only gptq (v1) and gptq_v2 layouts are read; convert the checkpoint with GPTQModel");
    f.gptq_v1 = c.checkpoint_format_ == "gptq";
    const std::string pack = q.string("pack_dtype", "int32");
    if (pack != "int32") config_unsupported(path, "GPTQ pack_dtype \"" + pack + "\"", "only int32 packing is read");
    if (q.boolean("lm_head", false)) config_unsupported(path, "a quantized lm_head", "only decoder-layer linears may be quantized");
    if (q.boolean("is_marlin_format", false))
      config_unsupported(path, "a Marlin-format GPTQ checkpoint", "convert it back to the gptq layout");
    if (q.has("dynamic")) {
      const ojson &dyn = q.at("dynamic");
      if (!dyn.is_object()) config_bad(path, "\"dynamic\" is not an object");
      for (const auto &item : dyn.items()) {
        Rule r;
        r.text = item.key();
        r.skip = r.text.rfind("-:", 0) == 0;
        const std::string pattern = r.text.rfind("-:", 0) == 0 || r.text.rfind("+:", 0) == 0 ? r.text.substr(2) : r.text;
        r.re = compile<Pattern>(pattern, path);
        if (r.skip) {  // "-:<regex>": {} (its value carries nothing)
          c.dynamic_.push_back(std::move(r));
          continue;
        }
        const Keys o(item.value(), path, "quantization_config.dynamic[\"" + r.text + "\"].");
        r.format = f;
        r.format.bits = check_gptq_bits(o.integer("bits", f.bits), path);
        r.format.group_size = gptq_group_size(o, f.group_size, path);
        r.format.symmetric = o.boolean("sym", f.symmetric);
        c.dynamic_.push_back(std::move(r));
      }
    }
    return c;
  }
  if (c.method_ == "compressed-tensors") {
    c.checkpoint_format_ = q.string("format", "", /*required=*/true);
    const std::string hint = "this library reads compressed-tensors pack-quantized (int4/int8 weights) only";
    if (c.checkpoint_format_ != "pack-quantized")
      config_unsupported(path, "compressed-tensors format \"" + c.checkpoint_format_ + "\"", hint);
    const std::string status = q.string("quantization_status", "compressed");
    if (status != "compressed")
      config_unsupported(path, "quantization_status \"" + status + "\" (weights not compressed)", hint);
    for (const char *key : {"sparsity_config", "transform_config"})
      if (q.set(key)) config_unsupported(path, std::string("a ") + key, hint);
    if (!q.has("config_groups") || !q.at("config_groups").is_object()) config_bad(path, "\"config_groups\" is missing or not an object");
    for (const auto &item : q.at("config_groups").items()) {
      const std::string where = "quantization_config.config_groups." + item.key() + ".";
      const Keys g(item.value(), path, where);
      for (const char *key : {"input_activations", "output_activations"})
        if (g.set(key)) config_unsupported(path, where + key + " (activation quantization)", hint);
      const std::string group_format = g.string("format", "pack-quantized");
      if (group_format != "pack-quantized") config_unsupported(path, where + "format \"" + group_format + "\"", hint);
      if (!g.has("weights")) continue;  // a group quantizing nothing this loader reads
      const Keys w(g.at("weights"), path, where + "weights.");
      Group grp;
      QuantizedLinearFormat &f = grp.format;
      f.kind = QuantizedLinearFormat::Kind::kCompressed;
      const int64_t num_bits = w.integer("num_bits", 0, /*required=*/true);
      if (num_bits != 4 && num_bits != 8)
        config_unsupported(path, where + "num_bits " + std::to_string(num_bits) + " with pack-quantized",
                           "pack-quantized is read for 4 and 8 bits; write 2/3-bit models as gptq");
      f.bits = (int)num_bits;
      const std::string type = w.string("type", "int");
      if (type != "int") config_unsupported(path, where + "type \"" + type + "\"", hint);
      if (w.boolean("dynamic", false)) config_unsupported(path, where + "dynamic weight quantization", hint);
      f.symmetric = w.boolean("symmetric", true);
      const std::string strategy = w.string("strategy", "", /*required=*/true);
      if (strategy == "group") {
        f.group_size = w.integer("group_size", 0, /*required=*/true);
        if (f.group_size < 1) config_bad(path, where + "group_size " + std::to_string(f.group_size) + " is not positive");
      } else if (strategy == "channel") {
        f.group_size = -1;
      } else {
        config_unsupported(path, where + "strategy \"" + strategy + "\"", "group and channel strategies are read");
      }
      const std::string actorder = w.string("actorder", "");
      if (!actorder.empty() && actorder != "group" && actorder != "weight" && actorder != "static")
        config_unsupported(path, where + "actorder \"" + actorder + "\"", hint);
      f.g_idx_required = actorder == "group";
      if (!g.has("targets") || !g.at("targets").is_array()) config_bad(path, where + "targets is missing or not a list");
      for (const ojson &t : g.at("targets")) {
        if (!t.is_string()) config_bad(path, where + "targets holds a non-string");
        const std::string s = t.get<std::string>();
        if (s.rfind("re:", 0) == 0) {
          grp.regexes.push_back({s, compile<Pattern>(s.substr(3), path), false, f});
        } else if (s.find('.') == std::string::npos && !s.empty() && std::isupper((unsigned char)s[0])) {
          grp.classes.push_back(s);  // a module class ("Linear")
        } else {
          grp.names.push_back(s);
        }
      }
      if (c.groups_.empty()) c.summary_ = f;
      c.groups_.push_back(std::move(grp));
    }
    if (q.has("ignore")) {
      if (!q.at("ignore").is_array()) config_bad(path, "\"ignore\" is not a list");
      for (const ojson &t : q.at("ignore")) {
        if (!t.is_string()) config_bad(path, "\"ignore\" holds a non-string");
        const std::string s = t.get<std::string>();
        if (s.rfind("re:", 0) == 0)
          c.ignore_regexes_.push_back({s, compile<Pattern>(s.substr(3), path), true, {}});
        else
          c.ignore_names_.push_back(s);
      }
    }
    return c;
  }
  if (!accept_other_methods)
    config_unsupported(path, "quant_method \"" + c.method_ + "\"",
                       "this library loads gptq and compressed-tensors (pack-quantized) checkpoints; dequantize it "
                       "with its own tool first");
  return c;
}

bool QuantizationConfig::format_of(const std::string &module, QuantizedLinearFormat *out) const {
  if (method_ == "gptq") {
    for (const Rule &r : dynamic_)
      if (re_match(r.re, module)) {
        if (r.skip) return false;
        *out = r.format;
        return true;
      }
    *out = summary_;
    return true;
  }
  if (method_ != "compressed-tensors") return false;
  for (const std::string &name : ignore_names_)
    if (name == module) return false;
  for (const Rule &r : ignore_regexes_)
    if (re_match(r.re, module)) return false;
  // compressed-tensors ranks matches: an exact module name, then a regex, then a class name.
  const Group *hit = nullptr;
  for (const Group &g : groups_)
    for (const std::string &name : g.names)
      if (!hit && name == module) hit = &g;
  for (const Group &g : groups_)
    for (const Rule &r : g.regexes)
      if (!hit && re_match(r.re, module)) hit = &g;
  for (const Group &g : groups_)
    for (const std::string &cls : g.classes)
      if (!hit && cls == "Linear") hit = &g;  // every layer this loader quantizes is a Linear
  if (hit) *out = hit->format;
  return hit != nullptr;
}

std::string quantized_marker_name(const std::string &prefix, QuantizedLinearFormat::Kind kind) {
  return prefix + (kind == QuantizedLinearFormat::Kind::kGptq ? ".qweight" : ".weight_packed");
}

namespace {

// A tensor whose bytes one pack call writes into a fresh array of `count` T when the file reaches it.
template <class T>
StTensorData packed_tensor(std::string name, StDtype dtype, std::vector<int64_t> shape, int64_t count,
                           const GridCodesLender &lend, std::function<void(const GridCodes &, T *)> pack) {
  StTensorData t{std::move(name), dtype, std::move(shape)};
  t.produce = [count, lend, pack = std::move(pack)](const ByteSink &sink) {
    lend([&](const GridCodes &q) {
      std::vector<T> out(static_cast<size_t>(count));
      pack(q, out.data());
      sink(out.data(), out.size() * sizeof(T));
    });
  };
  return t;
}

}  // namespace

void append_gptq_tensors(const std::string &module, const GridCodes &shape, const GridCodesLender &lend,
                         PackFormat format, std::vector<StTensorData> *tensors) {
  const int64_t m = shape.rows, n = shape.cols, G = shape.groups;
  const int64_t wrows = gptq_packed_words(n, shape.bits), zcols = gptq_packed_words(m, shape.bits);
  tensors->push_back(packed_tensor<int32_t>(module + ".qweight", StDtype::kI32, {wrows, m}, wrows * m, lend,
                                            [format](const GridCodes &q, int32_t *o) { pack_gptq(q, format, o, nullptr, nullptr, nullptr); }));
  tensors->push_back(packed_tensor<int32_t>(module + ".qzeros", StDtype::kI32, {G, zcols}, G * zcols, lend,
                                            [format](const GridCodes &q, int32_t *o) { pack_gptq(q, format, nullptr, o, nullptr, nullptr); }));
  tensors->push_back(packed_tensor<int32_t>(module + ".g_idx", StDtype::kI32, {n}, n, lend,
                                            [format](const GridCodes &q, int32_t *o) { pack_gptq(q, format, nullptr, nullptr, nullptr, o); }));
  tensors->push_back(packed_tensor<uint16_t>(module + ".scales", StDtype::kF16, {G, m}, G * m, lend,
                                             [format](const GridCodes &q, uint16_t *o) { pack_gptq(q, format, nullptr, nullptr, o, nullptr); }));
}

void append_compressed_tensors(const std::string &module, const GridCodes &shape, const GridCodesLender &lend,
                               bool symmetric, bool bf16_scales, bool with_g_idx, std::vector<StTensorData> *tensors) {
  const int64_t m = shape.rows, n = shape.cols, G = shape.groups;
  const int64_t wcols = compressed_packed_words(n, shape.bits), zrows = compressed_packed_words(m, shape.bits);
  tensors->push_back(packed_tensor<int32_t>(
      module + ".weight_packed", StDtype::kI32, {m, wcols}, m * wcols, lend,
      [bf16_scales](const GridCodes &q, int32_t *o) { pack_compressed(q, bf16_scales, o, nullptr, nullptr, nullptr); }));
  tensors->push_back(packed_tensor<uint16_t>(
      module + ".weight_scale", bf16_scales ? StDtype::kBF16 : StDtype::kF16, {m, G}, m * G, lend,
      [bf16_scales](const GridCodes &q, uint16_t *o) { pack_compressed(q, bf16_scales, nullptr, nullptr, o, nullptr); }));
  StTensorData weight_shape{module + ".weight_shape", StDtype::kI64, {2}};
  weight_shape.produce = [m, n](const ByteSink &sink) {
    const int64_t mn[2] = {m, n};
    sink(mn, sizeof mn);
  };
  tensors->push_back(std::move(weight_shape));
  if (!symmetric)
    tensors->push_back(packed_tensor<int32_t>(
        module + ".weight_zero_point", StDtype::kI32, {zrows, G}, zrows * G, lend,
        [bf16_scales](const GridCodes &q, int32_t *o) { pack_compressed(q, bf16_scales, nullptr, o, nullptr, nullptr); }));
  if (with_g_idx)
    tensors->push_back(packed_tensor<int32_t>(
        module + ".weight_g_idx", StDtype::kI32, {n}, n, lend,
        [bf16_scales](const GridCodes &q, int32_t *o) { pack_compressed(q, bf16_scales, nullptr, nullptr, nullptr, o); }));
}

namespace {

// Output rows [r0, r1) of a layer whose index check_layer_index passed with shapes s.
void read_layer_rows(const SafetensorsCheckpoint &ckpt, const std::string &prefix, const QuantizedLinearFormat &f,
                     int64_t m, int64_t n, int64_t r0, int64_t r1, const LayerShapes &s, float *out) {
  std::vector<uint8_t> codes((size_t)((r1 - r0) * n));
  std::vector<float> scales((size_t)(s.groups * m)), zeros((size_t)(s.groups * m));
  std::vector<int32_t> g_idx;
  if (f.kind == QuantizedLinearFormat::Kind::kGptq)
    read_gptq(ckpt, prefix, f, m, n, r0, r1, s, &codes, &scales, &zeros, &g_idx);
  else
    read_compressed(ckpt, prefix, f, m, n, r0, r1, s, &codes, &scales, &zeros, &g_idx);
  dequantize_group_rows(out, codes.data(), scales.data(), zeros.data(), g_idx.data(), m, n, r0, r1);
}

}  // namespace

void read_quantized_linear(const SafetensorsCheckpoint &ckpt, const std::string &prefix,
                           const QuantizedLinearFormat &f, int64_t m, int64_t n, float *out,
                           std::vector<std::string> *used) {
  const LayerShapes s = check_layer_index(ckpt, prefix, f, m, n, used);
  read_layer_rows(ckpt, prefix, f, m, n, 0, m, s, out);
}

void read_quantized_linear_rows(const SafetensorsCheckpoint &ckpt, const std::string &prefix,
                                const QuantizedLinearFormat &f, int64_t m, int64_t n, int64_t r0, int64_t r1, float *out) {
  std::vector<std::string> names;
  const LayerShapes s = check_layer_index(ckpt, prefix, f, m, n, &names);
  require(r0 >= 0 && r0 <= r1 && r1 <= m, Status::InvalidArgument,
          prefix + ": rows [" + std::to_string(r0) + ", " + std::to_string(r1) + ") outside [0, " + std::to_string(m) + ")");
  if (r0 < r1) read_layer_rows(ckpt, prefix, f, m, n, r0, r1, s, out);
}

void check_quantized_linear(const SafetensorsCheckpoint &ckpt, const std::string &prefix,
                            const QuantizedLinearFormat &format, int64_t m, int64_t n, std::vector<std::string> *used) {
  std::vector<std::string> unused;
  check_layer_index(ckpt, prefix, format, m, n, used ? used : &unused);
}

}  // namespace vqr::io
