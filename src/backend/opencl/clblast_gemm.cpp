// Optional CLBlast GEMM/SYRK (clblast_gemm.h).
#include "backend/opencl/clblast_gemm.h"

#include <cstdlib>
#include <string>

#include "core/error.h"

#ifdef VQR_HAVE_CLBLAST
#include <clblast_c.h>
#endif

namespace vqr::backend::opencl {

bool clblast_enabled() {
#ifdef VQR_HAVE_CLBLAST
  static const bool on = [] {
    const char *v = std::getenv("VQR_OPENCL_CLBLAST");
    return v && std::string(v) == "1";
  }();
  return on;
#else
  return false;
#endif
}

#ifdef VQR_HAVE_CLBLAST
namespace {
void check_clblast(CLBlastStatusCode s, const char *what) {
  if (s != CLBlastSuccess) throw Error(Status::Internal, std::string("CLBlast ") + what + " failed: " + std::to_string((int)s));
}
CLBlastTranspose tr(bool t) { return t ? CLBlastTransposeYes : CLBlastTransposeNo; }
}  // namespace
#endif

template <typename T>
bool clblast_gemm(cl_command_queue queue, bool trans_a, bool trans_b, size_t m, size_t n, size_t k, T alpha, cl_mem a,
                  size_t lda, cl_mem b, size_t ldb, T beta, cl_mem c, size_t ldc, int tri) {
#ifdef VQR_HAVE_CLBLAST
  constexpr bool f32 = sizeof(T) == 4;
  if (tri != 0) {
    // SYRK: op(A) op(A)^T with op(A) n x k; a is k x n (trans_a) or n x k.
    const CLBlastTriangle t = tri == 1 ? CLBlastTriangleUpper : CLBlastTriangleLower;
    check_clblast(f32 ? CLBlastSsyrk(CLBlastLayoutRowMajor, t, tr(trans_a), n, k, (float)alpha, a, 0, lda, (float)beta, c,
                                     0, ldc, &queue, nullptr)
                      : CLBlastDsyrk(CLBlastLayoutRowMajor, t, tr(trans_a), n, k, (double)alpha, a, 0, lda,
                                     (double)beta, c, 0, ldc, &queue, nullptr),
                  "syrk");
    return true;
  }
  check_clblast(f32 ? CLBlastSgemm(CLBlastLayoutRowMajor, tr(trans_a), tr(trans_b), m, n, k, (float)alpha, a, 0, lda, b, 0,
                                   ldb, (float)beta, c, 0, ldc, &queue, nullptr)
                    : CLBlastDgemm(CLBlastLayoutRowMajor, tr(trans_a), tr(trans_b), m, n, k, (double)alpha, a, 0, lda, b,
                                   0, ldb, (double)beta, c, 0, ldc, &queue, nullptr),
                "gemm");
  return true;
#else
  (void)queue, (void)trans_a, (void)trans_b, (void)m, (void)n, (void)k, (void)alpha, (void)a, (void)lda, (void)b;
  (void)ldb, (void)beta, (void)c, (void)ldc, (void)tri;
  return false;
#endif
}

template bool clblast_gemm<float>(cl_command_queue, bool, bool, size_t, size_t, size_t, float, cl_mem, size_t, cl_mem,
                                  size_t, float, cl_mem, size_t, int);
template bool clblast_gemm<double>(cl_command_queue, bool, bool, size_t, size_t, size_t, double, cl_mem, size_t, cl_mem,
                                   size_t, double, cl_mem, size_t, int);

}  // namespace vqr::backend::opencl
