// One OpenCL device in use (DESIGN §4): its context and in-order queue, the kernels built for it
// (each kernels_cl file and option set compiled once, then cached), reusable staging buffers and
// the helpers every kernel family's host code shares (rectangle copies, argument setting, launch).
//
// Not thread-safe by itself: the backend holds mutex() for the whole of each operation, so
// contexts on several threads may share one device.
#pragma once

#include <algorithm>
#include <map>
#include <utility>
#include <mutex>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "backend/opencl/cl_devices.h"
#include "backend/opencl/cl_headers.h"
#include "backend/opencl/cl_program.h"

namespace vqr::backend::opencl {

class ClDevice {
 public:
  // Creates the context and queue. Throws Error on an OpenCL failure.
  ClDevice(const DeviceInfo &info, const std::string &kernels_dir);
  ~ClDevice();
  ClDevice(const ClDevice &) = delete;
  ClDevice &operator=(const ClDevice &) = delete;

  const DeviceInfo &info() const { return info_; }
  cl_context context() const { return context_; }
  cl_command_queue queue() const { return queue_; }
  std::mutex &mutex() { return mu_; }

  // Kernel `name` of kernels_cl/<file>.cl built with `options`; built on first request and kept.
  // Throws Error(Status::Unsupported) with the build log when the file does not compile.
  cl_kernel kernel(const std::string &file, const std::string &options, const char *name);

  // " -cl-fp32-correctly-rounded-divide-sqrt" when the device offers it (CL_DEVICE_SINGLE_FP_CONFIG),
  // else "": OpenCL's default float division may be off by 2.5 ulp and sqrt by 3, so kernels that
  // must divide as the host does build with it.
  std::string correctly_rounded_option() const;
  // Work-items per work-group for a one-item-per-element kernel: `want`, or the kernel's limit.
  size_t local_size(cl_kernel k, size_t want = 256) const;

  // Staging slot `slot` (0..7) grown to at least `bytes`; its contents are undefined after growth.
  cl_mem scratch(int slot, size_t bytes);

  // rows x cols rectangles of `elem`-byte values between host memory (row stride `ld` elements)
  // and a dense rectangle of a device buffer starting at byte `offset`. Writes are queued (the queue
  // is in order), so their source must stay valid until the next blocking read or finish(); reads
  // block unless `blocking` is false (then the destination is valid after finish()).
  void write_rect(cl_mem dst, const void *src, int64_t rows, int64_t cols, int64_t ld, size_t elem, size_t offset = 0);
  void read_rect(cl_mem src, void *dst, int64_t rows, int64_t cols, int64_t ld, size_t elem, size_t offset = 0,
                 bool blocking = true);
  void write(cl_mem dst, const void *src, size_t bytes);  // queued
  void read(cl_mem src, void *dst, size_t bytes);         // blocks
  void finish();                                          // waits for everything queued

  // Enqueues `k` over global x local items (1-3 dimensions; global is rounded up to a multiple of
  // local here, so kernels bound-check their own ids).
  void launch(cl_kernel k, int dims, const size_t *global, const size_t *local);

 private:
  DeviceInfo info_;
  std::string kernels_dir_;
  cl_device_id device_ = nullptr;
  cl_context context_ = nullptr;
  cl_command_queue queue_ = nullptr;
  std::map<std::string, cl_program> programs_;  // by file + options
  std::map<std::string, cl_kernel> kernels_;    // by file + options + name
  cl_mem slots_[8] = {};
  size_t slot_bytes_[8] = {};
  std::mutex mu_;
};

// Device memory owned by one object (a DeviceBuffer, a per-layer kernels object); filled from `src`
// when given.
class ClMem {
 public:
  ClMem() = default;
  ClMem(cl_context ctx, size_t bytes, const void *src = nullptr) {
    cl_int err = CL_SUCCESS;
    const bool copy = src && bytes;
    mem_ = clCreateBuffer(ctx, CL_MEM_READ_WRITE | (copy ? CL_MEM_COPY_HOST_PTR : 0), std::max<size_t>(bytes, 4),
                          copy ? const_cast<void *>(src) : nullptr, &err);
    check(err, "clCreateBuffer");
  }
  ~ClMem() {
    if (mem_) clReleaseMemObject(mem_);
  }
  ClMem(const ClMem &) = delete;
  ClMem &operator=(const ClMem &) = delete;
  ClMem(ClMem &&o) noexcept : mem_(o.mem_) { o.mem_ = nullptr; }
  ClMem &operator=(ClMem &&o) noexcept {
    std::swap(mem_, o.mem_);
    return *this;
  }
  const cl_mem &get() const { return mem_; }

 private:
  cl_mem mem_ = nullptr;
};

// The OpenCL backend's DeviceBuffer: one device allocation, copied by blocking transfers on the
// device's queue (so after every queued kernel that writes it).
class ClBuffer final : public DeviceBuffer {
 public:
  ClBuffer(cl_context ctx, cl_command_queue queue, size_t bytes) : mem_(ctx, bytes), queue_(queue), bytes_(bytes) {}
  size_t bytes() const override { return bytes_; }
  void upload(size_t offset, const void *src, size_t n) override {
    if (n)
      check(clEnqueueWriteBuffer(queue_, mem_.get(), CL_TRUE, offset, n, src, 0, nullptr, nullptr),
            "clEnqueueWriteBuffer");
  }
  void download(size_t offset, void *dst, size_t n) const override {
    if (n)
      check(clEnqueueReadBuffer(queue_, mem_.get(), CL_TRUE, offset, n, dst, 0, nullptr, nullptr),
            "clEnqueueReadBuffer");
  }
  void *host() override { return nullptr; }
  cl_mem mem() const { return mem_.get(); }

 private:
  ClMem mem_;
  cl_command_queue queue_;
  size_t bytes_;
};

// The cl_mem of a buffer this backend allocated.
inline cl_mem mem_of(const DeviceBuffer &b) { return static_cast<const ClBuffer &>(b).mem(); }

// clSetKernelArg for each argument in order: set_args(k, m, n, buffer, ...).
template <typename T>
void set_arg(cl_kernel k, cl_uint i, const T &v) {
  check(clSetKernelArg(k, i, sizeof(T), &v), "clSetKernelArg");
}
inline void set_args_from(cl_kernel, cl_uint) {}
template <typename T, typename... Rest>
void set_args_from(cl_kernel k, cl_uint i, const T &v, const Rest &...rest) {
  set_arg(k, i, v);
  set_args_from(k, i + 1, rest...);
}
template <typename... Args>
void set_args(cl_kernel k, const Args &...args) {
  set_args_from(k, 0, args...);
}

}  // namespace vqr::backend::opencl
