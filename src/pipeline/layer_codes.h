// A quantized layer handed to the file formats: the borrowed io::GridCodes view of a
// quant::QuantizedLayer (codes, scales, zeros and g_idx, no copy). It lives here because only the
// floor above both may know both types (DESIGN §1).
#pragma once

#include "core/error.h"
#include "io/grid_codes.h"
#include "quant/quantized_layer.h"

namespace vqr::pipeline {

// The shape of q (bits, rows, cols, group size, groups) with no arrays: what a writer needs before
// it packs, parked or not.
inline io::GridCodes grid_shape_of(const quant::QuantizedLayer &q) {
  io::GridCodes g;
  g.bits = q.bits;
  g.rows = q.rows;
  g.cols = q.cols;
  g.group_size = q.group_size;
  g.groups = q.groups;
  return g;
}

// q must outlive the view, and must not be parked (a streamed run's results are: use the overload
// below); throws vqr::Error(Status::Internal) for a parked layer.
inline io::GridCodes grid_codes_of(const quant::QuantizedLayer &q) {
  require(!q.parked(), Status::Internal, "grid_codes_of: the layer's codes are parked; pass a scratch layer");
  io::GridCodes g = grid_shape_of(q);
  g.codes = q.codes.data();
  g.scales = q.scales.data();
  g.zeros = q.zeros.data();
  g.g_idx = q.g_idx.data();
  return g;
}

// The same for a layer that may be parked: its codes are unparked into *scratch when they are
// (QuantizedLayer::with_codes). The view is valid while q and *scratch live and *scratch is not
// reused; one scratch per layer in flight.
inline io::GridCodes grid_codes_of(const quant::QuantizedLayer &q, quant::QuantizedLayer *scratch) {
  return grid_codes_of(q.with_codes(*scratch));
}

}  // namespace vqr::pipeline
