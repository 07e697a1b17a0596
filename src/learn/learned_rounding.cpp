// Learned-rounding dispatch and reporting (learned_rounding.h).
#include "learn/learned_rounding.h"

#include <cmath>
#include <memory>

#include "core/buffer.h"
#include "core/error.h"
#include "learn/layer_objective.h"
#include "learn/relaxed_rounding.h"
#include "learn/rounding_init.h"
#include "learn/ste_rounding.h"
#include "learn/trainer.h"
#include "quant/rtn.h"

namespace vqr::learn {

static const char *stage_name(int method) {
  switch (method) {
    case VQR_METHOD_ADAROUND: return "adaround";
    case VQR_METHOD_AUTOROUND: return "autoround";
    case VQR_METHOD_VQROUND: return "vqround";
    default: return "loraround";
  }
}

// Optimizer and schedules per method (spec learned_rounding §1.6, §3.3-3.4; spec vqround §1.7,
// §3.5). The regularizer weight is in the units of tr(dW H dW^T); with reg_mean it is divided by
// the number of weights.
static TrainSchedule schedule_for(const quant::QuantConfig &c, int64_t m, int64_t n) {
  TrainSchedule s;
  s.steps = c.steps;
  s.stage = stage_name(c.method);
  s.keep_best = c.keep_best;
  switch (c.method) {
    case VQR_METHOD_AUTOROUND:
      s.optimizer = OptimizerKind::kSignSgd;
      s.linear_decay = true;
      break;
    case VQR_METHOD_VQROUND:
      s.beta2 = 0.99;  // spec vqround §3.5: Adam (0.9, 0.99)
      [[fallthrough]];
    case VQR_METHOD_ADAROUND:
      s.reg_weight = c.reg_mean ? c.reg_weight / (double)(m * n) : c.reg_weight;
      s.warmup = c.warmup;
      s.beta_schedule = c.beta_schedule;
      s.beta_start = c.beta_start;
      s.beta_end = c.beta_end;
      s.beta_hold = c.beta_hold;
      break;
    default: break;
  }
  return s;
}

static ObjectiveValue evaluate_layer(LayerObjective<float> &objective, const quant::QuantizedLayer &q, int threads) {
  Buffer<float> deq((size_t)(q.rows * q.cols));
  q.dequantize(deq.data(), threads);
  return objective.evaluate(deq.data(), nullptr);
}

quant::QuantizedLayer learned_quantize(vqr_context *ctx, const quant::QuantConfig &c, const float *W, int64_t m,
                                       int64_t n, const hessian::HessianView &H, int threads) {
  const bool ste_method = c.method == VQR_METHOD_AUTOROUND || c.method == VQR_METHOD_LORAROUND;
  require(!ste_method || c.init == VQR_INIT_RTN, VQR_ERR_UNSUPPORTED,
          std::string(stage_name(c.method)) + " starts from its own round-to-nearest grid; VQR_INIT_GPTQ is "
                                              "available for adaround and vqround");
  LayerObjective<float> objective(backend_of(ctx), W, m, n, H, threads);

  // The initialization as a result, and the parameterization that starts from it.
  quant::QuantizedLayer result(m, n, c.group_size, c.bits);
  std::unique_ptr<Rounding<float>> rounding;
  VqStats vq;
  if (c.method == VQR_METHOD_AUTOROUND) {
    rounding = make_autoround<float>(W, m, n, c, threads);
    rounding->harden(result);  // V = 0, multipliers 1: AutoRound's own round-to-nearest
  } else {
    RoundingInit init = make_rounding_init(W, m, n, H, c, ctx, threads);
    if (c.method == VQR_METHOD_ADAROUND)
      rounding = make_adaround<float>(init, c.lr, threads);
    else if (c.method == VQR_METHOD_VQROUND)
      rounding = make_vqround<float>(init, c, ctx, threads, &vq);
    else
      rounding = make_loraround<float>(backend_of(ctx), W, init, c, ctx ? ctx->seed : 0, threads);
    result = std::move(init.layer);
  }
  const quant::QuantizedLayer initial = result;
  const ObjectiveValue init_value = evaluate_layer(objective, initial, threads);

  const TrainOutcome out = train(*rounding, objective, schedule_for(c, m, n), ctx, threads);
  rounding->harden(result);
  int64_t best_step = out.best_step;
  ObjectiveValue final_value = out.hard;
  // Relaxed methods harden a soft solution; with keep_best they never end above the start.
  if (rounding->relaxed() && c.keep_best && out.hard.loss > init_value.loss) {
    result.codes = initial.codes;
    best_step = -1;
    final_value = init_value;
  }

  vqr_report &rep = result.report;
  rep.method = c.method;
  rep.alpha = rep.alpha2 = 0;
  rep.outer_mode = 0;
  rep.proxy_loss = final_value.proxy;
  rep.asym_loss = objective.asymmetric() ? final_value.loss : NAN;
  rep.init_proxy_loss = init_value.proxy;
  rep.rtn_proxy_loss =
      c.init == VQR_INIT_RTN && c.method != VQR_METHOD_AUTOROUND
          ? init_value.proxy
          : evaluate_layer(objective, quant::rtn_quantize(W, m, n, c, threads), threads).proxy;
  for (const auto &g : rounding->groups()) rep.trainable_params += g.size;
  rep.trainable_share = (double)rep.trainable_params / (double)(m * n);
  rep.steps = c.steps;
  rep.best_step = best_step;
  rep.codebook_size = vq.codebook_size;
  rep.sign_flip_rate = c.method == VQR_METHOD_VQROUND ? vq.flip_rate : NAN;
  rep.kmeans_seconds = vq.kmeans_seconds;
  result.loss_history = out.loss;
  result.reg_history = out.reg;
  return result;
}

}  // namespace vqr::learn
