// The start of an end-to-end run for one layer (issue 17 item 3, spec vqround §1.4, §2): the
// initialization (RTN, or GPTQ's own decisions) as a result, and the relaxed parameterization over it
// (AdaRound's dense latents or VQRound's k-means codebook), untrained. The end-to-end trainer
// (pipeline/end_to_end.h) trains every layer's parameterization together; with zero steps the result
// is the initialization bit for bit.
#pragma once

#include <cstdint>
#include <memory>

#include "core/context.h"
#include "hessian/hessian.h"
#include "learn/relaxed_rounding.h"
#include "quant/config.h"
#include "quant/quantized_layer.h"

namespace vqr::learn {

struct RelaxedStart {
  // The initialization: codes, grid (scales, zeros, g_idx) and report (method, init_proxy_loss =
  // proxy_loss = its tr(dW H dW^T), trainable parameters, VQRound's codebook size, sign-flip rate and
  // k-means seconds; steps 0, best_step -1).
  quant::QuantizedLayer layer;
  std::unique_ptr<RelaxedRounding<float>> rounding;
};

// config: presets resolved, method AdaRound or VQRound (else Status::Unsupported). W: m x n fp32
// (finite). H: the layer statistic (GPTQ init, and the reported proxy losses).
RelaxedStart start_relaxed(Context *ctx, const quant::QuantConfig &config, const float *W, int64_t m, int64_t n,
                           const hessian::HessianView &H, int threads);

}  // namespace vqr::learn
