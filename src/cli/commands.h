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

// Default data locations: $VQR_DATA_DIR, else ../shared/data relative to the working directory.
std::string default_data_dir();

}  // namespace vqr::cli
