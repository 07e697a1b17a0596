// What the quantizer measured for one layer (the public vqr_report without its struct_size; the C
// API copies it field by field). NaN marks a measure that was not taken; 0 a count that does not
// apply to the method.
#pragma once

#include <cstdint>

#include "quant/options.h"

namespace vqr::quant {

struct LayerReport {
  Method method = Method::Rtn;  // the method that ran
  double proxy_loss = 0;        // tr(dW H dW^T), dW = Q - W, H undamped; NaN without a Hessian
  double rtn_proxy_loss = 0;    // the same for RTN on the same grid and groups
  double damp = 0;              // relative damping finally used (GPTQ family)
  double damp_lambda = 0;       // the absolute value added to diag(H)
  int damp_attempts = 0;        // factorizations tried (1 = the first succeeded)
  int64_t dead_columns = 0;     // input columns with H_jj == 0 (spec gptq §1.3)
  double seconds = 0;           // wall time of the layer
  double asym_loss = 0;         // asymmetric objective minus its constant (spec gptq §2.2)
  double alpha = 0, alpha2 = 0;  // asymmetry weights and outer mode that ran
  OuterMode outer_mode = OuterMode::Quantized;
  // Learned rounding (spec learned_rounding, spec vqround):
  double init_proxy_loss = 0;   // proxy_loss of the hard initialization
  int64_t trainable_params = 0;
  double trainable_share = 0;   // trainable_params / (m n)
  int64_t steps = 0;            // optimizer steps run
  int64_t best_step = 0;        // step whose parameters were kept (-1 = the initialization)
  int64_t codebook_size = 0;    // VQRound: the K used
  double sign_flip_rate = 0;    // VQRound: share of initial decisions k-means changed (spec vqround §8)
  double kmeans_seconds = 0;    // VQRound: time spent in k-means
};

}  // namespace vqr::quant
