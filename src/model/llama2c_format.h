// Reader for llama2.c "legacy v0" checkpoints (the format run.c reads): a 7 x int32 header
// {dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len} followed by fp32 tensors
// in llama2.c order. A negative vocab_size means the classifier is stored separately (unshared).
// The newer versioned exports (magic "ak42") are recognized and refused with a hint.
#pragma once

#include <string>

#include "io/byte_sink.h"
#include "model/model.h"

namespace vqr::model {

// Header size in bytes: 7 little-endian int32.
inline constexpr int64_t kLlama2cHeaderBytes = 28;

// Bytes a legacy v0 file with this config must have, header included (freq_cis tables too).
int64_t llama2c_file_bytes(const ModelConfig &config);

// Loads a checkpoint. Validates the header and that the file size matches it exactly, and that
// every weight is finite. Throws vqr::Error with a message "<path>: <problem>; hint: <fix>":
// Status::Io (cannot open or read), Status::Format (header or size inconsistent, non-finite
// weights), Status::Unsupported (a versioned llama2.c export), Status::OutOfMemory.
// Storage::kStreamed (issue 16): after the same header and size checks the file is mapped, the
// norms are copied into the arena, and the embedding, the linear weights and an unshared
// classifier stay in the mapping as sources (model/mapped_sources.h), checked for finite values
// when their rows are read ("non-finite weight in tensor wq of layer 3 at element k").
Model load_llama2c(const std::string &path, Storage storage = Storage::kResident);

// Whether a config is expressible in a v0 file: run.c's fixed RoPE (theta 10000, no scaling),
// epsilon 1e-5, no biases, no q/k norms, head size dim / n_heads, full attention. A model in the
// half RoPE layout is written with its q/k rows permuted back to the interleaved one.
bool llama2c_can_store(const ModelConfig &config);

// Writes `model` as a legacy v0 checkpoint that load_llama2c and run.c read: the header, the
// tensors in llama2.c order, and the freq_cis tables (cos / sin of position x frequency, which
// run.c skips but other v0 readers expect). Writes to a temporary "<path>.tmp-<pid>-XXXXXX"
// (io/atomic_file.h) and renames, so a failure leaves no partial file. Works in either storage
// (model.h): the large tensors are read in chunks of rows (model/weight_rows.h), so the writer's
// peak memory is one chunk, at most
// kWriteChunkRows rows of fp32 (plus, for a half-layout q/k weight, the head its rows gather
// from), and the freq_cis tables (seq_len x head_size floats). Throws
// vqr::Error(Status::Unsupported) when !llama2c_can_store, Status::Io "<path>: <problem>; hint:
// <fix>", and the sources' errors of a streamed model. progress (may be empty) hears of each
// tensor as io::TensorProgress says, a linear weight counting once per layer; what it throws
// aborts the write.
void save_llama2c(const Model &model, const std::string &path, const io::TensorProgress &progress = {});

}  // namespace vqr::model
