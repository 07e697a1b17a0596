// LLaMA-family models as GGUF files (gguf_model.h): the tensor table, the encoding of each tensor
// (ggml blocks where io::grid_block_type finds an exact mapping, spec §4.4 "Exact mappings", else
// dense), the metadata llama.cpp reads, and the loader.
#include "model/gguf_model.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <set>

#include "core/dtype.h"
#include "core/error.h"
#include "core/shape_text.h"
#include "io/ggml_blocks.h"
#include "io/gguf.h"
#include "model/forward.h"
#include "model/gguf_vocab.h"
#include "model/mapped_sources.h"
#include "model/rope_layout.h"
#include "model/weight_rows.h"

namespace vqr::model {

namespace {

using io::GgmlType;

const char *const kLoadHint = "the file does not match its own metadata; re-convert the model with llama.cpp";

// The architectures GGUF carries for us: llama.cpp's name, the Hugging Face class a loaded model
// gets, and the RoPE layout llama.cpp applies (LLAMA_ROPE_TYPE_NORM = adjacent pairs, NEOX = halves).
struct Arch {
  const char *gguf;
  const char *hf;
  RopeLayout layout;
};
constexpr Arch kArchs[] = {{"llama", "LlamaForCausalLM", RopeLayout::kInterleaved},
                           {"qwen2", "Qwen2ForCausalLM", RopeLayout::kHalf},
                           {"qwen3", "Qwen3ForCausalLM", RopeLayout::kHalf}};

const Arch *arch_by_gguf(const std::string &name) {
  for (const Arch &a : kArchs)
    if (name == a.gguf) return &a;
  return nullptr;
}

// Hugging Face class (or "" for llama2.c) -> GGUF architecture; nullptr when there is none.
const Arch *arch_of_model(const ModelConfig &c) {
  if (c.architecture.empty() || c.architecture == "LlamaForCausalLM" || c.architecture == "MistralForCausalLM")
    return &kArchs[0];
  for (const Arch &a : kArchs)
    if (c.architecture == a.hf) return &a;
  return nullptr;
}

const char *gguf_linear_name(LinearKind kind) {
  switch (kind) {
    case LinearKind::kWq: return "attn_q";
    case LinearKind::kWk: return "attn_k";
    case LinearKind::kWv: return "attn_v";
    case LinearKind::kWo: return "attn_output";
    case LinearKind::kW1: return "ffn_gate";
    case LinearKind::kW2: return "ffn_down";
    case LinearKind::kW3: return "ffn_up";
  }
  return "?";
}

enum class Role { kNorm, kDense, kLinear };

// One tensor of the model as GGUF names it. shape is PyTorch's order ([rows, cols] or [n]); the
// file's ne is its reverse. rope_heads > 0 marks q/k rows (and their biases and norms) whose order
// depends on the RoPE layout: heads of head_size rows.
struct Slot {
  std::string name;
  std::vector<int64_t> shape;
  float *data;
  Role role;
  int layer = -1;
  LinearKind kind = LinearKind::kWq;
  int64_t rope_heads = 0;
};

// Every tensor the config implies. With m NULL the data pointers are NULL: the names and shapes
// alone, checked against the file's tensor infos before the model is allocated.
std::vector<Slot> gguf_slots(const ModelConfig &c, Model *m) {
  const int64_t C = c.dim, V = c.vocab_size, HS = c.head_size();
  auto at = [&](TensorId id, int64_t offset) { return m ? m->tensor(id) + offset : nullptr; };
  std::vector<Slot> s;
  s.push_back({"token_embd.weight", {V, C}, at(TensorId::kTokenEmbedding, 0), Role::kDense});
  for (int l = 0; l < c.n_layers; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    s.push_back({p + "attn_norm.weight", {C}, at(TensorId::kRmsAtt, l * C), Role::kNorm});
    for (LinearKind k : kAllLinearKinds) {
      const int64_t heads = k == LinearKind::kWq ? c.n_heads : k == LinearKind::kWk ? c.n_kv_heads : 0;
      const int64_t rows = c.linear_rows(k);
      s.push_back({p + gguf_linear_name(k) + ".weight", {rows, c.input_width(input_of(k))}, m && !m->streamed() ? m->linear_data(l, k) : nullptr,
                   Role::kLinear, l, k, heads});
      if (c.qkv_bias && (k == LinearKind::kWq || k == LinearKind::kWk || k == LinearKind::kWv))
        s.push_back({p + gguf_linear_name(k) + ".bias", {rows}, m ? const_cast<float *>(m->bias(l, k)) : nullptr, Role::kNorm, l, k, heads});
      if (k == LinearKind::kWk && c.qk_norm) {
        s.push_back({p + "attn_q_norm.weight", {HS}, m ? const_cast<float *>(m->q_norm(l)) : nullptr, Role::kNorm, l, k, 1});
        s.push_back({p + "attn_k_norm.weight", {HS}, m ? const_cast<float *>(m->k_norm(l)) : nullptr, Role::kNorm, l, k, 1});
      }
    }
    s.push_back({p + "ffn_norm.weight", {C}, at(TensorId::kRmsFfn, l * C), Role::kNorm});
  }
  s.push_back({"output_norm.weight", {C}, at(TensorId::kRmsFinal, 0), Role::kNorm});
  if (!c.shared_classifier) s.push_back({"output.weight", {V, C}, at(TensorId::kClassifier, 0), Role::kDense});
  return s;
}

int64_t count_of(const std::vector<int64_t> &shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::vector<int64_t> reversed(const std::vector<int64_t> &v) { return std::vector<int64_t>(v.rbegin(), v.rend()); }

bool same_bits(float a, float b) { return std::memcmp(&a, &b, sizeof(float)) == 0; }

// llama3 RoPE scaling (spec: transformers' _compute_llama3_parameters) as llama.cpp stores it: one
// factor per rotation pair in the tensor rope_freqs.weight, by which llama.cpp divides that pair's
// frequency (ggml_rope_ext's freq_factors). Pair j of base frequency f (theta^(-2j/HS)) and wave
// length 2 pi / f gets 1 below the high-frequency wave length, `factor` above the low-frequency one,
// and 1 / ((1 - s) / factor + s) between, s the smoothing ramp: the same divisor our forward
// applies (rope_inverse_frequencies), in float as llama.cpp's converter computes it.
constexpr char kRopeFreqs[] = "rope_freqs.weight";
// Keys with which our files also name the llama3 parameters (llama.cpp ignores them): the factors
// alone do not determine the smoothing band's parameters.
constexpr char kLlama3Keys[] = "vqround.rope.llama3.";

std::vector<float> llama3_rope_factors(const ModelConfig &c) {
  ModelConfig base = c;
  base.rope_scaling = RopeScaling::kNone;
  const std::vector<float> freq = rope_inverse_frequencies(base);
  const float pi = 3.14159265358979323846f, ctx = static_cast<float>(c.rope_original_context);
  const float low_wavelen = ctx / c.rope_low_freq_factor, high_wavelen = ctx / c.rope_high_freq_factor;
  std::vector<float> factors;
  for (float f : freq) {
    const float wavelen = 2.0f * pi / f;
    if (wavelen < high_wavelen) {
      factors.push_back(1.0f);
    } else if (wavelen > low_wavelen) {
      factors.push_back(c.rope_factor);
    } else {
      const float smooth = (ctx / wavelen - c.rope_low_freq_factor) / (c.rope_high_freq_factor - c.rope_low_freq_factor);
      factors.push_back(1.0f / ((1.0f - smooth) / c.rope_factor + smooth));
    }
  }
  return factors;
}

// ---------------------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------------------

// What F16 storage of some values does: how many round, whether a finite one overflows to Inf.
struct F16Scan {
  int64_t lossy = 0;
  bool overflow = false;
  void add(const float *x, int64_t count) {
    for (int64_t i = 0; i < count; ++i) {
      const float back = f16_to_f32(f32_to_f16(x[i]));
      lossy += !same_bits(back, x[i]);
      overflow |= std::isfinite(x[i]) && !std::isfinite(back);
    }
  }
};

// The storage of `count` dense values: F16 when asked and no finite value overflows (scan), else
// F32. *how says what was done ("stored as F16 (lossy: ...)"), a warning when values round.
GgmlType dense_type(bool f16, const F16Scan &scan, int64_t count, ExportNote *how) {
  if (f16 && !scan.overflow) {
    *how = scan.lossy ? ExportNote{LogLevel::Warn, "stored as F16 (lossy: " + std::to_string(scan.lossy) + " of " +
                                                     std::to_string(count) + " values round)"}
                      : ExportNote{LogLevel::Info, "stored as F16 (exact)"};
    return GgmlType::kF16;
  }
  *how = f16 ? ExportNote{LogLevel::Info, "values outside the F16 range; stored as F32"} : ExportNote{LogLevel::Info, "stored as F32"};
  return GgmlType::kF32;
}

// A slot's values in either storage: linear weights, the embedding and the classifier through the
// row readers, norms and biases from the arena as one column (a permutation moves single values).
TensorRows slot_rows(const Model &m, const Slot &s) {
  if (s.role == Role::kLinear) return linear_tensor_rows(m, s.layer, s.kind);
  if (s.role == Role::kDense) return s.name == "output.weight" ? classifier_tensor_rows(m) : embedding_tensor_rows(m);
  return memory_tensor_rows(s.data, count_of(s.shape), 1);
}

// Writes t's rows (in the order of `map`) as F32 or F16, one chunk at a time.
void write_dense(const TensorRows &t, const std::vector<int64_t> &map, GgmlType type, const io::ByteSink &sink) {
  const int64_t width = type == GgmlType::kF16 ? 2 : 4;
  std::vector<uint8_t> bytes;
  for_each_row_chunk(t, map, [&](const float *x, int64_t n) {
    bytes.resize(static_cast<size_t>(n * t.cols * width));
    if (type == GgmlType::kF16) io::encode_f16(bytes.data(), x, n * t.cols);
    else io::encode_f32(bytes.data(), x, n * t.cols);
    sink(bytes.data(), bytes.size());
    return true;
  });
}

void check_codes(const GridCodes &g, const Model &m, int layer, LinearKind kind) {
  const std::string where = "save_gguf: codes of " + Model::linear_name(layer, kind) + ": ";
  require(g.rows == m.linear_rows(kind) && g.cols == m.linear_cols(kind), Status::InvalidArgument,
          where + "shape " + std::to_string(g.rows) + " x " + std::to_string(g.cols) + " differs from the layer's " +
              std::to_string(m.linear_rows(kind)) + " x " + std::to_string(m.linear_cols(kind)));
  require(g.bits >= 1 && g.bits <= 8 && g.group_size >= 1 && g.codes && g.scales && g.zeros, Status::InvalidArgument,
          where + "bits must be 1..8, group_size >= 1 and codes, scales and zeros set");
  const int64_t groups = (g.cols + g.group_size - 1) / g.group_size;
  for (int64_t i = 0; i < groups * g.rows; ++i)
    require(std::isfinite(g.scales[i]) && std::isfinite(g.zeros[i]), Status::InvalidArgument, where + "non-finite scale or zero");
  const int limit = 1 << g.bits;
  for (int64_t i = 0; i < g.rows * g.cols; ++i)
    require(g.codes[i] < limit, Status::InvalidArgument,
            where + "code " + std::to_string(g.codes[i]) + " does not fit " + std::to_string(g.bits) + " bits");
}

// The grid's weights s (q - z) as a dense matrix (the fallback of a grid without a block type).
std::vector<float> grid_values(const GridCodes &g) {
  std::vector<float> w(static_cast<size_t>(g.rows * g.cols));
  for (int64_t o = 0; o < g.rows; ++o)
    for (int64_t i = 0; i < g.cols; ++i) {
      const int64_t k = io::group_of(g, i) * g.rows + o;
      w[static_cast<size_t>(o * g.cols + i)] = g.scales[k] * (static_cast<float>(g.codes[o * g.cols + i]) - g.zeros[k]);
    }
  return w;
}

// Refuses what llama.cpp's reading of the file would get wrong; before anything is written.
const Arch &check_expressible(const ModelConfig &c, const Tokenizer &tok) {
  const Arch *a = arch_of_model(c);
  if (!a)
    fail(Status::Unsupported, "save_gguf", "architecture \"" + c.architecture + "\" has no GGUF mapping here",
         "GGUF export supports LlamaForCausalLM, MistralForCausalLM (no sliding window), Qwen2ForCausalLM, Qwen3ForCausalLM and llama2.c models");
  const std::string arch = a->gguf;
  if (c.sliding_window > 0)
    fail(Status::Unsupported, "save_gguf", "a sliding attention window of " + std::to_string(c.sliding_window) + " has no " + arch + " GGUF key",
         "llama.cpp's " + arch + " architecture attends to the whole context; export huggingface instead");
  if (c.qkv_bias != (arch == "qwen2") || c.qk_norm != (arch == "qwen3"))
    fail(Status::Unsupported, "save_gguf", "q/k/v biases or q/k norms do not match the " + arch + " architecture",
         "only Qwen2 has q/k/v biases and only Qwen3 q/k norms in GGUF");
  require(tok.vocab_size() == c.vocab_size, Status::InvalidArgument,
          "save_gguf: the tokenizer has " + std::to_string(tok.vocab_size()) + " pieces but the model's vocabulary has " +
              std::to_string(c.vocab_size) + "; hint: pass the model's own tokenizer");
  return *a;
}

std::string stem_of(const std::string &path) {
  std::string name = path.substr(path.find_last_of('/') + 1);
  const size_t dot = name.rfind(".gguf");
  if (dot != std::string::npos && dot > 0 && dot + 5 == name.size()) name.resize(dot);
  return name.empty() ? "model" : name;
}

// llama.cpp's llama_ftype for the predominant storage type.
uint32_t file_type(const std::map<GgmlType, int64_t> &elements_by_type, bool f16) {
  GgmlType best = GgmlType::kF32;
  int64_t most = 0;
  for (const auto &[type, n] : elements_by_type)
    if ((type == GgmlType::kQ4_0 || type == GgmlType::kQ4_1 || type == GgmlType::kQ8_0) && n > most) {
      best = type;
      most = n;
    }
  switch (best) {
    case GgmlType::kQ4_0: return 2;  // LLAMA_FTYPE_MOSTLY_Q4_0
    case GgmlType::kQ4_1: return 3;  // LLAMA_FTYPE_MOSTLY_Q4_1
    case GgmlType::kQ8_0: return 7;  // LLAMA_FTYPE_MOSTLY_Q8_0
    default: return f16 ? 1 : 0;     // MOSTLY_F16, ALL_F32
  }
}

}  // namespace

void save_gguf(const Model &model, const Tokenizer &tokenizer, const std::string &path, const GgufWriteOptions &options,
               ExportNotes *notes) {
  require(options.dtype == "F32" || options.dtype == "F16", Status::InvalidArgument,
          "save_gguf: dtype must be F32 or F16, not " + options.dtype);
  const ModelConfig &c = model.config();
  const Arch &arch = check_expressible(c, tokenizer);
  const bool f16 = options.dtype == "F16";
  const int64_t HS = c.head_size();
  const bool permute = c.rope_layout != arch.layout;
  auto note = [&](LogLevel level, const std::string &line) {
    if (notes) notes->push_back({level, line});
  };

  // Grid codes first: a bad argument must not cost the encoding of the whole model.
  std::set<std::pair<int, int>> gridded;
  if (options.codes)
    for (int l = 0; l < c.n_layers; ++l)
      for (LinearKind k : kAllLinearKinds)
        if (const GridCodes *g = options.codes(l, k)) {
          check_codes(*g, model, l, k);
          gridded.insert({l, static_cast<int>(k)});
        }

  // Every tensor's type is decided before the file exists (the tensor infos precede the data):
  // dense values are scanned here for F16 and read again when written; grids are encoded when the
  // writer reaches them.
  struct Planned {
    Slot slot;
    GgmlType type = GgmlType::kF32;
    std::vector<int64_t> map;
    bool grid = false;
  };
  std::vector<Planned> planned;
  std::map<GgmlType, int64_t> elements_by_type;
  for (const Slot &s : gguf_slots(c, &const_cast<Model &>(model))) {  // read-only below
    Planned p;
    p.slot = s;
    const int64_t count = count_of(s.shape);
    if (permute && s.rope_heads > 0) p.map = rope_row_sources(s.rope_heads, HS, arch.layout == RopeLayout::kHalf);
    p.grid = s.role == Role::kLinear && gridded.count({s.layer, static_cast<int>(s.kind)});
    ExportNote how;
    if (p.grid) {
      const GridCodes &g = *options.codes(s.layer, s.kind);
      std::string why_not;
      p.type = io::grid_block_type(g, &why_not);
      if (p.type == GgmlType::kF32) {
        F16Scan scan;
        if (f16) scan.add(grid_values(g).data(), count);
        p.type = dense_type(f16, scan, count, &how);
        note(how.level, s.name + ": " + why_not + "; " + how.text);
      }
    } else if (s.role != Role::kNorm) {
      F16Scan scan;
      const TensorRows rows = slot_rows(model, s);
      if (f16)
        for_each_row_chunk(rows, {}, [&](const float *x, int64_t n) {
          scan.add(x, n * rows.cols);
          return true;
        });
      p.type = dense_type(f16, scan, count, &how);
      if (how.text != "stored as F32" && how.text != "stored as F16 (exact)") note(how.level, s.name + ": " + how.text);
    }  // norms and biases stay F32
    elements_by_type[p.type] += count;
    planned.push_back(std::move(p));
  }
  const bool quantized = elements_by_type.count(GgmlType::kQ4_0) || elements_by_type.count(GgmlType::kQ4_1) ||
                         elements_by_type.count(GgmlType::kQ8_0);

  io::GgufWriter w;
  const std::string a = arch.gguf;
  w.set_string("general.architecture", a);
  w.set_string("general.name", stem_of(path));
  w.set_u32(a + ".context_length", static_cast<uint32_t>(c.seq_len));
  w.set_u32(a + ".embedding_length", static_cast<uint32_t>(c.dim));
  w.set_u32(a + ".block_count", static_cast<uint32_t>(c.n_layers));
  w.set_u32(a + ".feed_forward_length", static_cast<uint32_t>(c.hidden_dim));
  w.set_u32(a + ".rope.dimension_count", static_cast<uint32_t>(HS));
  w.set_u32(a + ".attention.head_count", static_cast<uint32_t>(c.n_heads));
  w.set_u32(a + ".attention.head_count_kv", static_cast<uint32_t>(c.n_kv_heads));
  if (a == "qwen3" || HS * c.n_heads != c.dim) {  // llama.cpp's default head size is dim / head_count
    w.set_u32(a + ".attention.key_length", static_cast<uint32_t>(HS));
    w.set_u32(a + ".attention.value_length", static_cast<uint32_t>(HS));
  }
  w.set_f32(a + ".attention.layer_norm_rms_epsilon", c.norm_eps);
  w.set_f32(a + ".rope.freq_base", c.rope_theta);
  if (c.rope_scaling == RopeScaling::kLinear) {
    w.set_string(a + ".rope.scaling.type", "linear");
    w.set_f32(a + ".rope.scaling.factor", c.rope_factor);
  }
  std::vector<float> rope_factors;
  if (c.rope_scaling == RopeScaling::kLlama3) {  // llama.cpp reads the tensor; the keys are ours
    rope_factors = llama3_rope_factors(c);
    const std::string k = kLlama3Keys;
    w.set_f32(k + "factor", c.rope_factor);
    w.set_f32(k + "low_freq_factor", c.rope_low_freq_factor);
    w.set_f32(k + "high_freq_factor", c.rope_high_freq_factor);
    w.set_u32(k + "original_context_length", static_cast<uint32_t>(c.rope_original_context));
    w.add_tensor(kRopeFreqs, {static_cast<int64_t>(rope_factors.size())}, GgmlType::kF32, rope_factors.data(),
                 4 * static_cast<int64_t>(rope_factors.size()));
  }
  w.set_u32(a + ".vocab_size", static_cast<uint32_t>(c.vocab_size));
  w.set_u32("general.file_type", file_type(elements_by_type, f16));
  if (quantized) w.set_u32("general.quantization_version", 2);  // GGML_QNT_VERSION
  write_gguf_vocab(tokenizer, &w);
  for (const Planned &p : planned) {
    const Slot &s = p.slot;
    const io::GgmlTypeInfo *info = io::ggml_type_info(static_cast<uint32_t>(p.type));
    const int64_t nbytes = count_of(s.shape) / info->block_weights * info->block_bytes;
    io::ByteProducer produce;
    if (p.grid && p.type != GgmlType::kF32 && p.type != GgmlType::kF16) {
      produce = [&options, &p](const io::ByteSink &sink) {
        const std::vector<uint8_t> blocks = io::encode_grid_blocks(*options.codes(p.slot.layer, p.slot.kind), p.type, p.map);
        sink(blocks.data(), blocks.size());
      };
    } else if (p.grid) {
      produce = [&options, &p](const io::ByteSink &sink) {
        const GridCodes &g = *options.codes(p.slot.layer, p.slot.kind);
        const std::vector<float> values = grid_values(g);
        write_dense(memory_tensor_rows(values.data(), g.rows, g.cols), p.map, p.type, sink);
      };
    } else {
      produce = [&model, &p](const io::ByteSink &sink) { write_dense(slot_rows(model, p.slot), p.map, p.type, sink); };
    }
    w.add_tensor(s.name, reversed(s.shape), p.type, std::move(produce), nbytes);
  }
  if (permute)
    note(LogLevel::Info, std::string("q/k rows permuted from the ") +
                           (c.rope_layout == RopeLayout::kHalf ? "half" : "interleaved") + " RoPE layout to " + a +
                           "'s " + (arch.layout == RopeLayout::kHalf ? "half" : "interleaved") + " one");
  w.write(path, options.progress);
}

bool is_gguf_file(const std::string &path) { return io::is_gguf(path); }

// ---------------------------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------------------------

namespace {

int read_size(const io::GgufFile &f, const std::string &key, int64_t lo, int64_t hi) {
  const uint32_t v = f.get_u32(key);
  if (v < lo || v > hi)
    fail(Status::Format, f.path(), key + " = " + std::to_string(v) + " is outside [" + std::to_string(lo) + ", " + std::to_string(hi) + "]",
         kLoadHint);
  return static_cast<int>(v);
}

ModelConfig gguf_config(const io::GgufFile &f, const Arch &arch) {
  const std::string a = arch.gguf;
  constexpr int64_t kMax = int64_t{1} << 30;  // far above any real model, keeps products in int64
  ModelConfig c;
  c.architecture = arch.hf;
  c.rope_layout = arch.layout;
  c.dim = read_size(f, a + ".embedding_length", 1, kMax);
  c.hidden_dim = read_size(f, a + ".feed_forward_length", 1, kMax);
  c.n_layers = read_size(f, a + ".block_count", 1, 1 << 16);
  c.n_heads = read_size(f, a + ".attention.head_count", 1, 1 << 16);
  c.n_kv_heads = f.has(a + ".attention.head_count_kv") ? read_size(f, a + ".attention.head_count_kv", 1, 1 << 16) : c.n_heads;
  c.seq_len = read_size(f, a + ".context_length", 1, kMax);
  c.norm_eps = f.get_f32(a + ".attention.layer_norm_rms_epsilon");
  c.rope_theta = f.get_f32(a + ".rope.freq_base", 10000.0f);
  if (c.n_heads % c.n_kv_heads != 0)
    fail(Status::Format, f.path(), "head_count " + std::to_string(c.n_heads) + " is not a multiple of head_count_kv " + std::to_string(c.n_kv_heads), kLoadHint);
  const bool has_k = f.has(a + ".attention.key_length"), has_v = f.has(a + ".attention.value_length");
  int head = 0;
  if (has_k || has_v) {
    const int k = has_k ? read_size(f, a + ".attention.key_length", 2, 1 << 16) : 0;
    const int v = has_v ? read_size(f, a + ".attention.value_length", 2, 1 << 16) : 0;
    if (has_k && has_v && k != v)
      fail(Status::Unsupported, f.path(), "key_length " + std::to_string(k) + " differs from value_length " + std::to_string(v),
           "attention with different key and value head sizes is not implemented");
    head = has_k ? k : v;
  }
  if (head == 0) {
    if (c.dim % c.n_heads != 0)
      fail(Status::Format, f.path(), "embedding_length is not a multiple of head_count and there is no key_length", kLoadHint);
    head = c.dim / c.n_heads;
  }
  if (head != c.dim / c.n_heads || c.dim % c.n_heads != 0) c.head_dim = head;
  if (head % 2 != 0) fail(Status::Format, f.path(), "head size " + std::to_string(head) + " is odd", kLoadHint);
  const uint32_t rot = f.get_u32(a + ".rope.dimension_count", static_cast<uint32_t>(head));
  if (rot != static_cast<uint32_t>(head))
    fail(Status::Unsupported, f.path(), "rope.dimension_count " + std::to_string(rot) + " differs from the head size " + std::to_string(head),
         "partial rotary embeddings are not implemented");
  if (!std::isfinite(c.norm_eps) || !(c.norm_eps > 0.0f) || !std::isfinite(c.rope_theta) || !(c.rope_theta > 1.0f))
    fail(Status::Format, f.path(), "layer_norm_rms_epsilon must be > 0 and rope.freq_base > 1", kLoadHint);

  const std::string scaling = f.get_string(a + ".rope.scaling.type", "none");
  if (scaling == "linear") {
    c.rope_scaling = RopeScaling::kLinear;
    c.rope_factor = f.get_f32(a + ".rope.scaling.factor");
  } else if (scaling == "none") {
    const float legacy = f.get_f32(a + ".rope.scale_linear", 1.0f);  // older converters' linear factor
    if (legacy != 1.0f) {
      c.rope_scaling = RopeScaling::kLinear;
      c.rope_factor = legacy;
    }
  } else {
    fail(Status::Unsupported, f.path(), "RoPE scaling type \"" + scaling + "\"", "supported: none and linear");
  }
  if (c.rope_scaling == RopeScaling::kLinear && !(std::isfinite(c.rope_factor) && c.rope_factor > 0.0f))
    fail(Status::Format, f.path(), "rope.scaling.factor must be > 0", kLoadHint);

  const io::GgufTensorInfo *embd = f.find_tensor("token_embd.weight");
  if (!embd) fail(Status::Format, f.path(), "missing tensor token_embd.weight", kLoadHint);
  if (embd->ne.size() != 2 || embd->ne[1] > kMax)
    fail(Status::Format, f.path(), "tensor token_embd.weight has ne " + shape_text(embd->ne) + ", expected [dim, vocab]", kLoadHint);
  c.vocab_size = static_cast<int>(embd->ne[1]);
  if (f.has(a + ".vocab_size") && f.get_u32(a + ".vocab_size") != static_cast<uint32_t>(c.vocab_size))
    fail(Status::Format, f.path(), a + ".vocab_size " + std::to_string(f.get_u32(a + ".vocab_size")) + " differs from token_embd.weight's " +
                                       std::to_string(c.vocab_size) + " rows", kLoadHint);
  c.shared_classifier = f.find_tensor("output.weight") == nullptr;
  c.qkv_bias = a == "qwen2";
  c.qk_norm = a == "qwen3";
  return c;
}

// rope_freqs.weight as llama3 scaling (llama3_rope_factors): the parameters from our keys, else
// the values every Llama-3.1/3.2 release uses (low 1, high 4, original context 8192) with the
// largest factor as `factor`; the tensor must hold exactly those factors (to float rounding:
// llama.cpp's converter computes them in its own float order). Anything else is refused.
void read_rope_freqs(const io::GgufFile &f, const io::GgufTensorInfo &t, ModelConfig *c) {
  const int64_t pairs = c->head_size() / 2;
  if (t.ne != std::vector<int64_t>{pairs})
    fail(Status::Format, f.path(), std::string("tensor ") + kRopeFreqs + " has ne " + shape_text(t.ne) + ", expected [" +
                                       std::to_string(pairs) + "] (one factor per RoPE pair)", kLoadHint);
  std::vector<float> got(static_cast<size_t>(pairs));
  f.read_f32(t, got.data());
  if (c->rope_scaling != RopeScaling::kNone)
    fail(Status::Unsupported, f.path(), std::string(kRopeFreqs) + " together with another RoPE scaling type", "");
  const std::string k = kLlama3Keys;
  ModelConfig l3 = *c;
  l3.rope_scaling = RopeScaling::kLlama3;
  l3.rope_factor = f.has(k + "factor") ? f.get_f32(k + "factor") : *std::max_element(got.begin(), got.end());
  l3.rope_low_freq_factor = f.get_f32(k + "low_freq_factor", 1.0f);
  l3.rope_high_freq_factor = f.get_f32(k + "high_freq_factor", 4.0f);
  l3.rope_original_context = static_cast<int>(f.get_u32(k + "original_context_length", 8192));
  const bool sane = std::isfinite(l3.rope_factor) && l3.rope_factor >= 1.0f && std::isfinite(l3.rope_low_freq_factor) &&
                    std::isfinite(l3.rope_high_freq_factor) && l3.rope_low_freq_factor > 0.0f &&
                    l3.rope_high_freq_factor > l3.rope_low_freq_factor && l3.rope_original_context > 0;
  bool match = sane;
  if (sane) {
    const std::vector<float> want = llama3_rope_factors(l3);
    for (int64_t j = 0; j < pairs && match; ++j)
      match = std::fabs(got[static_cast<size_t>(j)] - want[static_cast<size_t>(j)]) <= 1e-5f * want[static_cast<size_t>(j)];
  }
  if (!match)
    fail(Status::Unsupported, f.path(), std::string(kRopeFreqs) + " holds per-frequency RoPE factors that are not llama3 scaling",
         "only llama3 scaling (Llama-3.1/3.2) is implemented; load the Hugging Face checkpoint instead");
  *c = l3;
}

// The file's tensor for slot s, after checking that it exists with the slot's shape (ne reversed).
const io::GgufTensorInfo &checked_tensor(const io::GgufFile &f, const Slot &s) {
  const io::GgufTensorInfo *t = f.find_tensor(s.name);
  if (!t) fail(Status::Format, f.path(), "missing tensor " + s.name, kLoadHint);
  const std::vector<int64_t> ne = reversed(s.shape);
  if (t->ne != ne)
    fail(Status::Format, f.path(), "tensor " + s.name + " has ne " + shape_text(t->ne) + ", expected " + shape_text(ne), kLoadHint);
  return *t;
}

}  // namespace

Model load_gguf(const std::string &path, Storage storage) {
  // Shared: a streamed model's sources keep the mapping alive.
  const auto file = std::make_shared<const io::GgufFile>(io::GgufFile::open(path));
  const io::GgufFile &f = *file;
  const std::string name = f.get_string("general.architecture");
  const Arch *arch = arch_by_gguf(name);
  if (!arch)
    fail(Status::Unsupported, path, "GGUF architecture \"" + name + "\" is not supported", "supported: llama, qwen2, qwen3");
  ModelConfig config = gguf_config(f, *arch);
  if (const io::GgufTensorInfo *freqs = f.find_tensor(kRopeFreqs)) read_rope_freqs(f, *freqs, &config);
  try {
    check_model_config(config);
  } catch (const Error &e) {
    if (e.status() != Status::InvalidArgument) throw;
    fail(Status::Format, path, std::string("inconsistent hyperparameters (") + e.what() + ")", kLoadHint);
  }
  // Every tensor the metadata implies is checked against the tensor infos (whose data ranges the
  // reader validated) before the model's fp32 arrays, sized by the metadata's claims, exist: a
  // small file claiming a width of 8192 fails here instead of committing gigabytes first.
  for (const Slot &s : gguf_slots(config, nullptr)) checked_tensor(f, s);
  Model model(config, storage);

  std::set<std::string> expected;
  if (config.rope_scaling == RopeScaling::kLlama3) expected.insert(kRopeFreqs);
  for (const Slot &s : gguf_slots(config, &model)) {
    expected.insert(s.name);
    if (s.data == nullptr) {  // streamed: a large tensor stays in the file (checked as it is read)
      std::shared_ptr<const TensorSource> source = gguf_source(file, checked_tensor(f, s), s.shape[0], s.shape[1]);
      if (s.role == Role::kLinear) model.set_linear_source(s.layer, s.kind, std::move(source));
      else if (s.name == "output.weight") model.set_classifier_source(std::move(source));
      else model.set_embedding_source(std::move(source));
      continue;
    }
    f.read_f32(checked_tensor(f, s), s.data);
    const int64_t bad = find_nonfinite(s.data, count_of(s.shape));
    if (bad >= 0)
      fail(Status::Format, path, "non-finite weight in " + s.name + " at element " + std::to_string(bad),
           "the file is damaged or was exported from a diverged run");
  }
  for (const io::GgufTensorInfo &t : f.tensors())
    if (!expected.count(t.name))
      fail(Status::Format, path, "unexpected tensor \"" + t.name + "\" for " + name,
           "the file holds tensors this loader does not know; it may be another model variant");
  return model;
}

}  // namespace vqr::model
