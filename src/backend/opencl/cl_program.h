// The OpenCL kernel sources and their compilation (DESIGN §4): the files of kernels_cl/ are
// embedded into the library at build time (cmake/embed_kernels.cmake); VQR_OPENCL_KERNELS_DIR
// names a folder whose <name>.cl files replace the embedded ones, for kernel development without
// a rebuild. A program is built once per device and kept by the backend; a build failure throws
// Error(Status::Unsupported) whose message carries the compiler's log.
#pragma once

#include <string>

#include "backend/opencl/cl_headers.h"

namespace vqr::backend::opencl {

struct KernelSource {
  const char *name;  // the file's name without .cl
  const char *text;  // NUL-terminated
  int bytes;
};

extern const KernelSource kEmbeddedKernels[];
extern const int kEmbeddedKernelCount;

// The source of kernel file `name`: <dir>/<name>.cl when `dir` is non-empty, else the embedded text.
// Throws Error(Status::Io) when the folder's file cannot be read, Error(Status::Internal) for an
// unknown name.
std::string kernel_source(const std::string &name, const std::string &dir);

// FNV-1a 64 of every embedded kernel file, as 16 hex digits: names the kernels in vqr_build_info.
std::string embedded_kernels_hash();

// Builds `source` for `device` with `options` (plus -cl-std=CL1.2 and no fast-math flags).
// Throws Error(Status::Unsupported) with the build log on a compile error.
cl_program build_program(cl_context context, cl_device_id device, const std::string &source,
                         const std::string &options, const std::string &what);

// "clEnqueueNDRangeKernel: -5 (CL_OUT_OF_RESOURCES)": throws Error (OutOfMemory for allocation
// failures, else Internal) when err is not CL_SUCCESS.
void check(cl_int err, const char *call);

}  // namespace vqr::backend::opencl
