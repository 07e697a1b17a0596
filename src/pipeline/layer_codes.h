// A quantized layer handed to the file formats: the borrowed io::GridCodes view of a
// quant::QuantizedLayer (codes, scales, zeros and g_idx, no copy). It lives here because only the
// floor above both may know both types (DESIGN §1).
#pragma once

#include "io/grid_codes.h"
#include "quant/quantized_layer.h"

namespace vqr::pipeline {

// q must outlive the view.
inline io::GridCodes grid_codes_of(const quant::QuantizedLayer &q) {
  io::GridCodes g;
  g.bits = q.bits;
  g.rows = q.rows;
  g.cols = q.cols;
  g.group_size = q.group_size;
  g.groups = q.groups;
  g.codes = q.codes.data();
  g.scales = q.scales.data();
  g.zeros = q.zeros.data();
  g.g_idx = q.g_idx.data();
  return g;
}

}  // namespace vqr::pipeline
