// GPTQ and compressed-tensors folder writers (checkpoint_export.h). Both share one plan: validate
// every quantized layer against the model before anything is written, bring q/k rows into the
// Hugging Face half layout, pick the dense dtype, and start from the source's config.json.
#include "pipeline/checkpoint_export.h"

#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <tuple>

#include "core/dtype.h"
#include "core/error.h"
#include "core/version.h"
#include "io/atomic_file.h"
#include "io/compressed_packing.h"
#include "io/files.h"
#include "io/gptq_packing.h"
#include "io/quantized_tensors.h"
#include "model/hf_checkpoint.h"
#include "model/rope_layout.h"
#include "pipeline/layer_codes.h"
#include "pipeline/model_folder.h"
#include "quant/config.h"

namespace vqr::pipeline {

namespace {

// Key order matters to readers of the file (and GPTQ's `dynamic` is matched in order).
using ojson = nlohmann::ordered_json;

// One quantized linear, ready to pack. Its rows are brought into the Hugging Face order only when
// its tensors are written (lend_codes), so the plan holds no copy of any layer's codes.
struct ExportLayer {
  const LayerRecord *record = nullptr;
  const quant::QuantizedLayer *q = nullptr;          // the result's layer
  std::vector<int64_t> row_map;                      // q/k of an interleaved-RoPE model: output row sources
  std::string module;                                // "model.layers.0.self_attn.q_proj"
  bool sym = false;                                  // every zero-point is 2^(b-1)
  bool plain_groups = true;                          // g_idx[j] == j / group size
  int64_t group_size = -1;                           // as configured; -1 = one group per row
};

// What both writers share.
struct ExportPlan {
  std::vector<ExportLayer> layers;         // model order (block, then kind)
  std::vector<std::string> dense_modules;  // linears kept in full precision
  std::string dense_dtype;                 // F32, F16 or BF16 for the unquantized tensors
  ojson config;                            // config.json without quantization_config
};

const char *kind_suffix(model::LinearKind kind) { return model::linear_kind_name(kind); }

// q with its output rows reordered: codes rows, and the output column of scales and zeros.
std::unique_ptr<quant::QuantizedLayer> permute_rows(const quant::QuantizedLayer &layer, const std::vector<int64_t> &src) {
  quant::QuantizedLayer unparked;
  const quant::QuantizedLayer &q = layer.with_codes(unparked);
  auto p = std::make_unique<quant::QuantizedLayer>(q.rows, q.cols, q.group_size, q.bits);
  p->groups = q.groups;
  p->g_idx = q.g_idx;
  p->report = q.report;
  const int64_t m = q.rows, n = q.cols;
  for (int64_t r = 0; r < m; ++r) {
    std::memcpy(&p->codes[(size_t)(r * n)], &q.codes[(size_t)(src[(size_t)r] * n)], (size_t)n);
    for (int64_t k = 0; k < q.groups; ++k) {
      p->scales[(size_t)(k * m + r)] = q.scales[(size_t)(k * m + src[(size_t)r])];
      p->zeros[(size_t)(k * m + r)] = q.zeros[(size_t)(k * m + src[(size_t)r])];
    }
  }
  return p;
}

// Checks a result's layer against the model it claims to belong to.
// A parked layer is unpacked into a scratch copy for the check (one layer at a time).
void check_layer(const quant::QuantizedLayer &layer, const LayerRecord &rec, const model::Model &model) {
  quant::QuantizedLayer unparked;
  const quant::QuantizedLayer &q = layer.with_codes(unparked);
  const std::string who = "export: layer " + rec.name + ": ";
  const int64_t m = model.linear_rows(rec.kind), n = model.linear_cols(rec.kind);
  require(q.rows == m && q.cols == n, Status::InvalidArgument,
          who + "codes are " + std::to_string(q.rows) + " x " + std::to_string(q.cols) + ", the model's weight is " +
              std::to_string(m) + " x " + std::to_string(n));
  require(q.bits >= 2 && q.bits <= 8 && q.groups >= 1 && q.group_size >= 1 && q.groups == (n + q.group_size - 1) / q.group_size &&
              q.codes.size() == (size_t)(m * n) && q.scales.size() == (size_t)(q.groups * m) &&
              q.zeros.size() == q.scales.size() && q.g_idx.size() == (size_t)n,
          Status::InvalidArgument, who + "inconsistent sizes of codes, scales, zeros or g_idx");
  const int maxq = (1 << q.bits) - 1;
  for (uint8_t c : q.codes) require(c <= maxq, Status::InvalidArgument, who + "a code exceeds 2^bits - 1");
  for (size_t i = 0; i < q.zeros.size(); ++i) {
    const float z = q.zeros[i];
    require(z >= 0.0f && z <= (float)maxq && z == std::floor(z), Status::InvalidArgument,
            who + "zero-point " + std::to_string(z) + " is not an integer in [0, 2^bits - 1]");
    require(std::isfinite(q.scales[i]), Status::InvalidArgument, who + "a scale is not finite");
  }
  for (int32_t g : q.g_idx)
    require(g >= 0 && g < q.groups, Status::InvalidArgument, who + "g_idx entry outside [0, groups)");
}

ExportPlan plan_export(const model::Model &model, const model::ModelSource &source, const QuantizedModel &result,
                       const ExportOptions &o, ExportNotes *log) {
  require(o.dtype == "F32" || o.dtype == "F16" || o.dtype == "BF16", Status::InvalidArgument,
          "export: dtype must be F32, F16 or BF16, not " + o.dtype);
  require(o.max_shard_bytes >= 1, Status::InvalidArgument, "export: max_shard_bytes must be at least 1");
  require(result.layers.size() == result.results.size(), Status::InvalidArgument,
          "export: the quantization result has " + std::to_string(result.layers.size()) + " records but " +
              std::to_string(result.results.size()) + " layers");
  const model::ModelConfig &c = model.config();
  ExportPlan plan;

  // The source's config (less a quantization_config of its own) or a generated one.
  std::string config_text;
  if (source.format == model::ModelFormat::kHuggingFace) {
    config_text = io::read_file(source.model_file + "/" + model::kHfConfigFileName, "check the model folder");
    const std::string declared = model::hf_declared_dtype(config_text);
    plan.dense_dtype = declared == "F32" ? o.dtype : declared;
  } else {
    plan.dense_dtype = o.dtype;
    config_text = model::hf_generated_config(c, plan.dense_dtype);
  }
  plan.config = ojson::parse(config_text, nullptr, /*allow_exceptions=*/false);
  if (plan.config.is_discarded() || !plan.config.is_object())
    fail(Status::Format, source.model_file + "/" + model::kHfConfigFileName, "is not a JSON object",
         "restore the source model's config.json");
  plan.config.erase("quantization_config");

  std::map<std::pair<int, int>, size_t> record_of;  // (block, kind) -> index into result
  for (size_t i = 0; i < result.layers.size(); ++i) {
    const LayerRecord &r = result.layers[i];
    require(r.layer >= 0 && r.layer < c.n_layers, Status::InvalidArgument, "export: record " + r.name + " names no block of this model");
    record_of[{r.layer, (int)r.kind}] = i;
  }
  for (int l = 0; l < c.n_layers; ++l)
    for (model::LinearKind kind : c.linear_kinds()) {
      const std::string module = model::hf_linear_module(c, l, kind);
      const auto it = record_of.find({l, (int)kind});
      const bool quantized = it != record_of.end() && !result.layers[it->second].skipped;
      if (!quantized) {
        plan.dense_modules.push_back(module);
        if (log)
          log->push_back({LogLevel::Info, "blk." + std::to_string(l) + "." + kind_suffix(kind) + " (" + module +
                                            "): kept in full precision (" +
                                            (it == record_of.end() ? "not quantized" : "skipped by an override") + ")"});
        continue;
      }
      const LayerRecord &rec = result.layers[it->second];
      const quant::QuantizedLayer &q = result.results[it->second];
      require(q.has_codes(), Status::InvalidArgument, "export: layer " + rec.name + " has no codes");
      check_layer(q, rec, model);
      ExportLayer e;
      e.record = &rec;
      e.q = &q;
      e.module = module;
      if (c.rope_layout == model::RopeLayout::kInterleaved && !c.is_opt() &&
          (kind == model::LinearKind::kWq || kind == model::LinearKind::kWk)) {
        const int64_t heads = kind == model::LinearKind::kWq ? c.n_heads : c.n_kv_heads;
        e.row_map = model::rope_row_sources(heads, c.head_size(), /*to_half=*/true);
      }
      const float mid = (float)(1 << (q.bits - 1));
      e.sym = rec.config.sym;
      for (float z : q.zeros) e.sym = e.sym && z == mid;
      if (rec.config.sym && !e.sym && log)
        log->push_back({LogLevel::Info, rec.name + ": configured symmetric but its zero-points are not all 2^(b-1); "
                                                 "written as asymmetric"});
      for (int64_t j = 0; j < q.cols; ++j) e.plain_groups = e.plain_groups && q.g_idx[(size_t)j] == (int32_t)(j / q.group_size);
      e.group_size = rec.config.group_size > 0 ? q.group_size : -1;  // the loaders' G = ceil(in / group_size)
      plan.layers.push_back(std::move(e));
    }
  require(!plan.layers.empty(), Status::Unsupported,
          "export: no layer is quantized; hint: quantize the model first, or write the huggingface format");
  return plan;
}

// The dense tensors: everything except the quantized layers' weights (produced from the model
// when written, model::hf_dense_tensors). Logs the dtype outcome.
std::vector<io::StTensorData> dense_tensors(const model::Model &model, const ExportPlan &plan, ExportNotes *log) {
  std::set<std::string> packed;
  for (const ExportLayer &e : plan.layers) packed.insert(e.module + ".weight");
  std::vector<io::StTensorData> t =
      model::hf_dense_tensors(model, plan.dense_dtype, [&](const std::string &name) { return packed.count(name) == 0; });
  if (log && plan.dense_dtype != "F32") {
    size_t wide = 0;
    for (const io::StTensorData &x : t) wide += x.dtype == io::StDtype::kF32;
    log->push_back({LogLevel::Info, "unquantized tensors: " + std::to_string(t.size() - wide) + " stored as " +
                                      plan.dense_dtype + ", " + std::to_string(wide) +
                                      " as F32 (their values are not exact in " + plan.dense_dtype + ")"});
  }
  return t;
}

// Lends e's codes in the Hugging Face row order: the result's own arrays, or for q/k of an
// interleaved-RoPE model a permuted copy that lives for the call only.
io::GridCodesLender lend_codes(const ExportLayer &e) {
  return [&e](const std::function<void(const io::GridCodes &)> &use) {
    quant::QuantizedLayer unparked;  // a parked layer's codes, unpacked for this tensor only
    if (e.row_map.empty()) return use(grid_codes_of(*e.q, &unparked));
    const std::unique_ptr<quant::QuantizedLayer> p = permute_rows(*e.q, e.row_map);
    use(grid_codes_of(*p));
  };
}

// Counts layers whose scales the stored dtype cannot hold exactly, refusing overflow; logs the
// lossy conversion (the weights then differ from the quantizer's by the scale's rounding).
void check_scales(const ExportPlan &plan, const std::string &dtype, ExportNotes *log) {
  size_t inexact = 0;
  for (const ExportLayer &e : plan.layers) {
    for (float s : e.q->scales) {
      const uint16_t h = dtype == "BF16" ? f32_to_bf16(s) : f32_to_f16(s);
      require(std::isfinite(dtype == "BF16" ? bf16_to_f32(h) : f16_to_f32(h)), Status::Unsupported,
              "export: layer " + e.record->name + " has a scale (" + std::to_string(s) + ") that overflows " + dtype +
                  "; hint: this layer's weights are far outside the usual range; skip it with an override");
    }
    inexact += !scales_exact_in(*e.q, dtype);
  }
  if (inexact > 0 && log)
    log->push_back({LogLevel::Warn, "lossy: " + std::to_string(inexact) + " of " + std::to_string(plan.layers.size()) +
                   " quantized layers have scales not exactly representable in " + dtype +
                   "; rounded to nearest even, so those weights differ slightly from the quantizer's (quantize with "
                   "scale_dtype " + dtype + " to avoid this)"});
}

// A module name as a regex matching exactly it (GPTQModel and vLLM match with Python re.match).
std::string exact_regex(const std::string &module) {
  std::string r;
  for (char ch : module) {
    if (std::strchr(".^$*+?()[]{}|\\", ch)) r += '\\';
    r += ch;
  }
  return r + "$";
}

std::string quantizer_tag() { return std::string("vqround:") + kVersionString; }

// Writes the folder: config.json (+ extra JSON files), the safetensors, tokenizer files, vqround.json.
void write_folder(const std::string &dir, const ExportPlan &plan, const ojson &quantization_config,
                  const std::vector<std::string> &config_copies, const std::vector<io::StTensorData> &tensors,
                  const model::ModelSource &source, const ExportOptions &o) {
  ojson config = plan.config;
  config["quantization_config"] = quantization_config;
  const std::string config_text = config.dump(2) + "\n", qc_text = quantization_config.dump(2) + "\n";
  io::write_folder_atomically(dir, [&](const std::string &tmp) {
    io::write_text_file(tmp + "/" + model::kHfConfigFileName, config_text);
    for (const std::string &name : config_copies) io::write_text_file(tmp + "/" + name, qc_text);
    io::write_safetensors_sharded(tmp, tensors, o.max_shard_bytes, {}, o.progress);
    copy_tokenizer_files(source, tmp);
    if (!o.metadata_json.empty()) io::write_text_file(tmp + "/" + model::kMetadataFileName, o.metadata_json);
  });
}

}  // namespace

bool scales_exact_in(const quant::QuantizedLayer &q, const std::string &dtype) {
  if (dtype == "F32") return true;
  require(dtype == "F16" || dtype == "BF16", Status::InvalidArgument, "scales_exact_in: dtype must be F32, F16 or BF16, not " + dtype);
  const bool bf16 = dtype == "BF16";
  for (float s : q.scales) {
    const float back = bf16 ? bf16_to_f32(f32_to_bf16(s)) : f16_to_f32(f32_to_f16(s));
    if (std::memcmp(&back, &s, sizeof s) != 0) return false;
  }
  return true;
}

// ----------------------------------------------------------------------------------------------
// GPTQ (spec api_formats §4.2)
// ----------------------------------------------------------------------------------------------

void write_gptq_checkpoint(const model::Model &model, const model::ModelSource &source, const PipelineOptions &options,
                           const QuantizedModel &result, const ExportOptions &o, const std::string &dir,
                           ExportNotes *log) {
  ExportNotes lines;  // logged only once everything is validated
  const ExportPlan plan = plan_export(model, source, result, o, &lines);
  for (const ExportLayer &e : plan.layers) {
    const int b = e.q->bits;
    require(io::gptq_supports_bits(b), Status::Unsupported,
            dir + ": layer " + e.record->name + " is " + std::to_string(b) +
                "-bit and GPTQ packs 2, 3, 4 and 8 bits; hint: quantize it with one of those widths, or skip it");
  }

  // The zero-point convention: v1 cannot store a zero of 0 (it stores zero - 1).
  size_t asym = 0, zero_groups = 0;
  bool narrow = false;
  for (const ExportLayer &e : plan.layers) {
    asym += !e.sym;
    narrow = narrow || e.q->bits < 4;
    for (float z : e.q->zeros) zero_groups += z == 0.0f;
  }
  bool v1 = false;
  switch (o.gptq_version) {
    case GptqCheckpointVersion::kV1:
      require(zero_groups == 0, Status::Unsupported,
              dir + ": " + std::to_string(zero_groups) + " groups have zero-point 0, which GPTQ v1 (zero - 1) cannot "
                    "store; hint: write gptq_v2 (or auto)");
      v1 = true;
      lines.push_back({LogLevel::Info, "gptq: checkpoint_format gptq (v1), as requested"});
      break;
    case GptqCheckpointVersion::kV2:
      lines.push_back({LogLevel::Info, "gptq: checkpoint_format gptq_v2 (zero-points stored as is), as requested"});
      break;
    case GptqCheckpointVersion::kAuto:
      v1 = asym == 0 && zero_groups == 0;
      lines.push_back({LogLevel::Info,
                       v1 ? "gptq: checkpoint_format gptq (v1): every layer is symmetric (zero-point 2^(b-1)), and v1 "
                           "is the layout every GPTQ loader reads"
                         : "gptq: checkpoint_format gptq_v2: " + std::to_string(asym) + " of " +
                               std::to_string(plan.layers.size()) + " layers are asymmetric and " +
                               std::to_string(zero_groups) + " groups have zero-point 0, which v1 (zero - 1) cannot "
                               "store; vLLM reads gptq_v2 only with recent kernels, compressed-tensors is the "
                               "wider-supported asymmetric format"});
      break;
  }
  if (narrow)
    lines.push_back({LogLevel::Info,
                     "gptq: 2/3-bit layers are served by vLLM's fallback gptq kernel and GPTQModel only (no Marlin)"});
  check_scales(plan, "F16", &lines);

  // Tensors: dense ones, then four per quantized layer.
  std::vector<io::StTensorData> tensors = dense_tensors(model, plan, &lines);
  const io::PackFormat format = v1 ? io::PackFormat::GptqV1 : io::PackFormat::GptqV2;
  size_t scattered = 0;
  for (const ExportLayer &e : plan.layers) {
    io::append_gptq_tensors(e.module, grid_shape_of(*e.q), lend_codes(e), format, &tensors);
    scattered += !e.plain_groups;
  }
  if (scattered > 0)
    lines.push_back({LogLevel::Info, "gptq: " + std::to_string(scattered) +
                                       " layers use act-order with dynamic groups: g_idx is not monotone, desc_act "
                                       "true (kernels gather per column or reorder rows at load)"});

  // quantization_config: the default configuration, with `dynamic` for every layer that differs.
  const quant::QuantConfig base = quant::resolve_presets(options.config);
  const int64_t base_group = base.group_size > 0 ? base.group_size : -1;
  // desc_act tells kernels to honour g_idx; every layer's g_idx is written, so true is right for
  // all layers whenever one needs it (it costs only speed where g_idx is plain).
  const bool desc_act = base.act_order || scattered > 0;
  ojson dynamic = ojson::object();
  for (const std::string &module : plan.dense_modules) dynamic["-:" + exact_regex(module)] = ojson::object();
  for (const ExportLayer &e : plan.layers)
    if (e.q->bits != base.bits || e.group_size != base_group || e.sym != base.sym)
      dynamic["+:" + exact_regex(e.module)] = {{"bits", e.q->bits}, {"group_size", e.group_size}, {"sym", e.sym}};
  ojson qc;
  qc["quant_method"] = "gptq";
  qc["bits"] = base.bits;
  qc["group_size"] = base_group;
  qc["desc_act"] = desc_act;
  qc["sym"] = base.sym;
  qc["static_groups"] = base.static_groups;
  // quantize_sequential runs q/k/v, o, gate/up (OPT: fc1), down (fc2) in order unless told otherwise
  qc["true_sequential"] = base.true_sequential;
  qc["damp_percent"] = base.damp;
  qc["checkpoint_format"] = v1 ? "gptq" : "gptq_v2";
  qc["pack_dtype"] = "int32";
  qc["lm_head"] = false;
  qc["meta"] = {{"quantizer", ojson::array({quantizer_tag()})},
                {"method", quant::method_name(base.method) ? quant::method_name(base.method) : "?"},
                {"damp_percent", base.damp},
                {"damp_auto_increment", base.damp_increment},
                {"static_groups", base.static_groups},
                {"true_sequential", base.true_sequential},
                {"mse", base.mse ? base.mse_norm : 0.0}};
  if (!dynamic.empty()) qc["dynamic"] = dynamic;

  write_folder(dir, plan, qc, {"quantize_config.json"}, tensors, source, o);
  if (log) log->insert(log->end(), lines.begin(), lines.end());
}

// ----------------------------------------------------------------------------------------------
// compressed-tensors pack-quantized (spec api_formats §4.3)
// ----------------------------------------------------------------------------------------------

void write_compressed_tensors_checkpoint(const model::Model &model, const model::ModelSource &source,
                                         const PipelineOptions &options, const QuantizedModel &result,
                                         const ExportOptions &o, const std::string &dir, ExportNotes *log) {
  (void)options;  // every scheme is read off the layers themselves
  ExportNotes lines;
  const ExportPlan plan = plan_export(model, source, result, o, &lines);
  for (const ExportLayer &e : plan.layers)
    require(io::compressed_supports_bits(e.q->bits), Status::Unsupported,
            dir + ": layer " + e.record->name + " is " + std::to_string(e.q->bits) +
                "-bit and compressed-tensors pack-quantized holds 4- and 8-bit layers only; hint: use --format gptq");
  // Scales in the model dtype (spec §4.3): BF16 for a BF16 checkpoint, else F16.
  const std::string scale_dtype = plan.dense_dtype == "BF16" ? "BF16" : "F16";
  check_scales(plan, scale_dtype, &lines);

  std::vector<io::StTensorData> tensors = dense_tensors(model, plan, &lines);
  // One config group per distinct scheme: (bits, symmetric, group size, actorder).
  using Scheme = std::tuple<int, bool, int64_t, std::string>;
  std::map<Scheme, std::vector<std::string>> schemes;
  std::vector<Scheme> scheme_order;
  for (const ExportLayer &e : plan.layers) {
    const quant::QuantizedLayer &q = *e.q;
    // actorder "group": g_idx needed; "weight": act-order with static (contiguous) groups.
    const std::string actorder = !e.plain_groups ? "group" : e.record->config.act_order ? "weight" : "";
    io::append_compressed_tensors(e.module, grid_shape_of(q), lend_codes(e), e.sym, scale_dtype == "BF16", actorder == "group",
                                  &tensors);
    const Scheme s{q.bits, e.sym, e.group_size, actorder};
    if (schemes.count(s) == 0) scheme_order.push_back(s);
    schemes[s].push_back(e.module);
  }

  ojson groups = ojson::object();
  for (size_t i = 0; i < scheme_order.size(); ++i) {
    const auto &[bits, sym, group_size, actorder] = scheme_order[i];
    ojson weights;
    weights["num_bits"] = bits;
    weights["type"] = "int";
    weights["symmetric"] = sym;
    weights["strategy"] = group_size > 0 ? "group" : "channel";
    weights["group_size"] = group_size > 0 ? ojson(group_size) : ojson(nullptr);
    weights["dynamic"] = false;
    weights["actorder"] = actorder.empty() ? ojson(nullptr) : ojson(actorder);
    weights["observer"] = "minmax";
    weights["observer_kwargs"] = ojson::object();
    weights["block_structure"] = nullptr;
    // One scheme: "Linear" with the dense layers in `ignore`, as llm-compressor writes it. Several:
    // the module names, because several groups targeting "Linear" are ambiguous to vLLM.
    const ojson targets = scheme_order.size() == 1 ? ojson::array({"Linear"}) : ojson(schemes[scheme_order[i]]);
    groups["group_" + std::to_string(i)] = {
        {"targets", targets}, {"input_activations", nullptr}, {"output_activations", nullptr}, {"weights", weights}};
  }
  ojson ignore = ojson::array({"lm_head"});
  // OPT-350M's embedding projections are nn.Linear modules outside the blocks, stored dense.
  if (model.config().embed_dim > 0)
    for (const char *module : {"model.decoder.project_in", "model.decoder.project_out"}) ignore.push_back(module);
  for (const std::string &module : plan.dense_modules) ignore.push_back(module);
  ojson qc;
  qc["quant_method"] = "compressed-tensors";
  qc["format"] = "pack-quantized";
  qc["quantization_status"] = "compressed";
  qc["ignore"] = ignore;
  qc["kv_cache_scheme"] = nullptr;
  qc["config_groups"] = groups;
  lines.push_back({LogLevel::Info, "compressed-tensors: pack-quantized, " + std::to_string(scheme_order.size()) +
                                     " config group(s), scales " + scale_dtype});

  write_folder(dir, plan, qc, {}, tensors, source, o);
  if (log) log->insert(log->end(), lines.begin(), lines.end());
}

}  // namespace vqr::pipeline
