// Optional CLBlast (spec api_formats_ecosystem §2.4) for the OpenCL backend's GEMM and SYRK:
// compiled in when CMake's VQR_CLBLAST is ON (or AUTO and Debian's libclblast-dev is installed).
// The project's own kernels (kernels_cl/gemm.cl) stay the default and are what the tests check:
// the backend uses CLBlast only in such a build and only when VQR_OPENCL_CLBLAST=1 at run time, so
// one library can compare the two on a device. CLBlast compiles each routine for the device on
// first use (seconds) and keeps it for the process.
#pragma once

#include "backend/opencl/cl_headers.h"

namespace vqr::backend::opencl {

// Whether this build has CLBlast and VQR_OPENCL_CLBLAST=1 asks for it (read once).
bool clblast_enabled();

// C (dense m x n, ldc) = alpha op(A) op(B) + beta C on device buffers, or, when `tri` is 1/2 and a
// is b with op(B) = op(A)^T, the SYRK of that triangle. T is float or double. Returns false when
// CLBlast is not compiled in; throws Error(Status::Internal) with CLBlast's code when it fails.
template <typename T>
bool clblast_gemm(cl_command_queue queue, bool trans_a, bool trans_b, size_t m, size_t n, size_t k, T alpha,
                  cl_mem a, size_t lda, cl_mem b, size_t ldb, T beta, cl_mem c, size_t ldc, int tri);

}  // namespace vqr::backend::opencl
