// Quantized linear layers of GPTQ and compressed-tensors checkpoints: their quantization_config, the
// tensors one layer is stored as (names, dtypes, shapes) for writing, and reading one layer from a
// safetensors checkpoint into dense fp32. The packed arrays themselves are gptq_packing.h's and
// compressed_packing.h's. Layouts: spec api_formats §4.2 (GPTQ), §4.3
// (compressed-tensors pack-quantized), spec gptq §1.7.
// Dimension letters: m = out_features, n = in_features, G = groups, b = bits.
//
// Dequantization is w = s * ((float)c - z) with c, z small integers (so (float)c - z is exact) and
// s the fp32 value of the stored scale: one rounding, the same expression QuantizedLayer::dequantize
// evaluates, so a layer written from a QuantizedLayer with exactly stored scales loads back
// bit-identical.
//
// Every function that reads a file's data throws vqr::Error(Status::Format,
// "<subject>: <problem>; hint: <fix>") for malformed data: wrong dtype or shape, a g_idx entry
// outside [0, G), a zero-point outside [0, 2^b), set bits in the padding past the last value.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "io/grid_codes.h"
#include "io/pack_format.h"
#include "io/safetensors.h"

namespace vqr::io {

// Checks 0 <= g_idx[j] < G for j < n.
void check_g_idx(const int32_t *g_idx, int64_t n, int64_t G, const std::string &subject);

// out[o, j] = scales[g, o] * ((float)codes[o, j] - zeros[g, o]) with g = g_idx[j].
//   out: m x n (written); codes: m x n; scales, zeros: G x m; g_idx: n (values < G).
void dequantize_groups(float *out, const uint8_t *codes, const float *scales, const float *zeros,
                       const int32_t *g_idx, int64_t m, int64_t n);

// How a checkpoint's quantization_config says one linear layer is stored.
struct QuantizedLinearFormat {
  enum class Kind { kGptq, kCompressed };
  Kind kind = Kind::kGptq;
  int bits = 4;                // GPTQ 2, 3, 4, 8; compressed-tensors 4, 8
  int64_t group_size = -1;     // <= 0: one group per output row (GPTQ -1, compressed-tensors "channel")
  bool gptq_v1 = true;         // GPTQ: qzeros hold zero - 1 (checkpoint_format "gptq")
  bool symmetric = true;       // compressed-tensors: no weight_zero_point, zero = 2^(b-1)
  bool g_idx_required = false;  // compressed-tensors actorder "group": weight_g_idx must be there
};

// config.json's "quantization_config", parsed and validated: which linear modules are quantized,
// and how. Supported: quant_method "gptq" (spec api_formats §4.2; keys bits, group_size, sym,
// desc_act, checkpoint_format "gptq" | "gptq_v2" (or "format"), pack_dtype "int32", lm_head false,
// and `dynamic`: {"<regex>" or "+:<regex>": {bits, group_size, ...}, "-:<regex>": {}} matched with
// Python re.match semantics (anchored at the start), first match in file order wins) and
// "compressed-tensors" with format "pack-quantized" (§4.3; config_groups of int weights, 4 or 8
// bits, strategy group or channel, actorder; targets "Linear", exact module names or "re:<regex>",
// an exact name beating a regex beating "Linear" as compressed-tensors ranks them; `ignore` the
// same way).
class QuantizationConfig {
 public:
  // Parses the config.json text (path names it in messages). Without a quantization_config the
  // result has method() "". Throws vqr::Error: Status::Format (bad JSON, a missing or mistyped
  // key, an invalid regex), Status::Unsupported (a quant_method other than the two, naming it,
  // unless accept_other_methods, which returns it by name only; a width, strategy, type, format or
  // option those methods have but this library does not read).
  static QuantizationConfig parse(const std::string &config_json_text, const std::string &path,
                                  bool accept_other_methods = false);

  const std::string &method() const { return method_; }
  bool quantized() const { return method_ == "gptq" || method_ == "compressed-tensors"; }
  // The default (GPTQ) or first config group's (compressed-tensors) scheme, for reports.
  int bits() const { return summary_.bits; }
  int64_t group_size() const { return summary_.group_size > 0 ? summary_.group_size : -1; }
  bool sym() const { return summary_.symmetric; }
  // "gptq", "gptq_v2" or "pack-quantized"; "" when not quantized().
  const std::string &checkpoint_format() const { return checkpoint_format_; }
  // How module `name` ("model.layers.0.mlp.down_proj") is stored: true and *out set when the config
  // quantizes it, false when it leaves it dense (skipped, ignored, untargeted, or no config).
  bool format_of(const std::string &module, QuantizedLinearFormat *out) const;

 private:
  struct Pattern;  // a compiled regular expression (defined in the .cpp, which alone needs <regex>)
  struct Rule {     // a GPTQ `dynamic` entry or a compressed-tensors target / ignore entry
    std::string text;
    std::shared_ptr<const Pattern> re;
    bool skip = false;
    QuantizedLinearFormat format;
  };
  struct Group {
    std::vector<std::string> names, classes;
    std::vector<Rule> regexes;
    QuantizedLinearFormat format;
  };
  std::string method_, checkpoint_format_;
  QuantizedLinearFormat summary_;
  std::vector<Rule> dynamic_;          // GPTQ
  std::vector<Group> groups_;          // compressed-tensors
  std::vector<std::string> ignore_names_;
  std::vector<Rule> ignore_regexes_;
};

// The tensor a quantized layer `prefix` ("model.layers.0.self_attn.q_proj") of this kind always
// has: prefix + ".qweight" (GPTQ) or ".weight_packed" (compressed-tensors).
std::string quantized_marker_name(const std::string &prefix, QuantizedLinearFormat::Kind kind);

// Checks, from the index alone, that `ckpt` holds layer `prefix` as an m x n layer of `format`:
// the width is one the format defines, and every tensor read_quantized_linear (below) reads exists
// with its dtype and shape (its marker tensor above, [gptq_packed_words(n), m] for GPTQ or
// [m, compressed_packed_words(n)] for compressed-tensors, and the zeros, scales, g_idx), and a
// compressed-tensors weight_shape says (m, n). A loader calls it before allocating the layer, so a
// config claiming more than the file holds, or a packed tensor claiming a shape the config does not
// imply, fails first. Throws as read_quantized_linear (the same messages), which checks the same
// before it reads the data (the codes' padding, the g_idx and zero-point ranges).
// The names of the tensors checked are appended to *used when `used` is not NULL.
void check_quantized_linear(const SafetensorsCheckpoint &ckpt, const std::string &prefix,
                            const QuantizedLinearFormat &format, int64_t m, int64_t n,
                            std::vector<std::string> *used = nullptr);

// Lends a quantized layer's codes to `use` for the duration of the call: the view may be built
// for that call only (codes unpacked, rows permuted) and freed after, so a checkpoint writer holds
// one layer's codes at a time. Every call must lend the same values.
using GridCodesLender = std::function<void(const std::function<void(const GridCodes &)> &use)>;

// Appends the four GPTQ tensors of quantized linear `module` (format VQR_PACK_GPTQ_V1 or _V2; the
// layout read_quantized_linear reads, below): .qweight, .qzeros, .g_idx, .scales (F16). `shape`
// gives bits, rows, cols and groups (its arrays are not read). Each tensor is packed from lend()
// when the safetensors writer reaches it (StTensorData::produce), so the write holds one packed
// tensor at a time; lend must stay callable until then. The write throws as pack_gptq: validate
// the layer before (a v1 zero-point of 0, a width GPTQ does not pack).
void append_gptq_tensors(const std::string &module, const GridCodes &shape, const GridCodesLender &lend,
                         PackFormat format, std::vector<StTensorData> *tensors);
// Appends the compressed-tensors tensors of quantized linear `module`: .weight_packed,
// .weight_scale (BF16 when bf16_scales, else F16), .weight_shape, .weight_zero_point unless
// `symmetric`, .weight_g_idx when `with_g_idx`; packed when written, as append_gptq_tensors. The
// write throws as pack_compressed.
void append_compressed_tensors(const std::string &module, const GridCodes &shape, const GridCodesLender &lend,
                               bool symmetric, bool bf16_scales, bool with_g_idx, std::vector<StTensorData> *tensors);

// Reads layer `prefix` (m x n) stored as `format` from `ckpt` and writes its dequantized weight
// to out (m x n floats, written). Appends the names of the tensors it read to *used (not NULL).
//   GPTQ:               .qweight I32 [gptq_packed_words(n), m], .qzeros I32 [G, gptq_packed_words(m)],
//                       .scales F16/BF16/F32 [G, m], .g_idx I32 [n] (optional; default j / group size)
//   compressed-tensors: .weight_packed I32 [m, compressed_packed_words(n)], .weight_scale
//                       F16/BF16/F32 [m, G], .weight_shape I64/I32 [2] = (m, n),
//                       .weight_zero_point I32 [compressed_packed_words(m), G] (asymmetric only),
//                       .weight_g_idx I32 [n] (optional unless g_idx_required)
// with G = ceil(n / group_size), or 1 per row. Throws Status::Format (see above; a missing tensor
// too), Status::Unsupported for a width the format does not define.
void read_quantized_linear(const SafetensorsCheckpoint &ckpt, const std::string &prefix,
                           const QuantizedLinearFormat &format, int64_t m, int64_t n, float *out,
                           std::vector<std::string> *used);

// Output rows [r0, r1) of the same layer ((r1 - r0) x n floats, written), bit-identical to those
// rows of read_quantized_linear: only those rows' packed codes are read (plus every group's scales,
// zeros and the g_idx), so a streamed model dequantizes a layer without widening the checkpoint.
// Throws as read_quantized_linear (a padding error counts rows from r0 and says so), and
// Status::InvalidArgument for a range outside [0, m).
void read_quantized_linear_rows(const SafetensorsCheckpoint &ckpt, const std::string &prefix,
                                const QuantizedLinearFormat &format, int64_t m, int64_t n, int64_t r0, int64_t r1,
                                float *out);

}  // namespace vqr::io
