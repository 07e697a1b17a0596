// A quantized Hugging Face linear layer (GPTQ or compressed-tensors pack-quantized, spec
// api_formats §4.2-4.3) as the TensorSource of a streamed model (issue 16 item 1): the packed codes
// stay in the mapped checkpoint, and rows are dequantized on demand (io::read_quantized_linear_rows,
// one fp32 rounding, bit-identical to the resident loader's read_quantized_linear), so evaluating a
// quantized checkpoint widens one block at a time and never the whole model.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "io/quantized_tensors.h"
#include "io/safetensors.h"
#include "model/tensor_source.h"

namespace vqr::model {

class QuantizedLinearSource final : public TensorSource {
 public:
  // Layer `module` ("model.layers.0.self_attn.q_proj") of `ckpt`, m x n, stored as `format`.
  // Checks the layer's tensors from the index (io::check_quantized_linear: its errors) and appends
  // their names to *used (not NULL). The data itself (the codes' padding, g_idx and zero-point
  // ranges, finite values) is checked when rows are read: Status::Format naming the tensor.
  QuantizedLinearSource(std::shared_ptr<const io::SafetensorsCheckpoint> ckpt, std::string module,
                        io::QuantizedLinearFormat format, int64_t m, int64_t n, std::vector<std::string> *used);

  int64_t rows() const override { return m_; }
  int64_t cols() const override { return n_; }
  void read_rows(int64_t r0, int64_t r1, float *out) const override;
  // The bytes of the layer's tensors in the checkpoint (codes, zeros, scales, g_idx, ...).
  int64_t stored_bytes() const override;
  // Drops the pages of the layer's tensors (io::MappedFile::drop_pages).
  void release() const override;

 private:
  // One tensor of the layer in its shard.
  struct Piece {
    const io::SafetensorsFile *file;
    const io::StTensor *tensor;
  };
  std::shared_ptr<const io::SafetensorsCheckpoint> ckpt_;
  std::string module_;
  io::QuantizedLinearFormat format_;
  int64_t m_, n_;
  std::vector<Piece> pieces_;
};

}  // namespace vqr::model
