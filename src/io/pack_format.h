// GPTQ checkpoint packing variants (io/gptq_packing.h). The numbers equal the public
// vqr_pack_format ones (src/capi/enum_mirror.cpp).
#pragma once

namespace vqr::io {

enum class PackFormat : int {
  GptqV1 = 1,  // AutoGPTQ "gptq": qzeros store zero - 1
  GptqV2 = 2,  // GPTQModel "gptq_v2": qzeros store the zero-point as is
};

}  // namespace vqr::io
