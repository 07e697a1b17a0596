// OpenCL platforms and devices (cl_devices.h).
#include "backend/opencl/cl_devices.h"

#include "backend/opencl/cl_headers.h"

#include <algorithm>
#include <cctype>
#include <cstdio>

namespace vqr::backend::opencl {

namespace {

// A string property through its two-call query (size, then bytes); "" when the driver fails.
template <typename Object, typename Info, typename Query>
std::string info_string(Object object, Info what, Query query) {
  size_t size = 0;
  if (query(object, what, 0, nullptr, &size) != CL_SUCCESS || size == 0) return "";
  std::string s(size, '\0');
  if (query(object, what, size, &s[0], nullptr) != CL_SUCCESS) return "";
  s.resize(std::strlen(s.c_str()));
  return s;
}
std::string platform_string(cl_platform_id p, cl_platform_info what) { return info_string(p, what, clGetPlatformInfo); }
std::string device_string(cl_device_id d, cl_device_info what) { return info_string(d, what, clGetDeviceInfo); }

template <typename T>
T device_value(cl_device_id d, cl_device_info what) {
  T v{};
  if (clGetDeviceInfo(d, what, sizeof(T), &v, nullptr) != CL_SUCCESS) return T{};
  return v;
}

std::vector<DeviceInfo> enumerate(std::string *why) {
  std::vector<DeviceInfo> out;
  cl_uint np = 0;
  const cl_int err = clGetPlatformIDs(0, nullptr, &np);
  if (err != CL_SUCCESS || np == 0) {
    *why = "no OpenCL platform (the ICD loader returned " + std::to_string(err) + ", " + std::to_string(np) +
           " platforms)";
    return out;
  }
  std::vector<cl_platform_id> platforms(np);
  if (clGetPlatformIDs(np, platforms.data(), nullptr) != CL_SUCCESS) {
    *why = "clGetPlatformIDs failed";
    return out;
  }
  for (cl_uint p = 0; p < np; ++p) {
    cl_uint nd = 0;
    if (clGetDeviceIDs(platforms[p], CL_DEVICE_TYPE_ALL, 0, nullptr, &nd) != CL_SUCCESS || nd == 0) continue;
    std::vector<cl_device_id> ids(nd);
    if (clGetDeviceIDs(platforms[p], CL_DEVICE_TYPE_ALL, nd, ids.data(), nullptr) != CL_SUCCESS) continue;
    for (cl_uint d = 0; d < nd; ++d) {
      DeviceInfo info;
      info.index = (int)out.size();
      info.platform = (int)p;
      info.device = (int)d;
      info.platform_name = platform_string(platforms[p], CL_PLATFORM_NAME);
      info.name = device_string(ids[d], CL_DEVICE_NAME);
      info.vendor = device_string(ids[d], CL_DEVICE_VENDOR);
      info.version = device_string(ids[d], CL_DEVICE_VERSION);
      info.driver = device_string(ids[d], CL_DRIVER_VERSION);
      const cl_device_type t = device_value<cl_device_type>(ids[d], CL_DEVICE_TYPE);
      info.type = (t & CL_DEVICE_TYPE_GPU)           ? DeviceType::Gpu
                  : (t & CL_DEVICE_TYPE_CPU)         ? DeviceType::Cpu
                  : (t & CL_DEVICE_TYPE_ACCELERATOR) ? DeviceType::Accelerator
                                                     : DeviceType::Other;
      info.global_mem_bytes = device_value<cl_ulong>(ids[d], CL_DEVICE_GLOBAL_MEM_SIZE);
      info.max_alloc_bytes = device_value<cl_ulong>(ids[d], CL_DEVICE_MAX_MEM_ALLOC_SIZE);
      info.local_mem_bytes = device_value<cl_ulong>(ids[d], CL_DEVICE_LOCAL_MEM_SIZE);
      info.compute_units = (int)device_value<cl_uint>(ids[d], CL_DEVICE_MAX_COMPUTE_UNITS);
      info.max_clock_mhz = (int)device_value<cl_uint>(ids[d], CL_DEVICE_MAX_CLOCK_FREQUENCY);
      info.fp64 = device_value<cl_device_fp_config>(ids[d], CL_DEVICE_DOUBLE_FP_CONFIG) != 0;
      info.platform_id = platforms[p];
      info.device_id = ids[d];
      out.push_back(std::move(info));
    }
  }
  if (out.empty()) *why = std::to_string(np) + " OpenCL platform(s) but no device";
  return out;
}

std::string lower(std::string s) {
  for (char &c : s) c = (char)std::tolower((unsigned char)c);
  return s;
}

bool contains(const std::string &hay, const std::string &needle) {
  return lower(hay).find(lower(needle)) != std::string::npos;
}

bool is_index(const std::string &s) {
  return !s.empty() && s.size() <= 6 && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

const char *device_type_name(DeviceType t) {
  switch (t) {
    case DeviceType::Cpu: return "cpu";
    case DeviceType::Gpu: return "gpu";
    case DeviceType::Accelerator: return "accelerator";
    case DeviceType::Other: break;
  }
  return "other";
}

const std::vector<DeviceInfo> &devices(std::string *why_empty) {
  static std::string why;
  static const std::vector<DeviceInfo> list = enumerate(&why);  // thread-safe static initialization
  if (why_empty) *why_empty = why;
  return list;
}

std::string describe(const DeviceInfo &d) {
  char mem[32];
  std::snprintf(mem, sizeof mem, "%.1f GiB", (double)d.global_mem_bytes / (1024.0 * 1024.0 * 1024.0));
  return "[" + std::to_string(d.index) + "] " + d.name + " (" + d.platform_name + ", " + device_type_name(d.type) +
         ", " + mem + ", " + std::to_string(d.compute_units) + " CUs" + (d.fp64 ? ", fp64" : "") + ")";
}

const DeviceInfo *choose(const std::string &platform_spec, const std::string &device_spec, bool gpu_only,
                         std::string *why) {
  std::string none;
  const auto &all = devices(&none);
  if (all.empty()) {
    *why = none;
    return nullptr;
  }
  // The candidates: the chosen platform's devices, or all of them.
  std::vector<const DeviceInfo *> cands;
  if (platform_spec.empty()) {
    for (const auto &d : all) cands.push_back(&d);
  } else {
    for (const auto &d : all) {
      const bool match = is_index(platform_spec) ? d.platform == std::stoi(platform_spec)
                                                 : contains(d.platform_name, platform_spec) || contains(d.vendor, platform_spec);
      if (match) cands.push_back(&d);
    }
    if (cands.empty()) {
      *why = "no OpenCL platform matches VQR_OPENCL_PLATFORM/platform \"" + platform_spec + "\"";
      return nullptr;
    }
  }
  if (!device_spec.empty()) {
    if (is_index(device_spec)) {
      const size_t i = (size_t)std::stoi(device_spec);
      if (i < cands.size()) return cands[i];
      *why = "OpenCL device index " + device_spec + " is out of range (" + std::to_string(cands.size()) +
             " device(s)" + (platform_spec.empty() ? "" : " on that platform") + ")";
      return nullptr;
    }
    for (const DeviceInfo *d : cands)
      if (contains(d->name, device_spec) || contains(d->vendor, device_spec)) return d;
    *why = "no OpenCL device name or vendor contains \"" + device_spec + "\"";
    return nullptr;
  }
  for (const DeviceInfo *d : cands)
    if (d->type == DeviceType::Gpu) return d;
  if (!gpu_only) return cands.front();
  *why = "no OpenCL GPU (" + std::to_string(cands.size()) + " non-GPU device(s): " + cands.front()->name + ")";
  return nullptr;
}

}  // namespace vqr::backend::opencl
