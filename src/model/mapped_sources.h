// TensorSources over a memory-mapped checkpoint (issue 16, DESIGN §3 and §5 "Scale"): a large
// tensor of a streamed model stays in its file, in its own encoding, and rows are widened to fp32
// only when the model reads them. One class serves every dense layout a loader maps: a safetensors
// tensor (F32, F16, BF16), a GGUF tensor (F32, F16, BF16, Q8_0, Q4_0, Q4_1: io/ggml_blocks.h) and a
// region of a llama2.c file (fp32). Each source keeps the mapping alive, so the model may outlive
// the loader's file objects.
//
// The values are bit-identical to the resident loaders' (the same decoders, io/ggml_blocks.h). The
// finiteness check the resident loaders run at load time runs here on every row range read, with
// the same message ("non-finite weight in <tensor> at element <k>", Status::Format).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "io/gguf.h"
#include "io/mapped_file.h"
#include "io/safetensors.h"
#include "model/tensor_source.h"

namespace vqr::model {

// How each row of a mapped tensor is stored.
enum class RowEncoding : int { kF32, kF16, kBF16, kQ8_0, kQ4_0, kQ4_1 };

// Where a mapped tensor lies and what it is called in messages.
struct MappedTensor {
  std::shared_ptr<const void> owner;  // keeps `file` mapped (the checkpoint or file object holding it)
  const io::MappedFile *file = nullptr;
  uint64_t offset = 0;  // file offset of row 0; rows follow each other without gaps
  int64_t rows = 0, cols = 0;
  RowEncoding encoding = RowEncoding::kF32;
  std::string path;  // the file, for messages
  std::string name;  // the tensor as the file names it, for messages
};

class MappedTensorSource final : public TensorSource {
 public:
  // Checks that cols is a whole number of the encoding's blocks and that the rows lie inside the
  // mapping; throws vqr::Error(Status::Format) otherwise (the loaders validated both already).
  explicit MappedTensorSource(MappedTensor tensor);

  int64_t rows() const override { return t_.rows; }
  int64_t cols() const override { return t_.cols; }
  // Decodes rows [r0, r1) from the mapping, then checks them for NaN / Inf: Status::Format naming
  // the tensor and the element (row-major index in the whole tensor).
  void read_rows(int64_t r0, int64_t r1, float *out) const override;
  int64_t stored_bytes() const override { return t_.rows * row_bytes_; }
  // Drops the tensor's pages (io::MappedFile::drop_pages).
  void release() const override;

 private:
  MappedTensor t_;
  int64_t row_bytes_ = 0;
};

// A safetensors tensor as a rows x cols source (the loader checked its shape). Throws
// Status::Unsupported for a dtype other than F32, F16 and BF16, naming the tensor.
std::shared_ptr<const TensorSource> safetensors_source(std::shared_ptr<const io::SafetensorsCheckpoint> ckpt,
                                                       const std::string &name, int64_t rows, int64_t cols);

// A GGUF tensor (ne = [cols, rows]) as a source. Throws Status::Unsupported for a type other than
// the six above, naming the tensor, as io::GgufFile::read_f32 does.
std::shared_ptr<const TensorSource> gguf_source(std::shared_ptr<const io::GgufFile> file, const io::GgufTensorInfo &t,
                                                int64_t rows, int64_t cols);

// rows x cols fp32 values at byte `offset` of a mapped llama2.c checkpoint.
std::shared_ptr<const TensorSource> llama2c_source(std::shared_ptr<const io::MappedFile> file, const std::string &path,
                                                   const std::string &name, uint64_t offset, int64_t rows, int64_t cols);

// Throws Status::Format "<path>: non-finite weight in <name> at element <first + i>; hint: ..."
// when values[i] is NaN or Inf for some i < count: the message of every loader's finiteness check.
void check_finite_weights(const float *values, int64_t count, int64_t first, const std::string &path,
                          const std::string &name);

}  // namespace vqr::model
