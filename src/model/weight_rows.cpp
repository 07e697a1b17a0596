// Chunked fp32 reading of a model's tensors for the writers (weight_rows.h).
#include "model/weight_rows.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "core/error.h"

namespace vqr::model {

TensorRows linear_tensor_rows(const Model &m, int layer, LinearKind kind) {
  TensorRows t;
  t.rows = m.linear_rows(kind);
  t.cols = m.linear_cols(kind);
  t.read = [&m, layer, kind](int64_t r0, int64_t r1, float *out) { m.read_linear_rows(layer, kind, r0, r1, out); };
  t.release = [&m, layer, kind] {
    if (const TensorSource *s = m.linear_source(layer, kind)) s->release();
  };
  return t;
}

namespace {

// A vocab x embed_width tensor read by one of the model's row readers.
TensorRows vocab_rows(const Model &m, void (Model::*read)(int64_t, int64_t, float *) const) {
  TensorRows t;
  t.rows = m.config().vocab_size;
  t.cols = m.config().embed_width();
  t.read = [&m, read](int64_t r0, int64_t r1, float *out) { (m.*read)(r0, r1, out); };
  t.release = [&m] { m.release_vocab(); };
  return t;
}

}  // namespace

TensorRows embedding_tensor_rows(const Model &m) { return vocab_rows(m, &Model::read_embedding_rows); }

TensorRows classifier_tensor_rows(const Model &m) { return vocab_rows(m, &Model::read_classifier_rows); }

TensorRows memory_tensor_rows(const float *data, int64_t rows, int64_t cols) {
  TensorRows t;
  t.rows = rows;
  t.cols = cols;
  t.read = [data, cols](int64_t r0, int64_t r1, float *out) {
    if (r1 > r0) std::memcpy(out, data + r0 * cols, static_cast<size_t>((r1 - r0) * cols) * sizeof(float));
  };
  return t;
}

bool linear_kind_of(TensorId id, LinearKind *kind) {
  switch (id) {
    case TensorId::kWq: *kind = LinearKind::kWq; return true;
    case TensorId::kWk: *kind = LinearKind::kWk; return true;
    case TensorId::kWv: *kind = LinearKind::kWv; return true;
    case TensorId::kWo: *kind = LinearKind::kWo; return true;
    case TensorId::kW1: *kind = LinearKind::kW1; return true;
    case TensorId::kW2: *kind = LinearKind::kW2; return true;
    case TensorId::kW3: *kind = LinearKind::kW3; return true;
    default: return false;
  }
}

void for_each_row_chunk(const TensorRows &t, const std::vector<int64_t> &map,
                        const std::function<bool(const float *chunk, int64_t n)> &visit, int64_t chunk_rows) {
  require(chunk_rows >= 1, Status::InvalidArgument, "for_each_row_chunk: chunk_rows must be at least 1");
  require(map.empty() || static_cast<int64_t>(map.size()) == t.rows, Status::InvalidArgument,
          "for_each_row_chunk: a row map needs one entry per row (" + std::to_string(t.rows) + "), not " +
              std::to_string(map.size()));
  const size_t cols = static_cast<size_t>(t.cols);
  std::vector<float> chunk, span;
  for (int64_t r0 = 0; r0 < t.rows; r0 += chunk_rows) {
    const int64_t r1 = std::min(t.rows, r0 + chunk_rows), n = r1 - r0;
    chunk.resize(static_cast<size_t>(n) * cols);
    if (map.empty()) {
      t.read(r0, r1, chunk.data());
    } else {
      const auto [lo, hi] = std::minmax_element(map.begin() + r0, map.begin() + r1);
      require(*lo >= 0 && *hi < t.rows, Status::InvalidArgument, "for_each_row_chunk: a row map entry is outside the tensor");
      span.resize(static_cast<size_t>(*hi - *lo + 1) * cols);
      t.read(*lo, *hi + 1, span.data());
      for (int64_t r = r0; r < r1; ++r)
        std::memcpy(&chunk[static_cast<size_t>(r - r0) * cols], &span[static_cast<size_t>(map[static_cast<size_t>(r)] - *lo) * cols],
                    cols * sizeof(float));
    }
    if (!visit(chunk.data(), n)) break;
  }
  if (t.release) t.release();
}

}  // namespace vqr::model
