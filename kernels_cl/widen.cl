// 16-bit activations to fp32 on the device (the Hessian's f16/bf16 batches, hessian.h), so that
// only half the bytes cross the bus. Needs no cl_khr_fp16: vload_half is a core builtin, and a
// bfloat16 is the upper half of a binary32 (spec api_formats_ecosystem §2.3). Exact conversions.
//
// dst (rows x cols, dense) from src (rows x cols, row stride `ld` elements).
__kernel void widen_f16(__global const half *src, const int ld, const int rows, const int cols,
                        __global float *dst) {
  const int c = get_global_id(0), r = get_global_id(1);
  if (c < cols && r < rows) dst[(long)r * cols + c] = vload_half((long)r * ld + c, src);
}

__kernel void widen_bf16(__global const ushort *src, const int ld, const int rows, const int cols,
                         __global float *dst) {
  const int c = get_global_id(0), r = get_global_id(1);
  if (c < cols && r < rows) dst[(long)r * cols + c] = as_float((uint)src[(long)r * ld + c] << 16);
}
