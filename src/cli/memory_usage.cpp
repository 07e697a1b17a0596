// Resident-set readings of the tool's own process (memory_usage.h).
#include "cli/memory_usage.h"

#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>

namespace vqr::cli {

int64_t peak_rss_bytes() {
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) != 0 || ru.ru_maxrss <= 0) return -1;
  return (int64_t)ru.ru_maxrss * 1024;  // Linux reports KiB
}

int64_t current_rss_bytes() {
  std::FILE *f = std::fopen("/proc/self/statm", "r");
  if (!f) return -1;
  long long size = 0, resident = 0;
  const int n = std::fscanf(f, "%lld %lld", &size, &resident);
  std::fclose(f);
  const long page = sysconf(_SC_PAGESIZE);
  return n == 2 && page > 0 ? (int64_t)resident * page : -1;
}

}  // namespace vqr::cli
