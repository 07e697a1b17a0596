// The OpenCL backend (DESIGN §4): the Backend operations on one OpenCL device.
//
// What runs where, and why:
// - GEMM and SYRK (float; double when the device has fp64, else on the CPU backend) run the tiled
//   kernel of kernels_cl/gemm.cl. SYRK is the same kernel restricted to one triangle: the tiles
//   wholly outside it do nothing, so it costs half a GEMM. These are the Hessian accumulation, the
//   GPTQ cross-block update, the k-means distances, the layer objectives and the model's matmuls.
// - The Hessian's f16/bf16 batches cross the bus as 16-bit values and are widened on the device
//   (kernels_cl/widen.cl) before the SYRK.
// - The learned-rounding engine's elementwise passes and VQRound's per-codeword reduction
//   (kernels_cl/relaxed_rounding.cl and signround.cl, float; cl_rounding.h).
// - POTRF and TRTRI of the damped Hessian run on the host through LAPACKE (spec gptq §7: n^3/3 once
//   per layer, small next to the accumulation and the sweep), with the damping retry unchanged;
//   TRMM, which only the per-block m x B x B maps of the sweep use, stays on the host too.
// - The GPTQ-family sweep's in-block column loop runs fused per block (kernels_cl/gptq_sweep.cl,
//   cl_gptq_sweep.h), bit-identical to the CPU's; its cross-block update is the GEMM above.
// Operands are host pointers (the Backend contract): each operation stages its operands into
// device buffers it keeps between calls (rectangles, so leading dimensions cost nothing), runs,
// and reads the result back. Long k dimensions are split into slices that fit the device's
// allocation limit, accumulating in the device's C. Operations are serialized per backend (one
// command queue), so contexts on several threads may share it.
#pragma once

#include <memory>
#include <string>

#include "backend/backend.h"
#include "backend/opencl/cl_devices.h"

namespace vqr::backend::opencl {

// Creates the device's context and queue and builds its kernels (float, and double when it has
// fp64) from the embedded sources or from `kernels_dir` (VQR_OPENCL_KERNELS_DIR). Throws
// Error(Status::Unsupported) with the build log when they do not compile. `slice_bytes` caps a
// staged operand slice (0: 256 MiB, or the device's allocation limit when lower); tests pass a
// small one to exercise the k slicing on small matrices.
std::unique_ptr<Backend> make_backend(const DeviceInfo &device, const std::string &kernels_dir,
                                      uint64_t slice_bytes = 0);

}  // namespace vqr::backend::opencl
