// Method dispatch for one linear layer (DESIGN §1: pipeline owns it): checks the request against
// the method-traits table (quant/method_traits.h), then runs RTN or the GPTQ-family sweep (quant)
// or learned rounding (learn) and times the call. The entry behind vqr_quantize_layer (after the C
// API has validated and widened the caller's view) and the one the sequential pipeline calls.
#pragma once

#include <cstdint>

#include "core/context.h"
#include "hessian/hessian.h"
#include "quant/config.h"
#include "quant/quantized_layer.h"

namespace vqr::pipeline {

// W: m x n dense fp32 (row stride n), read only during the call; trusted as a view, but its
// values are checked (Status::NonFinite names the first NaN/Inf). h: may be NULL for RTN.
// Throws vqr::Error: Status::InvalidArgument (empty W, bad groups, a missing or mismatched
// Hessian), Status::Unsupported (unknown method, an initialization the method lacks),
// Status::NonFinite, Status::Numerical, Status::Cancelled.
quant::QuantizedLayer quantize_layer(Context *ctx, const quant::QuantConfig &config, const float *W, int64_t m,
                                     int64_t n, const hessian::Hessian *h);

}  // namespace vqr::pipeline
