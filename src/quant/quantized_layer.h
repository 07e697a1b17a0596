// The outcome of quantizing one linear layer: integer codes as the algorithm produced them,
// per-group scales and zeros, g_idx, and the report (spec gptq §1.7). The C API's vqr_result wraps one.
#pragma once

#include <cstdint>
#include <vector>

#include "quant/layer_report.h"

namespace vqr::quant {

struct QuantizedLayer {
  int64_t rows = 0;        // m, out_features
  int64_t cols = 0;        // n, in_features
  int64_t groups = 0;      // G
  int64_t group_size = 0;  // effective: n for per-channel
  int bits = 0;
  std::vector<uint8_t> codes;  // m x n
  std::vector<float> scales;   // G x m
  std::vector<float> zeros;    // G x m
  std::vector<int32_t> g_idx;  // n
  LayerReport report{};
  // Learned methods: per-step objective and weighted regularizer (vqr_result_history).
  std::vector<double> loss_history, reg_history;

  QuantizedLayer(int64_t m, int64_t n, int64_t group_size_or_minus1, int bits);
  // Dequantized weights (m x n dense fp32): scales * (codes - zeros) per column's group.
  void dequantize(float *out, int threads) const;
};

}  // namespace vqr::quant
