// Mapped tensor sources (mapped_sources.h).
#include "model/mapped_sources.h"

#include <utility>

#include "core/dtype.h"
#include "core/error.h"
#include "io/ggml_blocks.h"

namespace vqr::model {

namespace {

// One encoding's block geometry and decoder (io/ggml_blocks.h; the plain arrays are blocks of 1).
struct Layout {
  int64_t block_weights, block_bytes;
  void (*decode)(float *out, const uint8_t *src, int64_t n);
};

Layout layout_of(RowEncoding e) {
  switch (e) {
    case RowEncoding::kF16: return {1, 2, io::decode_f16};
    case RowEncoding::kBF16: return {1, 2, io::decode_bf16};
    case RowEncoding::kQ8_0: return {io::kGgmlBlockWeights, io::kQ8_0BlockBytes, io::decode_q8_0};
    case RowEncoding::kQ4_0: return {io::kGgmlBlockWeights, io::kQ4_0BlockBytes, io::decode_q4_0};
    case RowEncoding::kQ4_1: return {io::kGgmlBlockWeights, io::kQ4_1BlockBytes, io::decode_q4_1};
    case RowEncoding::kF32: break;
  }
  return {1, 4, io::decode_f32};
}

std::shared_ptr<const TensorSource> mapped_source(std::shared_ptr<const void> owner, const io::MappedFile &file,
                                                  uint64_t offset, int64_t rows, int64_t cols, RowEncoding encoding,
                                                  const std::string &path, const std::string &name) {
  return std::make_shared<MappedTensorSource>(MappedTensor{std::move(owner), &file, offset, rows, cols, encoding, path, name});
}

}  // namespace

void check_finite_weights(const float *values, int64_t count, int64_t first, const std::string &path,
                          const std::string &name) {
  const int64_t bad = find_nonfinite(values, count);
  if (bad >= 0)
    fail(Status::Format, path, "non-finite weight in " + name + " at element " + std::to_string(first + bad),
         "the checkpoint is damaged or was exported from a diverged run");
}

MappedTensorSource::MappedTensorSource(MappedTensor tensor) : t_(std::move(tensor)) {
  const Layout l = layout_of(t_.encoding);
  const bool whole_blocks = t_.rows >= 0 && t_.cols >= 0 && t_.cols % l.block_weights == 0;
  row_bytes_ = whole_blocks ? t_.cols / l.block_weights * l.block_bytes : 0;
  int64_t bytes = 0;
  const bool inside = whole_blocks && t_.file != nullptr && !__builtin_mul_overflow(t_.rows, row_bytes_, &bytes) &&
                      t_.offset <= t_.file->size() && static_cast<uint64_t>(bytes) <= t_.file->size() - t_.offset;
  if (!inside)
    fail(Status::Format, t_.path, "tensor " + t_.name + " does not lie inside the file as " + std::to_string(t_.rows) + " rows of " +
                                      std::to_string(t_.cols) + " values", "the file is damaged; download or export it again");
}

void MappedTensorSource::read_rows(int64_t r0, int64_t r1, float *out) const {
  require(r0 >= 0 && r0 <= r1 && r1 <= t_.rows, Status::InvalidArgument,
          t_.name + ": rows [" + std::to_string(r0) + ", " + std::to_string(r1) + ") outside [0, " + std::to_string(t_.rows) + ")");
  const int64_t n = (r1 - r0) * t_.cols;
  layout_of(t_.encoding).decode(out, t_.file->data() + t_.offset + static_cast<uint64_t>(r0 * row_bytes_), n);
  check_finite_weights(out, n, r0 * t_.cols, t_.path, t_.name);
}

void MappedTensorSource::release() const {
  t_.file->drop_pages(t_.offset, static_cast<uint64_t>(stored_bytes()));  // a failure only leaves the pages resident
}

std::shared_ptr<const TensorSource> safetensors_source(std::shared_ptr<const io::SafetensorsCheckpoint> ckpt,
                                                       const std::string &name, int64_t rows, int64_t cols) {
  const io::SafetensorsFile *file = nullptr;
  const io::StTensor &t = ckpt->find_required(name, &file);
  RowEncoding e = RowEncoding::kF32;
  switch (t.dtype) {
    case io::StDtype::kF32: e = RowEncoding::kF32; break;
    case io::StDtype::kF16: e = RowEncoding::kF16; break;
    case io::StDtype::kBF16: e = RowEncoding::kBF16; break;
    default:
      fail(Status::Unsupported, file->path(), "tensor " + name + " has dtype " + io::st_dtype_name(t.dtype) + ", not a float type",
           "only F32, F16 and BF16 tensors convert to fp32");
  }
  const uint64_t offset = static_cast<uint64_t>(file->data(t) - file->mapping().data());
  return mapped_source(std::move(ckpt), file->mapping(), offset, rows, cols, e, file->path(), name);
}

std::shared_ptr<const TensorSource> gguf_source(std::shared_ptr<const io::GgufFile> file, const io::GgufTensorInfo &t,
                                                int64_t rows, int64_t cols) {
  RowEncoding e = RowEncoding::kF32;
  switch (static_cast<io::GgmlType>(t.type)) {
    case io::GgmlType::kF32: e = RowEncoding::kF32; break;
    case io::GgmlType::kF16: e = RowEncoding::kF16; break;
    case io::GgmlType::kBF16: e = RowEncoding::kBF16; break;
    case io::GgmlType::kQ8_0: e = RowEncoding::kQ8_0; break;
    case io::GgmlType::kQ4_0: e = RowEncoding::kQ4_0; break;
    case io::GgmlType::kQ4_1: e = RowEncoding::kQ4_1; break;
    default:
      // The resident loader's message (io::GgufFile::read_f32), at load time as there.
      fail(Status::Unsupported, file->path(), "tensor \"" + t.name + "\" has type " + io::ggml_type_name(t.type) + ", which this library does not dequantize",
           "supported tensor types: F32, F16, BF16, Q8_0, Q4_0, Q4_1; re-quantize the model with llama-quantize to one of them");
  }
  const uint64_t offset = static_cast<uint64_t>(file->tensor_data(t) - file->mapping().data());
  const io::MappedFile &mapping = file->mapping();
  const std::string path = file->path();
  return mapped_source(std::move(file), mapping, offset, rows, cols, e, path, t.name);
}

std::shared_ptr<const TensorSource> llama2c_source(std::shared_ptr<const io::MappedFile> file, const std::string &path,
                                                   const std::string &name, uint64_t offset, int64_t rows, int64_t cols) {
  const io::MappedFile &mapping = *file;
  return mapped_source(std::move(file), mapping, offset, rows, cols, RowEncoding::kF32, path, name);
}

}  // namespace vqr::model
