// One layer's start of an end-to-end run (relaxed_start.h).
#include "learn/relaxed_start.h"

#include <cmath>
#include <string>

#include "core/buffer.h"
#include "core/error.h"
#include "learn/layer_objective.h"
#include "learn/rounding_init.h"

namespace vqr::learn {

RelaxedStart start_relaxed(Context *ctx, const quant::QuantConfig &c, const float *W, int64_t m, int64_t n,
                           const hessian::HessianView &H, int threads) {
  require(c.method == quant::Method::AdaRound || c.method == quant::Method::VqRound, Status::Unsupported,
          "end-to-end distillation trains AdaRound's or VQRound's relaxation (VQR_PARAM_E2E)");
  RoundingInit init = make_rounding_init(W, m, n, H, c, ctx, threads);
  RelaxedStart out;
  VqStats vq;
  if (c.method == quant::Method::AdaRound)
    out.rounding = make_adaround<float>(init, c.lr, threads, backend_of(ctx));
  else
    out.rounding = make_vqround<float>(init, c, ctx, threads, &vq);
  out.layer = std::move(init.layer);

  LayerObjective<float> objective(backend_of(ctx), W, m, n, H, threads);
  Buffer<float> deq((size_t)(m * n));
  out.layer.dequantize(deq.data(), threads);
  const ObjectiveValue start = objective.evaluate(deq.data(), nullptr);

  quant::LayerReport &rep = out.layer.report;
  rep.method = c.method;
  rep.alpha = rep.alpha2 = 0;
  rep.outer_mode = quant::OuterMode::Quantized;
  rep.proxy_loss = rep.init_proxy_loss = start.proxy;
  rep.asym_loss = objective.asymmetric() ? start.loss : NAN;
  rep.rtn_proxy_loss = c.init == quant::Init::Rtn ? start.proxy : NAN;
  for (const auto &g : out.rounding->groups()) rep.trainable_params += g.size;
  rep.trainable_share = (double)rep.trainable_params / (double)(m * n);
  rep.steps = 0;
  rep.best_step = -1;
  rep.codebook_size = vq.codebook_size;
  rep.sign_flip_rate = vq.vectors > 0 ? vq.flip_rate : NAN;
  rep.kmeans_seconds = vq.kmeans_seconds;
  return out;
}

}  // namespace vqr::learn
