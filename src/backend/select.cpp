// Choosing a context's backend (select.h).
#include "backend/select.h"

#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>

#include "backend/opencl/cl_devices.h"
#include "backend/opencl/cl_program.h"
#include "backend/opencl/opencl_backend.h"
#include "core/context.h"
#include "core/error.h"

namespace vqr::backend {

namespace {

std::string env(const char *name) {
  const char *v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

// The process's OpenCL backends by device and kernel folder: built once, shared, never destroyed
// (drivers tear themselves down at exit in an order a static destructor cannot rely on).
Backend *opencl_backend(const opencl::DeviceInfo &d, const std::string &kernels_dir) {
  static std::mutex mu;
  static auto *built = new std::map<std::string, std::unique_ptr<Backend>>();
  const std::string key = std::to_string(d.index) + "|" + kernels_dir;
  std::lock_guard<std::mutex> lock(mu);
  auto it = built->find(key);
  if (it != built->end()) return it->second.get();
  std::unique_ptr<Backend> b = opencl::make_backend(d, kernels_dir);
  Backend *raw = b.get();
  built->emplace(key, std::move(b));
  return raw;
}

}  // namespace

const char *kind_name(Kind k) {
  switch (k) {
    case Kind::Cpu: return "cpu";
    case Kind::OpenCl: return "opencl";
    case Kind::Auto: return "auto";
  }
  return "?";
}

void split_device_spec(const std::string &spec, std::string *platform, std::string *device) {
  const size_t colon = spec.find(':');
  if (colon == std::string::npos) {
    platform->clear();
    *device = spec;
  } else {
    *platform = spec.substr(0, colon);
    *device = spec.substr(colon + 1);
  }
}

Backend *select(Kind kind, const std::string &platform, const std::string &device, const Context *ctx) {
  if (kind == Kind::Cpu) return nullptr;
  const std::string p = platform.empty() ? env("VQR_OPENCL_PLATFORM") : platform;
  const std::string d = device.empty() ? env("VQR_OPENCL_DEVICE") : device;
  const std::string kernels_dir = env("VQR_OPENCL_KERNELS_DIR");
  std::string why;
  const opencl::DeviceInfo *chosen = opencl::choose(p, d, /*gpu_only=*/kind == Kind::Auto && d.empty(), &why);
  if (!chosen) {
    if (kind == Kind::OpenCl)
      throw Error(Status::Unsupported, "backend \"opencl\": " + why +
                                           "; hint: check `vqround inspect --devices`, or use backend \"cpu\" or \"auto\"");
    log_message(ctx, LogLevel::Info, "backend auto: " + why + "; computing on the CPU");
    return nullptr;
  }
  try {
    Backend *b = opencl_backend(*chosen, kernels_dir);
    log_message(ctx, LogLevel::Info, std::string("backend ") + kind_name(kind) + ": " + opencl::describe(*chosen));
    return b;
  } catch (const Error &e) {
    if (kind == Kind::OpenCl) throw;
    log_message(ctx, LogLevel::Warn, std::string("backend auto: ") + e.what() + "; computing on the CPU");
    return nullptr;
  }
}

std::string opencl_summary() {
  std::string why;
  const auto &all = opencl::devices(&why);
  std::string s = "OpenCL kernels " + opencl::embedded_kernels_hash() + "; ";
  if (all.empty()) return s + "OpenCL devices: none (" + why + ")";
  s += "OpenCL devices: ";
  for (size_t i = 0; i < all.size(); ++i) s += (i ? " | " : "") + opencl::describe(all[i]);
  return s;
}

}  // namespace vqr::backend
