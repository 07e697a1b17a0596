// GGUF (llama.cpp's single-file model format), versions 3 and 2: a validating memory-mapped reader
// and an atomic writer. Layout: spec §4.4 (ggml docs/gguf.md, include/gguf.h). Little-endian files
// on little-endian hosts only. A file truncated by another process while mapped can raise SIGBUS.
//
// File layout (all integers little-endian):
//   "GGUF", u32 version, i64 n_tensors, i64 n_kv
//   n_kv x  { string key, u32 value type, value }          string = u64 length + bytes (no NUL)
//   n_tensors x { string name, u32 n_dims, u64 ne[n_dims], u32 ggml type, u64 offset }
//   zero padding to general.alignment (default 32), then the data section; each tensor starts at
//   data section + offset, a multiple of the alignment.
// ne[0] is the innermost (contiguous) dimension: a PyTorch [out, in] weight has ne = [in, out].
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "io/byte_sink.h"
#include "io/mapped_file.h"

namespace vqr::io {

// Metadata value types, numbered as on disk (spec §4.4 "KV pairs").
enum class GgufType : uint32_t {
  kU8 = 0, kI8 = 1, kU16 = 2, kI16 = 3, kU32 = 4, kI32 = 5, kF32 = 6, kBool = 7,
  kString = 8, kArray = 9, kU64 = 10, kI64 = 11, kF64 = 12,
};
// "u8", "i8", ..., "string", "array", "f64"; "?" outside the enum.
const char *gguf_type_name(GgufType type);

// ggml tensor types, numbered as on disk (ggml.h enum ggml_type). Ids 4, 5, 31..33 and 36..38 are
// retired in ggml and unknown here.
enum class GgmlType : uint32_t {
  kF32 = 0, kF16 = 1, kQ4_0 = 2, kQ4_1 = 3, kQ5_0 = 6, kQ5_1 = 7, kQ8_0 = 8, kQ8_1 = 9,
  kQ2_K = 10, kQ3_K = 11, kQ4_K = 12, kQ5_K = 13, kQ6_K = 14, kQ8_K = 15,
  kIQ2_XXS = 16, kIQ2_XS = 17, kIQ3_XXS = 18, kIQ1_S = 19, kIQ4_NL = 20, kIQ3_S = 21, kIQ2_S = 22,
  kIQ4_XS = 23, kI8 = 24, kI16 = 25, kI32 = 26, kI64 = 27, kF64 = 28, kIQ1_M = 29, kBF16 = 30,
  kTQ1_0 = 34, kTQ2_0 = 35, kMXFP4 = 39,
};

// Block geometry of a ggml type: `block_weights` elements take `block_bytes` bytes.
struct GgmlTypeInfo {
  const char *name;  // "F32", "Q4_0", "Q4_K", ...
  int64_t block_weights;
  int64_t block_bytes;
};
// The geometry of type id `id`, or nullptr for an id this table does not know.
const GgmlTypeInfo *ggml_type_info(uint32_t id);
// The type's name, or "type <id>" when unknown.
std::string ggml_type_name(uint32_t id);

// True when `path` is a readable regular file whose first four bytes are "GGUF" (nothing else is
// checked; GgufFile::open validates).
bool is_gguf(const std::string &path);

inline constexpr uint32_t kGgufDefaultAlignment = 32;
// A tensor name may have up to 64 bytes (spec); ggml's own reader needs < 64 (GGML_MAX_NAME counts
// the NUL), so the writer stays at 63.
inline constexpr uint64_t kGgufMaxTensorNameRead = 64;
inline constexpr uint64_t kGgufMaxTensorNameWrite = 63;
// Keys are at most 65535 bytes (spec: "at most 2^16-1").
inline constexpr uint64_t kGgufMaxKeyBytes = 65535;

// One metadata entry, after validation. The value stays in the mapping; read it through the typed
// accessors of GgufFile.
struct GgufKv {
  std::string key;
  GgufType type = GgufType::kU8;       // kArray for arrays
  GgufType elem_type = GgufType::kU8;  // the element type of an array; == type for a scalar
  uint64_t count = 1;                  // array length; 1 for a scalar
  int64_t value_offset = 0;            // file offset of the value (for arrays: of the first element)
};

// One tensor, after validation.
struct GgufTensorInfo {
  std::string name;
  std::vector<int64_t> ne;  // 1..4 entries, each > 0; ne[0] innermost, a multiple of the block size
  uint32_t type = 0;        // a known ggml type id (ggml_type_info != nullptr)
  uint64_t offset = 0;      // relative to the data section, a multiple of the alignment
  int64_t elements = 0;     // product of ne
  int64_t nbytes = 0;       // elements / block_weights * block_bytes
};

// A read-only view of one GGUF file. Move-only; the mapping lives as long as the object.
class GgufFile {
 public:
  // Maps `path` (io::MappedFile) and validates everything before any use: magic, version (3, or 2 which has the
  // same layout), n_kv and n_tensors against the file size (before any allocation), every string
  // length inside the file, value types 0..12, no nested arrays, array sizes inside the file, bool
  // values 0 or 1, non-empty unique keys of <= 65535 bytes, general.alignment (u32, a power of two
  // >= 8), non-empty unique tensor names of <= 64 bytes, n_dims 1..4, every ne > 0 with an element
  // count and byte size that fit int64, known ggml type ids, ne[0] a multiple of the type's block
  // size, offsets aligned, every tensor's bytes inside the file and no two tensors overlapping.
  // A file without tensors may end right after its metadata (no padding), as llama.cpp's
  // vocabulary files do.
  // Throws vqr::Error: Status::Io when the file cannot be opened, is not a regular file or cannot
  // be mapped; Status::Format "<path>: <problem>; hint: <fix>" for everything else.
  static GgufFile open(const std::string &path);

  GgufFile(GgufFile &&other) noexcept;
  GgufFile &operator=(GgufFile &&other) noexcept;
  GgufFile(const GgufFile &) = delete;
  GgufFile &operator=(const GgufFile &) = delete;
  ~GgufFile();

  const std::string &path() const { return path_; }
  uint32_t version() const { return version_; }
  uint32_t alignment() const { return alignment_; }
  int64_t file_size() const { return static_cast<int64_t>(file_.size()); }
  // File offset of the data section (the end of the metadata, padded to the alignment).
  int64_t data_offset() const { return data_offset_; }

  // Metadata in file order, and lookup by key (nullptr when absent; valid while this object lives).
  const std::vector<GgufKv> &kvs() const { return kvs_; }
  const GgufKv *find(const std::string &key) const;
  bool has(const std::string &key) const { return find(key) != nullptr; }

  // Typed values. Each throws Status::Format "<path>: metadata key "<key>" ..." when the key is
  // missing (the overloads without a fallback) or has another type; types must match exactly, as
  // llama.cpp requires (a u32 is not an i32). The overloads with a fallback return it when the key
  // is absent.
  uint32_t get_u32(const std::string &key) const;
  uint32_t get_u32(const std::string &key, uint32_t fallback) const;
  int32_t get_i32(const std::string &key) const;
  uint64_t get_u64(const std::string &key) const;
  float get_f32(const std::string &key) const;
  float get_f32(const std::string &key, float fallback) const;
  bool get_bool(const std::string &key) const;
  bool get_bool(const std::string &key, bool fallback) const;
  std::string get_string(const std::string &key) const;
  std::string get_string(const std::string &key, const std::string &fallback) const;
  // Arrays of exactly that element type.
  std::vector<std::string> get_strings(const std::string &key) const;
  std::vector<float> get_f32s(const std::string &key) const;
  std::vector<int32_t> get_i32s(const std::string &key) const;
  // Array length of `key` (FORMAT when missing or not an array).
  uint64_t array_count(const std::string &key) const;

  // Tensors in file order, and lookup by name (nullptr when absent).
  const std::vector<GgufTensorInfo> &tensors() const { return tensors_; }
  const GgufTensorInfo *find_tensor(const std::string &name) const;
  // First byte of `t` in the mapping (read-only; valid while this object lives). `t` must come
  // from tensors() or find_tensor() of this object.
  const uint8_t *tensor_data(const GgufTensorInfo &t) const;
  // Writes t.elements fp32 values to `out` (caller-allocated): F32 copied, F16 / BF16 widened,
  // Q8_0 / Q4_0 / Q4_1 dequantized exactly as ggml does (io/ggml_blocks.h). Throws
  // Status::Unsupported naming the tensor for any other type, Status::InvalidArgument when `t`
  // does not describe a range of this file.
  void read_f32(const GgufTensorInfo &t, float *out) const;
  // The whole file's mapping (tensor_data(t) - mapping().data() is t's file offset): what a
  // streamed model's tensor sources read rows from and drop pages of (model/mapped_sources.h).
  const MappedFile &mapping() const { return file_; }

 private:
  GgufFile() = default;
  const GgufKv &typed(const std::string &key, GgufType type) const;
  const GgufKv &typed_array(const std::string &key, GgufType elem) const;
  std::string string_at(int64_t offset, int64_t *next) const;

  std::string path_;
  MappedFile file_;                 // the whole file
  const uint8_t *bytes_ = nullptr;  // file_.data()
  uint32_t version_ = 0;
  uint32_t alignment_ = kGgufDefaultAlignment;
  int64_t data_offset_ = 0;
  std::vector<GgufKv> kvs_;
  std::unordered_map<std::string, size_t> kv_index_;
  std::vector<GgufTensorInfo> tensors_;
  std::unordered_map<std::string, size_t> tensor_index_;
};

// Builds one GGUF v3 file: metadata in insertion order, then tensors in insertion order, each at
// the next multiple of the alignment (zero padding, the last tensor padded too, as ggml writes).
// Tensor data is borrowed (it must stay valid until write() returns) or produced when write()
// reaches the tensor (byte_sink.h). The writer's own memory is the metadata and tensor infos; the
// tensor bytes go straight to the file (peak: that plus whatever one producer holds).
class GgufWriter {
 public:
  // alignment: a power of two >= 8 (Status::InvalidArgument otherwise); any value other than 32
  // is recorded as general.alignment (u32), appended after the caller's metadata.
  explicit GgufWriter(uint32_t alignment = kGgufDefaultAlignment);

  // Metadata setters. Each throws Status::InvalidArgument for an empty key, a key over 65535
  // bytes, a key already set, or "general.alignment" (pass the alignment to the constructor).
  void set_u8(const std::string &key, uint8_t value);
  void set_u32(const std::string &key, uint32_t value);
  void set_i32(const std::string &key, int32_t value);
  void set_u64(const std::string &key, uint64_t value);
  void set_f32(const std::string &key, float value);
  void set_bool(const std::string &key, bool value);
  void set_string(const std::string &key, const std::string &value);
  void set_strings(const std::string &key, const std::vector<std::string> &values);
  void set_f32s(const std::string &key, const std::vector<float> &values);
  void set_i32s(const std::string &key, const std::vector<int32_t> &values);

  // Adds a tensor. `ne` as the file stores it (innermost first, 1..4 entries, each > 0); `data`
  // holds exactly `nbytes` bytes of the ggml encoding (read at write(), not copied).
  // Throws Status::InvalidArgument: empty name, name over 63 bytes, duplicate name, bad ne,
  // unknown type, ne[0] not a multiple of the block size, nbytes not the encoding's size, NULL data.
  void add_tensor(const std::string &name, const std::vector<int64_t> &ne, GgmlType type, const void *data,
                  int64_t nbytes);
  // The same for a tensor whose `nbytes` bytes `produce` writes when write() reaches it (once per
  // write()). Throws as above (an empty producer counts as NULL data); write() throws
  // Status::InvalidArgument when the producer writes another number of bytes.
  void add_tensor(const std::string &name, const std::vector<int64_t> &ne, GgmlType type, ByteProducer produce,
                  int64_t nbytes);

  // Writes a temporary "<path>.tmp-<pid>-XXXXXX" (atomic_file.h), fsyncs it and renames it over
  // `path`; on failure the temporary file is removed and `path` is untouched. progress (may be
  // empty) hears of each tensor as io::TensorProgress says. Throws Status::Io, Status::InvalidArgument (a producer's byte
  // count) and what a producer throws.
  void write(const std::string &path, const TensorProgress &progress = {}) const;

 private:
  struct Tensor {
    std::string name;
    std::vector<int64_t> ne;
    GgmlType type;
    const void *data;
    int64_t nbytes;
    ByteProducer produce;  // when set, data is NULL
  };
  void check_tensor(const std::string &name, const std::vector<int64_t> &ne, GgmlType type, bool has_data,
                    int64_t nbytes);
  void begin_kv(const std::string &key, GgufType type);

  uint32_t alignment_;
  std::string kv_bytes_;  // the encoded metadata so far
  int64_t n_kv_ = 0;
  std::unordered_map<std::string, int> keys_;
  std::vector<Tensor> tensors_;
  std::unordered_map<std::string, int> names_;
};

}  // namespace vqr::io
