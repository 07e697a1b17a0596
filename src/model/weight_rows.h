// The dense tensors of a model as the checkpoint writers read them (issue 16): fp32 rows, chunk by
// chunk, through the row readers that answer in both storages (model.h), so a writer holds one
// chunk of rows (plus the rows a permutation gathers from), never the whole model. Used by the
// llama2.c, Hugging Face and GGUF writers and, through them, by every exporter of src/pipeline.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "model/linear_kinds.h"
#include "model/model.h"

namespace vqr::model {

// Rows per chunk: 4096 rows of a 4096-wide embedding are 64 MiB of fp32, a bounded slice of a
// vocab x dim tensor; every linear weight of the Llama-3-8B shapes fits in four chunks.
inline constexpr int64_t kWriteChunkRows = 4096;

// One tensor, rows x cols row-major, readable by rows.
struct TensorRows {
  int64_t rows = 0, cols = 0;
  std::function<void(int64_t r0, int64_t r1, float *out)> read;  // rows [r0, r1) as fp32 into out
  std::function<void()> release;  // may be empty: the caller is done with the tensor for now
};

// A linear weight (Model::read_linear_rows; release drops a streamed source's pages), the token
// embedding, the classifier (the embedding when shared), or fp32 values in memory (`data` read at
// each read, e.g. a norm in the model's arena as count x 1; it must outlive the reader).
TensorRows linear_tensor_rows(const Model &m, int layer, LinearKind kind);
TensorRows embedding_tensor_rows(const Model &m);
TensorRows classifier_tensor_rows(const Model &m);
TensorRows memory_tensor_rows(const float *data, int64_t rows, int64_t cols);

// The linear kind stacked in a llama2.c tensor (kWq .. kW3); false for the other tensors.
bool linear_kind_of(TensorId id, LinearKind *kind);

// Calls visit(chunk, n) on consecutive chunks of t's rows in output order, n <= chunk_rows rows of
// t.cols floats each (read only during the call), until visit returns false or the rows run out;
// then t.release() when set. Output row r is source row map[r] (r itself when map is empty; else
// map has t.rows entries in [0, t.rows)). A chunk reads the span of source rows its rows come from,
// [min, max] of map over the chunk: for q/k rows permuted inside heads (rope_layout.h) that is the
// heads the chunk's rows fall in, at most head_size - 1 rows more at each end. Memory: that span
// plus the chunk, in fp32. Throws
// vqr::Error(Status::InvalidArgument) for chunk_rows < 1 or a map of the wrong size or range, and
// what t.read throws.
void for_each_row_chunk(const TensorRows &t, const std::vector<int64_t> &map,
                        const std::function<bool(const float *chunk, int64_t n)> &visit,
                        int64_t chunk_rows = kWriteChunkRows);

}  // namespace vqr::model
