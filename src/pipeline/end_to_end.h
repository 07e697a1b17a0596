// End-to-end distillation of AdaRound's or VQRound's relaxation (issue 17 item 3, spec vqround §3,
// DESIGN §3.4): the whole model's rounding parameters trained together so the quantized model's
// output distribution matches the full-precision model's.
//
//  1. The last `holdout` calibration sequences are set aside (never calibrated or trained on); the
//     teacher (distill_teacher.h) is built on the full-precision model for every sequence.
//  2. The sequential pipeline runs on the training sequences, each layer initialized (RTN or GPTQ's
//     own decisions) and given its untrained relaxation (learn/relaxed_start.h) instead of being
//     trained layer-wise; the model holds the initialization.
//  3. Each step takes e2e_batch training sequences in order (cycling, no shuffling: the reference's
//     order), runs the student with every layer's soft weights through the model's backward
//     (model/model_backward.h: block checkpointing), the loss tau^2 KL(teacher || student) summed over
//     positions (or per token with kl_mean) averaged over the step's sequences, hands each linear's
//     dL/dW to its relaxation at once (no model-wide weight gradient is held), adds the rounding
//     regularizer with the layer-wise engine's beta schedule, and takes one Adam step (the method's
//     preset betas, constant rate).
//  4. Every eval_every steps (and before the first and after the last) the hard-rounded student is
//     scored on the held-out sequences (KL per token and NLL); with keep_best the lowest held-out KL
//     is kept, the initialization included, so zero steps return it bit for bit. Without held-out
//     sequences the final state is kept.
//  5. Every layer is hardened (integer codes on the initialization's grid, never fake-quant) and
//     installed in the model; its report keeps the initialization's proxy loss (the layer's Hessian is
//     gone) and gets the run's steps and best step.
// With a checkpoint path the state is written atomically at every evaluation and on cancellation;
// `resume` continues from it bit for bit, refusing one made with other settings
// (distill_checkpoint.h). Progress: stage "distill" (done = steps, loss = loss + regularizer,
// tokens = tokens trained on).
// Memory beyond the sequential pipeline's: each trained layer's relaxation (VQRound: base + zero in
// fp32, the assignment and its CSR index: ~16.5 bytes per weight for D = 8; AdaRound: ~20 bytes per
// weight), the soft weights (every block's for the step when they fit
// PipelineOptions::soft_cache_bytes, else one block's), the backward's block-boundary states and one
// block's activations (model_backward.h), the stored teacher, and one layer's weight gradient.
#pragma once

#include "model/model.h"
#include "model/sequences.h"
#include "pipeline/sequential_quantizer.h"

namespace vqr::pipeline {

// Quantizes `model` in place as quantize_sequential does, with end-to-end distillation
// (options.config.e2e). Throws vqr::Error: Status::Unsupported (a method other than AdaRound or
// VQRound, block-wise reconstruction), Status::InvalidArgument (an override of an end-to-end
// setting, no training sequence left after the held-out ones, an online teacher without a teacher
// model, a teacher cache or checkpoint made by another run), Status::Corrupt (a damaged cache or
// checkpoint), Status::Io, Status::Cancelled (after writing the checkpoint when there is a path),
// and quantize_sequential's errors.
QuantizedModel quantize_end_to_end(model::Model &model, const model::Sequences &windows,
                                   const PipelineOptions &options, Context *ctx);

}  // namespace vqr::pipeline
