// `vqround convert`: rewrites a model in another checkpoint format without changing its weights —
// llama2.c v0 <-> Hugging Face folder (q/k rows permuted between the two RoPE layouts), F32, F16
// or BF16 storage where every value converts exactly. The output is built under a temporary
// name and renamed, so a failure leaves nothing.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "cli/args.h"
#include "cli/cli_error.h"
#include "cli/commands.h"
#include "cli/model_inputs.h"
#include "core/error.h"
#include "model/hf_checkpoint.h"
#include "model/llama2c_format.h"
#include "model/text_corpus.h"

namespace vqr::cli {

namespace {

const char *const kCommand = "convert";

std::string dtype_arg(const std::string &s) {
  if (s == "f32" || s == "F32") return "F32";
  if (s == "f16" || s == "F16") return "F16";
  if (s == "bf16" || s == "BF16") return "BF16";
  throw usage_error(kCommand, "--dtype: unknown type '" + s + "' (known: f32, f16, bf16)");
}

}  // namespace

int run_convert(const std::vector<std::string> &argv) {
  ArgParser args(kCommand, "--model PATH --format F --out PATH [options]");
  args.add("model", "PATH", "", "llama2.c checkpoint, Hugging Face folder, or a `vqround quantize` folder");
  args.add("tokenizer", "PATH", "", "tokenizer to copy into a folder output (default: the model's, when found)");
  args.add("format", "F", "", "huggingface (a folder: config.json + model.safetensors) or llama2c (one .bin file)");
  args.add("dtype", "T", "f32", "huggingface: storage type f32, f16 or bf16 (tensors not exact in it stay f32)");
  args.add("shard-size", "MB", "5000", "huggingface: largest shard in MB before splitting");
  args.add("out", "PATH", "", "output folder (huggingface) or file (llama2c); must not exist");
  if (!args.parse(argv)) {
    std::fputs(args.usage().c_str(), stdout);
    return 0;
  }
  const std::string format = args.get("format"), out = args.get("out");
  if (args.get("model").empty()) throw usage_error(kCommand, "--model is required");
  if (out.empty()) throw usage_error(kCommand, "--out is required");
  if (format != "huggingface" && format != "llama2c")
    throw usage_error(kCommand, "--format: unknown format '" + format + "' (known: huggingface, llama2c)");
  const std::string dtype = dtype_arg(args.get("dtype"));
  const int64_t shard_mb = args.get_int("shard-size", 1, int64_t{1} << 30);
  struct stat st;
  if (stat(out.c_str(), &st) == 0) throw CliError("--out", out + " already exists", "choose a new name or remove it");

  model::ModelSource source = model::resolve_model_source(args.get("model"), args.get("tokenizer"));
  const model::Model m = model::load_model(source);
  if (format == "llama2c") {
    if (!model::llama2c_can_store(m.config()))
      throw CliError(args.get("model"),
                     "has features llama2.c v0 cannot hold (biases, q/k norms, RoPE variant, epsilon or head size)",
                     "convert to --format huggingface instead");
    model::save_llama2c(m, out);  // q/k rows back to the interleaved layout when needed
    std::fprintf(stderr, "wrote %s (llama2.c v0)\n", out.c_str());
    return 0;
  }
  const std::string tmp = out + ".partial-" + std::to_string(getpid());
  std::error_code ec;
  std::filesystem::create_directories(tmp, ec);
  if (ec) throw CliError(tmp, "cannot create: " + ec.message(), "check the parent folder");
  try {
    const std::string config = source.format == model::ModelFormat::kHuggingFace
                                   ? model::read_text_file(source.model_file + "/" + model::kHfConfigFileName)
                                   : std::string();
    model::save_hf_checkpoint(m, tmp, config, dtype, shard_mb * 1000 * 1000);
    if (!source.tokenizer_file.empty())
      std::filesystem::copy_file(source.tokenizer_file,
                                 tmp + "/" + model::tokenizer_name_in_folder(source.tokenizer_file));
    std::filesystem::rename(tmp, out);
  } catch (...) {
    std::filesystem::remove_all(tmp, ec);
    throw;
  }
  std::fprintf(stderr, "wrote %s (Hugging Face, %s)\n", out.c_str(), m.config().architecture.empty()
                                                                        ? "LlamaForCausalLM"
                                                                        : m.config().architecture.c_str());
  return 0;
}

}  // namespace vqr::cli
