// Temporary names for output files and folders (temp_names.h).
#include "io/temp_names.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <vector>

#include "core/error.h"

namespace vqr::io {

namespace {

namespace fs = std::filesystem;

constexpr char kSuffixChars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
constexpr size_t kSuffixLength = 6;
constexpr int kMaxTries = 100;  // each clash is a 1 in 62^6 event; 100 in a row means a real fault

const char *kind_word(TempKind kind) { return kind == TempKind::kFile ? "tmp" : "partial"; }

// splitmix64: spreads a counter and the clock over 64 bits. The name need not be unpredictable,
// only unlikely to clash: O_EXCL, not the randomness, is what keeps two writers apart.
uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

std::string random_suffix() {
  static std::atomic<uint64_t> counter{0};
  const uint64_t now = (uint64_t)std::chrono::steady_clock::now().time_since_epoch().count();
  uint64_t x = mix(now ^ mix(counter.fetch_add(1) ^ ((uint64_t)::getpid() << 32)));
  std::string s;
  for (size_t i = 0; i < kSuffixLength; ++i, x /= sizeof kSuffixChars - 1) s += kSuffixChars[x % (sizeof kSuffixChars - 1)];
  return s;
}

// "<target>.<word>-": every writer's temporaries of `target` start so; this process's add "<pid>-".
std::string shared_prefix(const std::string &target, TempKind kind) { return target + "." + kind_word(kind) + "-"; }

// Creates `name`; false with errno set when it cannot.
bool create_one(const std::string &name, TempKind kind, int *fd) {
  if (kind == TempKind::kFolder) return ::mkdir(name.c_str(), 0777) == 0;
  *fd = ::open(name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  return *fd >= 0;
}

// The pid in "<pid>-<suffix>" (the rest of a name after the shared prefix); 0 when the rest is not
// of that form, so a name of anyone else's is never taken for ours.
pid_t embedded_pid(const std::string &rest) {
  const size_t dash = rest.find('-');
  if (dash == std::string::npos || dash == 0 || dash > 9 || rest.size() != dash + 1 + kSuffixLength) return 0;
  pid_t pid = 0;
  for (size_t i = 0; i < dash; ++i) {
    if (rest[i] < '0' || rest[i] > '9') return 0;
    pid = pid * 10 + (rest[i] - '0');
  }
  for (size_t i = dash + 1; i < rest.size(); ++i)
    if (std::strchr(kSuffixChars, rest[i]) == nullptr || rest[i] == '\0') return 0;
  return pid;
}

bool process_gone(pid_t pid) { return ::kill(pid, 0) == -1 && errno == ESRCH; }

// Whether the entry is what a writer of `kind` makes (never follows a symbolic link).
bool of_kind(const fs::directory_entry &e, TempKind kind) {
  std::error_code ec;
  const fs::file_status st = e.symlink_status(ec);
  if (ec) return false;
  return kind == TempKind::kFile ? fs::is_regular_file(st) : fs::is_directory(st);
}

}  // namespace

std::string create_temporary(const std::string &target, TempKind kind, int *fd) {
  const std::string prefix = shared_prefix(target, kind) + std::to_string(::getpid()) + "-";
  int err = EEXIST;
  for (int i = 0; i < kMaxTries && err == EEXIST; ++i) {
    const std::string name = prefix + random_suffix();
    if (create_one(name, kind, fd)) return name;
    err = errno;
  }
  fail(Status::Io, target,
       std::string("cannot create a temporary ") + (kind == TempKind::kFile ? "file" : "folder") + " beside it (" +
           prefix + "XXXXXX): " + std::strerror(err),
       "check the folder exists and is writable");
}

void remove_stale_temporaries(const std::string &target, TempKind kind) {
  const fs::path p(target);
  const std::string base = p.filename().string();
  if (base.empty()) return;
  const fs::path folder = p.has_parent_path() ? p.parent_path() : fs::path(".");
  const std::string prefix = shared_prefix(base, kind);
  std::vector<fs::path> stale;
  std::error_code ec;
  for (fs::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.compare(0, prefix.size(), prefix) != 0 || !of_kind(*it, kind)) continue;
    const pid_t pid = embedded_pid(name.substr(prefix.size()));
    if (pid > 0 && process_gone(pid)) stale.push_back(it->path());
  }
  for (const fs::path &s : stale) fs::remove_all(s, ec);  // a failure leaves it; it harms no one
}

}  // namespace vqr::io
