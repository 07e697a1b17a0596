// RTN and the GPTQ-family sweep with their reports (quantize_layer.h).
#include "quant/quantize_layer.h"

#include <cmath>
#include <cstring>

#include "backend/backend.h"
#include "core/buffer.h"
#include "quant/gptq.h"
#include "quant/proxy_loss.h"
#include "quant/rtn.h"

namespace vqr::quant {

namespace {

// (W D) for the asymmetric objective: tr(dW D^T W^T) = sum(dW .* (W D)) (DESIGN §3.1).
Buffer<float> weights_times_d(backend::Backend &be, const float *W, int64_t m, int64_t n, const hessian::Hessian &h) {
  Buffer<float> D((size_t)(n * n)), WD((size_t)(m * n));
  h.read_d(D.data(), n);
  be.gemm(backend::Op::None, backend::Op::None, m, n, n, 1.0f, W, n, D.data(), n, 0.0f, WD.data(), n);
  return WD;
}

// The report's losses of quantized layers of W against one Hessian, through the Cholesky factor
// (proxy_loss.h). W D for the asymmetric objective is computed on first use.
class LossReport {
 public:
  LossReport(backend::Backend &be, const float *W, int64_t m, int64_t n, const hessian::Hessian &h, int threads)
      : be_(be), h_(h), W_(W), m_(m), n_(n), threads_(threads), deq_((size_t)(m * n)) {}

  // Proxy loss of q through the factor f (f.L); with D also its asymmetric objective into *asym_loss:
  // loss - 2 tr(dW D^T W^T) (DESIGN §3.1).
  double losses(const QuantizedLayer &q, const HessianFactor &f, double *asym_loss) {
    q.dequantize(deq_.data(), threads_);
    const double loss = proxy_loss(be_, deq_.data(), W_, m_, n_, f, threads_);
    if (asym_loss && h_.is_asymmetric()) {
      if (WD_.empty()) WD_ = weights_times_d(be_, W_, m_, n_, h_);
      const float *deq = deq_.data(), *W = W_, *WD = WD_.data();
      double cross = 0;
#pragma omp parallel for num_threads(threads_for(threads_, m_ * n_)) reduction(+ : cross)
      for (int64_t i = 0; i < m_ * n_; ++i) cross += ((double)deq[i] - W[i]) * WD[i];
      *asym_loss = loss - 2.0 * cross;
    }
    return loss;
  }

 private:
  backend::Backend &be_;
  const hessian::Hessian &h_;
  const float *W_;
  int64_t m_, n_;
  int threads_;
  Buffer<float> deq_, WD_;
};

}  // namespace

QuantizedLayer rtn_quantize_layer(Context *ctx, const QuantConfig &config, const float *W, int64_t m, int64_t n,
                                  const hessian::Hessian *h, int threads) {
  Progress progress(ctx, method_traits(config.method).stage, 1);
  QuantizedLayer q = rtn_quantize(W, m, n, config, threads);
  if (config.report_loss != ReportLevel::None && h != nullptr) {
    QuantConfig plain = config;
    plain.act_order = false;
    const HessianFactor f = factor_hessian(h->view(), false, plain, /*need_inverse=*/false,
                                           /*keep_cholesky=*/true, ctx, threads);
    q.report.proxy_loss = q.report.rtn_proxy_loss = LossReport(backend_of(ctx), W, m, n, *h, threads).losses(q, f, &q.report.asym_loss);
    q.report.dead_columns = f.dead_count;
  }
  progress.checkpoint(1, true);
  return q;
}

// The report levels (vqr_report_level in vqround.h): plain GPTQ takes its proxy loss from the
// sweep (no factor kept, no TRMM); the other sweeps and the RTN reference go through the factor.
// So does GPTQ on an asymmetric statistic: there it is the alpha = 0 member of the GPTAQ family and
// reports exactly what GPTAQ with D = 0 reports (gptq.cpp runs it on the family's U route too).
QuantizedLayer sweep_quantize_layer(Context *ctx, const QuantConfig &config, const float *W, int64_t m,
                                    int64_t n, const hessian::Hessian &h, int threads) {
  if (config.report_loss == ReportLevel::None) return gptq_quantize(W, m, n, h.view(), config, ctx, threads, nullptr);
  const bool from_sweep = sweep_gives_damped_loss(config) && !h.is_asymmetric();
  const bool rtn = config.report_loss == ReportLevel::ProxyAndRtn;
  HessianFactor f;
  double damped = NAN;
  QuantizedLayer q = gptq_quantize(W, m, n, h.view(), config, ctx, threads,
                                   from_sweep && !rtn ? nullptr : &f, nullptr, from_sweep ? &damped : nullptr);
  if (from_sweep) {
    q.report.proxy_loss = proxy_loss_from_sweep(damped, q, W, h.view(), threads);
    if (!rtn) return q;
  }
  LossReport report(backend_of(ctx), W, m, n, h, threads);
  if (!from_sweep) q.report.proxy_loss = report.losses(q, f, &q.report.asym_loss);
  if (rtn) q.report.rtn_proxy_loss = report.losses(rtn_quantize(W, m, n, config, threads), f, nullptr);
  return q;
}

}  // namespace vqr::quant
