// A small "--name value" / "--name=value" / "--flag" parser shared by the subcommands, with the
// usage text generated from the same table, so options and their help never drift apart.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace vqr::cli {

class ArgParser {
 public:
  // command: the subcommand name (for messages); synopsis: one line shown under "usage:".
  ArgParser(std::string command, std::string synopsis);

  // An option taking a value; `def` is the default ("" = none, which get() returns as "").
  void add(const std::string &name, const std::string &metavar, const std::string &def, const std::string &help);
  // An option without a value.
  void add_flag(const std::string &name, const std::string &help);

  // Parses args (without the program and subcommand names). Returns false when --help/-h was
  // given (the caller prints usage() and exits 0). Throws CliError (exit code 2) on unknown
  // options, missing values, repeated options or positional arguments.
  bool parse(const std::vector<std::string> &args);

  std::string usage() const;

  const std::string &get(const std::string &name) const;
  bool flag(const std::string &name) const;
  // Typed readers; they throw CliError naming the option when the value does not parse or is
  // outside [lo, hi].
  int64_t get_int(const std::string &name, int64_t lo, int64_t hi) const;
  std::vector<int64_t> get_int_list(const std::string &name, int64_t lo, int64_t hi) const;
  std::vector<std::string> get_list(const std::string &name) const;  // comma separated, no empties

 private:
  struct Spec {
    std::string metavar, def, help;
    bool takes_value;
  };
  std::string command_, synopsis_;
  std::vector<std::string> order_;
  std::map<std::string, Spec> specs_;
  std::map<std::string, std::string> values_;
};

}  // namespace vqr::cli
