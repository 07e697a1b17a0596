// The checkpoint formats the library writes (pipeline/export.h). The numbers equal the public
// vqr_format ones (src/capi/enum_mirror.cpp).
#pragma once

namespace vqr::pipeline {

enum class Format : int {
  Native = 0,             // the source's format + vqround.json
  HuggingFace = 1,        // config.json + safetensors, dense weights (folder)
  Llama2c = 2,            // llama2.c legacy v0 (one file, fp32)
  Gptq = 3,               // Hugging Face folder with qweight/qzeros/scales/g_idx
  CompressedTensors = 4,  // Hugging Face folder, compressed-tensors pack-quantized
  Gguf = 5,               // one GGUF v3 file for llama.cpp
};

}  // namespace vqr::pipeline
