// Per-layer method dispatch (quantize_layer.h).
#include "pipeline/quantize_layer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <utility>
#include <string>

#include "core/dtype.h"
#include "core/error.h"
#include "core/memory_budget.h"
#include "learn/learned_rounding.h"
#include "quant/method_traits.h"
#include "quant/quantize_layer.h"

namespace vqr::pipeline {

using quant::MethodFamily;
using quant::MethodTraits;
using quant::QuantConfig;

namespace {

void validate_groups(const QuantConfig &c, int64_t n) {
  require(c.group_size == -1 || c.group_size >= 1, Status::InvalidArgument,
          "group_size " + std::to_string(c.group_size) + " is invalid (use -1 or a positive size)");
  if (c.group_size > 0 && n % c.group_size != 0)
    require(c.allow_partial_group, Status::InvalidArgument,
            "group_size " + std::to_string(c.group_size) + " does not divide in_features " + std::to_string(n) +
                "; set VQR_PARAM_ALLOW_PARTIAL_GROUP to accept a shorter last group");
}

// What the method needs from the Hessian (the traits' needs_hessian / needs_d / exact_target).
void validate_hessian(const QuantConfig &c, const MethodTraits &t, int64_t n, const hessian::Hessian *h) {
  require(h != nullptr || !t.needs_hessian, Status::InvalidArgument,
          t.family == MethodFamily::kLearnedRounding
              ? "learned-rounding methods train against the layer's hessian (got NULL)"
              : "GPTQ-family methods need a hessian (got NULL)");
  if (h) {
    require(h->width() == n, Status::InvalidArgument,
            "hessian width " + std::to_string(h->width()) + " does not match in_features " + std::to_string(n));
    require(h->tokens() > 0, Status::InvalidArgument, "hessian has no tokens; add calibration activations first");
  }
  require(!t.needs_d || h->is_asymmetric(), Status::InvalidArgument,
          "GPTAQ and ResComp need D: create the hessian with VQR_HESSIAN_ASYMMETRIC and feed it with "
          "vqr_hessian_add_pair");
  require(!c.exact_target || (t.exact_target && h != nullptr && h->is_asymmetric()), Status::InvalidArgument,
          "VQR_PARAM_EXACT_TARGET runs with method GPTQ on an asymmetric hessian");
}

// The last line of defence of "non-finite values are reported where they appear": a result whose
// scale, zero point or reported loss is NaN or Inf fails here, naming it, instead of returning
// VQR_OK with a model that dequantizes to garbage. The sweeps and trainers check their own
// intermediate values first (quant/gptq.cpp, learn/trainer.cpp) with a more precise message. NaN
// is a report's "not computed" (vqr_report_level): only an Inf, or a NaN proxy loss that was
// asked for, is a failure.
void check_result_finite(const quant::QuantizedLayer &q, const QuantConfig &c, const hessian::Hessian *h) {
  const char *method = quant::method_name(c.method);
  for (const auto *v : {&q.scales, &q.zeros}) {
    const int64_t bad = find_nonfinite(v->data(), (int64_t)v->size());
    if (bad < 0) continue;
    throw Error(Status::NonFinite, std::string(method) + ": the " + (v == &q.scales ? "scale" : "zero point") +
                                       " of row " + std::to_string(bad % q.rows) + ", group " +
                                       std::to_string(bad / q.rows) + " is NaN or Inf");
  }
  const quant::LayerReport &r = q.report;
  const std::pair<const char *, double> losses[] = {{"proxy_loss", r.proxy_loss},
                                                    {"rtn_proxy_loss", r.rtn_proxy_loss},
                                                    {"asym_loss", r.asym_loss},
                                                    {"init_proxy_loss", r.init_proxy_loss}};
  for (const auto &[name, value] : losses) {
    const bool asked = h != nullptr && c.report_loss != quant::ReportLevel::None && name == losses[0].first;
    require(!std::isinf(value) && !(asked && std::isnan(value)), Status::NonFinite,
            std::string(method) + ": the layer's " + name + " is " + (std::isnan(value) ? "NaN" : "Inf") +
                " (the statistic or the weights overflow fp32 in tr(dW H dW^T)); hint: scale the activations "
                "or accumulate the hessian in fp64 (VQR_HESSIAN_F64)");
  }
}

}  // namespace

double quantize_layer_bytes(const QuantConfig &config, int64_t m, int64_t n) {
  const double mn = (double)m * (double)n, nn = (double)n * (double)n;
  const double result = mn + 8.0 * (double)m * (double)n;  // codes, and scales + zeros (one group per column at worst)
  switch (quant::method_traits(config.method).family) {
    case MethodFamily::kRoundToNearest: return result;
    case MethodFamily::kGptqSweep: return result + 3 * 4.0 * mn + 4 * 4.0 * nn;  // W, W0 / Ar, err; U, L, P, inverse
    case MethodFamily::kLearnedRounding: break;
  }
  return result + 12 * 8.0 * mn + 4 * 4.0 * nn;  // latents, Adam moments, gradients, Wq in up to fp64
}

quant::QuantizedLayer quantize_layer(Context *ctx, const QuantConfig &requested, const float *W, int64_t m,
                                     int64_t n, const hessian::Hessian *h) {
  const auto start = std::chrono::steady_clock::now();
  const QuantConfig config = quant::resolve_presets(requested);
  require(!config.blockwise, Status::Unsupported,
          "block-wise reconstruction trains a whole decoder block; a single layer has none (quantize the model)");
  require(!config.e2e, Status::Unsupported,
          "end-to-end distillation trains every layer on the model's output; a single layer has none (quantize the "
          "model)");
  require(m >= 1 && n >= 1, Status::InvalidArgument,
          "w must have at least one row and column (got " + std::to_string(m) + " x " + std::to_string(n) + ")");
  validate_groups(config, n);
  require_memory(ctx, quantize_layer_bytes(config, m, n),
                 "quantizing a " + std::to_string(m) + " x " + std::to_string(n) + " layer with " +
                     quant::method_name(config.method));
  const MethodTraits &traits = quant::method_traits(config.method);
  validate_hessian(config, traits, n, h);
  const int64_t bad = find_nonfinite(W, m * n);
  require(bad < 0, Status::NonFinite,
          "w[" + std::to_string(bad / n) + ", " + std::to_string(bad % n) + "] is NaN or Inf");

  const int threads = thread_count(ctx);
  quant::QuantizedLayer result = [&] {
    switch (traits.family) {
      case MethodFamily::kRoundToNearest: return quant::rtn_quantize_layer(ctx, config, W, m, n, h, threads);
      case MethodFamily::kGptqSweep: return quant::sweep_quantize_layer(ctx, config, W, m, n, *h, threads);
      case MethodFamily::kLearnedRounding: break;
    }
    return learn::learned_quantize(ctx, config, W, m, n, h->view(), threads);
  }();
  check_result_finite(result, config, h);
  result.report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace vqr::pipeline
