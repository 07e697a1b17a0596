// The model forward's passes on resident activations (backend/forward_kernels.h) on an OpenCL
// device: kernels_cl/forward.cl for the elementwise passes and the attention row pass, and
// kernels_cl/gemm.cl at element offsets for the products. Every call holds the device's mutex
// and only queues work (the in-order queue orders it); a download of any operand waits for it.
#pragma once

#include <memory>

#include "backend/forward_kernels.h"

namespace vqr::backend::opencl {

class ClDevice;

// Builds forward.cl for `dev` now, so that a compile error surfaces when the backend is chosen.
// Throws Error(Status::Unsupported) with the build log.
void build_forward_kernels(ClDevice &dev);

// `dev` must outlive the object. Throws Error on an OpenCL failure.
std::unique_ptr<ForwardKernels> make_forward_kernels(ClDevice &dev);

}  // namespace vqr::backend::opencl
