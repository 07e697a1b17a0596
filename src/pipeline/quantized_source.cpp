// A quantized layer read as fp32 rows (quantized_source.h).
#include "pipeline/quantized_source.h"

#include <utility>

#include "core/error.h"

namespace vqr::pipeline {

QuantizedSource::QuantizedSource(std::shared_ptr<const quant::QuantizedLayer> layer, int threads)
    : layer_(std::move(layer)), threads_(threads) {
  require(layer_ != nullptr, Status::Internal, "QuantizedSource: no layer");
}

void QuantizedSource::read_rows(int64_t r0, int64_t r1, float *out) const {
  require(r0 >= 0 && r0 <= r1 && r1 <= layer_->rows, Status::InvalidArgument,
          "QuantizedSource: rows [" + std::to_string(r0) + ", " + std::to_string(r1) + ") outside [0, " +
              std::to_string(layer_->rows) + ")");
  layer_->dequantize_rows(r0, r1, out, threads_);
}

void install_quantized(model::Model &model, int layer, model::LinearKind kind, quant::QuantizedLayer &result,
                       int threads) {
  if (!model.streamed()) {
    // Read at once and not kept (Model::set_linear_source): borrow `result` for the call.
    const std::shared_ptr<const quant::QuantizedLayer> borrowed(std::shared_ptr<void>(), &result);
    model.set_linear_source(layer, kind, std::make_shared<QuantizedSource>(borrowed, threads));
    return;
  }
  result.park();
  quant::QuantizedLayer kept = result;  // shares the parked stream
  kept.loss_history = std::vector<double>();  // move-assigned: the copies' buffers go too
  kept.reg_history = std::vector<double>();
  model.set_linear_source(layer, kind,
                          std::make_shared<QuantizedSource>(std::make_shared<const quant::QuantizedLayer>(std::move(kept)), threads));
}

}  // namespace vqr::pipeline
