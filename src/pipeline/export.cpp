// Format dispatch for writing models (export.h).
#include "pipeline/export.h"

#include <map>
#include <optional>

#include "core/dtype.h"
#include "core/error.h"
#include "io/atomic_file.h"
#include "io/files.h"
#include "model/gguf_model.h"
#include "model/llama2c_format.h"
#include "pipeline/checkpoint_export.h"
#include "pipeline/layer_codes.h"

namespace vqr::pipeline {

namespace {

bool has_codes(const ExportSubject &s) {
  return s.result != nullptr && !s.result->results.empty() && s.options != nullptr;
}

// GGUF blocks need plain groups along the input (g_idx = i / group size): act-order without
// static groups permutes them, and such a layer is stored dense.
bool plain_groups(const quant::QuantizedLayer &q) {
  for (int64_t i = 0; i < q.cols; ++i)
    if (q.g_idx[(size_t)i] != (int32_t)(i / q.group_size)) return false;
  return true;
}

// Progress stage "export" for one call: the writers tell done / total tensors before each tensor
// and after the last (io::TensorProgress); each check may throw Status::Cancelled, which the
// writer turns into removing its temporary. The total is known only at the writer's first call.
class ExportProgress {
 public:
  explicit ExportProgress(Context *ctx) : ctx_(ctx) {}
  io::TensorProgress hook() {
    return [this](int64_t done, int64_t total) { tensor(done, total); };
  }

 private:
  void tensor(int64_t done, int64_t total) {
    if (progress_ && total == total_) {
      progress_->checkpoint(done, /*force=*/done == total);  // the end is always reported
      return;
    }
    // The writer's first call: the constructor checks for a cancel and reports done = 0.
    progress_.emplace(ctx_, "export", total);
    total_ = total;
    if (done != 0) progress_->checkpoint(done, done == total);
  }

  Context *ctx_;
  std::optional<Progress> progress_;
  int64_t total_ = -1;
};

void write_gguf(const ExportSubject &s, const ExportRequest &r, const std::string &path, ExportNotes *notes,
                const io::TensorProgress &progress) {
  if (s.model->config().is_opt())
    fail(Status::Unsupported, path, "OPT models have no GGUF export (llama.cpp has no OPT architecture)",
         "export gptq, compressed-tensors or huggingface instead");
  require(s.tokenizer != nullptr, Status::Unsupported,
          path + ": GGUF carries the tokenizer and this model has none; hint: load it with a tokenizer");
  // The layers stored as blocks, by (block, kind): their views are made one at a time, when
  // save_gguf asks (it needs one until its next call), so no copy of every layer's codes exists.
  std::map<std::pair<int, int>, const quant::QuantizedLayer *> layers;
  if (has_codes(s))
    for (size_t i = 0; i < s.result->layers.size(); ++i) {
      const LayerRecord &rec = s.result->layers[i];
      const quant::QuantizedLayer &q = s.result->results[i];
      if (rec.skipped || !q.has_codes()) continue;
      if (!plain_groups(q)) {
        if (notes) notes->push_back({LogLevel::Info, rec.name + ": act-order groups have no GGUF block layout; stored dense"});
        continue;
      }
      layers[{rec.layer, (int)rec.kind}] = &q;
    }
  model::GgufWriteOptions o;
  o.dtype = r.dtype == DType::F32 ? "F32" : "F16";
  o.progress = progress;
  model::GridCodes current;
  quant::QuantizedLayer unparked;  // the one layer whose parked codes are unpacked now
  o.codes = [&](int layer, model::LinearKind kind) -> const model::GridCodes * {
    const auto it = layers.find({layer, (int)kind});
    if (it == layers.end()) return nullptr;
    current = grid_codes_of(*it->second, &unparked);
    return &current;
  };
  model::save_gguf(*s.model, *s.tokenizer, path, o, notes);
}

}  // namespace

const char *format_name(Format format) {
  switch (format) {
    case Format::Native: return "native";
    case Format::HuggingFace: return "huggingface";
    case Format::Llama2c: return "llama2c";
    case Format::Gptq: return "gptq";
    case Format::CompressedTensors: return "compressed-tensors";
    case Format::Gguf: return "gguf";
  }
  return nullptr;
}

void export_model(const ExportSubject &s, const ExportRequest &r, const std::string &path,
                  ExportNotes *notes, Context *ctx) {
  require(s.model != nullptr && s.source != nullptr, Status::InvalidArgument, "export: no model");
  require(!path.empty() && !io::path_exists(path), Status::InvalidArgument,
          path + ": already exists; hint: choose a new name or remove the old one");
  require(dtype_name(r.dtype) != nullptr, Status::InvalidArgument,
          "export: dtype " + std::to_string((int)r.dtype) + " is not F32, F16 or BF16");
  const char *name = format_name(r.format);
  require(name != nullptr, Status::InvalidArgument, "export: unknown format " + std::to_string((int)r.format));
  static const PipelineOptions kNoOptions;
  static const QuantizedModel kNothing;
  const PipelineOptions &options = s.options ? *s.options : kNoOptions;
  const QuantizedModel &result = s.result ? *s.result : kNothing;
  // A cancel requested before the call stops it before any file or folder exists.
  check_cancelled(ctx, "export");
  ExportProgress tracker(ctx);
  const io::TensorProgress progress = tracker.hook();
  switch (r.format) {
    case Format::Native:
      write_model_folder(*s.model, *s.source, options, result, s.metadata, path, progress);
      return;
    case Format::HuggingFace:  // config.json + safetensors + tokenizer files
      io::write_folder_atomically(path, [&](const std::string &tmp) {
        write_checkpoint_payload(*s.model, *s.source, /*force_hf=*/true, dtype_name(r.dtype), r.max_shard_bytes, tmp,
                                 progress);
      });
      return;
    case Format::Llama2c:
      require(model::llama2c_can_store(s.model->config()), Status::Unsupported,
              path + ": this model has features llama2.c v0 cannot hold (biases, q/k norms, a RoPE variant, its "
                     "epsilon or head size); hint: use the huggingface format");
      model::save_llama2c(*s.model, path, progress);
      return;
    case Format::Gptq:
    case Format::CompressedTensors: {
      require(has_codes(s), Status::Unsupported,
              path + ": the " + name + " format stores quantized layers and this model has not been quantized; "
                     "hint: quantize it first, or write huggingface");
      ExportOptions o;
      o.dtype = dtype_name(r.dtype);
      if (r.max_shard_bytes > 0) o.max_shard_bytes = r.max_shard_bytes;
      FolderMetadata meta = s.metadata;
      meta.format = name;
      o.metadata_json = folder_metadata_json(options, result, meta);
      o.progress = progress;
      if (r.format == Format::Gptq)
        write_gptq_checkpoint(*s.model, *s.source, options, result, o, path, notes);
      else
        write_compressed_tensors_checkpoint(*s.model, *s.source, options, result, o, path, notes);
      return;
    }
    case Format::Gguf:
      write_gguf(s, r, path, notes, progress);
      return;
  }
}

}  // namespace vqr::pipeline
