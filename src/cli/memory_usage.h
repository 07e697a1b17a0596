// The tool's own memory figures (the library never measures or prints them): the process's peak
// resident set for the run summary and its current resident set for the progress lines.
#pragma once

#include <cstdint>

namespace vqr::cli {

// Peak resident set of this process so far in bytes (getrusage ru_maxrss, KiB on Linux); -1 when
// the system does not report it.
int64_t peak_rss_bytes();

// Current resident set in bytes (/proc/self/statm's resident pages); -1 when unreadable.
int64_t current_rss_bytes();

}  // namespace vqr::cli
