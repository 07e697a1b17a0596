// Human-readable durations and byte counts for the tool's progress lines and summaries.
#pragma once

#include <cstdint>
#include <string>

namespace vqr::cli {

// "12.3s" below a minute, else "4m05s".
std::string format_seconds(double s);

// "512 B", "3.4 KiB", "1.2 MiB", "7.9 GiB" (binary units).
std::string format_bytes(double bytes);

}  // namespace vqr::cli
