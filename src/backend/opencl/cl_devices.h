// OpenCL platforms and devices (DESIGN §4, spec api_formats_ecosystem §2.3-2.5): enumeration for
// vqr_device_count/vqr_build_info/`vqround inspect --devices`, and the choice of one device from
// the VQR_OPENCL_PLATFORM / VQR_OPENCL_DEVICE specs.
//
// The ICD loader (ocl-icd) is always linked; on a machine without any OpenCL driver
// clGetPlatformIDs returns CL_PLATFORM_NOT_FOUND_KHR (-1001) and the list is simply empty.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace vqr::backend::opencl {

enum class DeviceType { Cpu, Gpu, Accelerator, Other };

struct DeviceInfo {
  int index = 0;           // position in enumerate()'s flat list
  int platform = 0;        // platform index
  int device = 0;          // device index within its platform
  std::string platform_name, name, vendor, version, driver;
  DeviceType type = DeviceType::Other;
  uint64_t global_mem_bytes = 0;
  uint64_t max_alloc_bytes = 0;
  uint64_t local_mem_bytes = 0;
  int compute_units = 0;
  int max_clock_mhz = 0;
  bool fp64 = false;       // cl_khr_fp64 (or OpenCL 1.2+ double config)
  void *platform_id = nullptr;  // cl_platform_id
  void *device_id = nullptr;    // cl_device_id
};

const char *device_type_name(DeviceType t);  // "cpu", "gpu", "accelerator", "other"

// Every device of every platform, platform by platform; empty when there is none. `why_empty`
// (optional) receives the reason when the list is empty ("no OpenCL platform (ICD loader: -1001)").
// Enumerated once per process (drivers do not appear while it runs).
const std::vector<DeviceInfo> &devices(std::string *why_empty = nullptr);

// One line per device for logs and vqr_build_info: "[0] pthread-haswell-AMD EPYC (Portable Computing
// Language, cpu, 23.4 GiB, 2 CUs, fp64)".
std::string describe(const DeviceInfo &d);

// The device a platform spec and a device spec name. A spec is empty (any), a decimal index, or a
// case-insensitive substring of the name (the platform's name or vendor; the device's name or
// vendor). With a platform spec the device index counts within that platform, otherwise within
// the flat list. With no device spec the first GPU is taken, else (when `gpu_only` is false) the
// first device. Returns nullptr when nothing matches and says why in `why`.
const DeviceInfo *choose(const std::string &platform_spec, const std::string &device_spec, bool gpu_only,
                         std::string *why);

}  // namespace vqr::backend::opencl
