// One decoder block of a real-shaped model for the scale benchmark (issue 16 item 4): the model's
// config (from a Hugging Face folder's config.json, or a preset with the shapes of
// scripts/synthetic_checkpoint.py) and a streamed one-layer model::Model whose seven linear weights
// are TensorSources over bf16/f16/f32 rows: the folder's own mapping (layer `layer` of its
// safetensors) or synthetic bf16 weights held in memory. Model::linear() widens the block to fp32
// exactly as the streaming loaders do; nothing else of the checkpoint is ever widened.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "io/safetensors.h"
#include "model/model.h"

namespace vqrbench {

// Dimension letters: T tokens, C = dim (residual width), V = vocab.

// The presets of scripts/synthetic_checkpoint.py (the published config.json of each model):
// "llama-3.2-1b", "llama-3-8b", "qwen2-7b". Throws std::invalid_argument for another name.
vqr::model::ModelConfig preset_config(const std::string &name);
// The preset names, comma separated, for usage lines.
const char *preset_names();

class ScaleBlock {
 public:
  // Layer `layer` of the Hugging Face folder `dir` (its config.json and safetensors; only this
  // block's tensors and the embedding rows fill_input asks for are read). Throws vqr::Error.
  static std::unique_ptr<ScaleBlock> from_folder(const std::string &dir, int layer);
  // A block of `config`'s shape with heavy-tailed synthetic weights (Student-t(4) scaled to std
  // 0.02, 1/512 of the input channels x8, as the script writes), stored as bf16 in memory.
  static std::unique_ptr<ScaleBlock> synthetic(const vqr::model::ModelConfig &config, uint64_t seed);

  // The whole model's config (n_layers = all of its blocks: the extrapolation's multiplier).
  const vqr::model::ModelConfig &full_config() const { return full_; }
  // Where the block comes from: the folder and layer, or "synthetic <dims>".
  const std::string &description() const { return description_; }
  // The one-layer streamed model; its layer 0 is the block.
  vqr::model::Model &model() { return *model_; }
  // Bytes the seven weights occupy where they are kept (file or memory, their own dtype).
  int64_t stored_bytes() const;
  // The dtype they are kept in ("BF16", "F16", "F32").
  const std::string &stored_dtype() const { return dtype_; }

  // x: T x C (overwritten), the block's input for one window: embedding rows of pseudo-random
  // tokens (a folder's own embedding) or heavy-tailed rows like the synthetic embedding.
  void fill_input(float *x, int64_t tokens, uint64_t seed) const;

 private:
  ScaleBlock() = default;

  vqr::model::ModelConfig full_;
  std::string description_;
  std::string dtype_ = "BF16";
  uint64_t seed_ = 0;  // synthetic blocks: the weights' seed (fill_input's outlier channels)
  std::unique_ptr<vqr::io::SafetensorsCheckpoint> ckpt_;   // the folder's mapping (folder blocks)
  std::shared_ptr<const vqr::model::TensorSource> embed_;  // folder blocks: the token embedding
  std::unique_ptr<vqr::model::Model> model_;
};

}  // namespace vqrbench
