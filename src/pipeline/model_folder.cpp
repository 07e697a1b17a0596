// Native quantized-model folder writer (model_folder.h).
#include "pipeline/model_folder.h"

#include "core/error.h"
#include "core/version.h"
#include "core/json_text.h"
#include "io/atomic_file.h"
#include "io/files.h"
#include "model/bpe_hf_json.h"
#include "model/hf_checkpoint.h"
#include "model/llama2c_format.h"

namespace vqr::pipeline {

namespace {

std::string layer_json(const LayerRecord &r) {
  std::string s = "{\"name\": " + json_string(r.name) + ", \"skipped\": " + (r.skipped ? "true" : "false");
  if (!r.skipped) {
    s += ", \"method\": " + json_string(quant::method_name(r.config.method)) + ", \"bits\": " +
         std::to_string(r.config.bits) + ", \"group_size\": " + std::to_string(r.config.group_size) +
         ", \"proxy_loss\": " + json_number(r.report.proxy_loss) + ", \"rtn_proxy_loss\": " +
         json_number(r.report.rtn_proxy_loss) + ", \"seconds\": " + json_number(r.report.seconds);
    if (quant::is_learned_method(r.config.method))
      s += ", \"steps\": " + std::to_string(r.report.steps) + ", \"trainable_params\": " +
           std::to_string(r.report.trainable_params) + ", \"init_proxy_loss\": " + json_number(r.report.init_proxy_loss);
  }
  return s + "}";
}

}  // namespace

std::string folder_metadata_json(const PipelineOptions &options, const QuantizedModel &result, const FolderMetadata &meta) {
  const quant::QuantConfig c = quant::resolve_presets(options.config);
  std::string extra;
  for (const auto &[key, value] : meta.extra) extra += (extra.empty() ? "" : ", ") + json_string(key) + ": " + json_string(value);
  double total = 0;
  std::string layers;
  for (const LayerRecord &r : result.layers) {
    layers += (layers.empty() ? "\n    " : ",\n    ") + layer_json(r);
    if (!r.skipped) total += r.report.proxy_loss;
  }
  std::string s = "{\n  \"format\": " + json_string(meta.format) + ",\n  \"format_version\": 1,\n  \"library\": " +
                  json_string(kVersionString) + ",\n  \"source_model\": " + json_string(meta.source_model) +
                  ",\n  \"method\": " + json_string(quant::method_name(c.method)) +
                  ",\n  \"bits\": " + std::to_string(c.bits) + ",\n  \"group_size\": " + std::to_string(c.group_size) +
                  ",\n  \"sym\": " + (c.sym ? "true" : "false") + ",\n  \"grid\": " + json_string(quant::grid_name(c.grid)) +
                  ",\n  \"act_order\": " + (c.act_order ? "true" : "false") +
                  ",\n  \"override\": " + json_string(meta.overrides) + ",\n  \"calibration\": {\"file\": " +
                  json_string(meta.calibration_file) + ", \"samples\": " + std::to_string(meta.calibration_samples) +
                  ", \"seqlen\": " + std::to_string(meta.calibration_seqlen) + ", \"seed\": " +
                  std::to_string(meta.seed) + "},\n  \"metadata\": {" + extra + "},\n  \"seconds\": " + json_number(result.seconds) +
                  ",\n  \"proxy_loss_total\": " + json_number(total) + ",\n  \"layers\": [" + layers + "\n  ]\n}\n";
  return s;
}

namespace {

// Tokenizer and generation files of a Hugging Face folder that travel with the weights.
constexpr const char *kHfSideFiles[] = {"tokenizer.model", "tokenizer.json", "tokenizer_config.json",
                                        "special_tokens_map.json", "generation_config.json", "tokenizer.bin"};

}  // namespace

void write_checkpoint_payload(const model::Model &model, const model::ModelSource &source, bool force_hf,
                              const std::string &dtype, int64_t max_shard_bytes, const std::string &tmp,
                              const io::TensorProgress &progress) {
  const bool hf = force_hf || source.format != model::ModelFormat::kLlama2c || !model::llama2c_can_store(model.config());
  if (!hf) {
    model::save_llama2c(model, tmp + "/" + kModelFileName, progress);
  } else {
    const std::string config = source.format == model::ModelFormat::kHuggingFace
                                   ? io::read_file(source.model_file + "/" + model::kHfConfigFileName, "check the model folder")
                                   : std::string();
    const std::string stored = !dtype.empty() ? dtype : config.empty() ? "F32" : model::hf_declared_dtype(config);
    model::save_hf_checkpoint(model, tmp, config, stored, max_shard_bytes > 0 ? max_shard_bytes : int64_t{5} << 30,
                              progress);
  }
  copy_tokenizer_files(source, tmp);
}

void copy_tokenizer_files(const model::ModelSource &source, const std::string &tmp) {
  if (source.format == model::ModelFormat::kHuggingFace)
    for (const char *name : kHfSideFiles)
      if (io::path_exists(source.model_file + "/" + name))
        io::copy_file(source.model_file + "/" + name, tmp + "/" + name, "check the tokenizer path");
  const std::string &t = source.tokenizer_file;
  const bool inside_gguf = t.size() > 5 && t.compare(t.size() - 5, 5, ".gguf") == 0;  // no file of its own
  if (!t.empty() && !inside_gguf) {
    // An explicit or llama2.c tokenizer: stored under the name its kind is found by.
    const std::string name = model::tokenizer_name_in_folder(source.tokenizer_file);
    if (!io::path_exists(tmp + "/" + name)) {
      io::copy_file(source.tokenizer_file, tmp + "/" + name, "check the tokenizer path");
      // A tokenizer.json's BOS/EOS rules live in the tokenizer_config.json beside it: it travels too.
      const std::string beside = model::bpe::tokenizer_config_beside(t);
      if (name == model::kHfTokenizerJsonFileName && io::path_exists(beside) && !io::path_exists(tmp + "/tokenizer_config.json"))
        io::copy_file(beside, tmp + "/tokenizer_config.json", "check the tokenizer path");
    }
  }
}

void write_model_folder(const model::Model &model, const model::ModelSource &source, const PipelineOptions &options,
                        const QuantizedModel &result, const FolderMetadata &meta, const std::string &dir,
                        const io::TensorProgress &progress) {
  io::write_folder_atomically(dir, [&](const std::string &tmp) {
    write_checkpoint_payload(model, source, false, "", 0, tmp, progress);
    io::write_text_file(tmp + "/" + kMetadataFileName, folder_metadata_json(options, result, meta));
  });
}

}  // namespace vqr::pipeline
