// One OpenCL device in use (cl_device.h).
#include "backend/opencl/cl_device.h"

#include "core/error.h"

namespace vqr::backend::opencl {

ClDevice::ClDevice(const DeviceInfo &info, const std::string &kernels_dir) : info_(info), kernels_dir_(kernels_dir) {
  device_ = (cl_device_id)info.device_id;
  cl_int err = CL_SUCCESS;
  const cl_context_properties props[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)info.platform_id, 0};
  context_ = clCreateContext(props, 1, &device_, nullptr, nullptr, &err);
  check(err, "clCreateContext");
  queue_ = clCreateCommandQueue(context_, device_, 0, &err);
  if (err != CL_SUCCESS) {
    clReleaseContext(context_);
    check(err, "clCreateCommandQueue");
  }
}

ClDevice::~ClDevice() {
  for (auto &k : kernels_) clReleaseKernel(k.second);
  for (auto &p : programs_) clReleaseProgram(p.second);
  for (cl_mem m : slots_)
    if (m) clReleaseMemObject(m);
  clReleaseCommandQueue(queue_);
  clReleaseContext(context_);
}

cl_kernel ClDevice::kernel(const std::string &file, const std::string &options, const char *name) {
  const std::string pkey = file + "|" + options, kkey = pkey + "|" + name;
  auto kit = kernels_.find(kkey);
  if (kit != kernels_.end()) return kit->second;
  auto pit = programs_.find(pkey);
  if (pit == programs_.end()) {
    const std::string what = file + ".cl" + (options.empty() ? "" : " (" + options + ")");
    pit = programs_.emplace(pkey, build_program(context_, device_, kernel_source(file, kernels_dir_), options, what)).first;
  }
  cl_int err = CL_SUCCESS;
  cl_kernel k = clCreateKernel(pit->second, name, &err);
  check(err, (std::string("clCreateKernel ") + name).c_str());
  kernels_.emplace(kkey, k);
  return k;
}

cl_mem ClDevice::scratch(int slot, size_t bytes) {
  bytes = bytes ? bytes : 1;
  if (bytes <= slot_bytes_[slot]) return slots_[slot];
  if (slots_[slot]) clReleaseMemObject(slots_[slot]);
  slots_[slot] = nullptr;
  slot_bytes_[slot] = 0;
  cl_int err = CL_SUCCESS;
  slots_[slot] = clCreateBuffer(context_, CL_MEM_READ_WRITE, bytes, nullptr, &err);
  check(err, "clCreateBuffer");
  slot_bytes_[slot] = bytes;
  return slots_[slot];
}

void ClDevice::write_rect(cl_mem dst, const void *src, int64_t rows, int64_t cols, int64_t ld, size_t elem,
                          size_t offset) {
  if (rows == 0 || cols == 0) return;
  const size_t origin[3] = {offset, 0, 0}, host_origin[3] = {0, 0, 0};
  const size_t region[3] = {(size_t)cols * elem, (size_t)rows, 1};
  check(clEnqueueWriteBufferRect(queue_, dst, CL_FALSE, origin, host_origin, region, (size_t)cols * elem, 0,
                                 (size_t)ld * elem, 0, src, 0, nullptr, nullptr),
        "clEnqueueWriteBufferRect");
}

void ClDevice::read_rect(cl_mem src, void *dst, int64_t rows, int64_t cols, int64_t ld, size_t elem, size_t offset,
                         bool blocking) {
  if (rows == 0 || cols == 0) return;
  const size_t origin[3] = {offset, 0, 0}, host_origin[3] = {0, 0, 0};
  const size_t region[3] = {(size_t)cols * elem, (size_t)rows, 1};
  check(clEnqueueReadBufferRect(queue_, src, blocking ? CL_TRUE : CL_FALSE, origin, host_origin, region,
                                (size_t)cols * elem, 0, (size_t)ld * elem, 0, dst, 0, nullptr, nullptr),
        "clEnqueueReadBufferRect");
}

void ClDevice::write(cl_mem dst, const void *src, size_t bytes) {
  if (bytes) check(clEnqueueWriteBuffer(queue_, dst, CL_FALSE, 0, bytes, src, 0, nullptr, nullptr), "clEnqueueWriteBuffer");
}

void ClDevice::read(cl_mem src, void *dst, size_t bytes) {
  if (bytes) check(clEnqueueReadBuffer(queue_, src, CL_TRUE, 0, bytes, dst, 0, nullptr, nullptr), "clEnqueueReadBuffer");
}

void ClDevice::finish() { check(clFinish(queue_), "clFinish"); }

std::string ClDevice::correctly_rounded_option() const {
  cl_device_fp_config fp = 0;
  check(clGetDeviceInfo(device_, CL_DEVICE_SINGLE_FP_CONFIG, sizeof fp, &fp, nullptr), "clGetDeviceInfo");
  return (fp & CL_FP_CORRECTLY_ROUNDED_DIVIDE_SQRT) ? " -cl-fp32-correctly-rounded-divide-sqrt" : "";
}

size_t ClDevice::local_size(cl_kernel k, size_t want) const {
  size_t most = 0;
  check(clGetKernelWorkGroupInfo(k, device_, CL_KERNEL_WORK_GROUP_SIZE, sizeof most, &most, nullptr),
        "clGetKernelWorkGroupInfo");
  return std::max<size_t>(1, std::min<size_t>(want, most));
}

void ClDevice::launch(cl_kernel k, int dims, const size_t *global, const size_t *local) {
  size_t g[3];
  for (int d = 0; d < dims; ++d) {
    g[d] = local ? (global[d] + local[d] - 1) / local[d] * local[d] : global[d];
    if (g[d] == 0) return;  // nothing to do
  }
  check(clEnqueueNDRangeKernel(queue_, k, (cl_uint)dims, nullptr, g, local, 0, nullptr, nullptr), "clEnqueueNDRangeKernel");
}

}  // namespace vqr::backend::opencl
