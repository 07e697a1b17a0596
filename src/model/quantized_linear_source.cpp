// Quantized linear layers read on demand (quantized_linear_source.h).
#include "model/quantized_linear_source.h"

#include <utility>

#include "model/mapped_sources.h"

namespace vqr::model {

QuantizedLinearSource::QuantizedLinearSource(std::shared_ptr<const io::SafetensorsCheckpoint> ckpt, std::string module,
                                             io::QuantizedLinearFormat format, int64_t m, int64_t n,
                                             std::vector<std::string> *used)
    : ckpt_(std::move(ckpt)), module_(std::move(module)), format_(format), m_(m), n_(n) {
  std::vector<std::string> names;
  io::check_quantized_linear(*ckpt_, module_, format_, m_, n_, &names);
  for (const std::string &name : names) {
    Piece p{nullptr, nullptr};
    p.tensor = ckpt_->find(name, &p.file);  // present: the check found it
    pieces_.push_back(p);
  }
  used->insert(used->end(), names.begin(), names.end());
}

void QuantizedLinearSource::read_rows(int64_t r0, int64_t r1, float *out) const {
  io::read_quantized_linear_rows(*ckpt_, module_, format_, m_, n_, r0, r1, out);
  // The resident loader's check after dequantizing (a scale may be Inf or NaN).
  check_finite_weights(out, (r1 - r0) * n_, r0 * n_, ckpt_->dir(), module_ + ".weight");
}

int64_t QuantizedLinearSource::stored_bytes() const {
  int64_t bytes = 0;
  for (const Piece &p : pieces_) bytes += p.tensor->end - p.tensor->begin;
  return bytes;
}

void QuantizedLinearSource::release() const {
  for (const Piece &p : pieces_) {
    const uint64_t offset = static_cast<uint64_t>(p.file->data(*p.tensor) - p.file->mapping().data());
    p.file->mapping().drop_pages(offset, static_cast<uint64_t>(p.tensor->end - p.tensor->begin));
  }
}

}  // namespace vqr::model
