// The memory a call may commit for data whose size comes from its inputs (issue 20: a 10 KB file
// claiming a 10^9-token vocabulary, a tensor claiming 2^40 rows, a count of 2^40 windows). Every
// such allocation is estimated first, in fp64 (no integer overflow), and refused with
// Status::OutOfMemory naming the figure and the limit when it passes the budget: the context's
// (vqr_context_set_memory_limit) or, without one, this machine's physical memory. The refusal
// comes before anything is allocated, so a hostile size costs nothing.
#pragma once

#include <cstdint>
#include <string>

namespace vqr {

struct Context;

// Installed memory of this machine in bytes (sysconf); 2^62 when it cannot be read.
int64_t physical_memory_bytes();

// The budget of a call under `ctx`: ctx->memory_limit when set (> 0), else the scope's limit
// (MemoryLimitScope, for calls whose internals take no context, such as a model load), else
// physical memory.
int64_t memory_budget(const Context *ctx);

// Throws Error(Status::OutOfMemory, "<what> needs about N bytes, above the memory limit of L
// bytes (<where the limit comes from>)") when `bytes` > memory_budget(ctx). ctx may be NULL.
void require_memory(const Context *ctx, double bytes, const std::string &what);

// Makes `limit_bytes` (> 0; 0 = none) the budget of require_memory(nullptr, ...) on this thread
// while the scope lives: the C API sets it around a call whose loaders allocate without a context.
class MemoryLimitScope {
 public:
  explicit MemoryLimitScope(int64_t limit_bytes);
  ~MemoryLimitScope();
  MemoryLimitScope(const MemoryLimitScope &) = delete;
  MemoryLimitScope &operator=(const MemoryLimitScope &) = delete;

 private:
  int64_t previous_;
};

// Human-readable size ("1.5 GiB") for messages.
std::string format_bytes(double bytes);

}  // namespace vqr
