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

// Bytes quantize_layer allocates for an m x n layer with this method, about (an upper estimate:
// the result, the working copies of the weights, the factors of the n x n statistic, a learned
// method's latents, moments and gradients), in fp64 so that no shape overflows it. quantize_layer
// checks it against the context's memory budget (core/memory_budget.h) before allocating.
double quantize_layer_bytes(const quant::QuantConfig &config, int64_t m, int64_t n);

}  // namespace vqr::pipeline
