// Choosing a context's backend (DESIGN §4): "cpu", "opencl" or "auto", and the OpenCL device from
// explicit specs or the VQR_OPENCL_PLATFORM / VQR_OPENCL_DEVICE environment.
//
// - cpu: the CPU backend.
// - opencl: the named device, else the first GPU, else the first OpenCL device of any type (PoCL's
//   CPU device included: that is how CI tests the kernels). No device, or kernels that do not
//   build, is an error with a message.
// - auto: the named device or the first GPU; otherwise the CPU backend, with an Info log line
//   saying why (no platform, no GPU, a build failure). Never an error.
// OpenCL backends are built once per device (and kernel folder) per process and shared by every
// context that selects them; they live until the process exits.
#pragma once

#include <string>

#include "backend/backend.h"

namespace vqr::backend {

enum class Kind { Cpu = 0, OpenCl = 1, Auto = 2 };

const char *kind_name(Kind k);  // "cpu", "opencl", "auto"

// The backend for `kind`, nullptr meaning the CPU backend. `platform` and `device` are specs (an
// index or a name substring; cl_devices.h); an empty one takes VQR_OPENCL_PLATFORM /
// VQR_OPENCL_DEVICE from the environment. Logs the choice through ctx (may be NULL). Throws
// Error(Status::Unsupported) when kind is OpenCl and no device can be used.
Backend *select(Kind kind, const std::string &platform, const std::string &device, const Context *ctx);

// Splits "P:D" into platform and device specs at the first ':'; a spec without ':' is a device.
void split_device_spec(const std::string &spec, std::string *platform, std::string *device);

// "OpenCL: 1 device(s): [0] ... | ..." or "OpenCL: none (reason)", and the embedded kernels' hash.
std::string opencl_summary();

}  // namespace vqr::backend
