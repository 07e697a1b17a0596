// Memory budgets for input-sized allocations (memory_budget.h).
#include "core/memory_budget.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "core/context.h"
#include "core/error.h"

namespace vqr {

namespace {
thread_local int64_t t_scope_limit = 0;  // MemoryLimitScope's, 0 = none
}

int64_t physical_memory_bytes() {
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page <= 0) return int64_t(1) << 62;
  return (int64_t)pages * (int64_t)page;
}

int64_t memory_budget(const Context *ctx) {
  if (ctx && ctx->memory_limit > 0) return ctx->memory_limit;
  if (t_scope_limit > 0) return t_scope_limit;
  return physical_memory_bytes();
}

std::string format_bytes(double bytes) {
  const char *units[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  int u = 0;
  while (bytes >= 1024.0 && u < 6) {
    bytes /= 1024.0;
    ++u;
  }
  char text[64];
  std::snprintf(text, sizeof text, u == 0 ? "%.0f %s" : "%.1f %s", bytes, units[u]);
  return text;
}

void require_memory(const Context *ctx, double bytes, const std::string &what) {
  const int64_t budget = memory_budget(ctx);
  if (bytes <= (double)budget) return;
  const bool set = (ctx && ctx->memory_limit > 0) || t_scope_limit > 0;
  const char *source = set ? "set by vqr_context_set_memory_limit"
                           : "this machine's physical memory; vqr_context_set_memory_limit sets another";
  throw Error(Status::OutOfMemory, what + " needs about " + format_bytes(bytes) + " (" +
                                       std::to_string((long long)std::min(bytes, 9.2e18)) +
                                       " bytes), above the memory limit of " + format_bytes((double)budget) + " (" +
                                       source + ")");
}

MemoryLimitScope::MemoryLimitScope(int64_t limit_bytes) : previous_(t_scope_limit) { t_scope_limit = limit_bytes; }
MemoryLimitScope::~MemoryLimitScope() { t_scope_limit = previous_; }

}  // namespace vqr
