// The GPTQ-family in-block sweep on an OpenCL device (kernels_cl/gptq_sweep.cl): stages one block's
// job (backend/gptq_block_job.h) into device memory, runs the fused column loop, and reads the
// outputs back. Bit-identical to quant/gptq.cpp's CPU tile loop for every job it accepts; a job it
// declines (a dynamic group that ends beyond the block, a block too wide for local memory, any job
// on a device without correctly rounded fp32 division or fp32 subnormals) is left to the caller's
// CPU loop.
//
// Work-group shape: R rows x T items per row (T = 1 on CPU devices, where a work-item per row keeps
// the work-group free of per-column barriers; 8 on GPUs, where rows alone would leave most of the
// device idle). VQR_OPENCL_SWEEP_ROW_THREADS (1..32), read when the backend is created, overrides T;
// the tests use it to check both shapes on one device.
#pragma once

#include "backend/gptq_block_job.h"
#include "backend/opencl/cl_device.h"

namespace vqr::backend::opencl {

class ClGptqSweep {
 public:
  // Builds the kernel for `dev` (throws Error(Status::Unsupported) with the build log on failure);
  // builds nothing on a device whose fp32 arithmetic cannot match the host's (file comment).
  explicit ClGptqSweep(ClDevice &dev);

  // Runs `job` on the device and returns true, or returns false without writing anything when the
  // job is one this kernel declines (file comment). The caller holds dev.mutex(). Throws Error on
  // an OpenCL failure.
  bool run(const GptqBlockJob &job);

 private:
  ClDevice &dev_;
  int row_threads_ = 1;      // T
  int rows_per_group_ = 32;  // R before the local-memory fit
  size_t max_group_ = 1;     // CL_KERNEL_WORK_GROUP_SIZE
  cl_kernel kernel_ = nullptr;  // nullptr: the device declines every job
};

}  // namespace vqr::backend::opencl
