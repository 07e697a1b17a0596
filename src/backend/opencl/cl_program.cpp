// Kernel sources and program builds (cl_program.h).
#include "backend/opencl/cl_program.h"

#include <cstdio>
#include <fstream>
#include <sstream>
#include <vector>

#include "core/error.h"

namespace vqr::backend::opencl {

namespace {

const char *error_name(cl_int err) {
  switch (err) {
    case CL_DEVICE_NOT_FOUND: return "CL_DEVICE_NOT_FOUND";
    case CL_DEVICE_NOT_AVAILABLE: return "CL_DEVICE_NOT_AVAILABLE";
    case CL_COMPILER_NOT_AVAILABLE: return "CL_COMPILER_NOT_AVAILABLE";
    case CL_MEM_OBJECT_ALLOCATION_FAILURE: return "CL_MEM_OBJECT_ALLOCATION_FAILURE";
    case CL_OUT_OF_RESOURCES: return "CL_OUT_OF_RESOURCES";
    case CL_OUT_OF_HOST_MEMORY: return "CL_OUT_OF_HOST_MEMORY";
    case CL_BUILD_PROGRAM_FAILURE: return "CL_BUILD_PROGRAM_FAILURE";
    case CL_INVALID_VALUE: return "CL_INVALID_VALUE";
    case CL_INVALID_BUFFER_SIZE: return "CL_INVALID_BUFFER_SIZE";
    case CL_INVALID_KERNEL_ARGS: return "CL_INVALID_KERNEL_ARGS";
    case CL_INVALID_WORK_GROUP_SIZE: return "CL_INVALID_WORK_GROUP_SIZE";
    case CL_INVALID_WORK_ITEM_SIZE: return "CL_INVALID_WORK_ITEM_SIZE";
    case CL_INVALID_GLOBAL_WORK_SIZE: return "CL_INVALID_GLOBAL_WORK_SIZE";
    case CL_INVALID_BUILD_OPTIONS: return "CL_INVALID_BUILD_OPTIONS";
    case CL_INVALID_KERNEL_NAME: return "CL_INVALID_KERNEL_NAME";
    default: return "OpenCL error";
  }
}

}  // namespace

void check(cl_int err, const char *call) {
  if (err == CL_SUCCESS) return;
  const bool memory = err == CL_MEM_OBJECT_ALLOCATION_FAILURE || err == CL_OUT_OF_HOST_MEMORY ||
                      err == CL_INVALID_BUFFER_SIZE;
  throw Error(memory ? Status::OutOfMemory : Status::Internal,
              std::string("OpenCL ") + call + ": " + std::to_string(err) + " (" + error_name(err) + ")");
}

std::string kernel_source(const std::string &name, const std::string &dir) {
  if (!dir.empty()) {
    const std::string path = dir + "/" + name + ".cl";
    std::ifstream in(path, std::ios::binary);
    if (!in) fail(Status::Io, path, "cannot be read (VQR_OPENCL_KERNELS_DIR)", "unset VQR_OPENCL_KERNELS_DIR to use the built-in kernels");
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
  }
  for (int i = 0; i < kEmbeddedKernelCount; ++i)
    if (name == kEmbeddedKernels[i].name) return std::string(kEmbeddedKernels[i].text, (size_t)kEmbeddedKernels[i].bytes);
  throw Error(Status::Internal, "no embedded OpenCL kernel file " + name + ".cl");
}

std::string embedded_kernels_hash() {
  uint64_t h = 0xcbf29ce484222325ull;
  for (int i = 0; i < kEmbeddedKernelCount; ++i)
    for (int b = 0; b < kEmbeddedKernels[i].bytes; ++b) {
      h ^= (unsigned char)kEmbeddedKernels[i].text[b];
      h *= 0x100000001b3ull;
    }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", (unsigned long long)h);
  return hex;
}

cl_program build_program(cl_context context, cl_device_id device, const std::string &source,
                         const std::string &options, const std::string &what) {
  const char *text = source.c_str();
  const size_t length = source.size();
  cl_int err = CL_SUCCESS;
  cl_program program = clCreateProgramWithSource(context, 1, &text, &length, &err);
  check(err, "clCreateProgramWithSource");
  // No -cl-fast-relaxed-math or -cl-finite-math-only: the sweeps depend on IEEE NaN/Inf and on
  // correctly rounded division (spec api_formats_ecosystem §2.1).
  const std::string opts = "-cl-std=CL1.2 " + options;
  err = clBuildProgram(program, 1, &device, opts.c_str(), nullptr, nullptr);
  if (err != CL_SUCCESS) {
    size_t size = 0;
    clGetProgramBuildInfo(program, device, CL_PROGRAM_BUILD_LOG, 0, nullptr, &size);
    std::string log(size, '\0');
    if (size) clGetProgramBuildInfo(program, device, CL_PROGRAM_BUILD_LOG, size, &log[0], nullptr);
    log.resize(std::strlen(log.c_str()));
    clReleaseProgram(program);
    if (log.size() > 4000) log = log.substr(0, 4000) + "\n[... build log truncated]";
    throw Error(Status::Unsupported, "OpenCL kernels " + what + " failed to build (" + std::to_string(err) + " " +
                                         error_name(err) + "); build log:\n" + log);
  }
  return program;
}

}  // namespace vqr::backend::opencl
