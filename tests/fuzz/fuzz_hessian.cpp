// libFuzzer harness: the bytes after the first are a serialized Hessian (vqr_hessian_deserialize).
// First byte: bit 0 set = rewrite the trailing CRC-32 over the mutated bytes first (else nearly
// every mutation stops at the checksum); bits 1-3 pick the quantizer settings below. A Hessian that
// loads, of width <= 256 (the cost of one quantization grows with n^3), quantizes a fixed 8 x n
// weight matrix with RTN and GPTQ, and, when it is asymmetric, GPTAQ.
#include <vqround/vqround.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "crc32_ieee.h"
#include "model_probe.h"

namespace {

constexpr int64_t kMaxWidth = 256;
constexpr int64_t kRows = 8;

struct Settings {
  int bits;
  int group_size;
  int act_order;
  int sym;
};
// Bit widths 2..8, per-row and grouped (8 divides every width the seeds use; a width it does not
// divide is an error, also worth reaching), act-order with groups (g_idx permutation).
const Settings kSettings[8] = {{4, -1, 0, 0}, {4, 8, 0, 0}, {2, -1, 1, 1}, {3, 8, 1, 0},
                               {8, -1, 0, 1}, {4, 8, 1, 1}, {2, 8, 0, 0}, {8, 8, 1, 0}};

void quantize(vqr_method method, const Settings &s, const vqr_tensor &w, const vqr_hessian *h) {
  vqr_config *cfg = nullptr;
  if (vqr_config_create(&cfg) != VQR_OK) return;
  vqr_config_set_int(cfg, VQR_PARAM_METHOD, method);
  vqr_config_set_int(cfg, VQR_PARAM_BITS, s.bits);
  vqr_config_set_int(cfg, VQR_PARAM_GROUP_SIZE, s.group_size);
  vqr_config_set_int(cfg, VQR_PARAM_ACT_ORDER, s.act_order);
  vqr_config_set_int(cfg, VQR_PARAM_SYM, s.sym);
  vqr_result *result = nullptr;
  if (vqr_quantize_layer(fuzz::fuzz_context(), cfg, &w, h, &result) == VQR_OK) {
    // Read what an exporter reads: shape, codes, and the dequantized weights.
    int64_t rows = 0, cols = 0, groups = 0;
    int bits = 0;
    vqr_result_shape(result, &rows, &cols, &groups, &bits);
    std::vector<float> back(static_cast<size_t>(rows * cols));
    vqr_result_dequantize(result, VQR_DTYPE_F32, back.data(), 0);
  }
  vqr_result_free(result);
  vqr_config_free(cfg);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  std::vector<uint8_t> blob(data + 1, data + size);
  if ((data[0] & 1) && blob.size() >= 4) {
    const uint32_t crc = fuzz::crc32_ieee(blob.data(), blob.size() - 4);
    for (int i = 0; i < 4; ++i) blob[blob.size() - 4 + i] = static_cast<uint8_t>(crc >> (8 * i));
  }
  vqr_hessian *h = nullptr;
  if (vqr_hessian_deserialize(blob.data(), blob.size(), &h) == VQR_OK) {
    const int64_t n = vqr_hessian_width(h);
    if (n >= 1 && n <= kMaxWidth) {
      // A smooth, sign-changing weight matrix with one outlier column: deterministic, finite.
      std::vector<float> w(static_cast<size_t>(kRows * n));
      for (int64_t r = 0; r < kRows; ++r)
        for (int64_t c = 0; c < n; ++c) w[r * n + c] = std::sin(0.37f * r + 0.11f * c) * (c == n / 2 ? 8.f : 1.f);
      const vqr_tensor wt = vqr_tensor_2d(w.data(), VQR_DTYPE_F32, kRows, n, 0);
      const Settings &s = kSettings[(data[0] >> 1) & 7];
      quantize(VQR_METHOD_RTN, s, wt, h);
      quantize(VQR_METHOD_GPTQ, s, wt, h);
      if (vqr_hessian_flags(h) & VQR_HESSIAN_ASYMMETRIC) quantize(VQR_METHOD_GPTAQ, s, wt, h);
    }
  }
  vqr_hessian_free(h);
  return 0;
}
