// Command-line option parsing for the vqround subcommands.
#include "cli/args.h"

#include <cerrno>
#include <cstdlib>
#include <sstream>

#include "cli/cli_error.h"

namespace vqr::cli {

ArgParser::ArgParser(std::string command, std::string synopsis)
    : command_(std::move(command)), synopsis_(std::move(synopsis)) {}

void ArgParser::add(const std::string &name, const std::string &metavar, const std::string &def,
                    const std::string &help) {
  order_.push_back(name);
  specs_[name] = {metavar, def, help, true};
}

void ArgParser::add_flag(const std::string &name, const std::string &help) {
  order_.push_back(name);
  specs_[name] = {"", "", help, false};
}

bool ArgParser::parse(const std::vector<std::string> &args) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string &a = args[i];
    if (a == "--help" || a == "-h") return false;
    if (a.size() < 3 || a.compare(0, 2, "--") != 0)
      throw usage_error(command_, "unexpected argument '" + a + "'");
    std::string name = a.substr(2), value;
    bool has_inline = false;
    const size_t eq = name.find('=');
    if (eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_inline = true;
    }
    auto it = specs_.find(name);
    if (it == specs_.end()) throw usage_error(command_, "unknown option --" + name);
    if (values_.count(name)) throw usage_error(command_, "option --" + name + " given twice");
    if (!it->second.takes_value) {
      if (has_inline) throw usage_error(command_, "option --" + name + " takes no value");
      values_[name] = "1";
      continue;
    }
    if (!has_inline) {
      if (i + 1 >= args.size()) throw usage_error(command_, "option --" + name + " needs a value");
      value = args[++i];
    }
    values_[name] = value;
  }
  return true;
}

std::string ArgParser::usage() const {
  std::ostringstream os;
  os << "usage: vqround " << command_ << " " << synopsis_ << "\n\noptions:\n";
  for (const std::string &name : order_) {
    const Spec &s = specs_.at(name);
    std::string left = "  --" + name + (s.takes_value ? " " + s.metavar : "");
    if (left.size() < 26) left.resize(26, ' ');
    else left += "\n" + std::string(26, ' ');
    os << left << s.help;
    if (!s.def.empty()) os << " (default: " << s.def << ")";
    os << "\n";
  }
  os << "  --help                  print this help\n";
  return os.str();
}

const std::string &ArgParser::get(const std::string &name) const {
  auto v = values_.find(name);
  if (v != values_.end()) return v->second;
  return specs_.at(name).def;
}

bool ArgParser::flag(const std::string &name) const { return values_.count(name) != 0; }

namespace {

int64_t parse_int(const std::string &command, const std::string &name, const std::string &text, int64_t lo,
                  int64_t hi) {
  errno = 0;
  char *end = nullptr;
  const long long v = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno == ERANGE)
    throw usage_error(command, "--" + name + ": '" + text + "' is not an integer");
  if (v < lo || v > hi)
    throw usage_error(command, "--" + name + ": " + text + " is outside [" + std::to_string(lo) + ", " +
                                   std::to_string(hi) + "]");
  return v;
}

}  // namespace

int64_t ArgParser::get_int(const std::string &name, int64_t lo, int64_t hi) const {
  return parse_int(command_, name, get(name), lo, hi);
}

std::vector<std::string> ArgParser::get_list(const std::string &name) const {
  std::vector<std::string> out;
  std::stringstream ss(get(name));
  std::string item;
  while (std::getline(ss, item, ','))
    if (!item.empty()) out.push_back(item);
  if (out.empty()) throw usage_error(command_, "--" + name + " needs at least one value");
  return out;
}

std::vector<int64_t> ArgParser::get_int_list(const std::string &name, int64_t lo, int64_t hi) const {
  std::vector<int64_t> out;
  for (const std::string &s : get_list(name)) out.push_back(parse_int(command_, name, s, lo, hi));
  return out;
}

}  // namespace vqr::cli
