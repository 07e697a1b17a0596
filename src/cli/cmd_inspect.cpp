// `vqround inspect PATH`: the configuration, parameter count and file size of a llama2.c
// checkpoint or of a model directory written by `vqround quantize`, plus that directory's
// vqround.json (printed verbatim, or inlined as "quantization" with --json). The checkpoint is
// loaded in full, so a damaged file is reported here rather than at evaluation time.
#include <cstdio>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include "cli/args.h"
#include "cli/cli_error.h"
#include "cli/commands.h"
#include "core/error.h"
#include "core/json_text.h"
#include "model/model_source.h"
#include "model/text_corpus.h"

namespace vqr::cli {

namespace {

const char *const kCommand = "inspect";

// "1,234,567".
std::string with_commas(long long v) {
  std::string digits = std::to_string(v < 0 ? -v : v), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return v < 0 ? "-" + out : out;
}

std::string human_bytes(long long bytes) {
  char buf[32];
  if (bytes >= (1LL << 30)) std::snprintf(buf, sizeof buf, "%.2f GiB", bytes / double(1LL << 30));
  else if (bytes >= (1LL << 20)) std::snprintf(buf, sizeof buf, "%.2f MiB", bytes / double(1LL << 20));
  else std::snprintf(buf, sizeof buf, "%.1f KiB", bytes / 1024.0);
  return buf;
}

// vqround.json's text without surrounding whitespace; it must look like one JSON object, since
// --json inlines it unparsed.
std::string metadata_object(const std::string &path) {
  const std::string text = model::read_text_file(path);
  const size_t b = text.find_first_not_of(" \t\r\n");
  const size_t e = text.find_last_not_of(" \t\r\n");
  if (b == std::string::npos || text[b] != '{' || text[e] != '}')
    throw CliError(path, "is not a JSON object", "rewrite the model directory with `vqround quantize`");
  return text.substr(b, e - b + 1);
}

// "theta 10000, interleaved" / "theta 500000, half, llama3 x8 (low 1, high 4, context 8192)".
std::string rope_text(const model::ModelConfig &c) {
  char buf[160];
  int n = std::snprintf(buf, sizeof buf, "theta %g, %s", static_cast<double>(c.rope_theta),
                        c.rope_layout == model::RopeLayout::kHalf ? "half" : "interleaved");
  if (c.rope_scaling == model::RopeScaling::kLinear)
    std::snprintf(buf + n, sizeof buf - n, ", linear x%g", static_cast<double>(c.rope_factor));
  else if (c.rope_scaling == model::RopeScaling::kLlama3)
    std::snprintf(buf + n, sizeof buf - n, ", llama3 x%g (low %g, high %g, context %d)",
                  static_cast<double>(c.rope_factor), static_cast<double>(c.rope_low_freq_factor),
                  static_cast<double>(c.rope_high_freq_factor), c.rope_original_context);
  return buf;
}

}  // namespace

int run_inspect(const std::vector<std::string> &argv) {
  ArgParser args(kCommand, "PATH [--json]   (PATH: a llama2.c checkpoint or a `vqround quantize` directory)");
  args.add_flag("json", "print one JSON object on stdout");
  // The parser takes options only; the one positional argument is picked out first.
  std::vector<std::string> options;
  std::vector<std::string> positional;
  for (const std::string &a : argv) (a.size() > 1 && a[0] == '-' ? options : positional).push_back(a);
  if (!args.parse(options)) {
    std::fputs(args.usage().c_str(), stdout);
    return 0;
  }
  if (positional.size() != 1)
    throw usage_error(kCommand, positional.empty() ? "no model path given" : "give exactly one model path");
  const bool json = args.flag("json");
  std::error_code ec;

  const std::string &path = positional[0];
  const bool is_directory = std::filesystem::is_directory(path, ec);
  model::ModelSource paths;
  try {
    paths = model::resolve_model_source(path, "");
  } catch (const vqr::Error &) {
    // Inspect needs no tokenizer: when the checkpoint exists and only the tokenizer was not found
    // (none, or several candidates), go on without one.
    paths.model_file = is_directory ? path + "/" + model::kModelFileName : path;
    if (!std::filesystem::is_regular_file(paths.model_file, ec)) throw;
    if (is_directory && std::filesystem::is_regular_file(path + "/" + model::kMetadataFileName, ec))
      paths.metadata_file = path + "/" + model::kMetadataFileName;
  }
  const bool hf = paths.format == model::ModelFormat::kHuggingFace;
  long long file_bytes = 0;  // the weight files: the checkpoint, or a folder's safetensors
  if (hf) {
    for (const auto &e : std::filesystem::directory_iterator(paths.model_file, ec))
      if (e.path().extension() == ".safetensors") file_bytes += static_cast<long long>(e.file_size(ec));
  } else {
    file_bytes = static_cast<long long>(std::filesystem::file_size(paths.model_file, ec));
  }
  const model::Model mdl = model::load_model(paths);
  const model::ModelConfig &c = mdl.config();
  const long long params = static_cast<long long>(mdl.total_floats());
  const std::string metadata = paths.metadata_file.empty() ? std::string() : metadata_object(paths.metadata_file);

  if (json) {
    std::printf("{\"path\": %s, \"model_file\": %s, \"format\": \"%s\", \"architecture\": %s, \"file_bytes\": %lld, "
                "\"dim\": %d, \"hidden_dim\": %d, \"n_layers\": %d, \"n_heads\": %d, \"n_kv_heads\": %d, "
                "\"head_size\": %d, \"vocab_size\": %d, \"seq_len\": %d, \"shared_classifier\": %s, "
                "\"rope\": %s, \"norm_eps\": %s, \"qkv_bias\": %s, \"qk_norm\": %s, \"sliding_window\": %d, "
                "\"parameters\": %lld, \"tokenizer\": %s",
                json_string(path).c_str(), json_string(paths.model_file).c_str(), model::model_format_name(paths.format),
                json_string(c.architecture.empty() ? "llama2.c" : c.architecture).c_str(), file_bytes, c.dim,
                c.hidden_dim, c.n_layers, c.n_heads, c.n_kv_heads, c.head_size(), c.vocab_size, c.seq_len,
                c.shared_classifier ? "true" : "false", json_string(rope_text(c)).c_str(),
                json_number(c.norm_eps).c_str(), c.qkv_bias ? "true" : "false", c.qk_norm ? "true" : "false",
                c.sliding_window, params, paths.tokenizer_file.empty() ? "null" : json_string(paths.tokenizer_file).c_str());
    if (!metadata.empty()) std::printf(", \"quantization\": %s", metadata.c_str());
    std::printf("}\n");
    return 0;
  }
  std::printf("%-18s %s%s\n", "model", paths.model_file.c_str(), !paths.metadata_file.empty() ? " (quantized model directory)" : hf ? " (Hugging Face folder)" : "");
  if (hf)
    std::printf("%-18s Hugging Face safetensors, %s\n", "format", c.architecture.c_str());
  else
    std::printf("%-18s llama2.c legacy v0, fp32\n", "format");
  std::printf("%-18s %s bytes (%s)\n", "file size", with_commas(file_bytes).c_str(), human_bytes(file_bytes).c_str());
  std::printf("%-18s %d\n", "dim", c.dim);
  std::printf("%-18s %d\n", "hidden dim", c.hidden_dim);
  std::printf("%-18s %d\n", "layers", c.n_layers);
  std::printf("%-18s %d\n", "heads", c.n_heads);
  std::printf("%-18s %d\n", "kv heads", c.n_kv_heads);
  std::printf("%-18s %d\n", "head size", c.head_size());
  std::printf("%-18s %d\n", "vocab", c.vocab_size);
  std::printf("%-18s %d\n", "seq len", c.seq_len);
  std::printf("%-18s %s\n", "shared classifier", c.shared_classifier ? "yes" : "no");
  std::printf("%-18s %s\n", "rope", rope_text(c).c_str());
  std::printf("%-18s %g\n", "norm eps", static_cast<double>(c.norm_eps));
  if (c.qkv_bias) std::printf("%-18s yes\n", "q/k/v biases");
  if (c.qk_norm) std::printf("%-18s yes\n", "q/k norms");
  if (c.sliding_window > 0) std::printf("%-18s %d\n", "sliding window", c.sliding_window);
  std::printf("%-18s %s\n", "parameters", with_commas(params).c_str());
  std::printf("%-18s %s\n", "tokenizer", paths.tokenizer_file.empty() ? "(none found)" : paths.tokenizer_file.c_str());
  if (is_directory) {
    if (paths.metadata_file.empty()) {
      std::printf("%-18s (no vqround.json)\n", "quantization");
    } else {
      std::printf("quantization (%s):\n", paths.metadata_file.c_str());
      const std::string verbatim = model::read_text_file(paths.metadata_file);
      std::fputs(verbatim.c_str(), stdout);
      if (verbatim.empty() || verbatim.back() != '\n') std::fputs("\n", stdout);
    }
  }
  return 0;
}

}  // namespace vqr::cli
