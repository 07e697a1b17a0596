// Human-readable durations and byte counts for the tool's progress lines and summaries, and byte
// counts as options take them (--max-memory 8G).
#pragma once

#include <cstdint>
#include <string>

namespace vqr::cli {

// "12.3s" below a minute, else "4m05s".
std::string format_seconds(double s);

// "512 B", "3.4 KiB", "1.2 MiB", "7.9 GiB" (binary units).
std::string format_bytes(double bytes);

// A byte count: a non-negative number with an optional unit K, M, G or T, each a power of 1024,
// optionally followed by "iB" or "B" ("8G", "1.5GiB", "512MB", "4096"): what format_bytes prints
// reads back. Returns false (leaving *out alone) for anything else or a value beyond 2^62.
bool parse_bytes(const std::string &text, int64_t *out);

}  // namespace vqr::cli
