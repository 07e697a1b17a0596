// GPTQ checkpoint packing variants (quant/pack_gptq.h). The numbers equal the public
// vqr_pack_format ones (src/capi/enum_mirror.cpp).
#pragma once

namespace vqr::quant {

enum class PackFormat : int {
  GptqV1 = 1,  // AutoGPTQ "gptq": qzeros store zero - 1
  GptqV2 = 2,  // GPTQModel "gptq_v2": qzeros store the zero-point as is
};

}  // namespace vqr::quant
