// GPTQ (spec gptq §1): the blocked ("lazy batch") column sweep with dead columns, act-order,
// static or dynamic groups and damping retry.
#pragma once

#include <cstdint>

#include "core/buffer.h"
#include "core/context.h"
#include "quant/config.h"
#include "quant/hessian_factor.h"
#include "quant/quantized_layer.h"

namespace vqr::quant {

// GPTQ's rounding decisions as AdaRound/VQRound latents (spec vqround §2.2). For each weight, with
// w the error-compensated value when GPTQ reaches it, u = w / s and GPTQ's own error
// e = (w - Q) / U_qq: base = floor(u), residual = clip(u - base - e, 0, 1). Because U_qq > 0,
// 1[residual >= 0.5] reproduces GPTQ's rounding, so clip(base + 1[residual >= 0.5] + z) is GPTQ's
// code. m x n, original column order.
struct RoundingSplit {
  Buffer<float> base, residual;
};

// Whether the sweep of `config` keeps GPTQ's identity W - Q = E U (E the m x n OBS errors
// e_q = (w_q - Q_q) / U_qq), so that sum E^2 = tr(dW Hd dW^T) with Hd the damped Hessian: plain
// GPTQ arithmetic (alpha = alpha2 = 0) on the original target (no exact-target move).
bool sweep_gives_damped_loss(const QuantConfig &config);

// W: m x n dense fp32 (original column order), read only (the sweep copies what it updates);
// H: the layer statistic (undamped).
// Returns the codes (in original column order), scales/zeros per group and g_idx (spec §1.7).
// When `factor_out` is not NULL the Hessian factor is moved there (for proxy losses); when
// `split` is not NULL it receives the rounding decisions as latents; when `damped_loss` is not
// NULL (only if sweep_gives_damped_loss) it receives sum_q sum_rows e_q^2, accumulated in double.
QuantizedLayer gptq_quantize(const float *W, int64_t m, int64_t n, const hessian::HessianView &H,
                             const QuantConfig &config, Context *ctx, int threads, HessianFactor *factor_out,
                             RoundingSplit *split = nullptr, double *damped_loss = nullptr);

}  // namespace vqr::quant
