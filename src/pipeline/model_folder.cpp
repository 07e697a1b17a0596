// Native quantized-model folder writer (model_folder.h).
#include "pipeline/model_folder.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.h"
#include "core/json_text.h"
#include "model/hf_checkpoint.h"
#include "model/llama2c_format.h"

namespace vqr::pipeline {

namespace {

[[noreturn]] void io_fail(const std::string &path, const std::string &problem, const std::string &hint) {
  throw Error(VQR_ERR_IO, path + ": " + problem + "; hint: " + hint);
}

void copy_file(const std::string &from, const std::string &to) {
  std::ifstream in(from, std::ios::binary);
  if (!in) io_fail(from, "cannot open", "check the tokenizer path");
  std::ofstream out(to, std::ios::binary);
  out << in.rdbuf();
  if (!out.flush()) io_fail(to, "cannot write", "is the disk full?");
}

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
                  json_string(VQR_VERSION_STRING) + ",\n  \"source_model\": " + json_string(meta.source_model) +
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

bool exists(const std::string &p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0;
}

std::string read_text(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) io_fail(path, "cannot open", "check the model folder");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The dtype a Hugging Face config declares for its weights (torch_dtype, or dtype in newer files).
std::string declared_dtype(const std::string &config_text) {
  const nlohmann::json j = nlohmann::json::parse(config_text, nullptr, /*allow_exceptions=*/false);
  for (const char *key : {"torch_dtype", "dtype"})
    if (j.is_object() && j.contains(key) && j.at(key).is_string()) {
      const std::string v = j.at(key).get<std::string>();
      return v == "bfloat16" ? "BF16" : v == "float16" ? "F16" : "F32";
    }
  return "F32";
}

}  // namespace

void write_checkpoint_payload(const model::Model &model, const model::ModelSource &source, bool force_hf,
                              const std::string &dtype, int64_t max_shard_bytes, const std::string &tmp) {
  const bool hf = force_hf || source.format != model::ModelFormat::kLlama2c || !model::llama2c_can_store(model.config());
  if (!hf) {
    model::save_llama2c(model, tmp + "/" + kModelFileName);
  } else {
    const std::string config = source.format == model::ModelFormat::kHuggingFace
                                   ? read_text(source.model_file + "/" + model::kHfConfigFileName)
                                   : std::string();
    const std::string stored = !dtype.empty() ? dtype : config.empty() ? "F32" : declared_dtype(config);
    model::save_hf_checkpoint(model, tmp, config, stored, max_shard_bytes > 0 ? max_shard_bytes : int64_t{5} << 30);
  }
  copy_tokenizer_files(source, tmp);
}

void copy_tokenizer_files(const model::ModelSource &source, const std::string &tmp) {
  if (source.format == model::ModelFormat::kHuggingFace)
    for (const char *name : kHfSideFiles)
      if (exists(source.model_file + "/" + name))
        copy_file(source.model_file + "/" + name, tmp + "/" + name);
  const std::string &t = source.tokenizer_file;
  const bool inside_gguf = t.size() > 5 && t.compare(t.size() - 5, 5, ".gguf") == 0;  // no file of its own
  if (!t.empty() && !inside_gguf) {
    // An explicit or llama2.c tokenizer: stored under the name its kind is found by.
    const std::string name = model::tokenizer_name_in_folder(source.tokenizer_file);
    if (!exists(tmp + "/" + name)) copy_file(source.tokenizer_file, tmp + "/" + name);
  }
}

void write_model_folder(const model::Model &model, const model::ModelSource &source, const PipelineOptions &options,
                        const QuantizedModel &result, const FolderMetadata &meta, const std::string &dir) {
  struct stat st;
  require(!dir.empty() && stat(dir.c_str(), &st) != 0, VQR_ERR_INVALID_ARGUMENT,
          dir + ": already exists; hint: choose a new folder name or remove the old one");
  const std::string tmp = dir + ".partial-" + std::to_string(getpid());
  if (mkdir(tmp.c_str(), 0755) != 0) io_fail(tmp, std::string("cannot create: ") + std::strerror(errno), "check the parent folder");
  try {
    write_checkpoint_payload(model, source, false, "", 0, tmp);
    std::ofstream out(tmp + "/" + kMetadataFileName);
    out << folder_metadata_json(options, result, meta);
    if (!out.flush()) io_fail(tmp + "/" + kMetadataFileName, "cannot write", "is the disk full?");
    out.close();
    if (std::rename(tmp.c_str(), dir.c_str()) != 0)
      io_fail(dir, std::string("cannot rename the finished folder: ") + std::strerror(errno), "check the parent folder");
  } catch (...) {
    // Whatever was written (including temporary and shard files) goes with the folder.
    if (DIR *d = opendir(tmp.c_str())) {
      while (const dirent *e = readdir(d)) {
        const std::string name = e->d_name;
        if (name != "." && name != "..") std::remove((tmp + "/" + name).c_str());
      }
      closedir(d);
    }
    rmdir(tmp.c_str());
    throw;
  }
}

}  // namespace vqr::pipeline
