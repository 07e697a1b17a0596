// Block-wise AutoRound (issue 17 item 4, spec learned_rounding §1.7): the seven linears of one decoder
// block trained together to reconstruct the block's output. The loss is the mean squared difference
// between the quantized block on the quantized stream's inputs and the full-precision block on the
// full-precision stream's inputs, over a mini-batch of calibration sequences (cycled in order, as
// the reference's batches); its gradient comes from the block's backward pass
// (model/block_backward.h) and reaches each layer's SignRound parameters (V and, with min/max
// tuning, the range multipliers) through the layer's own parameterization (learn/ste_rounding.h).
// SignSGD with linear decay and the best step kept, by the shared trainer (learn/trainer.h).
#pragma once

#include <cstdint>
#include <vector>

#include "core/context.h"
#include "model/model.h"
#include "quant/config.h"
#include "quant/quantized_layer.h"

namespace vqr::pipeline {

// The block's calibration inputs, one entry per sequence (borrowed for the call): x_q on the
// quantized stream (the blocks before it already quantized), x_fp on the full-precision stream
// (the same for the first block); each tokens[i] x dim.
struct BlockCalibration {
  std::vector<const float *> x_q, x_fp;
  std::vector<int64_t> tokens;
};

struct BlockwiseOutcome {
  std::vector<quant::QuantizedLayer> layers;  // indexed by LinearKind
  double init_mse = 0, final_mse = 0;         // over all sequences: AutoRound's RTN start and the result
  std::vector<double> loss;                   // per step, on that step's mini-batch
  int64_t best_step = 0;                      // the trainer's (learn/trainer.h)
};

// config: AutoRound with presets resolved (bits, group size, grid, steps, lr, minmax tuning, keep
// best). The model's weights of `layer` are the full-precision ones. batch_sequences >= 1 sequences
// per step. Throws vqr::Error: Status::InvalidArgument (no sequences, mismatched lists, a sequence
// longer than the model's context, batch_sequences < 1), Status::Unsupported (a method other than
// AutoRound), Status::Cancelled, Status::OutOfMemory.
BlockwiseOutcome blockwise_autoround(Context *ctx, const quant::QuantConfig &config, const model::Model &model,
                                     int layer, const BlockCalibration &data, int64_t batch_sequences, int threads);

}  // namespace vqr::pipeline
