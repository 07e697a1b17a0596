// LLaMA-family models as GGUF files (llama.cpp): writing a Model plus its tokenizer as one GGUF v3
// file, and loading llama / qwen2 / qwen3 GGUF files into a Model (io/gguf.h holds the container).
//
// Names and metadata follow llama.cpp's converter (convert_hf_to_gguf.py, gguf-py constants):
//   token_embd.weight                         [vocab, dim]     (GGUF ne = [dim, vocab])
//   blk.N.attn_norm.weight                    [dim]            F32
//   blk.N.attn_{q,k,v,output}.weight          [out, in]        (q, k, v biases .bias: qwen2)
//   blk.N.attn_{q,k}_norm.weight              [head_dim]       F32 (qwen3)
//   blk.N.ffn_norm.weight                     [dim]            F32
//   blk.N.ffn_{gate,up,down}.weight           gate = w1, up = w3, down = w2
//   output_norm.weight [dim] F32, output.weight [vocab, dim] (absent when tied to the embedding)
// Architectures: LlamaForCausalLM, MistralForCausalLM (without sliding window) and llama2.c models
// are "llama", whose RoPE in llama.cpp rotates adjacent pairs (the interleaved layout), so q/k rows
// of a Hugging Face (half-layout) model are permuted when written and a loaded "llama" model is
// RopeLayout::kInterleaved. Qwen2ForCausalLM is "qwen2" and Qwen3ForCausalLM "qwen3": NEOX RoPE, the
// half layout, stored as is.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/export_note.h"
#include "io/byte_sink.h"
#include "io/ggml_blocks.h"
#include "model/linear_kinds.h"
#include "model/model.h"
#include "model/tokenizer.h"

namespace vqr::model {

// The grid codes of one quantized linear layer (io/ggml_blocks.h, beside the block encodings they
// map to).
using GridCodes = io::GridCodes;

struct GgufWriteOptions {
  std::string dtype = "F16";  // F32 or F16: storage of the tensors that are not block-quantized
  // The grid codes of a linear layer, or nullptr when it is not quantized. May be empty. save_gguf
  // asks for a layer up to three times (to check it, to choose its encoding, to write it) and uses
  // one answer at a time: the view need only stay valid until the next call (so the codes may be
  // unpacked into one buffer per call), and every call must describe the same codes.
  std::function<const GridCodes *(int layer, LinearKind kind)> codes;
  // Hears of each tensor as it is written (io::TensorProgress; may be empty); what it throws (a
  // cancelled export) aborts the write and removes the temporary file.
  io::TensorProgress progress;
};

// Writes model + tokenizer as one GGUF v3 file. A quantized linear layer becomes Q4_0, Q8_0 or Q4_1
// blocks where one of them stores its grid bit for bit (io::grid_block_type says when), and
// otherwise is stored in options.dtype from its grid values s (q - z), with a note. Linear
// layers without codes, the embedding and the classifier use options.dtype; norms and biases are
// F32 (as llama.cpp's converter keeps 1-D tensors). F16 storage that rounds some value gets a note
// saying it is lossy. The tokenizer's vocabulary becomes tokenizer.ggml.* (model "llama").
// notes (may be NULL) receives one human-readable line per decision worth logging, e.g.
// "blk.3.ffn_down.weight: group size 128 has no GGUF block type; stored as F16 (lossy)"; lossy
// storage is LogLevel::Warn, the rest LogLevel::Info (core/export_note.h).
// Everything is checked before the file is created; the file is written to a temporary of its
// own ("<path>.tmp-<pid>-XXXXXX", io/atomic_file.h) and renamed, so a failure leaves no file. Either storage (model.h): every tensor is encoded when the
// file reaches it (io::GgufWriter's producers), dense ones from chunks of rows (model/weight_rows.h),
// so the peak memory is the vocabulary metadata plus the largest of: one chunk of kWriteChunkRows
// rows in fp32 and its encoding (a q/k weight permuted between RoPE layouts adds the head its rows
// gather from), one quantized layer's blocks, or one layer's grid values (fp32, rows x cols) for a
// grid without a block type. With dtype F16 each dense tensor is read twice (a scan decides F16
// or F32 before the tensor infos are written).
// Throws vqr::Error: Status::InvalidArgument (dtype, codes that do not fit the layer, a tokenizer
// whose vocabulary size differs from the model's), Status::Unsupported (an architecture or feature
// GGUF/llama.cpp cannot express: a sliding window, another architecture, a
// llama2.c tokenizer without the 3 specials + 256 byte tokens layout), Status::Io, and the sources'
// errors of a streamed model.
void save_gguf(const Model &model, const Tokenizer &tokenizer, const std::string &path, const GgufWriteOptions &options,
               ExportNotes *notes);

// True when `path` is a readable regular file starting with the GGUF magic (io::is_gguf).
bool is_gguf_file(const std::string &path);

// Loads a "llama", "qwen2" or "qwen3" GGUF file: hyperparameters from <arch>.* metadata, tensors
// F32 / F16 / BF16 / Q8_0 / Q4_0 / Q4_1 dequantized to fp32 into the model's arena. Every tensor
// the metadata implies must be present with its exact shape; other tensors are refused; weights
// must be finite. Throws vqr::Error: Status::Io, Status::Format (container, missing or mistyped
// metadata, missing / extra / wrong-shape tensor, non-finite weight, inconsistent sizes),
// Status::Unsupported (another architecture, a tensor type not listed above, naming the tensor;
// partial rotary, a RoPE scaling other than linear or llama3, a rope_freqs.weight that is not
// llama3's factors), Status::OutOfMemory. llama3 RoPE scaling is written, as llama.cpp reads it,
// as the per-pair factors rope_freqs.weight (and our vqround.rope.llama3.* keys, so the parameters
// read back exactly); a file with that tensor loads as llama3 scaling when the factors are llama3's.
// Storage::kStreamed (issue 16): after the same checks, the norms and biases are read into the
// arena and every linear weight, the embedding and an untied classifier stay in the mapped file in
// their own type (model/mapped_sources.h), dequantized row by row when read, bit-identical to the
// resident values; their finiteness check then runs when rows are read, with the same message.
Model load_gguf(const std::string &path, Storage storage = Storage::kResident);

}  // namespace vqr::model
