// One Hessian per distinct linear input of every block, from a full-precision forward over
// calibration sequences (DESIGN §3.1: the statistic every layer-wise method consumes). Serves
// vqr_model_collect_hessians, for callers that quantize layer by layer themselves.
#pragma once

#include <cstdint>
#include <vector>

#include "core/context.h"
#include "hessian/hessian.h"
#include "model/model.h"

namespace vqr::pipeline {

// Hessians of the unquantized model: entry layer * kLinearInputCount + input (model/linear_kinds.h),
// width model.config().input_width(input), fp32, symmetric. Each sequence (1..seq_len tokens,
// checked by the caller) runs with a fresh context. A resident model runs sequence by sequence
// (progress stage "hessian", one unit per sequence); a streamed one block by block, keeping every
// sequence's fp32 hidden state between blocks so each block is widened once (one unit per sequence
// and block); both give the same Hessians bit for bit.
// Throws vqr::Error: Status::NonFinite (activations), Status::OutOfMemory, Status::Cancelled (ctx).
std::vector<hessian::Hessian> collect_hessians(const model::Model &model,
                                               const std::vector<std::vector<int32_t>> &sequences, Context *ctx);

}  // namespace vqr::pipeline
