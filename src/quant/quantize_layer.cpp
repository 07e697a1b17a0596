// Method dispatch and reporting (quantize_layer.h).
#include "quant/quantize_layer.h"

#include <chrono>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "core/buffer.h"
#include "core/dtype.h"
#include "core/error.h"
#include "learn/learned_rounding.h"
#include "quant/gptq.h"
#include "quant/proxy_loss.h"
#include "quant/rtn.h"

namespace vqr::quant {

static void validate_groups(const QuantConfig &c, int64_t n) {
  require(c.group_size == -1 || c.group_size >= 1, VQR_ERR_INVALID_ARGUMENT,
          "group_size " + std::to_string(c.group_size) + " is invalid (use -1 or a positive size)");
  if (c.group_size > 0 && n % c.group_size != 0)
    require(c.allow_partial_group, VQR_ERR_INVALID_ARGUMENT,
            "group_size " + std::to_string(c.group_size) + " does not divide in_features " + std::to_string(n) +
                "; set VQR_PARAM_ALLOW_PARTIAL_GROUP to accept a shorter last group");
}

static Buffer<float> dense_weights(const vqr_tensor &w, int64_t stride) {
  Buffer<float> W((size_t)(w.rows * w.cols));
  view_rows_to_f32(W.data(), w, stride, 0, w.rows);
  const int64_t bad = find_nonfinite(W.data(), (int64_t)W.size());
  require(bad < 0, VQR_ERR_NONFINITE,
          "w[" + std::to_string(bad / std::max<int64_t>(w.cols, 1)) + ", " +
              std::to_string(bad % std::max<int64_t>(w.cols, 1)) + "] is NaN or Inf");
  return W;
}

// (W D) for the asymmetric objective: tr(dW D^T W^T) = sum(dW .* (W D)) (DESIGN §3.1).
static Buffer<float> weights_times_d(backend::Backend &be, const float *W, int64_t m, int64_t n,
                                     const hessian::Hessian &h) {
  Buffer<float> D((size_t)(n * n)), WD((size_t)(m * n));
  h.read_d(D.data(), n);
  be.gemm(backend::Op::None, backend::Op::None, m, n, n, 1.0f, W, n, D.data(), n, 0.0f, WD.data(), n);
  return WD;
}

QuantizedLayer quantize_layer(vqr_context *ctx, const QuantConfig &requested, const vqr_tensor &w,
                              const hessian::Hessian *h) {
  const auto start = std::chrono::steady_clock::now();
  const QuantConfig config = resolve_presets(requested);
  const int64_t stride = validate_view(&w, "w");
  const int64_t m = w.rows, n = w.cols;
  require(m >= 1 && n >= 1, VQR_ERR_INVALID_ARGUMENT,
          "w must have at least one row and column (got " + std::to_string(m) + " x " + std::to_string(n) + ")");
  validate_groups(config, n);
  require(config.method >= VQR_METHOD_RTN && config.method <= VQR_METHOD_LORAROUND, VQR_ERR_UNSUPPORTED,
          "method " + std::to_string(config.method) + " is not available in this version");
  const bool learned = is_learned_method(config.method);
  const bool gptq_family = config.method != VQR_METHOD_RTN && !learned;
  const bool asym_method = config.method >= VQR_METHOD_GPTAQ && config.method <= VQR_METHOD_GPTAQ_PAPER;
  require(h != nullptr || !gptq_family, VQR_ERR_INVALID_ARGUMENT, "GPTQ-family methods need a hessian (got NULL)");
  require(h != nullptr || !learned, VQR_ERR_INVALID_ARGUMENT,
          "learned-rounding methods train against the layer's hessian (got NULL)");
  if (h) {
    require(h->width() == n, VQR_ERR_INVALID_ARGUMENT,
            "hessian width " + std::to_string(h->width()) + " does not match in_features " + std::to_string(n));
    require(h->tokens() > 0, VQR_ERR_INVALID_ARGUMENT, "hessian has no tokens; add calibration activations first");
  }
  require(!asym_method || h->is_asymmetric(), VQR_ERR_INVALID_ARGUMENT,
          "GPTAQ and ResComp need D: create the hessian with VQR_HESSIAN_ASYMMETRIC and feed it with "
          "vqr_hessian_add_pair");
  require(!config.exact_target || (config.method == VQR_METHOD_GPTQ && h->is_asymmetric()), VQR_ERR_INVALID_ARGUMENT,
          "VQR_PARAM_EXACT_TARGET runs with method GPTQ on an asymmetric hessian");
  const int threads = thread_count(ctx);
  Buffer<float> W = dense_weights(w, stride);
  const bool report = config.report_loss && h != nullptr;

  const hessian::HessianView H = h ? h->view() : hessian::HessianView{};
  const Buffer<float> WD =
      report && h->is_asymmetric() ? weights_times_d(backend_of(ctx), W.data(), m, n, *h) : Buffer<float>();
  Buffer<float> deq((size_t)(report ? m * n : 0));
  // Proxy loss of q; with D also its asymmetric objective (the report's asym_loss).
  auto losses_of = [&](const QuantizedLayer &q, const HessianFactor &f, double *asym_loss) {
    q.dequantize(deq.data(), threads);
    const double loss = proxy_loss(backend_of(ctx), deq.data(), W.data(), m, n, f, threads);
    if (asym_loss && !WD.empty()) {
      double cross = 0;
#pragma omp parallel for num_threads(threads_for(threads, m * n)) reduction(+ : cross)
      for (int64_t i = 0; i < m * n; ++i) cross += ((double)deq[(size_t)i] - W[(size_t)i]) * WD[(size_t)i];
      *asym_loss = loss - 2.0 * cross;
    }
    return loss;
  };

  // Runs the method; with a Hessian and report_loss, also the proxy losses of its result and of
  // RTN on the same grid, both through one Cholesky factor of the damped Hessian.
  auto run = [&]() -> QuantizedLayer {
    if (learned) return learn::learned_quantize(ctx, config, W.data(), m, n, H, threads);
    if (gptq_family) {
      HessianFactor f;
      // The sweep consumes its weights; the report still needs the original.
      QuantizedLayer q = gptq_quantize(report ? Buffer<float>(W) : std::move(W), m, n, H, config, ctx, threads,
                                       report ? &f : nullptr);
      if (report) {
        q.report.proxy_loss = losses_of(q, f, &q.report.asym_loss);
        q.report.rtn_proxy_loss = losses_of(rtn_quantize(W.data(), m, n, config, threads), f, nullptr);
      }
      return q;
    }
    Progress progress(ctx, "rtn", 1);
    QuantizedLayer q = rtn_quantize(W.data(), m, n, config, threads);
    if (report) {
      QuantConfig plain = config;
      plain.act_order = false;
      const HessianFactor f = factor_hessian(H, false, plain, /*need_inverse=*/false,
                                             /*keep_cholesky=*/true, ctx, threads);
      q.report.proxy_loss = q.report.rtn_proxy_loss = losses_of(q, f, &q.report.asym_loss);
      q.report.dead_columns = f.dead_count;
    }
    progress.checkpoint(1, true);
    return q;
  };
  QuantizedLayer result = run();
  result.report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace vqr::quant
