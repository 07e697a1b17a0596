// A forward's linear input (model::LinearBatch) into a Hessian where it lies: on a device forward
// whose backend is the Hessian's, the SYRK reads the device's copy (nothing crosses the bus);
// otherwise the host's values (downloaded once when they were on a device).
#pragma once

#include "core/dtype.h"
#include "hessian/hessian.h"
#include "model/forward.h"

namespace vqr::pipeline {

inline void add_linear_batch(hessian::Hessian &h, const model::LinearBatch &x) {
  if (x.device() && x.device_backend() == &h.backend() && !h.is_f64())
    h.add_resident(*x.device(), x.device_offset(), x.rows());
  else
    h.add(tensor_2d(x.host(), DType::F32, x.rows(), x.width(), 0));
}

}  // namespace vqr::pipeline
