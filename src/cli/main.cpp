// vqround: the command-line driver of libvqround over real checkpoints. A table of subcommands;
// main() dispatches and turns every error into "vqround: <subject>: <message>\nhint: <fix>".
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <new>
#include <string>
#include <vector>

#include "cli/cli_error.h"
#include "cli/commands.h"
#include "cli/library.h"
#include "vqround/vqround.h"

namespace {

struct Subcommand {
  const char *name;
  const char *summary;
  int (*run)(const std::vector<std::string> &args);
};

const Subcommand kSubcommands[] = {
    {"quantize", "quantize a whole model block by block with any method; write a model folder",
     vqr::cli::run_quantize},
    {"eval", "mean NLL and perplexity of a model on a text file (paragraph or GPTQ protocol)", vqr::cli::run_eval},
    {"inspect", "print a model's configuration (llama2.c, Hugging Face, quantized folder) or the OpenCL devices",
     vqr::cli::run_inspect},
    {"convert", "rewrite a model as a llama2.c file or a Hugging Face folder, weights unchanged", vqr::cli::run_convert},
    {"layer-loss", "calibrate on text, quantize every linear layer, print RTN vs GPTQ proxy losses",
     vqr::cli::run_layer_loss},
};

void print_usage(std::FILE *out) {
  std::fprintf(out,
               "usage: vqround <command> [options]\n"
               "       vqround --version | --help\n\n"
               "Post-training weight quantization of LLaMA-family checkpoints (libvqround %s).\n\ncommands:\n",
               vqr_version_string());
  for (const Subcommand &c : kSubcommands) std::fprintf(out, "  %-12s %s\n", c.name, c.summary);
  std::fprintf(out, "\nRun `vqround <command> --help` for a command's options.\n"
                    "Data paths default to $VQR_DATA_DIR, else ../shared/data from the current directory.\n");
}

void print_error(const std::string &subject, const std::string &message, const std::string &hint) {
  std::fflush(stdout);  // whatever the table printed so far comes before the error
  std::fprintf(stderr, "vqround: %s%s%s\nhint: %s\n", subject.c_str(), subject.empty() ? "" : ": ", message.c_str(),
               hint.c_str());
}

// Library messages read "<file>: <problem>; hint: <fix>"; split off the hint.
void print_library_error(const std::string &what, vqr_status status) {
  const std::string marker = "; hint: ";
  const size_t at = what.rfind(marker);
  if (at != std::string::npos) {
    print_error("", what.substr(0, at), what.substr(at + marker.size()));
  } else {
    print_error("", what + " (" + vqr_status_string(status) + ")", "see the message above; check the input files");
  }
}

}  // namespace

int main(int argc, char **argv) {
  if (argc < 2) {
    print_usage(stderr);
    return vqr::cli::kExitUsage;
  }
  const std::string cmd = argv[1];
  if (cmd == "--help" || cmd == "-h" || cmd == "help") {
    print_usage(stdout);
    return 0;
  }
  if (cmd == "--version") {
    std::printf("vqround %s\n%s\n", vqr_version_string(), vqr_build_info());
    return 0;
  }
  for (const Subcommand &c : kSubcommands) {
    if (cmd != c.name) continue;
    try {
      return c.run(std::vector<std::string>(argv + 2, argv + argc));
    } catch (const vqr::cli::CliError &e) {
      print_error(e.subject(), e.what(), e.hint());
      return e.exit_code();
    } catch (const vqr::cli::LibraryError &e) {
      print_library_error(e.what(), e.status());
      return vqr::cli::kExitFailure;
    } catch (const std::bad_alloc &) {
      print_error(c.name, "out of memory", "use a smaller --calib-tokens or a smaller model");
      return vqr::cli::kExitFailure;
    } catch (const std::exception &e) {
      print_error(c.name, std::string("internal error: ") + e.what(), "this is a bug; please report it");
      return vqr::cli::kExitFailure;
    }
  }
  print_error(cmd, "unknown command", "run `vqround --help` for the list of commands");
  return vqr::cli::kExitUsage;
}
