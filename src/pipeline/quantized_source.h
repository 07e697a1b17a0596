// A quantized layer as the weight of a model (issue 16): the TensorSource that the sequential
// quantizer installs with Model::set_linear_source once a layer is quantized. A streamed model keeps
// it (the codes, parked, plus scales and zeros: bits/8 bytes a weight instead of 4) and widens the
// block from it whenever the forward needs it; a resident model reads it once into its arena.
#pragma once

#include <memory>

#include "model/model.h"
#include "model/tensor_source.h"
#include "quant/quantized_layer.h"

namespace vqr::pipeline {

class QuantizedSource final : public model::TensorSource {
 public:
  // layer: read through (parked or not, never unparked whole); threads: OpenMP threads of read_rows.
  QuantizedSource(std::shared_ptr<const quant::QuantizedLayer> layer, int threads);
  int64_t rows() const override { return layer_->rows; }
  int64_t cols() const override { return layer_->cols; }
  // QuantizedLayer::dequantize_rows: bit for bit the values of QuantizedLayer::dequantize.
  void read_rows(int64_t r0, int64_t r1, float *out) const override;
  // The parked stream (or the one-byte codes), the scales, the zeros and g_idx.
  int64_t stored_bytes() const override { return layer_->stored_bytes(); }

 private:
  std::shared_ptr<const quant::QuantizedLayer> layer_;
  int threads_;
};

// Makes `result` the model's weight (layer, kind) through a QuantizedSource. Resident: the arena
// gets QuantizedLayer::dequantize's values and nothing is kept. Streamed: `result` is parked first
// and the model keeps a copy that shares its parked stream (the learned methods' histories are not
// copied), so the codes are held once. Throws the errors of Model::set_linear_source.
void install_quantized(model::Model &model, int layer, model::LinearKind kind, quant::QuantizedLayer &result,
                       int threads);

}  // namespace vqr::pipeline
