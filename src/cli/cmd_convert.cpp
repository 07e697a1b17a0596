// `vqround convert`: rewrites a model in another checkpoint format without changing its weights,
// through vqr_model_export: llama2.c v0 <-> Hugging Face folder (q/k rows permuted between the two
// RoPE layouts) <-> GGUF, with F32, F16 or BF16 storage where every value converts exactly. A
// quantized checkpoint (GPTQ, compressed-tensors, GGUF blocks) is read dequantized, so converting it
// writes dense weights. The output is built under a temporary name and renamed, so a failure
// leaves nothing.
#include <sys/stat.h>

#include <cstdio>
#include <string>
#include <vector>

#include "cli/args.h"
#include "cli/cli_error.h"
#include "cli/commands.h"
#include "cli/model_inputs.h"

namespace vqr::cli {

namespace {

const char *const kCommand = "convert";

vqr_dtype dtype_arg(const std::string &s) {
  if (s == "f32" || s == "F32") return VQR_DTYPE_F32;
  if (s == "f16" || s == "F16") return VQR_DTYPE_F16;
  if (s == "bf16" || s == "BF16") return VQR_DTYPE_BF16;
  throw usage_error(kCommand, "--dtype: unknown type '" + s + "' (known: f32, f16, bf16)");
}

void print_log_line(void *, vqr_log_level level, const char *message) {
  std::fprintf(stderr, "%s%s\n", level >= VQR_LOG_WARN ? "warning: " : "", message);
}

}  // namespace

int run_convert(const std::vector<std::string> &argv) {
  ArgParser args(kCommand, "--model PATH --format F --out PATH [options]");
  args.add("model", "PATH", "",
           "llama2.c checkpoint, Hugging Face folder (dense, GPTQ or compressed-tensors), GGUF file, or a `vqround "
           "quantize` folder");
  args.add("tokenizer", "PATH", "", "tokenizer to copy into the output (default: the model's, when found)");
  args.add("format", "F", "",
           "huggingface (a folder: config.json + model.safetensors), llama2c (one .bin file) or gguf (one file)");
  args.add("dtype", "T", "f32",
           "huggingface / gguf: storage type f32, f16 or bf16 (huggingface keeps tensors not exact in it in f32)");
  args.add("shard-size", "MB", "5000", "huggingface: largest shard in MB before splitting");
  args.add("out", "PATH", "", "output folder (huggingface) or file (llama2c, gguf); must not exist");
  if (!args.parse(argv)) {
    std::fputs(args.usage().c_str(), stdout);
    return 0;
  }
  const std::string format = args.get("format"), out = args.get("out");
  if (args.get("model").empty()) throw usage_error(kCommand, "--model is required");
  if (out.empty()) throw usage_error(kCommand, "--out is required");
  vqr_format target;
  if (format == "huggingface") target = VQR_FORMAT_HUGGINGFACE;
  else if (format == "llama2c") target = VQR_FORMAT_LLAMA2C;
  else if (format == "gguf") target = VQR_FORMAT_GGUF;
  else throw usage_error(kCommand, "--format: unknown format '" + format + "' (known: huggingface, llama2c, gguf)");
  const vqr_dtype dtype = dtype_arg(args.get("dtype"));
  const int64_t shard_mb = args.get_int("shard-size", 1, int64_t{1} << 30);
  struct stat st;
  if (stat(out.c_str(), &st) == 0) throw CliError("--out", out + " already exists", "choose a new name or remove it");

  const LoadedModel loaded = load_model_inputs(args.get("model"), args.get("tokenizer"));
  const ContextPtr ctx = make_context(0, 0);
  check(vqr_context_set_log(ctx.get(), print_log_line, nullptr, VQR_LOG_INFO));
  check(vqr_model_export(ctx.get(), loaded.model.get(), out.c_str(), target, dtype, shard_mb * 1000 * 1000));
  std::fprintf(stderr, "wrote %s (%s, %s)\n", out.c_str(), vqr_format_name(target), loaded.info.architecture);
  return 0;
}

}  // namespace vqr::cli
