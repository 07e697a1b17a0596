// Human-readable durations and byte counts (units.h).
#include "cli/units.h"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace vqr::cli {

std::string format_seconds(double s) {
  char buf[32];
  if (s < 60) std::snprintf(buf, sizeof buf, "%.1fs", s);
  else std::snprintf(buf, sizeof buf, "%dm%02ds", (int)(s / 60), (int)s % 60);
  return buf;
}

std::string format_bytes(double bytes) {
  const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (bytes >= 1024 && u < 4) {
    bytes /= 1024;
    ++u;
  }
  char buf[32];
  if (u == 0) std::snprintf(buf, sizeof buf, "%.0f B", bytes);
  else std::snprintf(buf, sizeof buf, "%.1f %s", bytes, units[u]);
  return buf;
}

bool parse_bytes(const std::string &text, int64_t *out) {
  char *end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || end == text.c_str() || !std::isfinite(v) || v < 0) return false;
  while (*end == ' ') ++end;
  const char *const prefixes = "KMGT";
  double scale = 1;
  if (*end != '\0') {
    const char *p = std::strchr(prefixes, std::toupper((unsigned char)*end));
    if (p == nullptr || *p == '\0') {
      if (std::strcmp(end, "B") != 0) return false;  // "4096B"
    } else {
      for (const char *q = prefixes; q <= p; ++q) scale *= 1024;
      const char *suffix = end + 1;
      if (std::strcmp(suffix, "") != 0 && std::strcmp(suffix, "B") != 0 && std::strcmp(suffix, "iB") != 0) return false;
    }
  }
  const double bytes = std::floor(v * scale);
  if (bytes > 4611686018427387904.0) return false;  // 2^62
  *out = (int64_t)bytes;
  return true;
}

}  // namespace vqr::cli
