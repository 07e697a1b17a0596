// C API: the context's backend and the OpenCL devices (backend/select.h, backend/opencl/cl_devices.h).
#include <algorithm>
#include <cstring>

#include "backend/opencl/cl_devices.h"
#include "backend/select.h"
#include "capi/guard.h"
#include "capi/handles.h"

using vqr::capi::guarded;
using vqr::capi::require_arg;

namespace {

// Copies s into a fixed char field, truncated and NUL-terminated.
template <size_t N>
void copy_text(char (&field)[N], const std::string &s) {
  const size_t n = std::min(N - 1, s.size());
  std::memcpy(field, s.data(), n);
  field[n] = '\0';
}

}  // namespace

extern "C" {

VQR_API vqr_status vqr_context_set_backend(vqr_context *ctx, vqr_backend backend, const char *device) {
  return guarded(__func__, [&] {
    require_arg(ctx != nullptr, "ctx is NULL");
    require_arg(backend == VQR_BACKEND_CPU || backend == VQR_BACKEND_OPENCL || backend == VQR_BACKEND_AUTO,
                "backend is not a vqr_backend");
    std::string platform_spec, device_spec;
    vqr::backend::split_device_spec(device ? device : "", &platform_spec, &device_spec);
    vqr::backend::Backend *chosen =
        vqr::backend::select((vqr::backend::Kind)backend, platform_spec, device_spec, ctx);
    ctx->backend = chosen;
    ctx->backend_text.clear();
  });
}

VQR_API const char *vqr_context_backend(const vqr_context *ctx) {
  static const std::string cpu_text = "cpu: " + vqr::backend::cpu().description();
  if (!ctx || !ctx->backend) return cpu_text.c_str();
  try {
    auto *mutable_ctx = const_cast<vqr_context *>(ctx);
    if (mutable_ctx->backend_text.empty()) mutable_ctx->backend_text = "opencl: " + ctx->backend->description();
    return mutable_ctx->backend_text.c_str();
  } catch (...) {
    return "opencl";
  }
}

VQR_API int vqr_device_count(void) {
  try {
    return (int)vqr::backend::opencl::devices().size();
  } catch (...) {
    return 0;
  }
}

VQR_API vqr_status vqr_device_get(int index, vqr_device_info *out) {
  return guarded(__func__, [&] {
    require_arg(out != nullptr, "out is NULL");
    const auto &all = vqr::backend::opencl::devices();
    vqr::require(index >= 0 && (size_t)index < all.size(), vqr::Status::OutOfRange,
                 "device index " + std::to_string(index) + " is outside [0, " + std::to_string(all.size()) + ")");
    const auto &d = all[(size_t)index];
    vqr_device_info info;
    std::memset(&info, 0, sizeof info);
    info.index = d.index;
    info.platform = d.platform;
    info.device = d.device;
    copy_text(info.platform_name, d.platform_name);
    copy_text(info.name, d.name);
    copy_text(info.vendor, d.vendor);
    copy_text(info.version, d.version);
    copy_text(info.type, vqr::backend::opencl::device_type_name(d.type));
    info.global_mem_bytes = d.global_mem_bytes;
    info.max_alloc_bytes = d.max_alloc_bytes;
    info.compute_units = d.compute_units;
    info.max_clock_mhz = d.max_clock_mhz;
    info.fp64 = d.fp64 ? 1 : 0;
    vqr::capi::write_versioned(out, info);
  });
}

}  // extern "C"
