// GPTQ checkpoint packing (spec gptq §1.7): qweight (codes along the input dimension), qzeros
// (zero-points along the output dimension; v1 stores zero - 1), fp16 scales, g_idx.
#pragma once

#include <cstdint>

#include "quant/quantized_layer.h"

namespace vqr::quant {

// Words needed for `count` b-bit codes: ceil(count * b / 32) for b in {2, 4, 8}, 3 ceil(count / 32)
// for b = 3 (32 codes per 3 words). Throws Error(VQR_ERR_UNSUPPORTED) for other widths.
int64_t packed_words(int64_t count, int bits);

// format: VQR_PACK_GPTQ_V1 or _V2. Any output may be NULL. Validates everything before writing.
void pack_gptq(const QuantizedLayer &q, vqr_pack_format format, int32_t *qweight, int32_t *qzeros,
               uint16_t *scales_f16, int32_t *g_idx);

}  // namespace vqr::quant
