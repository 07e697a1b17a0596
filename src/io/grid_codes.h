// A quantized linear layer as the file formats see it: integer codes on a uniform grid with
// per-group scales and zeros, borrowed from whoever produced them (the pipeline builds one from a
// quant::QuantizedLayer), so io packs and encodes layers without depending on the quantizers.
#pragma once

#include <cstdint>

namespace vqr::io {

// W[o][i] = scales[g*rows + o] * (codes[o*cols + i] - zeros[g*rows + o]) with g = g_idx[i], or
// g = i / group_size where g_idx is null, computed in fp32 as quant/grid.h dequantize_code does.
// The arrays are read only during the calls that take it.
struct GridCodes {
  int bits = 0;
  int64_t rows = 0, cols = 0, group_size = 0;
  const uint8_t *codes = nullptr;    // rows x cols
  const float *scales = nullptr;     // G x rows
  const float *zeros = nullptr;      // G x rows
  int64_t groups = 0;                // G; the packers read it, GGUF derives ceil(cols / group_size)
  const int32_t *g_idx = nullptr;    // cols group indices (act-order); null: i / group_size
};

// The group of input column i.
inline int32_t group_of(const GridCodes &g, int64_t i) {
  return g.g_idx ? g.g_idx[i] : static_cast<int32_t>(i / g.group_size);
}

}  // namespace vqr::io
