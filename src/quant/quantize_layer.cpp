// Method dispatch and reporting (quantize_layer.h).
#include "quant/quantize_layer.h"

#include <chrono>
#include <string>
#include <vector>

#include "core/buffer.h"
#include "core/dtype.h"
#include "core/error.h"
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

QuantizedLayer quantize_layer(vqr_context *ctx, const QuantConfig &config, const vqr_tensor &w,
                              const hessian::Hessian *h) {
  const auto start = std::chrono::steady_clock::now();
  const int64_t stride = validate_view(&w, "w");
  const int64_t m = w.rows, n = w.cols;
  require(m >= 1 && n >= 1, VQR_ERR_INVALID_ARGUMENT,
          "w must have at least one row and column (got " + std::to_string(m) + " x " + std::to_string(n) + ")");
  validate_groups(config, n);
  require(config.method == VQR_METHOD_RTN || config.method == VQR_METHOD_GPTQ, VQR_ERR_UNSUPPORTED,
          "method " + std::to_string(config.method) + " is not available in this version");
  require(h != nullptr || config.method == VQR_METHOD_RTN, VQR_ERR_INVALID_ARGUMENT,
          "GPTQ needs a hessian (got NULL)");
  if (h) {
    require(h->width() == n, VQR_ERR_INVALID_ARGUMENT,
            "hessian width " + std::to_string(h->width()) + " does not match in_features " + std::to_string(n));
    require(h->tokens() > 0, VQR_ERR_INVALID_ARGUMENT, "hessian has no tokens; add calibration activations first");
  }
  const int threads = thread_count(ctx);
  Buffer<float> W = dense_weights(w, stride);
  const bool report = config.report_loss && h != nullptr;

  const hessian::HessianView H = h ? h->view() : hessian::HessianView{};
  Buffer<float> deq((size_t)(report ? m * n : 0));
  auto loss_of = [&](const QuantizedLayer &q, const HessianFactor &f) {
    q.dequantize(deq.data(), threads);
    return proxy_loss(deq.data(), W.data(), m, n, f, threads);
  };

  // Runs the method; with a Hessian and report_loss, also the proxy losses of its result and of
  // RTN on the same grid, both through one Cholesky factor of the damped Hessian.
  auto run = [&]() -> QuantizedLayer {
    if (config.method == VQR_METHOD_GPTQ) {
      HessianFactor f;
      // The sweep consumes its weights; the report still needs the original.
      QuantizedLayer q = gptq_quantize(report ? Buffer<float>(W) : std::move(W), m, n, H, config, ctx, threads, report ? &f : nullptr);
      if (report) {
        q.report.proxy_loss = loss_of(q, f);
        q.report.rtn_proxy_loss = loss_of(rtn_quantize(W.data(), m, n, config, threads), f);
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
      q.report.proxy_loss = q.report.rtn_proxy_loss = loss_of(q, f);
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
