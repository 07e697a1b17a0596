// Crossing the C boundary: public enums and structs to internal ones and back. Every enum pair
// has the same numbers (enum_mirror.cpp asserts each enumerator), so enums convert with a cast;
// structs are copied field by field.
#pragma once

#include <type_traits>

#include "core/context.h"
#include "core/dtype.h"
#include "core/status.h"
#include "model/sampling.h"
#include "pipeline/format.h"
#include "quant/layer_report.h"
#include "quant/options.h"
#include "io/pack_format.h"
#include "vqround/vqround.h"

namespace vqr::capi {

// The public or internal enum of the same numbers (only between mirrored pairs).
template <class To, class From>
constexpr To mirror(From value) {
  static_assert(std::is_enum<To>::value && std::is_enum<From>::value, "mirror converts enums");
  return static_cast<To>(static_cast<int>(value));
}

inline vqr_status to_public(Status s) { return mirror<vqr_status>(s); }
inline quant::Param to_internal(vqr_param p) { return mirror<quant::Param>(p); }
inline DType to_internal(vqr_dtype d) { return mirror<DType>(d); }
inline LogLevel to_internal(vqr_log_level l) { return mirror<LogLevel>(l); }
inline io::PackFormat to_internal(vqr_pack_format f) { return mirror<io::PackFormat>(f); }
inline pipeline::Format to_internal(vqr_format f) { return mirror<pipeline::Format>(f); }
inline quant::Method to_internal(vqr_method m) { return mirror<quant::Method>(m); }
inline quant::Grid to_internal(vqr_grid g) { return mirror<quant::Grid>(g); }
inline model::Sampling to_internal(vqr_sampling s) { return mirror<model::Sampling>(s); }

// A borrowed view of the caller's tensor (same fields, internal dtype).
inline TensorView to_internal(const vqr_tensor &t) {
  return tensor_2d(t.data, to_internal(t.dtype), t.rows, t.cols, t.row_stride);
}

// The public report (struct_size = sizeof(vqr_report); write_versioned trims it to the caller's).
vqr_report to_public(const quant::LayerReport &r);

// The public progress record of an internal one.
vqr_progress to_public(const ProgressInfo &p);

}  // namespace vqr::capi
