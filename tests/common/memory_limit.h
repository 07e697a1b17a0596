// Runs a call in a forked child whose address space may grow by at most a given budget
// (setrlimit RLIMIT_AS), so a test can assert that a loader refuses a hostile file without first
// committing the gigabytes its header claims. The child reports how the call ended through its exit
// code (the vqr::Status it threw, negated) and the error message through a pipe.
// Under AddressSanitizer no limit is set (ASan reserves terabytes of shadow address space up
// front); the call still runs in the child and its status and message are still checked.
#pragma once

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <new>
#include <string>
#include <utility>

#include "core/error.h"
#include "core/sanitizer.h"

namespace vqr_test {

// How a call run under a memory limit ended.
struct LimitedOutcome {
  enum class End { kReturned, kThrew, kBadAlloc, kOtherException, kKilled } end = End::kKilled;
  vqr::Status status = vqr::Status::Ok;  // when kThrew
  std::string message;                   // what() when kThrew
  int signal = 0;                        // when kKilled
};

// Address space this process has mapped now (the child starts from the same mappings).
inline int64_t mapped_bytes_now() {
  long pages = 0;
  std::FILE *f = std::fopen("/proc/self/statm", "r");
  if (f) {
    if (std::fscanf(f, "%ld", &pages) != 1) pages = 0;
    std::fclose(f);
  }
  return static_cast<int64_t>(pages) * ::sysconf(_SC_PAGESIZE);
}

// Runs fn() in a child whose address space may grow by `budget_bytes` beyond what is mapped now.
template <class Fn>
LimitedOutcome run_with_memory_limit(Fn &&fn, int64_t budget_bytes) {
  // Exit codes of the child (its status is negative, so 100 + -status stays below 256).
  constexpr int kReturned = 0, kBadAlloc = 90, kOther = 91, kThrewBase = 100;
  int fds[2];
  LimitedOutcome out;
  if (::pipe(fds) != 0) {
    ADD_FAILURE() << "pipe failed";
    return out;
  }
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) {
    ADD_FAILURE() << "fork failed";
    return out;
  }
  if (pid == 0) {
    ::close(fds[0]);
    if (!vqr::kAddressSanitizerBuild) {
      const rlim_t limit = static_cast<rlim_t>(mapped_bytes_now() + budget_bytes);
      const struct rlimit rl = {limit, limit};
      if (::setrlimit(RLIMIT_AS, &rl) != 0) ::_exit(kOther);
    }
    int code = kReturned;
    try {
      fn();
    } catch (const vqr::Error &e) {
      const size_t n = std::strlen(e.what());
      if (::write(fds[1], e.what(), n) != static_cast<ssize_t>(n)) code = kOther;
      else code = kThrewBase - static_cast<int>(e.status());
    } catch (const std::bad_alloc &) {
      code = kBadAlloc;
    } catch (...) {
      code = kOther;
    }
    ::close(fds[1]);
    ::_exit(code);  // no destructors or atexit handlers of the parent's state in the child
  }
  ::close(fds[1]);
  char buf[4096];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) out.message.append(buf, static_cast<size_t>(n));
  ::close(fds[0]);
  int wstatus = 0;
  ::waitpid(pid, &wstatus, 0);
  if (WIFSIGNALED(wstatus)) {
    out.end = LimitedOutcome::End::kKilled;
    out.signal = WTERMSIG(wstatus);
    return out;
  }
  const int code = WEXITSTATUS(wstatus);
  if (code == kReturned) out.end = LimitedOutcome::End::kReturned;
  else if (code == kBadAlloc) out.end = LimitedOutcome::End::kBadAlloc;
  else if (code >= kThrewBase) {
    out.end = LimitedOutcome::End::kThrew;
    out.status = static_cast<vqr::Status>(kThrewBase - code);
  } else {
    out.end = LimitedOutcome::End::kOtherException;
  }
  return out;
}

// Expects fn() to throw vqr::Error(status) mentioning `needle` (with a "; hint: ") while its
// address space may grow by no more than `budget_bytes` (1 GiB by default).
template <class Fn>
void expect_error_within_memory(Fn &&fn, vqr::Status status, const std::string &needle,
                                int64_t budget_bytes = int64_t{1} << 30) {
  const LimitedOutcome o = run_with_memory_limit(std::forward<Fn>(fn), budget_bytes);
  ASSERT_EQ(o.end, LimitedOutcome::End::kThrew)
      << "expected vqr::Error; the call " << (o.end == LimitedOutcome::End::kReturned ? "returned"
                                              : o.end == LimitedOutcome::End::kBadAlloc ? "ran out of memory (std::bad_alloc)"
                                              : o.end == LimitedOutcome::End::kKilled ? "was killed by signal " + std::to_string(o.signal)
                                                                                      : "threw something else");
  EXPECT_EQ(static_cast<int>(o.status), static_cast<int>(status)) << o.message;
  EXPECT_NE(o.message.find(needle), std::string::npos) << o.message;
  EXPECT_NE(o.message.find("; hint: "), std::string::npos) << o.message;
}

}  // namespace vqr_test
