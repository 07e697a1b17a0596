// The outcome of quantizing one linear layer: integer codes as the algorithm produced them,
// per-group scales and zeros, g_idx, and the report (spec gptq §1.7). The C API's vqr_result wraps one.
// A whole model's results can be parked (issue 16): the one-byte codes packed into a b-bit stream,
// so a Llama-3-8B's 7e9 codes take bits/8 of their bytes while the run goes on.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "quant/layer_report.h"

namespace vqr::quant {

struct QuantizedLayer {
  int64_t rows = 0;        // m, out_features
  int64_t cols = 0;        // n, in_features
  int64_t groups = 0;      // G
  int64_t group_size = 0;  // effective: n for per-channel
  int bits = 0;
  std::vector<uint8_t> codes;  // m x n; empty while parked
  std::vector<float> scales;   // G x m
  std::vector<float> zeros;    // G x m
  std::vector<int32_t> g_idx;  // n
  // Parked codes: code i (row-major, i = r * n + j) at bit bits * i of little-endian 32-bit words,
  // lowest bits first (the stream layout of spec gptq §1.7 / io/code_stream.h; quant may not include
  // io, DESIGN §1), then one zero word so a reader may always load 64 bits. Immutable and shared:
  // copies of a parked layer (e.g. the streamed model's source of this layer) hold one stream.
  // NULL unless parked.
  std::shared_ptr<const std::vector<uint32_t>> parked_codes;
  LayerReport report{};
  // Learned methods: per-step objective and weighted regularizer (vqr_result_history).
  std::vector<double> loss_history, reg_history;

  QuantizedLayer(int64_t m, int64_t n, int64_t group_size_or_minus1, int bits);
  // An empty layer (0 x 0), e.g. the scratch of with_codes.
  QuantizedLayer() : QuantizedLayer(0, 0, -1, 0) {}
  // Dequantized weights (m x n dense fp32): scales * (codes - zeros) per column's group.
  void dequantize(float *out, int threads) const;
  // Rows [r0, r1) of the same ((r1 - r0) x n, overwritten), from the codes or the parked stream;
  // every value equals dequantize's bit for bit (one expression). 0 <= r0 <= r1 <= rows (unchecked).
  void dequantize_rows(int64_t r0, int64_t r1, float *out, int threads) const;

  // Packs the codes into parked_codes and frees them (capacity included). A no-op for an empty
  // layer (a skipped placeholder) or a parked one. Requires bits in 1..8 and codes < 2^bits (what
  // every quantizer produces); throws vqr::Error(Status::Internal) otherwise.
  void park();
  // Unpacks parked_codes back into codes and drops the stream. A no-op unless parked.
  void unpark();
  bool parked() const { return parked_codes != nullptr; }
  // Whether the layer holds codes, one-byte or parked (false for a skipped layer's empty placeholder).
  bool has_codes() const { return parked() || !codes.empty(); }
  // This layer with its one-byte codes: *this when not parked, else scratch (overwritten with an
  // unparked copy). What every reader of `codes` calls; the reference lives as long as both do.
  const QuantizedLayer &with_codes(QuantizedLayer &scratch) const;
  // Bytes held for the layer: codes (or the parked stream), scales, zeros and g_idx.
  int64_t stored_bytes() const;
};

}  // namespace vqr::quant
