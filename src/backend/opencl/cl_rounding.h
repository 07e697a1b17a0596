// The learned-rounding kernels (backend/rounding_kernels.h) on an OpenCL device:
// kernels_cl/relaxed_rounding.cl (AdaRound, VQRound) and kernels_cl/signround.cl (AutoRound).
//
// Each per-layer object uploads the layer's constants once into device buffers it owns (released
// in its destructor) and keeps on the device what one step's later calls need: h(a), h'(a) and the
// VQ assignment; AutoRound's offsets and group quantizers of the last forward. Per-step host
// arrays cross through the device's staging slots 3-7 (0-2 are GEMM's) and never outlive one call.
// Every call holds the device's mutex, so layers on several threads may share the device.
//
// What differs from the CPU implementation, and why (derivations in the parity test,
// tests/backend/test_opencl_rounding.cpp): the kernels keep the CPU's operation order (FP_CONTRACT
// OFF, no fast-math) and are built with correctly rounded division where the device offers it, so
// AutoRound's outputs are the CPU's bit for bit, and so is VQRound's per-codeword sum (sequential
// in ascending member order, one item per (codeword, d)). exp (the rectified sigmoid, <= 3 ulp in
// the full profile) and pow (the regularizer, <= 16 ulp) are the device's, so h, h' and the
// regularizer differ from the host's in the last bits. The regularizer's total is summed per
// 64-entry work-group by a fixed pairwise tree in float, and the groups' sums in double on the host.
#pragma once

#include <memory>

#include "backend/rounding_kernels.h"

namespace vqr::backend::opencl {

class ClDevice;

// Builds both kernel files for `dev` now, so that a compile error surfaces when the backend is
// chosen. Throws Error(Status::Unsupported) with the build log.
void build_rounding_kernels(ClDevice &dev);

// The per-layer objects; `dev` must outlive them. Throw Error(Status::OutOfRange) for dimensions
// the kernels' 32-bit indices cannot hold (m, n, m G or K D at or above 2^31) and Error on an
// OpenCL failure.
std::unique_ptr<AdaRoundKernels<float>> make_adaround_kernels(ClDevice &dev, const RelaxedLayout<float> &layout);
std::unique_ptr<VqRoundKernels<float>> make_vqround_kernels(ClDevice &dev, const RelaxedLayout<float> &layout,
                                                            const VqLayout<float> &vq);
std::unique_ptr<SignRoundKernels<float>> make_signround_kernels(ClDevice &dev, const SignRoundLayout<float> &layout);

}  // namespace vqr::backend::opencl
