// The vqround subcommands. Each takes its arguments (after the subcommand name) and returns the
// process exit code; failures are thrown as CliError or vqr::Error and printed by main().
// To add a subcommand: write cmd_<name>.cpp, declare its entry point here, add a row to the
// table in main.cpp.
#pragma once

#include <string>
#include <vector>

namespace vqr::cli {

// `vqround layer-loss`: per-layer proxy loss of RTN and GPTQ on a real model (cmd_layer_loss.cpp).
int run_layer_loss(const std::vector<std::string> &args);

// `vqround quantize`: whole-model sequential quantization into a model folder (cmd_quantize.cpp).
int run_quantize(const std::vector<std::string> &args);

// `vqround eval`: mean NLL and perplexity of a model on a text file, paragraph or GPTQ protocol
// (cmd_eval.cpp).
int run_eval(const std::vector<std::string> &args);

// `vqround inspect`: a model's configuration, parameter count, file size and, for a quantized
// directory, its vqround.json (cmd_inspect.cpp).
int run_inspect(const std::vector<std::string> &args);

// `vqround convert`: a model rewritten as llama2.c v0 or a Hugging Face folder (cmd_convert.cpp).
int run_convert(const std::vector<std::string> &args);

// Default data locations: $VQR_DATA_DIR, else ../shared/data relative to the working directory.
std::string default_data_dir();

}  // namespace vqr::cli
