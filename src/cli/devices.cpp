// The OpenCL device list of `vqround inspect --devices` (devices.h).
#include "cli/devices.h"

#include <cstdio>
#include <string>
#include <vector>

#include "cli/library.h"
#include "core/json_text.h"

namespace vqr::cli {

namespace {

double gib(uint64_t bytes) { return (double)bytes / (double)(1ull << 30); }

// Why vqr_device_count() is 0: vqr_build_info() ends with "OpenCL devices: none (<why>)" then
// (vqround.h); the header has no other call that says it.
std::string why_no_device() {
  const std::string info = vqr_build_info();
  const std::string marker = "OpenCL devices: none (";
  const size_t at = info.rfind(marker);
  if (at == std::string::npos || info.back() != ')') return "no OpenCL platform or device found";
  return info.substr(at + marker.size(), info.size() - at - marker.size() - 1);
}

std::vector<vqr_device_info> all_devices() {
  std::vector<vqr_device_info> out;
  const int count = vqr_device_count();
  for (int i = 0; i < count; ++i) {
    vqr_device_info d{};
    d.struct_size = sizeof d;
    check(vqr_device_get(i, &d));
    out.push_back(d);
  }
  return out;
}

}  // namespace

int print_devices(bool json) {
  const std::vector<vqr_device_info> devices = all_devices();
  const std::string why = devices.empty() ? why_no_device() : std::string();
  if (json) {
    std::string list;
    for (const vqr_device_info &d : devices) {
      char numbers[320];
      std::snprintf(numbers, sizeof numbers,
                    "\"global_mem_bytes\": %llu, \"max_alloc_bytes\": %llu, \"compute_units\": %d, "
                    "\"max_clock_mhz\": %d, \"fp64\": %s}",
                    (unsigned long long)d.global_mem_bytes, (unsigned long long)d.max_alloc_bytes, d.compute_units,
                    d.max_clock_mhz, d.fp64 ? "true" : "false");
      list += std::string(list.empty() ? "" : ", ") + "{\"index\": " + std::to_string(d.index) +
              ", \"platform\": " + std::to_string(d.platform) + ", \"device\": " + std::to_string(d.device) +
              ", \"platform_name\": " + json_string(d.platform_name) + ", \"name\": " + json_string(d.name) +
              ", \"vendor\": " + json_string(d.vendor) + ", \"version\": " + json_string(d.version) +
              ", \"type\": " + json_string(d.type) + ", " + numbers;
    }
    std::printf("{\"count\": %zu, \"devices\": [%s], \"why_none\": %s}\n", devices.size(), list.c_str(),
                devices.empty() ? json_string(why).c_str() : "null");
    return 0;
  }
  if (devices.empty()) {
    std::printf("OpenCL devices: none (%s)\n", why.c_str());
    std::printf("--backend opencl fails without one; --backend auto computes on the CPU.\n");
    return 0;
  }
  std::printf("OpenCL devices: %zu\n", devices.size());
  for (const vqr_device_info &d : devices) {
    std::printf("\n[%d] %s\n", d.index, d.name);
    std::printf("  %-18s %d: %s (its device %d)\n", "platform", d.platform, d.platform_name, d.device);
    std::printf("  %-18s %s\n", "vendor", d.vendor);
    std::printf("  %-18s %s\n", "type", d.type);
    std::printf("  %-18s %s\n", "version", d.version);
    std::printf("  %-18s %.2f GiB\n", "global memory", gib(d.global_mem_bytes));
    std::printf("  %-18s %.2f GiB\n", "max allocation", gib(d.max_alloc_bytes));
    std::printf("  %-18s %d\n", "compute units", d.compute_units);
    std::printf("  %-18s %d MHz\n", "clock", d.max_clock_mhz);
    std::printf("  %-18s %s\n", "fp64", d.fp64 ? "yes" : "no");
    std::printf("  %-18s --backend opencl --device %d\n", "select with", d.index);
  }
  return 0;
}

}  // namespace vqr::cli
