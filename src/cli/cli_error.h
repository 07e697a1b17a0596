// Errors of the vqround tool. Every failure reaches the user as
//   vqround: <subject>: <message>
//   hint: <how to fix it>
// where the subject is a file, an option or a layer. Library errors (vqr::Error from src/model,
// whose messages read "<file>: <problem>; hint: <fix>") are printed in the same shape.
#pragma once

#include <stdexcept>
#include <string>

namespace vqr::cli {

// Exit codes: 1 = the run failed (bad file, library error), 2 = bad command line.
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

class CliError : public std::runtime_error {
 public:
  CliError(std::string subject, const std::string &message, std::string hint, int exit_code = kExitFailure)
      : std::runtime_error(message), subject_(std::move(subject)), hint_(std::move(hint)), exit_code_(exit_code) {}
  const std::string &subject() const { return subject_; }
  const std::string &hint() const { return hint_; }
  int exit_code() const { return exit_code_; }

 private:
  std::string subject_;
  std::string hint_;
  int exit_code_;
};

// A command-line mistake in `command` (exit code 2, hint points at --help).
inline CliError usage_error(const std::string &command, const std::string &message) {
  return CliError(command, message, "run `vqround " + command + " --help` for the options", kExitUsage);
}

}  // namespace vqr::cli
