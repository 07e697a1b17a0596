// Hugging Face safetensors: a validating, memory-mapped reader, an atomic writer, and sharded
// checkpoint folders (model.safetensors or model-0000i-of-0000K.safetensors + index JSON).
// Format: https://github.com/huggingface/safetensors (README "Format"); spec §4.1. Little-endian
// hosts only. A file truncated by another process while mapped can still raise SIGBUS.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "io/byte_sink.h"
#include "io/mapped_file.h"

namespace vqr::io {

// Element types of the format, each one byte or more per element (the sub-byte F4/F6 types of
// newer safetensors releases are not supported and read as "unknown dtype").
enum class StDtype : int { kF64, kF32, kF16, kBF16, kI64, kI32, kI16, kI8, kU8, kBool, kU16, kU32, kU64, kF8E4M3, kF8E5M2 };

// The header spelling ("F32", "BF16", "F8_E4M3", ...). Never NULL; "?" for a value outside the enum.
const char *st_dtype_name(StDtype d);
// Parses a header spelling (exact, case-sensitive). Writes *out and returns true when known;
// returns false and leaves *out untouched otherwise. `out` must not be NULL.
bool st_dtype_from_name(const std::string &s, StDtype *out);
// Bytes per element (1, 2, 4 or 8); 0 for a value outside the enum.
int64_t st_dtype_size(StDtype d);

// One tensor of a header, after validation.
struct StTensor {
  std::string name;
  StDtype dtype = StDtype::kF32;
  std::vector<int64_t> shape;  // may be empty (a scalar: 1 element); entries >= 0
  int64_t begin = 0, end = 0;  // byte range [begin, end) relative to the data section
  int64_t elements() const;    // product of shape (1 for a scalar); fits int64 after validation
};

// A read-only view of one .safetensors file. Move-only; the mapping lives as long as the object.
class SafetensorsFile {
 public:
  // Largest header accepted, as the reference implementation (MAX_HEADER_SIZE = 100 MB).
  static constexpr uint64_t kMaxHeaderBytes = 100u * 1000u * 1000u;

  // Maps `path` (io::MappedFile) and validates all of it: the header length, the JSON
  // (an object that starts with '{', no duplicate keys at any level, nesting <= 32), every entry
  // (exactly dtype/shape/data_offsets, known dtype, shape >= 0 without int64 overflow,
  // begin <= end <= data size, end - begin == elements * dtype size), non-empty unique names,
  // __metadata__ an object of strings, and the data section tiled exactly by the non-empty
  // tensors (no overlap, no gap, no trailing bytes; zero-size tensors only need begin <= data size).
  // Throws vqr::Error: Status::Io when the file cannot be opened, is not a regular file or cannot
  // be mapped; Status::Format "<path>: <problem>; hint: <fix>" for everything else.
  static SafetensorsFile open(const std::string &path);

  SafetensorsFile(SafetensorsFile &&other) noexcept;
  SafetensorsFile &operator=(SafetensorsFile &&other) noexcept;
  SafetensorsFile(const SafetensorsFile &) = delete;
  SafetensorsFile &operator=(const SafetensorsFile &) = delete;
  ~SafetensorsFile();

  const std::string &path() const { return path_; }
  // All tensors, sorted by name (byte order), whatever their order in the file.
  const std::vector<StTensor> &tensors() const { return tensors_; }
  // The tensor called `name`, or nullptr. The pointer is valid while this object lives.
  const StTensor *find(const std::string &name) const;
  // __metadata__ (empty when the file has none).
  const std::map<std::string, std::string> &metadata() const { return metadata_; }
  // Size of the data section in bytes.
  int64_t data_size() const { return data_size_; }
  // First byte of `t` inside the mapping (read-only, valid while this object lives; no alignment
  // guarantee). `t` must come from tensors() or find() of this object.
  const uint8_t *data(const StTensor &t) const;
  // Writes t.elements() floats to `out` (caller-allocated, not NULL unless t has no elements):
  // F32 copied, F16 and BF16 widened exactly. Throws Status::Unsupported for other dtypes and
  // Status::InvalidArgument when `t`'s range lies outside this file's data section.
  void read_f32(const StTensor &t, float *out) const;
  // The whole file's mapping (data(t) - mapping().data() is t's file offset): what a streamed
  // model's tensor sources read rows from and drop pages of (model/mapped_sources.h).
  const MappedFile &mapping() const { return file_; }

 private:
  SafetensorsFile() = default;

  std::string path_;
  MappedFile file_;                // the whole file
  const uint8_t *data_ = nullptr;  // file_.data() + 8 + header length
  int64_t data_size_ = 0;
  std::vector<StTensor> tensors_;
  std::map<std::string, std::string> metadata_;
};

// A tensor to write. Its bytes come from `data` (read only during the call; may be NULL when the
// tensor has no elements) or, when `produce` is set, from that producer, called when the file
// reaches the tensor (byte_sink.h): a writer then holds one tensor's bytes at a time, not the
// checkpoint. `nbytes`, when >= 0, is the caller's size of `data` and must equal
// elements * st_dtype_size(dtype) (a check against mismatched buffers); -1 skips the check.
struct StTensorData {
  std::string name;
  StDtype dtype = StDtype::kF32;
  std::vector<int64_t> shape;
  const void *data = nullptr;
  int64_t nbytes = -1;
  ByteProducer produce = nullptr;  // when set, `data` is ignored
};

// Writes one file, byte-compatible with the reference writer's layout: 8-byte header length, then
// compact JSON with "__metadata__" first and the tensors in name order (data_offsets contiguous in
// that order), padded with spaces to a multiple of 8 so the data is 8-byte aligned, then the data.
// (The reference writer orders tensors by dtype alignment, then name; any order is valid.)
// __metadata__ is {"format": "pt"} (transformers requires it) merged with `metadata`.
// Writes a temporary "<path>.tmp-<pid>-XXXXXX" (atomic_file.h), fsyncs it and renames it over
// `path`; on failure the temp file is removed.
// The header goes out first, then each tensor's bytes straight from `data` or its producer, so the
// writer's own memory is the header (peak: the header plus whatever one producer holds).
// Throws Status::InvalidArgument (empty, duplicate or "__metadata__" name; names or metadata not
// valid UTF-8; negative or overflowing shape; NULL data and no producer with elements; nbytes
// mismatch; a producer writing other than the tensor's size; metadata "format" other than "pt";
// header over kMaxHeaderBytes), Status::Io (open/write/rename), and what a producer throws.
// progress (may be empty) hears of each tensor as io::TensorProgress says.
void write_safetensors(const std::string &path, const std::vector<StTensorData> &tensors,
                       const std::map<std::string, std::string> &metadata = {},
                       const TensorProgress &progress = {});

// Writes a checkpoint into the existing folder `dir`. When the total tensor bytes are <=
// max_shard_bytes: one "model.safetensors". Otherwise shards "model-00001-of-0000N.safetensors"
// (tensors in name order; a new shard starts when the next tensor would pass the limit; a tensor
// larger than the limit gets a shard of its own; every shard carries `metadata`) and
// "model.safetensors.index.json" {"metadata": {"total_size": <tensor bytes>}, "weight_map":
// {name: shard}} written last, with sorted keys and 2-space indent like transformers. Files of
// another layout already in `dir` are left alone. Returns the file names written (shards first).
// progress counts the tensors over all shards. Throws as write_safetensors; Status::InvalidArgument
// also for max_shard_bytes < 1.
std::vector<std::string> write_safetensors_sharded(const std::string &dir, const std::vector<StTensorData> &tensors,
                                                   int64_t max_shard_bytes,
                                                   const std::map<std::string, std::string> &metadata = {},
                                                   const TensorProgress &progress = {});

// A checkpoint folder: "model.safetensors" or "model.safetensors.index.json" plus its shards.
// Move-only through its members; tensor pointers stay valid while the object lives.
class SafetensorsCheckpoint {
 public:
  // Opens `dir`. With an index: the JSON must be an object whose "weight_map" is an object of
  // strings; shard names must be non-empty without '/', '\\' or ".."; every listed tensor must be
  // in its shard and no tensor may be in two shards (tensors of a shard that the index does not
  // list are still found). Throws Status::Io (neither file present, a file unreadable) and
  // Status::Format (a broken index, a missing shard, both layouts present, any shard's errors).
  static SafetensorsCheckpoint open_dir(const std::string &dir);

  // The tensor called `name` or nullptr; when found and `file` is not NULL, *file is its shard.
  const StTensor *find(const std::string &name, const SafetensorsFile **file) const;
  // As find, but a missing tensor throws Status::Format "<dir>: missing tensor <name>; ...".
  // `file` may be NULL.
  const StTensor &find_required(const std::string &name, const SafetensorsFile **file) const;
  // All tensor names, sorted.
  std::vector<std::string> names() const;
  // Writes the tensor as fp32 into `out` (caller-allocated, product(shape) floats) after checking
  // its shape. Throws Status::Format "<dir>: missing tensor <name>; ..." or "<file>: tensor <name>
  // has shape [a, b], expected [c, d]; ...", and SafetensorsFile::read_f32's errors.
  void read_f32(const std::string &name, const std::vector<int64_t> &shape, float *out) const;

  const std::string &dir() const { return dir_; }
  const std::vector<SafetensorsFile> &files() const { return files_; }

 private:
  std::string dir_;
  std::vector<SafetensorsFile> files_;
  std::map<std::string, size_t> where_;  // tensor name -> index into files_
};

}  // namespace vqr::io
