// safetensors reader (a MappedFile + full validation), atomic writer, and sharded checkpoint folders.
// Validation follows the reference implementation (safetensors/src/tensor.rs, Metadata::validate):
// the non-empty tensors must tile the data section exactly, which also rules out polyglot files.
#include "io/safetensors.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>
#include <utility>

#include "core/dtype.h"
#include "core/error.h"
#include "core/shape_text.h"
#include "io/atomic_file.h"
#include "io/files.h"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "safetensors data is little-endian; add byte swapping");

namespace vqr::io {

using nlohmann::json;

namespace {

const char *const kCorruptHint = "the file is corrupt or not a safetensors file; re-download or re-export it";
const char *const kSingleName = "model.safetensors";
const char *const kIndexName = "model.safetensors.index.json";
// A safetensors header nests three levels (object, entry, shape array); an index two.
constexpr int kMaxJsonDepth = 32;

struct DtypeInfo {
  StDtype dtype;
  const char *name;
  int64_t size;
};
// Spellings from safetensors' Dtype enum (serde names).
constexpr DtypeInfo kDtypes[] = {
    {StDtype::kF64, "F64", 8},   {StDtype::kF32, "F32", 4},         {StDtype::kF16, "F16", 2},
    {StDtype::kBF16, "BF16", 2}, {StDtype::kI64, "I64", 8},         {StDtype::kI32, "I32", 4},
    {StDtype::kI16, "I16", 2},   {StDtype::kI8, "I8", 1},           {StDtype::kU8, "U8", 1},
    {StDtype::kBool, "BOOL", 1}, {StDtype::kU16, "U16", 2},         {StDtype::kU32, "U32", 4},
    {StDtype::kU64, "U64", 8},   {StDtype::kF8E4M3, "F8_E4M3", 1}, {StDtype::kF8E5M2, "F8_E5M2", 1},
};

// A name as it appears in messages: quoted, cut short (a key can be megabytes long).
std::string show(const std::string &s) {
  return "\"" + (s.size() <= 200 ? s : s.substr(0, 200) + "...") + "\"";
}

std::string join_path(const std::string &dir, const std::string &name) {
  return dir.empty() || dir.back() == '/' ? dir + name : dir + "/" + name;
}

// Product of `shape` into *out; false on a negative entry or int64 overflow.
bool checked_elements(const std::vector<int64_t> &shape, int64_t *out) {
  int64_t n = 1;
  for (int64_t d : shape)
    if (d < 0 || __builtin_mul_overflow(n, d, &n)) return false;
  *out = n;
  return true;
}

// Thrown from the parser callback to stop parsing at the first duplicate key or excess nesting.
struct JsonAbort {
  std::string problem;
};

// Parses [begin, end) as JSON, rejecting duplicate keys at any level (nlohmann keeps the last one
// silently; the format forbids them) and nesting deeper than kMaxJsonDepth.
json parse_strict(const char *begin, const char *end, const std::string &path, const std::string &hint) {
  std::vector<std::set<std::string>> keys;  // the keys seen in each open object
  auto callback = [&keys](int depth, json::parse_event_t event, json &parsed) -> bool {
    switch (event) {
      case json::parse_event_t::object_start:
      case json::parse_event_t::array_start:
        if (depth >= kMaxJsonDepth) throw JsonAbort{"JSON nested deeper than " + std::to_string(kMaxJsonDepth)};
        if (event == json::parse_event_t::object_start) keys.emplace_back();
        break;
      case json::parse_event_t::key:
        if (!keys.back().insert(parsed.get_ref<const std::string &>()).second)
          throw JsonAbort{"duplicate key " + show(parsed.get_ref<const std::string &>())};
        break;
      case json::parse_event_t::object_end:
        keys.pop_back();
        break;
      default:
        break;
    }
    return true;
  };
  try {
    return json::parse(begin, end, callback);
  } catch (const JsonAbort &a) {
    fail(Status::Format, path, a.problem, hint);
  } catch (const json::exception &e) {
    fail(Status::Format, path, std::string("invalid JSON (") + e.what() + ")", hint);
  }
}

// A non-negative JSON integer that fits int64, or false.
bool json_int64(const json &v, int64_t *out) {
  if (v.is_number_unsigned()) {
    const uint64_t u = v.get<uint64_t>();
    if (u > static_cast<uint64_t>(INT64_MAX)) return false;
    *out = static_cast<int64_t>(u);
    return true;
  }
  if (v.is_number_integer()) {
    *out = v.get<int64_t>();
    return *out >= 0;
  }
  return false;
}

// Validates one header entry (everything that does not involve other tensors).
StTensor parse_entry(const std::string &path, const std::string &name, const json &v, int64_t data_size) {
  const std::string where = "tensor " + show(name) + ": ";
  if (name.empty()) fail(Status::Format, path, "a tensor has an empty name", kCorruptHint);
  if (!v.is_object()) fail(Status::Format, path, where + "entry is not a JSON object", kCorruptHint);
  for (const char *k : {"dtype", "shape", "data_offsets"})
    if (!v.contains(k)) fail(Status::Format, path, where + "missing \"" + k + "\"", kCorruptHint);
  for (const auto &item : v.items())
    if (item.key() != "dtype" && item.key() != "shape" && item.key() != "data_offsets")
      fail(Status::Format, path, where + "unexpected key " + show(item.key()) + " (expected dtype, shape, data_offsets)",
           kCorruptHint);

  StTensor t;
  t.name = name;
  const json &dtype = v["dtype"];
  if (!dtype.is_string() || !st_dtype_from_name(dtype.get_ref<const std::string &>(), &t.dtype))
    fail(Status::Format, path, where + "unknown dtype " + (dtype.is_string() ? show(dtype.get<std::string>()) : dtype.dump()),
         "supported: F64 F32 F16 BF16 I64 I32 I16 I8 U8 BOOL U16 U32 U64 F8_E4M3 F8_E5M2");

  const json &shape = v["shape"];
  if (!shape.is_array()) fail(Status::Format, path, where + "shape is not an array", kCorruptHint);
  for (const json &d : shape) {
    int64_t n = 0;
    if (!json_int64(d, &n))
      fail(Status::Format, path, where + "shape entry " + d.dump() + " is not a non-negative integer", kCorruptHint);
    t.shape.push_back(n);
  }
  int64_t elements = 0, nbytes = 0;
  if (!checked_elements(t.shape, &elements) || __builtin_mul_overflow(elements, st_dtype_size(t.dtype), &nbytes))
    fail(Status::Format, path, where + "shape " + shape_text(t.shape) + " overflows the element count", kCorruptHint);

  const json &offsets = v["data_offsets"];
  if (!offsets.is_array() || offsets.size() != 2 || !json_int64(offsets[0], &t.begin) || !json_int64(offsets[1], &t.end))
    fail(Status::Format, path, where + "data_offsets " + offsets.dump() + " is not [begin, end] with non-negative integers",
         kCorruptHint);
  const std::string range = "data_offsets [" + std::to_string(t.begin) + ", " + std::to_string(t.end) + "]";
  if (t.begin > t.end) fail(Status::Format, path, where + range + " are reversed (begin > end)", kCorruptHint);
  if (t.end > data_size)
    fail(Status::Format, path,
         where + range + " out of range: the data section has " + std::to_string(data_size) + " bytes",
         "the file looks truncated; re-download it");
  if (t.end - t.begin != nbytes)
    fail(Status::Format, path,
         where + "size mismatch: " + range + " span " + std::to_string(t.end - t.begin) + " bytes but " +
             dtype.get<std::string>() + " " + shape_text(t.shape) + " needs " + std::to_string(nbytes),
         kCorruptHint);
  return t;
}

// The non-empty tensors must tile [0, data_size) with no overlap, gap or trailing bytes.
void check_tiling(const std::string &path, const std::vector<StTensor> &tensors, int64_t data_size) {
  std::vector<const StTensor *> ranges;
  for (const StTensor &t : tensors)
    if (t.end > t.begin) ranges.push_back(&t);
  std::sort(ranges.begin(), ranges.end(),
            [](const StTensor *a, const StTensor *b) { return a->begin != b->begin ? a->begin < b->begin : a->name < b->name; });
  int64_t cursor = 0;
  const StTensor *prev = nullptr;
  for (const StTensor *t : ranges) {
    if (t->begin < cursor)
      fail(Status::Format, path,
           "tensors " + show(prev->name) + " and " + show(t->name) + " overlap (bytes " + std::to_string(t->begin) +
               " to " + std::to_string(cursor) + ")",
           kCorruptHint);
    if (t->begin > cursor)
      fail(Status::Format, path,
           "gap: data bytes [" + std::to_string(cursor) + ", " + std::to_string(t->begin) +
               ") before tensor " + show(t->name) + " belong to no tensor",
           "safetensors forbids holes in the data section; the file is corrupt or crafted");
    cursor = t->end;
    prev = t;
  }
  if (cursor != data_size)
    fail(Status::Format, path,
         std::to_string(data_size - cursor) + " trailing bytes after the last tensor (data section " +
             std::to_string(data_size) + " bytes, tensors end at " + std::to_string(cursor) + ")",
         "safetensors forbids unindexed bytes; the file is corrupt or has data appended");
}

}  // namespace

const char *st_dtype_name(StDtype d) {
  for (const DtypeInfo &i : kDtypes)
    if (i.dtype == d) return i.name;
  return "?";
}

bool st_dtype_from_name(const std::string &s, StDtype *out) {
  for (const DtypeInfo &i : kDtypes)
    if (s == i.name) {
      *out = i.dtype;
      return true;
    }
  return false;
}

int64_t st_dtype_size(StDtype d) {
  for (const DtypeInfo &i : kDtypes)
    if (i.dtype == d) return i.size;
  return 0;
}

int64_t StTensor::elements() const {
  int64_t n = 0;
  return checked_elements(shape, &n) ? n : -1;
}

// ----------------------------------------------------------------------------------------------
// Reading one file
// ----------------------------------------------------------------------------------------------

SafetensorsFile SafetensorsFile::open(const std::string &path) {
  SafetensorsFile f;
  f.path_ = path;
  f.file_ = MappedFile::open(path, "pass the path of a .safetensors file");
  const uint64_t size = f.file_.size();
  if (size < 8)
    fail(Status::Format, path, "file is " + std::to_string(size) + " bytes, shorter than the 8-byte header length",
         "the file is truncated or not a safetensors file");
  const uint8_t *bytes = f.file_.data();

  uint64_t n = 0;  // little-endian u64 header length
  for (int i = 7; i >= 0; --i) n = (n << 8) | bytes[i];
  if (n > kMaxHeaderBytes)
    fail(Status::Format, path, "header length " + std::to_string(n) + " exceeds the 100 MB limit",
         "the file is corrupt or not a safetensors file");
  if (n > size - 8)
    fail(Status::Format, path,
         "header length " + std::to_string(n) + " is larger than the file (" + std::to_string(size) + " bytes)",
         "the file is truncated or not a safetensors file");
  const char *header = reinterpret_cast<const char *>(bytes + 8);
  if (n == 0 || header[0] != '{')
    fail(Status::Format, path, "header does not start with '{'", "the file is corrupt or not a safetensors file");
  f.data_ = bytes + 8 + n;
  f.data_size_ = static_cast<int64_t>(size - 8 - n);

  const json root = parse_strict(header, header + n, path, kCorruptHint);
  if (!root.is_object()) fail(Status::Format, path, "header JSON is not an object", kCorruptHint);
  for (const auto &item : root.items()) {
    if (item.key() == "__metadata__") {
      if (!item.value().is_object())
        fail(Status::Format, path, "__metadata__ is not an object of strings", kCorruptHint);
      for (const auto &m : item.value().items()) {
        if (!m.value().is_string())
          fail(Status::Format, path, "__metadata__ value of " + show(m.key()) + " is not a string", kCorruptHint);
        f.metadata_[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    f.tensors_.push_back(parse_entry(path, item.key(), item.value(), f.data_size_));
  }
  // nlohmann's object iterates in key order already; sort anyway so the order never depends on it.
  std::stable_sort(f.tensors_.begin(), f.tensors_.end(),
                   [](const StTensor &a, const StTensor &b) { return a.name < b.name; });
  check_tiling(path, f.tensors_, f.data_size_);
  return f;
}

// Moving the mapping keeps its address, so data_ stays valid in the new owner.
SafetensorsFile::SafetensorsFile(SafetensorsFile &&o) noexcept = default;
SafetensorsFile &SafetensorsFile::operator=(SafetensorsFile &&o) noexcept = default;
SafetensorsFile::~SafetensorsFile() = default;

const StTensor *SafetensorsFile::find(const std::string &name) const {
  auto it = std::lower_bound(tensors_.begin(), tensors_.end(), name,
                             [](const StTensor &t, const std::string &n) { return t.name < n; });
  return it != tensors_.end() && it->name == name ? &*it : nullptr;
}

const uint8_t *SafetensorsFile::data(const StTensor &t) const { return data_ + t.begin; }

void SafetensorsFile::read_f32(const StTensor &t, float *out) const {
  const int64_t n = t.elements();
  int64_t nbytes = 0;
  // Cheap guard against a StTensor from another file: never read outside this mapping.
  require(n >= 0 && !__builtin_mul_overflow(n, st_dtype_size(t.dtype), &nbytes) && t.begin >= 0 &&
              t.begin <= t.end && t.end <= data_size_ && t.end - t.begin == nbytes,
          Status::InvalidArgument, path_ + ": tensor " + show(t.name) + " does not belong to this file");
  const uint8_t *p = data(t);
  switch (t.dtype) {
    case StDtype::kF32:
      if (n > 0) std::memcpy(out, p, static_cast<size_t>(nbytes));
      return;
    case StDtype::kF16:
    case StDtype::kBF16: {
      const bool half = t.dtype == StDtype::kF16;
      for (int64_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, p + 2 * i, 2);  // the data is not necessarily 2-byte aligned
        out[i] = half ? f16_to_f32(h) : bf16_to_f32(h);
      }
      return;
    }
    default:
      fail(Status::Unsupported, path_, "tensor " + show(t.name) + " has dtype " + st_dtype_name(t.dtype) + ", not a float type",
           "only F32, F16 and BF16 tensors convert to fp32");
  }
}

// ----------------------------------------------------------------------------------------------
// Writing
// ----------------------------------------------------------------------------------------------

namespace {

struct Prepared {
  const StTensorData *t;
  int64_t nbytes;
};

[[noreturn]] void bad_arg(const std::string &path, const std::string &problem) {
  fail(Status::InvalidArgument, path, problem, "fix the tensors passed to the safetensors writer");
}

// A JSON string literal; invalid UTF-8 is the caller's error (no reader would accept the file).
std::string json_str(const std::string &s, const std::string &path) {
  try {
    return json(s).dump();
  } catch (const json::exception &) {
    bad_arg(path, "string " + show(s) + " is not valid UTF-8");
  }
}

// Checks every tensor, sorts by name and computes byte sizes.
std::vector<Prepared> prepare(const std::string &path, const std::vector<StTensorData> &tensors) {
  std::vector<Prepared> out;
  for (const StTensorData &t : tensors) {
    if (t.name.empty()) bad_arg(path, "a tensor has an empty name");
    if (t.name == "__metadata__") bad_arg(path, "a tensor cannot be called \"__metadata__\"");
    const int64_t size = st_dtype_size(t.dtype);
    int64_t elements = 0, nbytes = 0;
    if (size == 0) bad_arg(path, "tensor " + show(t.name) + " has an invalid dtype");
    if (!checked_elements(t.shape, &elements) || __builtin_mul_overflow(elements, size, &nbytes))
      bad_arg(path, "tensor " + show(t.name) + " has a negative or overflowing shape " + shape_text(t.shape));
    if (t.nbytes >= 0 && t.nbytes != nbytes)
      bad_arg(path, "size mismatch: tensor " + show(t.name) + " has " + std::to_string(t.nbytes) + " bytes but " +
                        st_dtype_name(t.dtype) + " " + shape_text(t.shape) + " needs " + std::to_string(nbytes));
    if (nbytes > 0 && !t.data && !t.produce) bad_arg(path, "tensor " + show(t.name) + " has no data");
    out.push_back({&t, nbytes});
  }
  std::sort(out.begin(), out.end(), [](const Prepared &a, const Prepared &b) { return a.t->name < b.t->name; });
  for (size_t i = 1; i < out.size(); ++i)
    if (out[i].t->name == out[i - 1].t->name) bad_arg(path, "duplicate tensor name " + show(out[i].t->name));
  return out;
}

std::map<std::string, std::string> merged_metadata(const std::string &path, const std::map<std::string, std::string> &user) {
  std::map<std::string, std::string> md = user;
  auto it = md.find("format");
  if (it != md.end() && it->second != "pt")
    bad_arg(path, "metadata \"format\" is " + show(it->second) + "; transformers requires \"pt\"");
  md["format"] = "pt";
  return md;
}

// Compact JSON as serde_json writes it, padded with spaces to a multiple of 8 bytes.
std::string build_header(const std::string &path, const std::vector<Prepared> &tensors,
                         const std::map<std::string, std::string> &metadata) {
  std::string h = "{\"__metadata__\":{";
  bool first = true;
  for (const auto &kv : metadata) {
    h += (first ? "" : ",") + json_str(kv.first, path) + ":" + json_str(kv.second, path);
    first = false;
  }
  h += "}";
  int64_t offset = 0;
  for (const Prepared &p : tensors) {
    h += "," + json_str(p.t->name, path) + ":{\"dtype\":\"" + st_dtype_name(p.t->dtype) + "\",\"shape\":[";
    for (size_t i = 0; i < p.t->shape.size(); ++i) h += (i ? "," : "") + std::to_string(p.t->shape[i]);
    h += "],\"data_offsets\":[" + std::to_string(offset) + "," + std::to_string(offset + p.nbytes) + "]}";
    offset += p.nbytes;
  }
  h += "}";
  h.append((8 - h.size() % 8) % 8, ' ');
  if (h.size() > SafetensorsFile::kMaxHeaderBytes) bad_arg(path, "header exceeds the 100 MB limit (too many tensors)");
  return h;
}

// Which tensors of a whole checkpoint one file holds, for its TensorProgress: tensors [first,
// first + the file's count) of `total`.
struct ProgressSpan {
  const TensorProgress *progress;
  int64_t first, total;
  void at(int64_t i) const {
    if (*progress) (*progress)(first + i, total);
  }
};

void write_prepared(const std::string &path, const std::vector<Prepared> &tensors,
                    const std::map<std::string, std::string> &metadata, const ProgressSpan &span) {
  const std::string header = build_header(path, tensors, metadata);
  uint8_t len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<uint8_t>(static_cast<uint64_t>(header.size()) >> (8 * i));
  AtomicFile out(path);
  out.write(len, 8);
  out.write(header.data(), header.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Prepared &p = tensors[i];
    span.at((int64_t)i);
    if (!p.t->produce) {
      out.write(p.t->data, static_cast<size_t>(p.nbytes));
      continue;
    }
    int64_t written = 0;
    p.t->produce([&](const void *data, size_t bytes) {
      written += static_cast<int64_t>(bytes);
      if (written <= p.nbytes) out.write(data, bytes);
    });
    // The header already promised nbytes: anything else would misplace every later tensor.
    if (written != p.nbytes)
      bad_arg(path, "tensor " + show(p.t->name) + ": its producer wrote " + std::to_string(written) + " bytes, " +
                        st_dtype_name(p.t->dtype) + " " + shape_text(p.t->shape) + " needs " + std::to_string(p.nbytes));
  }
  span.at((int64_t)tensors.size());
  out.commit();
}

}  // namespace

void write_safetensors(const std::string &path, const std::vector<StTensorData> &tensors,
                       const std::map<std::string, std::string> &metadata, const TensorProgress &progress) {
  write_prepared(path, prepare(path, tensors), merged_metadata(path, metadata),
                 ProgressSpan{&progress, 0, (int64_t)tensors.size()});
}

std::vector<std::string> write_safetensors_sharded(const std::string &dir, const std::vector<StTensorData> &tensors,
                                                   int64_t max_shard_bytes,
                                                   const std::map<std::string, std::string> &metadata,
                                                   const TensorProgress &progress) {
  if (max_shard_bytes < 1) bad_arg(dir, "max_shard_bytes must be at least 1");
  const std::vector<Prepared> all = prepare(dir, tensors);
  const std::map<std::string, std::string> md = merged_metadata(dir, metadata);
  int64_t total = 0;
  for (const Prepared &p : all)
    if (__builtin_add_overflow(total, p.nbytes, &total)) bad_arg(dir, "total tensor size overflows int64");
  if (total <= max_shard_bytes) {
    write_prepared(join_path(dir, kSingleName), all, md, ProgressSpan{&progress, 0, (int64_t)all.size()});
    return {kSingleName};
  }

  // Greedy in name order: a tensor that would pass the limit starts a new shard.
  std::vector<std::vector<Prepared>> shards;
  int64_t used = 0;
  for (const Prepared &p : all) {
    if (shards.empty() || (!shards.back().empty() && used + p.nbytes > max_shard_bytes)) {
      shards.emplace_back();
      used = 0;
    }
    shards.back().push_back(p);
    used += p.nbytes;
  }
  std::vector<std::string> names;
  json index = {{"metadata", {{"total_size", total}}}, {"weight_map", json::object()}};
  int64_t first = 0;
  for (size_t i = 0; i < shards.size(); ++i) {
    char name[64];
    std::snprintf(name, sizeof name, "model-%05zu-of-%05zu.safetensors", i + 1, shards.size());
    write_prepared(join_path(dir, name), shards[i], md, ProgressSpan{&progress, first, (int64_t)all.size()});
    first += (int64_t)shards[i].size();
    names.push_back(name);
    for (const Prepared &p : shards[i]) index["weight_map"][p.t->name] = name;
  }
  // transformers: json.dumps(index, indent=2, sort_keys=True) + "\n" (ensure_ascii by default).
  const std::string text = index.dump(2, ' ', true) + "\n";
  AtomicFile index_file(join_path(dir, kIndexName));
  index_file.write(text.data(), text.size());
  index_file.commit();
  names.push_back(kIndexName);
  return names;
}

// ----------------------------------------------------------------------------------------------
// Checkpoint folders
// ----------------------------------------------------------------------------------------------

SafetensorsCheckpoint SafetensorsCheckpoint::open_dir(const std::string &dir) {
  SafetensorsCheckpoint c;
  c.dir_ = dir;
  const std::string single = join_path(dir, kSingleName), index_path = join_path(dir, kIndexName);
  const bool has_single = path_exists(single), has_index = path_exists(index_path);
  if (has_single && has_index)
    fail(Status::Format, dir, std::string("both ") + kSingleName + " and " + kIndexName + " exist",
         "remove the stale one so the checkpoint is unambiguous");
  if (!has_single && !has_index)
    fail(Status::Io, dir, std::string("no ") + kSingleName + " or " + kIndexName,
         "pass a folder holding a safetensors checkpoint");
  if (has_single) {
    c.files_.push_back(SafetensorsFile::open(single));
    for (const StTensor &t : c.files_[0].tensors()) c.where_[t.name] = 0;
    return c;
  }

  // Read the index (bounded, like a header).
  static const ReadLimit kIndexLimit{SafetensorsFile::kMaxHeaderBytes, "index is larger than 100 MB", "the index is corrupt"};
  const std::string text = read_file(index_path, "check permissions", &kIndexLimit);
  const std::string hint = "the index is corrupt; re-download the checkpoint";
  const json root = parse_strict(text.data(), text.data() + text.size(), index_path, hint);
  if (!root.is_object()) fail(Status::Format, index_path, "index JSON is not an object", hint);
  if (!root.contains("weight_map") || !root["weight_map"].is_object())
    fail(Status::Format, index_path, "\"weight_map\" is missing or not an object", hint);
  if (root.contains("metadata") && !root["metadata"].is_object())
    fail(Status::Format, index_path, "\"metadata\" is not an object", hint);

  std::map<std::string, std::string> listed;  // tensor -> shard
  std::set<std::string> shards;
  for (const auto &item : root["weight_map"].items()) {
    if (!item.value().is_string())
      fail(Status::Format, index_path, "weight_map entry of " + show(item.key()) + " is not a string", hint);
    const std::string shard = item.value().get<std::string>();
    if (shard.empty() || shard == "." || shard.find('/') != std::string::npos ||
        shard.find('\\') != std::string::npos || shard.find("..") != std::string::npos)
      fail(Status::Format, index_path, "shard name " + show(shard) + " of tensor " + show(item.key()) + " is not a plain file name",
           "shards must sit next to the index; the index is corrupt or malicious");
    listed[item.key()] = shard;
    shards.insert(shard);
  }

  std::map<std::string, size_t> file_of_shard;
  for (const std::string &shard : shards) {
    const std::string path = join_path(dir, shard);
    if (!path_exists(path))
      fail(Status::Format, index_path, "weight_map names shard " + show(shard) + " which does not exist",
           "the checkpoint is incomplete; download every shard");
    file_of_shard[shard] = c.files_.size();
    c.files_.push_back(SafetensorsFile::open(path));
    for (const StTensor &t : c.files_.back().tensors()) {
      auto [it, inserted] = c.where_.emplace(t.name, c.files_.size() - 1);
      if (!inserted)
        fail(Status::Format, index_path,
             "tensor " + show(t.name) + " is in two shards, " + show(c.files_[it->second].path()) + " and " + show(path),
             "the checkpoint mixes files from different saves; re-download it");
    }
  }
  for (const auto &[name, shard] : listed) {
    auto it = c.where_.find(name);
    if (it == c.where_.end() || it->second != file_of_shard[shard])
      fail(Status::Format, index_path, "tensor " + show(name) + " is listed in shard " + show(shard) + " but absent from it",
           "the index and the shards come from different saves; re-download the checkpoint");
  }
  return c;
}

const StTensor *SafetensorsCheckpoint::find(const std::string &name, const SafetensorsFile **file) const {
  auto it = where_.find(name);
  if (it == where_.end()) return nullptr;
  if (file) *file = &files_[it->second];
  return files_[it->second].find(name);
}

std::vector<std::string> SafetensorsCheckpoint::names() const {
  std::vector<std::string> out;
  out.reserve(where_.size());
  for (const auto &kv : where_) out.push_back(kv.first);
  return out;
}

const StTensor &SafetensorsCheckpoint::find_required(const std::string &name, const SafetensorsFile **file) const {
  const StTensor *t = find(name, file);
  if (!t) fail(Status::Format, dir_, "missing tensor " + name, "the checkpoint does not match the model configuration");
  return *t;
}

void SafetensorsCheckpoint::read_f32(const std::string &name, const std::vector<int64_t> &shape, float *out) const {
  const SafetensorsFile *file = nullptr;
  const StTensor &t = find_required(name, &file);
  if (t.shape != shape)
    fail(Status::Format, file->path(),
         "tensor " + name + " has shape " + shape_text(t.shape) + ", expected " + shape_text(shape),
         "the checkpoint does not match the model configuration");
  file->read_f32(t, out);
}

}  // namespace vqr::io
