// Where the values of one large tensor come from when a model streams (issue 16, DESIGN §3): a
// linear weight, the token embedding or an untied classifier, read as fp32 rows on demand from a
// mapped checkpoint in its own dtype, from packed quantized codes, or from memory. The model keeps
// at most a few blocks widened at a time (model.h), so a checkpoint larger than memory can be
// calibrated, quantized and evaluated.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

namespace vqr::model {

class TensorSource {
 public:
  virtual ~TensorSource() = default;

  // rows x cols of the tensor (row-major: out_features x in_features for a linear weight).
  virtual int64_t rows() const = 0;
  virtual int64_t cols() const = 0;

  // Writes rows [r0, r1) as fp32 into out ((r1 - r0) x cols, row-major); 0 <= r0 <= r1 <= rows.
  // Called by one thread at a time. Throws vqr::Error (e.g. Status::Format for a value that does
  // not widen to a finite float, when the source checks lazily).
  virtual void read_rows(int64_t r0, int64_t r1, float *out) const = 0;

  // Bytes the tensor occupies where it is kept (file bytes for a mapping, the codes and scales for a
  // quantized layer): the memory plan's and the run summary's figure.
  virtual int64_t stored_bytes() const = 0;

  // Hint that the caller is done with the tensor for now: a mapped source drops its pages from the
  // process (madvise MADV_DONTNEED), so resident memory stays one block. Never required for
  // correctness; the default does nothing.
  virtual void release() const {}
};

// fp32 values held in memory: a pipeline's dequantized layer, or a test's tensor.
class DenseSource final : public TensorSource {
 public:
  DenseSource(std::vector<float> values, int64_t rows, int64_t cols);
  int64_t rows() const override { return rows_; }
  int64_t cols() const override { return cols_; }
  void read_rows(int64_t r0, int64_t r1, float *out) const override;
  int64_t stored_bytes() const override { return rows_ * cols_ * static_cast<int64_t>(sizeof(float)); }
  const float *data() const { return values_.data(); }

 private:
  std::vector<float> values_;
  int64_t rows_, cols_;
};

}  // namespace vqr::model
