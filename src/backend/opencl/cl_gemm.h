// The launcher of kernels_cl/gemm.cl on device operands, shared by the backend's host-operand GEMM
// and SYRK (opencl_backend.cpp) and the forward's resident products (cl_forward.cpp): one place that
// knows the kernel's tiling and when CLBlast takes the call instead.
#pragma once

#include "backend/opencl/cl_device.h"
#include "backend/opencl/clblast_gemm.h"

namespace vqr::backend::opencl {

constexpr size_t kGemmTile = 64;   // gemm.cl's TILE: rows/columns of C per work-group
constexpr size_t kGemmItems = 16;  // gemm.cl's ITEMS: work-items per tile side

// Enqueues C (at element c_off, ldc) = alpha op(A) op(B) + beta C on `tri` (0: all, 1: the upper
// triangle, 2: the lower), A and B at element offsets a_off and b_off. CLBlast runs it instead when
// built in and asked for (clblast_gemm.h) and the offsets are zero; SYRK only as one (a == b, a
// triangle).
template <typename T>
void enqueue_gemm(ClDevice &dev, cl_kernel kern, bool ta, bool tb, int m, int n, int k, T alpha, cl_mem a,
                  cl_ulong a_off, int lda, cl_mem b, cl_ulong b_off, int ldb, T beta, cl_mem c, cl_ulong c_off, int ldc,
                  int tri) {
  if (k > 0 && a_off == 0 && b_off == 0 && c_off == 0 && clblast_enabled() && (tri == 0 || a == b) &&
      clblast_gemm<T>(dev.queue(), ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, tri))
    return;
  set_args(kern, m, n, k, alpha, a, a_off, lda, (int)ta, b, b_off, ldb, (int)tb, beta, c, c_off, ldc, tri);
  const size_t global[2] = {(size_t)((n + kGemmTile - 1) / kGemmTile) * kGemmItems,
                            (size_t)((m + kGemmTile - 1) / kGemmTile) * kGemmItems};
  const size_t local[2] = {kGemmItems, kGemmItems};
  dev.launch(kern, 2, global, local);
}

}  // namespace vqr::backend::opencl
