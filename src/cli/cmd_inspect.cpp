// `vqround inspect PATH`: the configuration, parameter count and file size of a llama2.c
// checkpoint or of a model directory written by `vqround quantize`, plus that directory's
// vqround.json (printed verbatim, or inlined as "quantization" with --json). The checkpoint is
// loaded in full, so a damaged file is reported here rather than at evaluation time.
// `vqround inspect --devices` lists the OpenCL devices instead (devices.h).
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <system_error>
#include <vector>

#include "cli/args.h"
#include "cli/cli_error.h"
#include "cli/commands.h"
#include "cli/devices.h"
#include "cli/model_inputs.h"
#include "core/json_text.h"

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
std::string read_file(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw CliError(path, "cannot open", "check the model directory");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string metadata_object(const std::string &path) {
  const std::string text = read_file(path);
  const size_t b = text.find_first_not_of(" \t\r\n");
  const size_t e = text.find_last_not_of(" \t\r\n");
  if (b == std::string::npos || text[b] != '{' || text[e] != '}')
    throw CliError(path, "is not a JSON object", "rewrite the model directory with `vqround quantize`");
  return text.substr(b, e - b + 1);
}

// "theta 10000, interleaved" / "theta 500000, half, llama3 x8 (low 1, high 4, context 8192)".
std::string rope_text(const vqr_model_info &c) {
  // OPT adds learned position embeddings (row t + 2) instead of rotating q and k.
  if (c.architecture && std::strcmp(c.architecture, "OPTForCausalLM") == 0) return "none (learned positions)";
  char buf[160];
  int n = std::snprintf(buf, sizeof buf, "theta %g, %s", c.rope_theta, c.rope_half_layout ? "half" : "interleaved");
  if (c.rope_scaling == 1)
    std::snprintf(buf + n, sizeof buf - n, ", linear x%g", c.rope_factor);
  else if (c.rope_scaling == 2)
    std::snprintf(buf + n, sizeof buf - n, ", llama3 x%g (low %g, high %g, context %d)", c.rope_factor,
                  c.rope_low_freq_factor, c.rope_high_freq_factor, c.rope_original_context);
  return buf;
}

}  // namespace

int run_inspect(const std::vector<std::string> &argv) {
  ArgParser args(kCommand,
                 "PATH [--json]   (PATH: a llama2.c checkpoint or a `vqround quantize` directory)\n"
                 "       vqround inspect --devices [--json]");
  args.add_flag("json", "print one JSON object on stdout");
  args.add_flag("devices", "list the OpenCL devices (for --backend / --device) instead of a model");
  // The parser takes options only; the one positional argument is picked out first.
  std::vector<std::string> options;
  std::vector<std::string> positional;
  for (const std::string &a : argv) (a.size() > 1 && a[0] == '-' ? options : positional).push_back(a);
  if (!args.parse(options)) {
    std::fputs(args.usage().c_str(), stdout);
    return 0;
  }
  const bool json = args.flag("json");
  if (args.flag("devices")) {
    if (!positional.empty()) throw usage_error(kCommand, "--devices takes no model path");
    return print_devices(json);
  }
  if (positional.size() != 1)
    throw usage_error(kCommand, positional.empty() ? "no model path given" : "give exactly one model path");
  std::error_code ec;

  const std::string &path = positional[0];
  const bool is_directory = std::filesystem::is_directory(path, ec);
  // The weights are loaded in full, so a damaged file is reported here rather than at eval time.
  const LoadedModel loaded = load_model_inputs(path, "");
  const vqr_model_info &c = loaded.info;
  const bool hf = std::strcmp(c.format, "huggingface") == 0;
  const long long file_bytes = c.file_bytes, params = c.parameters;
  const std::string metadata = c.metadata_path ? metadata_object(c.metadata_path) : std::string();

  if (json) {
    std::printf("{\"path\": %s, \"model_file\": %s, \"format\": \"%s\", \"architecture\": %s, \"file_bytes\": %lld, "
                "\"dim\": %d, \"hidden_dim\": %d, \"n_layers\": %d, \"n_heads\": %d, \"n_kv_heads\": %d, "
                "\"head_size\": %d, \"vocab_size\": %d, \"seq_len\": %d, \"shared_classifier\": %s, "
                "\"rope\": %s, \"norm_eps\": %s, \"qkv_bias\": %s, \"qk_norm\": %s, \"sliding_window\": %d, "
                "\"parameters\": %lld, \"tokenizer\": %s",
                json_string(path).c_str(), json_string(c.model_path).c_str(), c.format,
                json_string(c.architecture).c_str(), file_bytes, c.dim,
                c.hidden_dim, c.n_layers, c.n_heads, c.n_kv_heads, c.head_dim, c.vocab_size, c.seq_len,
                c.shared_classifier ? "true" : "false", json_string(rope_text(c)).c_str(),
                json_number(c.norm_eps).c_str(), c.qkv_bias ? "true" : "false", c.qk_norm ? "true" : "false",
                c.sliding_window, params, c.tokenizer_path ? json_string(c.tokenizer_path).c_str() : "null");
    if (c.quantization) std::printf(", \"checkpoint_quantization\": %s", json_string(c.quantization).c_str());
    if (!metadata.empty()) std::printf(", \"quantization\": %s", metadata.c_str());
    std::printf("}\n");
    return 0;
  }
  std::printf("%-18s %s%s\n", "model", c.model_path, c.metadata_path ? " (quantized model directory)" : hf ? " (Hugging Face folder)" : "");
  if (hf)
    std::printf("%-18s Hugging Face safetensors, %s\n", "format", c.architecture);
  else if (std::strcmp(c.format, "gguf") == 0)
    std::printf("%-18s GGUF, %s\n", "format", c.architecture);
  else
    std::printf("%-18s llama2.c legacy v0, fp32\n", "format");
  if (c.quantization) std::printf("%-18s %s (loaded dequantized)\n", "stored as", c.quantization);
  std::printf("%-18s %s bytes (%s)\n", "file size", with_commas(file_bytes).c_str(), human_bytes(file_bytes).c_str());
  std::printf("%-18s %d\n", "dim", c.dim);
  std::printf("%-18s %d\n", "hidden dim", c.hidden_dim);
  std::printf("%-18s %d\n", "layers", c.n_layers);
  std::printf("%-18s %d\n", "heads", c.n_heads);
  std::printf("%-18s %d\n", "kv heads", c.n_kv_heads);
  std::printf("%-18s %d\n", "head size", c.head_dim);
  std::printf("%-18s %d\n", "vocab", c.vocab_size);
  std::printf("%-18s %d\n", "seq len", c.seq_len);
  std::printf("%-18s %s\n", "shared classifier", c.shared_classifier ? "yes" : "no");
  std::printf("%-18s %s\n", "rope", rope_text(c).c_str());
  std::printf("%-18s %g\n", "norm eps", c.norm_eps);
  if (c.qkv_bias) std::printf("%-18s yes\n", "q/k/v biases");
  if (c.qk_norm) std::printf("%-18s yes\n", "q/k norms");
  if (c.sliding_window > 0) std::printf("%-18s %d\n", "sliding window", c.sliding_window);
  std::printf("%-18s %s\n", "parameters", with_commas(params).c_str());
  std::printf("%-18s %s\n", "tokenizer", c.tokenizer_path ? c.tokenizer_path : "(none found)");
  if (is_directory) {
    if (!c.metadata_path) {
      std::printf("%-18s (no vqround.json)\n", "quantization");
    } else {
      std::printf("quantization (%s):\n", c.metadata_path);
      const std::string verbatim = read_file(c.metadata_path);
      std::fputs(verbatim.c_str(), stdout);
      if (verbatim.empty() || verbatim.back() != '\n') std::fputs("\n", stdout);
    }
  }
  return 0;
}

}  // namespace vqr::cli
