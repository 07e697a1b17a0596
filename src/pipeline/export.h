// One entry point for writing a model in any checkpoint format the library knows (vqr_model_export,
// `vqround quantize --format`, `vqround convert`): the native folder (model_folder.h), a dense
// Hugging Face folder or llama2.c file (model/), GPTQ and compressed-tensors folders
// (checkpoint_export.h) and GGUF (model/gguf_model.h). Every writer builds its output under a
// temporary name and renames it, so a failure leaves nothing at `path`.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/context.h"
#include "core/export_note.h"
#include "model/model.h"
#include "model/model_source.h"
#include "model/tokenizer.h"
#include "pipeline/format.h"
#include "pipeline/model_folder.h"
#include "pipeline/sequential_quantizer.h"

namespace vqr::pipeline {

struct ExportRequest {
  Format format = Format::Native;
  DType dtype = DType::F16;  // dense tensors (named in the file by core/dtype.h's dtype_name)
  int64_t max_shard_bytes = 0;      // 0 = 5 GB
};

// What is being written: the model (current weights), where it came from, its tokenizer (may be
// NULL), and the last quantization (options, records and codes; empty before one) with its
// provenance.
struct ExportSubject {
  const model::Model *model = nullptr;
  const model::ModelSource *source = nullptr;
  const model::Tokenizer *tokenizer = nullptr;
  const PipelineOptions *options = nullptr;
  const QuantizedModel *result = nullptr;
  FolderMetadata metadata;
};

// "native", "huggingface", "llama2c", "gptq", "compressed-tensors", "gguf"; nullptr when unknown.
const char *format_name(Format format);

// Writes `subject` to `path` (must not exist). The model may be resident or streamed (model.h):
// every writer reads it in chunks of rows (model/weight_rows.h) and writes tensor by tensor, so
// beyond the model and the quantization result the peak memory is one writer's: a chunk of
// model::kWriteChunkRows rows in fp32 plus its encoding, or one quantized layer's packed tensor or
// GGUF blocks (the headers of each writer say exactly). notes (may be NULL) receives one note per decision
// worth telling the user, at its level (core/export_note.h). ctx (may be NULL) hears progress
// stage "export" (done / total: the tensors of the weight file(s) written so far, reported as
// any stage, throttled) and is checked for a cancel before anything is written and before each
// tensor; a cancelled export leaves neither `path` nor a temporary. Throws vqr::Error:
// Status::InvalidArgument (path exists, dtype), Status::Unsupported (a format that cannot hold
// this model, or a quantized format without a quantization), Status::Io, Status::Cancelled.
void export_model(const ExportSubject &subject, const ExportRequest &request, const std::string &path,
                  ExportNotes *notes, Context *ctx = nullptr);

}  // namespace vqr::pipeline
