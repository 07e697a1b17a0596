// The GPTQ-family in-block sweep on an OpenCL device (cl_gptq_sweep.h).
//
// Staging: three of ClDevice's slots, each packing several arrays at 128-byte aligned offsets (the
// kernel takes the offsets): slot 5 the inputs (group and start indices, w, add, w0, U_bb, Phat_bb),
// slot 6 the scales/zeros rows the block uses, slot 7 the outputs (err, verr, e, the rounding split,
// then the codes as bytes). Host operands with leading dimensions cross as rectangles.
#include "backend/opencl/cl_gptq_sweep.h"

#include <algorithm>
#include <cstdlib>
#include <string>

#include "core/error.h"

namespace vqr::backend::opencl {

namespace {

constexpr int64_t kKc = 16;  // gptq_sweep.cl's KC: rows of U staged in local memory at a time
enum Slot { kSlotIn = 5, kSlotTables = 6, kSlotOut = 7 };

// gptq_sweep.cl's job flags.
enum Flag : int {
  kHasAdd = 1,
  kHasW0 = 2,
  kHasP = 4,
  kHasE = 8,
  kHasSplit = 16,
  kHasStart = 32,
  kStale = 64,
  kErrResidual = 128,
  kSym = 256,
};

// Offsets in 4-byte elements, each array starting on a 128-byte boundary.
struct Layout {
  size_t used = 0;
  size_t take(size_t count) {
    const size_t at = used;
    used += (count + 31) / 32 * 32;
    return at;
  }
};

}  // namespace

ClGptqSweep::ClGptqSweep(ClDevice &dev) : dev_(dev) {
  const bool gpu = dev.info().type == DeviceType::Gpu;
  row_threads_ = gpu ? 8 : 1;
  rows_per_group_ = gpu ? 32 : 64;
  if (const char *v = std::getenv("VQR_OPENCL_SWEEP_ROW_THREADS")) {
    const int t = std::atoi(v);
    require(t >= 1 && t <= 32, Status::InvalidArgument,
            std::string("VQR_OPENCL_SWEEP_ROW_THREADS must be 1..32, not \"") + v + "\"");
    row_threads_ = t;
  }
  // Bit-identity needs IEEE division and kept subnormals: a device without them declines every job.
  const cl_device_id id = (cl_device_id)dev.info().device_id;
  cl_device_fp_config fp = 0;
  check(clGetDeviceInfo(id, CL_DEVICE_SINGLE_FP_CONFIG, sizeof fp, &fp, nullptr), "clGetDeviceInfo");
  if (!(fp & CL_FP_CORRECTLY_ROUNDED_DIVIDE_SQRT) || !(fp & CL_FP_DENORM)) return;
  const std::string options =
      "-cl-fp32-correctly-rounded-divide-sqrt -DROW_THREADS=" + std::to_string(row_threads_);
  kernel_ = dev.kernel("gptq_sweep", options, "gptq_sweep_block");
  check(clGetKernelWorkGroupInfo(kernel_, id, CL_KERNEL_WORK_GROUP_SIZE, sizeof max_group_, &max_group_, nullptr),
        "clGetKernelWorkGroupInfo");
}

bool ClGptqSweep::run(const GptqBlockJob &job) {
  const int64_t m = job.m, b = job.b, T = row_threads_;
  if (!kernel_) return false;
  if (m == 0 || b == 0) return true;
  if (m >= (int64_t(1) << 31) || b >= (int64_t(1) << 31)) return false;
  if (job.group_start)
    for (int64_t c = 0; c < b; ++c)
      if (job.group_start[c] > 0 && c + job.group_start[c] > b) return false;  // needs columns beyond the block

  // Rows per work-group: as many as the device's work-group and local-memory limits allow.
  const size_t local_limit = (size_t)dev_.info().local_mem_bytes;
  const size_t staged = (size_t)(kKc * b) * 4 * (job.p ? 2 : 1), per_row = (size_t)b * 4;
  int64_t R = rows_per_group_;
  auto fits = [&](int64_t r) { return (size_t)(r * T) <= max_group_ && staged + (size_t)r * per_row <= local_limit; };
  while (R > 1 && !fits(R)) R /= 2;
  if (!fits(R)) return false;

  int64_t kmin = job.group[0], kmax = job.group[0];
  for (int64_t c = 1; c < b; ++c) {
    kmin = std::min<int64_t>(kmin, job.group[c]);
    kmax = std::max<int64_t>(kmax, job.group[c]);
  }
  const int64_t table_rows = kmax - kmin + 1;

  int flags = 0;
  if (job.add) flags |= kHasAdd;
  if (job.p && job.w0) flags |= kHasW0;
  if (job.p) flags |= kHasP;
  if (job.e) flags |= kHasE;
  if (job.base) flags |= kHasSplit;
  if (job.group_start) flags |= kHasStart;
  if (job.stale) flags |= kStale;
  if (job.err_residual) flags |= kErrResidual;
  if (job.sym) flags |= kSym;

  const size_t mb = (size_t)(m * b), bb = (size_t)(b * b);
  Layout in;
  const size_t group_off = in.take((size_t)b), start_off = job.group_start ? in.take((size_t)b) : 0;
  const size_t w_off = in.take(mb), add_off = job.add ? in.take(mb) : 0, w0_off = (flags & kHasW0) ? in.take(mb) : 0;
  const size_t u_off = in.take(bb), p_off = job.p ? in.take(bb) : 0;
  Layout tables;
  tables.take((size_t)(table_rows * m));
  const size_t zeros_off = tables.take((size_t)(table_rows * m));
  Layout out;
  const size_t err_off = out.take(mb), verr_off = job.p ? out.take(mb) : 0, e_off = job.e ? out.take(mb) : 0;
  const size_t base_off = job.base ? out.take(mb) : 0, res_off = job.base ? out.take(mb) : 0;
  const size_t codes_off = out.used * 4;  // bytes
  const size_t out_bytes = codes_off + mb;

  cl_mem d_in = dev_.scratch(kSlotIn, in.used * 4);
  cl_mem d_tables = dev_.scratch(kSlotTables, tables.used * 4);
  cl_mem d_out = dev_.scratch(kSlotOut, out_bytes);
  dev_.write_rect(d_in, job.group, 1, b, b, 4, group_off * 4);
  if (job.group_start) dev_.write_rect(d_in, job.group_start, 1, b, b, 4, start_off * 4);
  dev_.write_rect(d_in, job.w, m, b, job.ldw, 4, w_off * 4);
  if (job.add) dev_.write_rect(d_in, job.add, m, b, job.ld_add, 4, add_off * 4);
  if (flags & kHasW0) dev_.write_rect(d_in, job.w0, m, b, job.ldw0, 4, w0_off * 4);
  dev_.write_rect(d_in, job.u, b, b, job.ldu, 4, u_off * 4);
  if (job.p) dev_.write_rect(d_in, job.p, b, b, job.ldp, 4, p_off * 4);
  dev_.write_rect(d_tables, job.scales + kmin * m, 1, table_rows * m, table_rows * m, 4, 0);
  dev_.write_rect(d_tables, job.zeros + kmin * m, 1, table_rows * m, table_rows * m, 4, zeros_off * 4);

  set_args(kernel_, d_out, d_out, (cl_ulong)err_off, (cl_ulong)verr_off, (cl_ulong)e_off, (cl_ulong)base_off,
           (cl_ulong)res_off, (cl_ulong)codes_off, d_tables, (cl_ulong)zeros_off, (int)kmin, d_in, d_in,
           (cl_ulong)w_off, (cl_ulong)add_off, (cl_ulong)w0_off, (cl_ulong)u_off, (cl_ulong)p_off, (cl_ulong)group_off,
           (cl_ulong)start_off, job.maxq, (int)job.grid, (int)job.scale_dtype, job.alpha, job.alpha2, (int)job.outer,
           flags, (int)m, (int)b);
  check(clSetKernelArg(kernel_, 29, (size_t)(R * b) * 4, nullptr), "clSetKernelArg");
  check(clSetKernelArg(kernel_, 30, (size_t)(kKc * b) * 4, nullptr), "clSetKernelArg");
  check(clSetKernelArg(kernel_, 31, job.p ? (size_t)(kKc * b) * 4 : 4, nullptr), "clSetKernelArg");
  const size_t global[2] = {(size_t)m, (size_t)T}, local[2] = {(size_t)R, (size_t)T};
  dev_.launch(kernel_, 2, global, local);

  dev_.read_rect(d_out, job.err, m, b, job.lde, 4, err_off * 4, false);
  if (job.p) dev_.read_rect(d_out, job.verr, m, b, job.ldv, 4, verr_off * 4, false);
  if (job.e) dev_.read_rect(d_out, job.e, m, b, job.ld_e, 4, e_off * 4, false);
  if (job.base) {
    dev_.read_rect(d_out, job.base, m, b, job.ld_split, 4, base_off * 4, false);
    dev_.read_rect(d_out, job.residual, m, b, job.ld_split, 4, res_off * 4, false);
  }
  dev_.read_rect(d_out, job.codes, m, b, job.ldc, 1, codes_off, false);
  if (job.group_start)
    for (int64_t c = 0; c < b; ++c)
      if (job.group_start[c] > 0) {
        const int64_t k = job.group[c];
        dev_.read_rect(d_tables, job.scales + k * m, 1, m, m, 4, (size_t)((k - kmin) * m) * 4, false);
        dev_.read_rect(d_tables, job.zeros + k * m, 1, m, m, 4, (zeros_off + (size_t)((k - kmin) * m)) * 4, false);
      }
  dev_.finish();
  return true;
}

}  // namespace vqr::backend::opencl
