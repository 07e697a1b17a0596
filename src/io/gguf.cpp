// GGUF reader (a MappedFile + validation of every field before use) and atomic writer (gguf.h).
// The checks follow the spec (§4.4) and ggml's own reader (src/gguf.cpp, gguf_init_from_file_impl):
// counts are bounded by the bytes left in the file before anything is allocated, so a corrupt or
// hostile header fails fast instead of reserving gigabytes.
#include "io/gguf.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <utility>

#include "core/error.h"
#include "io/atomic_file.h"
#include "io/files.h"
#include "io/ggml_blocks.h"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "GGUF data is little-endian; add byte swapping");

namespace vqr::io {

namespace {

const char *const kCorruptHint = "the file is corrupt, truncated or not a GGUF file; re-download or re-convert it";
const char *const kMetadataHint = "the file's metadata does not match what llama.cpp's converter writes; re-convert it";
constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as a little-endian u32
constexpr int64_t kHeaderBytes = 4 + 4 + 8 + 8;
// Smallest possible entries: a 1-byte key + u32 type + 1-byte value; a 1-byte name + n_dims + one
// ne + type + offset. Used to bound the counts by the file size before reserving memory.
constexpr uint64_t kMinKvBytes = 8 + 1 + 4 + 1;
constexpr uint64_t kMinTensorInfoBytes = 8 + 1 + 4 + 8 + 4 + 8;
constexpr int kMaxDims = 4;                 // GGML_MAX_DIMS
constexpr uint32_t kMaxWriteAlignment = 1u << 20;

// Geometry from ggml's type_traits (block sizes QK*, block structs of src/ggml-common.h).
struct TypeEntry {
  uint32_t id;
  GgmlTypeInfo info;
};
constexpr TypeEntry kTypes[] = {
    {0, {"F32", 1, 4}},         {1, {"F16", 1, 2}},        {2, {"Q4_0", 32, 18}},     {3, {"Q4_1", 32, 20}},
    {6, {"Q5_0", 32, 22}},      {7, {"Q5_1", 32, 24}},     {8, {"Q8_0", 32, 34}},     {9, {"Q8_1", 32, 36}},
    {10, {"Q2_K", 256, 84}},    {11, {"Q3_K", 256, 110}},  {12, {"Q4_K", 256, 144}},  {13, {"Q5_K", 256, 176}},
    {14, {"Q6_K", 256, 210}},   {15, {"Q8_K", 256, 292}},  {16, {"IQ2_XXS", 256, 66}}, {17, {"IQ2_XS", 256, 74}},
    {18, {"IQ3_XXS", 256, 98}}, {19, {"IQ1_S", 256, 50}},  {20, {"IQ4_NL", 32, 18}},  {21, {"IQ3_S", 256, 110}},
    {22, {"IQ2_S", 256, 82}},   {23, {"IQ4_XS", 256, 136}}, {24, {"I8", 1, 1}},        {25, {"I16", 1, 2}},
    {26, {"I32", 1, 4}},        {27, {"I64", 1, 8}},       {28, {"F64", 1, 8}},       {29, {"IQ1_M", 256, 56}},
    {30, {"BF16", 1, 2}},       {34, {"TQ1_0", 256, 54}},  {35, {"TQ2_0", 256, 66}},  {39, {"MXFP4", 32, 17}},
};

// Bytes of a scalar value type; 0 for string and array.
uint64_t scalar_bytes(GgufType t) {
  switch (t) {
    case GgufType::kU8: case GgufType::kI8: case GgufType::kBool: return 1;
    case GgufType::kU16: case GgufType::kI16: return 2;
    case GgufType::kU32: case GgufType::kI32: case GgufType::kF32: return 4;
    case GgufType::kU64: case GgufType::kI64: case GgufType::kF64: return 8;
    default: return 0;
  }
}

// A name as it appears in messages: quoted, cut short (a key can be 64 KiB long).
std::string show(const std::string &s) { return "\"" + (s.size() <= 120 ? s : s.substr(0, 120) + "...") + "\""; }

std::string type_text(GgufType type, GgufType elem) {
  return type == GgufType::kArray ? std::string("array of ") + gguf_type_name(elem) : gguf_type_name(type);
}

bool is_power_of_two(uint64_t x) { return x != 0 && (x & (x - 1)) == 0; }

// Bounds-checked little-endian reading of the mapping; every failure is a FORMAT error.
class Reader {
 public:
  Reader(const std::string &path, const uint8_t *p, uint64_t size) : path_(path), p_(p), size_(size) {}

  [[noreturn]] void bad(const std::string &problem, const char *hint = kCorruptHint) const {
    fail(Status::Format, path_, problem, hint);
  }
  uint64_t at() const { return at_; }
  uint64_t left() const { return size_ - at_; }

  template <class T>
  T read(const std::string &what) {
    if (left() < sizeof(T)) bad("truncated at byte " + std::to_string(at_) + " while reading " + what);
    T v;
    std::memcpy(&v, p_ + at_, sizeof v);
    at_ += sizeof v;
    return v;
  }
  // A string's length, checked against the bytes left and `max_len`; the cursor moves past it.
  uint64_t string(const std::string &what, uint64_t max_len, std::string *out) {
    const uint64_t n = read<uint64_t>("the length of " + what);
    if (n > left())
      bad(what + " has length " + std::to_string(n) + " but only " + std::to_string(left()) + " bytes are left");
    if (n > max_len) bad(what + " is " + std::to_string(n) + " bytes long, over the limit of " + std::to_string(max_len));
    if (out) out->assign(reinterpret_cast<const char *>(p_ + at_), static_cast<size_t>(n));
    at_ += n;
    return n;
  }
  void skip(uint64_t n) { at_ += n; }  // n already checked against left()
  const uint8_t *here() const { return p_ + at_; }

 private:
  const std::string &path_;
  const uint8_t *p_;
  uint64_t size_;
  uint64_t at_ = 0;
};

// Parses one value of `type` (not an array), checking it lies inside the file.
void parse_scalar(Reader &r, GgufType type, const std::string &what) {
  if (type == GgufType::kString) {
    r.string("the string value of " + what, UINT64_MAX, nullptr);
    return;
  }
  const uint64_t n = scalar_bytes(type);
  if (r.left() < n) r.bad("truncated at byte " + std::to_string(r.at()) + " in the value of " + what);
  if (type == GgufType::kBool && *r.here() > 1)
    r.bad(what + " is a bool with byte value " + std::to_string(*r.here()) + " (only 0 and 1 are valid)");
  r.skip(n);
}

void parse_kv(Reader &r, int64_t index, GgufKv *kv) {
  const std::string entry = "metadata entry " + std::to_string(index);
  r.string("the key of " + entry, kGgufMaxKeyBytes, &kv->key);
  if (kv->key.empty()) r.bad(entry + " has an empty key");
  const std::string what = "metadata key " + show(kv->key);
  const uint32_t type = r.read<uint32_t>("the value type of " + what);
  if (type > static_cast<uint32_t>(GgufType::kF64))
    r.bad(what + " has unknown value type " + std::to_string(type) + " (valid: 0..12)");
  kv->type = kv->elem_type = static_cast<GgufType>(type);
  kv->count = 1;
  if (kv->type != GgufType::kArray) {
    kv->value_offset = static_cast<int64_t>(r.at());
    parse_scalar(r, kv->type, what);
    return;
  }
  const uint32_t elem = r.read<uint32_t>("the element type of " + what);
  if (elem > static_cast<uint32_t>(GgufType::kF64))
    r.bad(what + " is an array of unknown value type " + std::to_string(elem) + " (valid: 0..12)");
  if (elem == static_cast<uint32_t>(GgufType::kArray)) r.bad(what + " is an array of arrays, which GGUF readers do not support");
  kv->elem_type = static_cast<GgufType>(elem);
  kv->count = r.read<uint64_t>("the length of array " + what);
  kv->value_offset = static_cast<int64_t>(r.at());
  // Bound the count by the bytes left before walking it (each string takes at least 8 bytes).
  const uint64_t min_elem = kv->elem_type == GgufType::kString ? 8 : scalar_bytes(kv->elem_type);
  if (kv->count > r.left() / min_elem)
    r.bad(what + " claims " + std::to_string(kv->count) + " elements but only " + std::to_string(r.left()) +
          " bytes are left");
  if (kv->elem_type == GgufType::kString || kv->elem_type == GgufType::kBool) {
    for (uint64_t i = 0; i < kv->count; ++i) parse_scalar(r, kv->elem_type, what + " element " + std::to_string(i));
  } else {
    r.skip(kv->count * min_elem);
  }
}

void parse_tensor_info(Reader &r, int64_t index, uint32_t alignment, GgufTensorInfo *t) {
  const std::string entry = "tensor info " + std::to_string(index);
  r.string("the name of " + entry, UINT64_MAX, &t->name);
  if (t->name.empty()) r.bad(entry + " has an empty name");
  if (t->name.size() > kGgufMaxTensorNameRead)
    r.bad("tensor name " + show(t->name) + " has " + std::to_string(t->name.size()) + " bytes, over the limit of " +
          std::to_string(kGgufMaxTensorNameRead));
  const std::string what = "tensor " + show(t->name);
  const uint32_t n_dims = r.read<uint32_t>("n_dims of " + what);
  if (n_dims < 1 || n_dims > kMaxDims) r.bad(what + " has n_dims " + std::to_string(n_dims) + ", outside 1..4");
  t->elements = 1;
  for (uint32_t d = 0; d < n_dims; ++d) {
    const uint64_t ne = r.read<uint64_t>("ne[" + std::to_string(d) + "] of " + what);
    if (ne == 0) r.bad(what + " has ne[" + std::to_string(d) + "] = 0");
    if (ne > static_cast<uint64_t>(INT64_MAX) || __builtin_mul_overflow(t->elements, static_cast<int64_t>(ne), &t->elements))
      r.bad(what + " has an element count that overflows int64");
    t->ne.push_back(static_cast<int64_t>(ne));
  }
  t->type = r.read<uint32_t>("the type of " + what);
  const GgmlTypeInfo *info = ggml_type_info(t->type);
  if (!info) r.bad(what + " has unknown ggml type id " + std::to_string(t->type), "the file needs a newer reader or is corrupt");
  if (t->ne[0] % info->block_weights != 0)
    r.bad(what + " has ne[0] = " + std::to_string(t->ne[0]) + ", not a multiple of the " + info->name +
          " block size " + std::to_string(info->block_weights));
  int64_t row_bytes = 0;
  if (__builtin_mul_overflow(t->ne[0] / info->block_weights, info->block_bytes, &row_bytes) ||
      __builtin_mul_overflow(row_bytes, t->elements / t->ne[0], &t->nbytes))
    r.bad(what + " has a byte size that overflows int64");
  t->offset = r.read<uint64_t>("the data offset of " + what);
  if (t->offset % alignment != 0)
    r.bad(what + " has data offset " + std::to_string(t->offset) + ", not a multiple of the alignment " +
          std::to_string(alignment));
}

}  // namespace

const char *gguf_type_name(GgufType type) {
  static const char *const kNames[] = {"u8", "i8", "u16", "i16", "u32", "i32", "f32",
                                       "bool", "string", "array", "u64", "i64", "f64"};
  const uint32_t t = static_cast<uint32_t>(type);
  return t < sizeof kNames / sizeof kNames[0] ? kNames[t] : "?";
}

bool is_gguf(const std::string &path) {
  if (!is_regular_file(path)) return false;
  const FilePtr f(std::fopen(path.c_str(), "rb"));
  char magic[4];
  return f && std::fread(magic, 1, 4, f.get()) == 4 && std::memcmp(magic, "GGUF", 4) == 0;
}

const GgmlTypeInfo *ggml_type_info(uint32_t id) {
  for (const TypeEntry &e : kTypes)
    if (e.id == id) return &e.info;
  return nullptr;
}

std::string ggml_type_name(uint32_t id) {
  const GgmlTypeInfo *info = ggml_type_info(id);
  return info ? std::string(info->name) : "type " + std::to_string(id);
}

// ----------------------------------------------------------------------------------------------
// Reading
// ----------------------------------------------------------------------------------------------

GgufFile GgufFile::open(const std::string &path) {
  GgufFile f;
  f.path_ = path;
  f.file_ = MappedFile::open(path, "pass a .gguf file");
  f.bytes_ = f.file_.data();
  const uint64_t size = f.file_.size();
  if (size < static_cast<uint64_t>(kHeaderBytes))
    fail(Status::Format, path, "only " + std::to_string(size) + " bytes, shorter than a GGUF header", kCorruptHint);

  Reader r(path, f.bytes_, size);
  const uint32_t magic = r.read<uint32_t>("the magic");
  if (magic != kMagic) r.bad("not a GGUF file (the first 4 bytes are not \"GGUF\")", "pass a .gguf file");
  f.version_ = r.read<uint32_t>("the version");
  if (f.version_ == 1) r.bad("GGUF version 1 (32-bit counts) is not supported", "re-convert the model with a current llama.cpp");
  if (f.version_ == 0x03000000u || f.version_ == 0x02000000u)
    r.bad("a big-endian GGUF file", "convert it on a little-endian machine (llama.cpp's default)");
  if (f.version_ != 2 && f.version_ != 3)
    r.bad("unknown GGUF version " + std::to_string(f.version_) + " (this reader knows 2 and 3)", "check for a newer vqround");
  const int64_t n_tensors = r.read<int64_t>("n_tensors");
  const int64_t n_kv = r.read<int64_t>("n_kv");
  if (n_kv < 0 || static_cast<uint64_t>(n_kv) > r.left() / kMinKvBytes)
    r.bad("n_kv " + std::to_string(n_kv) + " cannot fit in a file of " + std::to_string(size) + " bytes");
  if (n_tensors < 0 || static_cast<uint64_t>(n_tensors) > r.left() / kMinTensorInfoBytes)
    r.bad("n_tensors " + std::to_string(n_tensors) + " cannot fit in a file of " + std::to_string(size) + " bytes");

  // Entries are appended as they parse (each one consumed file bytes), so a count that is merely
  // plausible for the file size still allocates nothing the file does not back.
  constexpr int64_t kReserve = 1 << 12;
  f.kvs_.reserve(static_cast<size_t>(std::min(n_kv, kReserve)));
  for (int64_t i = 0; i < n_kv; ++i) {
    GgufKv kv;
    parse_kv(r, i, &kv);
    if (!f.kv_index_.emplace(kv.key, static_cast<size_t>(i)).second) r.bad("duplicate metadata key " + show(kv.key));
    f.kvs_.push_back(std::move(kv));
  }
  if (const GgufKv *a = f.find("general.alignment")) {
    if (a->type != GgufType::kU32)
      r.bad("general.alignment has type " + type_text(a->type, a->elem_type) + ", expected u32");
    std::memcpy(&f.alignment_, f.bytes_ + a->value_offset, 4);
    if (!is_power_of_two(f.alignment_) || f.alignment_ < 8)
      r.bad("general.alignment is " + std::to_string(f.alignment_) + ", not a power of two >= 8");
  }

  f.tensors_.reserve(static_cast<size_t>(std::min(n_tensors, kReserve)));
  for (int64_t i = 0; i < n_tensors; ++i) {
    GgufTensorInfo t;
    parse_tensor_info(r, i, f.alignment_, &t);
    if (!f.tensor_index_.emplace(t.name, static_cast<size_t>(i)).second) r.bad("duplicate tensor name " + show(t.name));
    f.tensors_.push_back(std::move(t));
  }

  // The data section starts at the next multiple of the alignment (r.at() <= size < 2^63).
  const uint64_t data = (r.at() + f.alignment_ - 1) / f.alignment_ * f.alignment_;
  f.data_offset_ = static_cast<int64_t>(data);
  std::vector<const GgufTensorInfo *> by_offset;
  for (const GgufTensorInfo &t : f.tensors_) {
    const uint64_t nbytes = static_cast<uint64_t>(t.nbytes);
    if (data > size || t.offset > size - data || nbytes > size - data - t.offset)
      r.bad("tensor " + show(t.name) + " (" + std::to_string(nbytes) + " bytes at data offset " + std::to_string(t.offset) +
            ") extends past the end of the file (" + std::to_string(size) + " bytes)");
    by_offset.push_back(&t);
  }
  std::sort(by_offset.begin(), by_offset.end(),
            [](const GgufTensorInfo *a, const GgufTensorInfo *b) { return a->offset < b->offset; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    const GgufTensorInfo &a = *by_offset[i - 1], &b = *by_offset[i];
    if (a.offset + static_cast<uint64_t>(a.nbytes) > b.offset)
      r.bad("tensors " + show(a.name) + " and " + show(b.name) + " overlap in the data section");
  }
  return f;
}

// Moving the mapping keeps its address, so bytes_ stays valid in the new owner.
GgufFile::GgufFile(GgufFile &&o) noexcept = default;
GgufFile &GgufFile::operator=(GgufFile &&o) noexcept = default;
GgufFile::~GgufFile() = default;

const GgufKv *GgufFile::find(const std::string &key) const {
  auto it = kv_index_.find(key);
  return it == kv_index_.end() ? nullptr : &kvs_[it->second];
}

const GgufTensorInfo *GgufFile::find_tensor(const std::string &name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

const GgufKv &GgufFile::typed(const std::string &key, GgufType type) const {
  const GgufKv *kv = find(key);
  if (!kv) fail(Status::Format, path_, "missing metadata key " + show(key), kMetadataHint);
  if (kv->type != type)
    fail(Status::Format, path_,
         "metadata key " + show(key) + " has type " + type_text(kv->type, kv->elem_type) + ", expected " + gguf_type_name(type),
         kMetadataHint);
  return *kv;
}

const GgufKv &GgufFile::typed_array(const std::string &key, GgufType elem) const {
  const GgufKv *kv = find(key);
  if (!kv) fail(Status::Format, path_, "missing metadata key " + show(key), kMetadataHint);
  if (kv->type != GgufType::kArray || kv->elem_type != elem)
    fail(Status::Format, path_,
         "metadata key " + show(key) + " has type " + type_text(kv->type, kv->elem_type) + ", expected " +
             type_text(GgufType::kArray, elem),
         kMetadataHint);
  return *kv;
}

// The string whose length prefix sits at `offset` (validated by open()); *next = the byte after it.
std::string GgufFile::string_at(int64_t offset, int64_t *next) const {
  uint64_t n;
  std::memcpy(&n, bytes_ + offset, 8);
  if (next) *next = offset + 8 + static_cast<int64_t>(n);
  return std::string(reinterpret_cast<const char *>(bytes_ + offset + 8), static_cast<size_t>(n));
}

namespace {
template <class T>
T value_at(const uint8_t *bytes, int64_t offset) {
  T v;
  std::memcpy(&v, bytes + offset, sizeof v);
  return v;
}
}  // namespace

uint32_t GgufFile::get_u32(const std::string &key) const { return value_at<uint32_t>(bytes_, typed(key, GgufType::kU32).value_offset); }
uint32_t GgufFile::get_u32(const std::string &key, uint32_t fallback) const { return has(key) ? get_u32(key) : fallback; }
int32_t GgufFile::get_i32(const std::string &key) const { return value_at<int32_t>(bytes_, typed(key, GgufType::kI32).value_offset); }
uint64_t GgufFile::get_u64(const std::string &key) const { return value_at<uint64_t>(bytes_, typed(key, GgufType::kU64).value_offset); }
float GgufFile::get_f32(const std::string &key) const { return value_at<float>(bytes_, typed(key, GgufType::kF32).value_offset); }
float GgufFile::get_f32(const std::string &key, float fallback) const { return has(key) ? get_f32(key) : fallback; }
bool GgufFile::get_bool(const std::string &key) const { return bytes_[typed(key, GgufType::kBool).value_offset] != 0; }
bool GgufFile::get_bool(const std::string &key, bool fallback) const { return has(key) ? get_bool(key) : fallback; }
std::string GgufFile::get_string(const std::string &key) const {
  return string_at(typed(key, GgufType::kString).value_offset, nullptr);
}
std::string GgufFile::get_string(const std::string &key, const std::string &fallback) const {
  return has(key) ? get_string(key) : fallback;
}

std::vector<std::string> GgufFile::get_strings(const std::string &key) const {
  const GgufKv &kv = typed_array(key, GgufType::kString);
  std::vector<std::string> out;
  out.reserve(static_cast<size_t>(kv.count));  // bounded by the file size in open()
  int64_t at = kv.value_offset;
  for (uint64_t i = 0; i < kv.count; ++i) out.push_back(string_at(at, &at));
  return out;
}

std::vector<float> GgufFile::get_f32s(const std::string &key) const {
  const GgufKv &kv = typed_array(key, GgufType::kF32);
  std::vector<float> out(static_cast<size_t>(kv.count));
  if (kv.count) std::memcpy(out.data(), bytes_ + kv.value_offset, out.size() * sizeof(float));
  return out;
}

std::vector<int32_t> GgufFile::get_i32s(const std::string &key) const {
  const GgufKv &kv = typed_array(key, GgufType::kI32);
  std::vector<int32_t> out(static_cast<size_t>(kv.count));
  if (kv.count) std::memcpy(out.data(), bytes_ + kv.value_offset, out.size() * sizeof(int32_t));
  return out;
}

uint64_t GgufFile::array_count(const std::string &key) const {
  const GgufKv *kv = find(key);
  if (!kv) fail(Status::Format, path_, "missing metadata key " + show(key), kMetadataHint);
  if (kv->type != GgufType::kArray)
    fail(Status::Format, path_, "metadata key " + show(key) + " has type " + gguf_type_name(kv->type) + ", expected an array",
         kMetadataHint);
  return kv->count;
}

const uint8_t *GgufFile::tensor_data(const GgufTensorInfo &t) const {
  return bytes_ + data_offset_ + static_cast<int64_t>(t.offset);
}

void GgufFile::read_f32(const GgufTensorInfo &t, float *out) const {
  // Cheap guard against a GgufTensorInfo from another file: never read outside this mapping.
  const GgmlTypeInfo *info = ggml_type_info(t.type);
  int64_t elements = 1;
  for (int64_t n : t.ne)
    if (n <= 0 || __builtin_mul_overflow(elements, n, &elements)) elements = -1;
  const uint64_t size = file_.size(), data = static_cast<uint64_t>(data_offset_);
  require(info && elements == t.elements && !t.ne.empty() && t.ne[0] % info->block_weights == 0 &&
              t.nbytes == elements / info->block_weights * info->block_bytes && data <= size &&
              t.offset <= size - data && static_cast<uint64_t>(t.nbytes) <= size - data - t.offset,
          Status::InvalidArgument, path_ + ": tensor " + show(t.name) + " does not belong to this file");
  const uint8_t *p = tensor_data(t);
  switch (static_cast<GgmlType>(t.type)) {
    case GgmlType::kF32: return decode_f32(out, p, elements);
    case GgmlType::kF16: return decode_f16(out, p, elements);
    case GgmlType::kBF16: return decode_bf16(out, p, elements);
    case GgmlType::kQ8_0: return decode_q8_0(out, p, elements);
    case GgmlType::kQ4_0: return decode_q4_0(out, p, elements);
    case GgmlType::kQ4_1: return decode_q4_1(out, p, elements);
    default:
      fail(Status::Unsupported, path_, "tensor " + show(t.name) + " has type " + ggml_type_name(t.type) + ", which this library does not dequantize",
           "supported tensor types: F32, F16, BF16, Q8_0, Q4_0, Q4_1; re-quantize the model with llama-quantize to one of them");
  }
}

// ----------------------------------------------------------------------------------------------
// Writing
// ----------------------------------------------------------------------------------------------

namespace {

[[noreturn]] void bad_arg(const std::string &problem) {
  throw Error(Status::InvalidArgument, "GGUF writer: " + problem);
}

void put_u32(std::string *s, uint32_t v) { s->append(reinterpret_cast<const char *>(&v), 4); }
void put_u64(std::string *s, uint64_t v) { s->append(reinterpret_cast<const char *>(&v), 8); }
void put_string(std::string *s, const std::string &v) {
  put_u64(s, v.size());
  s->append(v);
}

uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

}  // namespace

GgufWriter::GgufWriter(uint32_t alignment) : alignment_(alignment) {
  if (!is_power_of_two(alignment) || alignment < 8 || alignment > kMaxWriteAlignment)
    bad_arg("alignment " + std::to_string(alignment) + " is not a power of two in [8, 2^20]");
}

void GgufWriter::begin_kv(const std::string &key, GgufType type) {
  if (key.empty()) bad_arg("empty metadata key");
  if (key.size() > kGgufMaxKeyBytes) bad_arg("metadata key " + show(key) + " is over 65535 bytes");
  if (key == "general.alignment") bad_arg("general.alignment is set through the writer's alignment");
  if (!keys_.emplace(key, 0).second) bad_arg("metadata key " + show(key) + " set twice");
  put_string(&kv_bytes_, key);
  put_u32(&kv_bytes_, static_cast<uint32_t>(type));
  ++n_kv_;
}

void GgufWriter::set_u8(const std::string &key, uint8_t value) {
  begin_kv(key, GgufType::kU8);
  kv_bytes_.push_back(static_cast<char>(value));
}
void GgufWriter::set_u32(const std::string &key, uint32_t value) {
  begin_kv(key, GgufType::kU32);
  put_u32(&kv_bytes_, value);
}
void GgufWriter::set_i32(const std::string &key, int32_t value) {
  begin_kv(key, GgufType::kI32);
  put_u32(&kv_bytes_, static_cast<uint32_t>(value));
}
void GgufWriter::set_u64(const std::string &key, uint64_t value) {
  begin_kv(key, GgufType::kU64);
  put_u64(&kv_bytes_, value);
}
void GgufWriter::set_f32(const std::string &key, float value) {
  begin_kv(key, GgufType::kF32);
  kv_bytes_.append(reinterpret_cast<const char *>(&value), 4);
}
void GgufWriter::set_bool(const std::string &key, bool value) {
  begin_kv(key, GgufType::kBool);
  kv_bytes_.push_back(value ? 1 : 0);
}
void GgufWriter::set_string(const std::string &key, const std::string &value) {
  begin_kv(key, GgufType::kString);
  put_string(&kv_bytes_, value);
}
void GgufWriter::set_strings(const std::string &key, const std::vector<std::string> &values) {
  begin_kv(key, GgufType::kArray);
  put_u32(&kv_bytes_, static_cast<uint32_t>(GgufType::kString));
  put_u64(&kv_bytes_, values.size());
  for (const std::string &v : values) put_string(&kv_bytes_, v);
}
void GgufWriter::set_f32s(const std::string &key, const std::vector<float> &values) {
  begin_kv(key, GgufType::kArray);
  put_u32(&kv_bytes_, static_cast<uint32_t>(GgufType::kF32));
  put_u64(&kv_bytes_, values.size());
  if (!values.empty()) kv_bytes_.append(reinterpret_cast<const char *>(values.data()), values.size() * sizeof(float));
}
void GgufWriter::set_i32s(const std::string &key, const std::vector<int32_t> &values) {
  begin_kv(key, GgufType::kArray);
  put_u32(&kv_bytes_, static_cast<uint32_t>(GgufType::kI32));
  put_u64(&kv_bytes_, values.size());
  if (!values.empty()) kv_bytes_.append(reinterpret_cast<const char *>(values.data()), values.size() * sizeof(int32_t));
}

void GgufWriter::add_tensor(const std::string &name, const std::vector<int64_t> &ne, GgmlType type, const void *data,
                            int64_t nbytes) {
  check_tensor(name, ne, type, data != nullptr, nbytes);
  tensors_.push_back({name, ne, type, data, nbytes, {}});
}

void GgufWriter::add_tensor(const std::string &name, const std::vector<int64_t> &ne, GgmlType type, ByteProducer produce,
                            int64_t nbytes) {
  check_tensor(name, ne, type, static_cast<bool>(produce), nbytes);
  tensors_.push_back({name, ne, type, nullptr, nbytes, std::move(produce)});
}

void GgufWriter::check_tensor(const std::string &name, const std::vector<int64_t> &ne, GgmlType type, bool has_data,
                              int64_t nbytes) {
  if (name.empty()) bad_arg("empty tensor name");
  if (name.size() > kGgufMaxTensorNameWrite) bad_arg("tensor name " + show(name) + " is over 63 bytes");
  if (ne.empty() || ne.size() > static_cast<size_t>(kMaxDims)) bad_arg("tensor " + show(name) + " needs 1..4 dimensions");
  const GgmlTypeInfo *info = ggml_type_info(static_cast<uint32_t>(type));
  if (!info) bad_arg("tensor " + show(name) + " has an unknown type");
  int64_t elements = 1;
  for (int64_t n : ne)
    if (n <= 0 || __builtin_mul_overflow(elements, n, &elements)) bad_arg("tensor " + show(name) + " has a bad shape");
  if (ne[0] % info->block_weights != 0)
    bad_arg("tensor " + show(name) + ": ne[0] " + std::to_string(ne[0]) + " is not a multiple of the " + info->name + " block");
  int64_t expected = 0;
  if (__builtin_mul_overflow(elements / info->block_weights, info->block_bytes, &expected) || expected != nbytes)
    bad_arg("tensor " + show(name) + " has " + std::to_string(nbytes) + " bytes, its " + info->name + " encoding needs " +
            std::to_string(expected));
  if (!has_data) bad_arg("tensor " + show(name) + " has no data");
  if (!names_.emplace(name, 0).second) bad_arg("duplicate tensor name " + show(name));
}

void GgufWriter::write(const std::string &path, const TensorProgress &progress) const {
  std::string head = "GGUF";
  put_u32(&head, 3);
  const bool alignment_kv = alignment_ != kGgufDefaultAlignment;
  put_u64(&head, tensors_.size());
  put_u64(&head, static_cast<uint64_t>(n_kv_ + (alignment_kv ? 1 : 0)));
  head += kv_bytes_;
  if (alignment_kv) {
    put_string(&head, "general.alignment");
    put_u32(&head, static_cast<uint32_t>(GgufType::kU32));
    put_u32(&head, alignment_);
  }
  uint64_t offset = 0;
  for (const Tensor &t : tensors_) {
    put_string(&head, t.name);
    put_u32(&head, static_cast<uint32_t>(t.ne.size()));
    for (int64_t n : t.ne) put_u64(&head, static_cast<uint64_t>(n));
    put_u32(&head, static_cast<uint32_t>(t.type));
    put_u64(&head, offset);
    offset = align_up(offset + static_cast<uint64_t>(t.nbytes), alignment_);
  }
  head.resize(static_cast<size_t>(align_up(head.size(), alignment_)), '\0');

  AtomicFile out(path);
  out.write(head.data(), head.size());
  const int64_t count = static_cast<int64_t>(tensors_.size());
  for (int64_t i = 0; i < count; ++i) {
    const Tensor &t = tensors_[static_cast<size_t>(i)];
    if (progress) progress(i, count);
    const size_t n = static_cast<size_t>(t.nbytes);
    if (t.produce) {
      size_t written = 0;
      t.produce([&](const void *data, size_t bytes) {
        written += bytes;
        if (written <= n) out.write(data, bytes);
      });
      // The tensor infos already promised n bytes: anything else would misplace every later tensor.
      if (written != n)
        bad_arg("tensor " + show(t.name) + ": its producer wrote " + std::to_string(written) + " bytes, its encoding needs " +
                std::to_string(n));
    } else {
      out.write(t.data, n);
    }
    out.write_zeros(static_cast<size_t>(align_up(n, alignment_) - n));
  }
  if (progress) progress(count, count);
  out.commit();
}

}  // namespace vqr::io
