// GGUF container and ggml block tests (io/gguf.h, io/ggml_blocks.h). The references are
// independent of the code under test: files built byte by byte here from the spec's layout
// (spec §4.4), block bytes and decodes written out as plain loops, fp16 values as exact literals.
// Corrupted inputs (each field broken in turn, every truncation, seeded byte mutations) must fail
// with Status::Format or open with every range inside the file; they run under ASan/UBSan in CI.
// Tensors produced at write time must give the file that borrowed data gives.
// The GGUF tokenizer and llama.cpp's vocabulary-only files are in test_gguf_vocab.cpp.
#include "io/gguf.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "io/ggml_blocks.h"
#include "common/scratch_files.h"

namespace {

using vqr_test::expect_error;
using vqr_test::read_file;
using vqr_test::write_file;

namespace fs = std::filesystem;
using vqr::io::GgmlType;
using vqr::io::GgufFile;
using vqr::io::GgufTensorInfo;
using vqr::io::GgufType;
using vqr::io::GgufWriter;

// ------------------------------------------------------------------------------------------------
// Helpers: a byte builder with named positions, and file plumbing
// ------------------------------------------------------------------------------------------------

class Bytes {
 public:
  Bytes &u8(uint8_t v) {
    s_.push_back(static_cast<char>(v));
    return *this;
  }
  Bytes &u16(uint16_t v) { return u8(v & 0xff).u8(v >> 8); }
  Bytes &u32(uint32_t v) {
    for (int i = 0; i < 4; ++i) u8(static_cast<uint8_t>(v >> (8 * i)));
    return *this;
  }
  Bytes &u64(uint64_t v) {
    for (int i = 0; i < 8; ++i) u8(static_cast<uint8_t>(v >> (8 * i)));
    return *this;
  }
  Bytes &f32(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    return u32(u);
  }
  Bytes &str(const std::string &v) {
    u64(v.size());
    s_ += v;
    return *this;
  }
  Bytes &raw(const std::string &v) {
    s_ += v;
    return *this;
  }
  Bytes &pad(size_t a) {
    while (s_.size() % a) s_.push_back('\0');
    return *this;
  }
  Bytes &mark(const std::string &name) {
    marks_[name] = s_.size();
    return *this;
  }
  size_t at(const std::string &name) const { return marks_.at(name); }
  size_t size() const { return s_.size(); }
  const std::string &bytes() const { return s_; }

 private:
  std::string s_;
  std::map<std::string, size_t> marks_;
};

void put_u32(std::string *s, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) (*s)[at + i] = static_cast<char>(v >> (8 * i));
}
void put_u64(std::string *s, size_t at, uint64_t v) {
  for (int i = 0; i < 8; ++i) (*s)[at + i] = static_cast<char>(v >> (8 * i));
}

float fp16(uint16_t h) {  // plain reference decode of normal fp16 values (the tests use no others)
  const int exp = (h >> 10) & 0x1f, man = h & 0x3ff;
  const float v = std::ldexp(1.0f + man / 1024.0f, exp - 15);
  return (h & 0x8000) ? -v : v;
}

// The canonical small file. Its fields, in order:
//   4 KVs: general.architecture = "llama" (string), <key1> = 7 (u32), t.scale = [1.5, -2, 0.25]
//   (array of f32), t.flag = true (bool), optionally general.alignment
//   2 tensors: "w" Q8_0 ne [32, 2] at offset 0 (68 bytes), "b" F32 ne [4] at offset off1 (16 bytes)
struct Spec {
  std::string key1 = "t.count";
  std::string name0 = "w", name1 = "b";
  uint32_t alignment = 32;
  bool alignment_kv = false;
  int64_t off1 = -1;  // -1: the next aligned offset after "w"
};

// Q8_0 blocks of "w": block 0 d = 0.5 (fp16 0x3800), q = j - 16; block 1 d = -1.5 (0xbe00), q = 3j - 50.
std::string w_blocks() {
  Bytes b;
  b.u16(0x3800);
  for (int j = 0; j < 32; ++j) b.u8(static_cast<uint8_t>(static_cast<int8_t>(j - 16)));
  b.u16(0xbe00);
  for (int j = 0; j < 32; ++j) b.u8(static_cast<uint8_t>(static_cast<int8_t>(3 * j - 50)));
  return b.bytes();
}
std::vector<float> w_values() {
  std::vector<float> v;
  for (int j = 0; j < 32; ++j) v.push_back(static_cast<float>(j - 16) * 0.5f);
  for (int j = 0; j < 32; ++j) v.push_back(static_cast<float>(3 * j - 50) * -1.5f);
  return v;
}

Bytes canonical(const Spec &spec = Spec()) {
  Bytes b;
  b.mark("magic").raw("GGUF").mark("version").u32(3).mark("n_tensors").u64(2).mark("n_kv").u64(spec.alignment_kv ? 5 : 4);
  b.mark("key0").str("general.architecture").mark("type0").u32(8).mark("str0").str("llama");
  b.mark("key1").str(spec.key1).mark("type1").u32(4).u32(7);
  b.str("t.scale").mark("arr_type").u32(9).mark("arr_elem").u32(6).mark("arr_count").u64(3).f32(1.5f).f32(-2.0f).f32(0.25f);
  b.str("t.flag").u32(7).mark("bool").u8(1);
  if (spec.alignment_kv) b.str("general.alignment").mark("align_type").u32(4).mark("align").u32(spec.alignment);
  const uint64_t off1 = spec.off1 >= 0 ? static_cast<uint64_t>(spec.off1) : (68 + spec.alignment - 1) / spec.alignment * spec.alignment;
  b.mark("name0").str(spec.name0).mark("ndims0").u32(2).mark("ne0").u64(32).mark("ne1").u64(2).mark("type_w").u32(8).mark("off0").u64(0);
  b.mark("name1").str(spec.name1).mark("ndims1").u32(1).mark("ne_b").u64(4).mark("type_b").u32(0).mark("off1").u64(off1);
  b.pad(spec.alignment).mark("data").raw(w_blocks()).pad(spec.alignment);
  while (b.size() < b.at("data") + off1) b.u8(0);
  b.f32(1.0f).f32(2.0f).f32(3.0f).f32(4.0f).pad(spec.alignment);
  return b;
}

class Gguf : public ::testing::Test {
 protected:
  std::string path(const std::string &name) const { return tmp_.file(name); }
  void expect_format_error(const std::string &bytes, const std::string &needle) {
    SCOPED_TRACE(needle);
    const std::string p = path("bad.gguf");
    write_file(p, bytes);
    expect_error([&] { GgufFile::open(p); }, vqr::Status::Format, needle);
  }
  // Opens `bytes` if it is a valid file: every tensor range must then lie inside the file, and
  // every tensor must decode (or be refused as an unsupported type). Returns whether it opened.
  bool open_or_format_error(const std::string &bytes) {
    const std::string p = path("probe.gguf");
    write_file(p, bytes);
    try {
      const GgufFile f = GgufFile::open(p);
      for (const GgufTensorInfo &t : f.tensors()) {
        EXPECT_LE(f.data_offset() + static_cast<int64_t>(t.offset) + t.nbytes, static_cast<int64_t>(bytes.size()));
        std::vector<float> out(static_cast<size_t>(t.elements));
        try {
          f.read_f32(t, out.data());
        } catch (const vqr::Error &e) {
          EXPECT_EQ(e.status(), vqr::Status::Unsupported) << e.what();
        }
      }
      for (const vqr::io::GgufKv &kv : f.kvs())
        if (kv.type == GgufType::kArray && kv.elem_type == GgufType::kString) f.get_strings(kv.key);
      return true;
    } catch (const vqr::Error &e) {
      EXPECT_EQ(e.status(), vqr::Status::Format) << e.what();
      return false;
    }
  }
  vqr_test::TempDir tmp_{"gguf"};
};

// ------------------------------------------------------------------------------------------------
// The hand-built file reads back field by field
// ------------------------------------------------------------------------------------------------

TEST_F(Gguf, HandBuiltFileReadsExactValues) {
  const Bytes b = canonical();
  // 228 bytes of metadata padded to 256, then "w" (68 bytes) padded to 96 and "b" (16) padded to 32.
  ASSERT_EQ(b.at("data"), 256u);
  ASSERT_EQ(b.size(), 384u);
  const std::string p = path("hand.gguf");
  write_file(p, b.bytes());
  const GgufFile f = GgufFile::open(p);
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.alignment(), 32u);
  EXPECT_EQ(f.data_offset(), static_cast<int64_t>(b.at("data")));
  EXPECT_EQ(f.data_offset() % 32, 0);
  ASSERT_EQ(f.kvs().size(), 4u);
  EXPECT_EQ(f.kvs()[0].key, "general.architecture");
  EXPECT_EQ(f.kvs()[2].key, "t.scale");
  EXPECT_EQ(f.kvs()[2].type, GgufType::kArray);
  EXPECT_EQ(f.kvs()[2].elem_type, GgufType::kF32);
  EXPECT_EQ(f.kvs()[2].count, 3u);
  EXPECT_EQ(f.get_string("general.architecture"), "llama");
  EXPECT_EQ(f.get_u32("t.count"), 7u);
  EXPECT_EQ(f.get_u32("missing", 11u), 11u);
  EXPECT_EQ(f.get_f32s("t.scale"), (std::vector<float>{1.5f, -2.0f, 0.25f}));
  EXPECT_EQ(f.array_count("t.scale"), 3u);
  EXPECT_TRUE(f.get_bool("t.flag"));
  EXPECT_FALSE(f.get_bool("missing", false));
  EXPECT_EQ(f.get_string("missing", "x"), "x");

  ASSERT_EQ(f.tensors().size(), 2u);
  const GgufTensorInfo *w = f.find_tensor("w");
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->ne, (std::vector<int64_t>{32, 2}));
  EXPECT_EQ(w->type, 8u);
  EXPECT_EQ(w->elements, 64);
  EXPECT_EQ(w->nbytes, 68);
  EXPECT_EQ(std::memcmp(f.tensor_data(*w), w_blocks().data(), 68), 0);
  std::vector<float> wv(64);
  f.read_f32(*w, wv.data());
  EXPECT_EQ(wv, w_values());
  const GgufTensorInfo *bt = f.find_tensor("b");
  ASSERT_NE(bt, nullptr);
  EXPECT_EQ(bt->offset, 96u);
  float bv[4];
  f.read_f32(*bt, bv);
  EXPECT_EQ(bv[0], 1.0f);
  EXPECT_EQ(bv[3], 4.0f);
  EXPECT_EQ(f.find_tensor("nope"), nullptr);

  // Typed access names the key and both types.
  expect_error([&] { f.get_u32("general.architecture"); }, vqr::Status::Format, "\"general.architecture\" has type string, expected u32");
  expect_error([&] { f.get_i32("t.count"); }, vqr::Status::Format, "\"t.count\" has type u32, expected i32");
  expect_error([&] { f.get_strings("t.scale"); }, vqr::Status::Format, "\"t.scale\" has type array of f32, expected array of string");
  expect_error([&] { f.get_f32("t.scale"); }, vqr::Status::Format, "expected f32");
  expect_error([&] { f.get_string("absent.key"); }, vqr::Status::Format, "missing metadata key \"absent.key\"");
  expect_error([&] { f.array_count("t.count"); }, vqr::Status::Format, "expected an array");

  // A GgufTensorInfo that does not describe this file is refused, not read.
  GgufTensorInfo foreign = *bt;
  foreign.offset += 4096;
  std::vector<float> sink(4);
  try {
    f.read_f32(foreign, sink.data());
    ADD_FAILURE() << "a range outside the file was read";
  } catch (const vqr::Error &e) {
    EXPECT_EQ(e.status(), vqr::Status::InvalidArgument);
  }

  // Moving keeps the mapping alive.
  GgufFile moved = GgufFile::open(p);
  GgufFile target = std::move(moved);
  EXPECT_TRUE(moved.tensors().empty());
  target.read_f32(*target.find_tensor("w"), wv.data());
  EXPECT_EQ(wv, w_values());
}

TEST_F(Gguf, Version2AndOtherAlignmentsRead) {
  Bytes b = canonical();
  std::string v2 = b.bytes();
  put_u32(&v2, b.at("version"), 2);
  write_file(path("v2.gguf"), v2);
  EXPECT_EQ(GgufFile::open(path("v2.gguf")).version(), 2u);

  Spec s;
  s.alignment_kv = true;
  s.alignment = 64;
  const Bytes a = canonical(s);
  write_file(path("a64.gguf"), a.bytes());
  const GgufFile f = GgufFile::open(path("a64.gguf"));
  EXPECT_EQ(f.alignment(), 64u);
  EXPECT_EQ(f.data_offset() % 64, 0);
  EXPECT_EQ(f.find_tensor("b")->offset, 128u);
  float bv[4];
  f.read_f32(*f.find_tensor("b"), bv);
  EXPECT_EQ(bv[2], 3.0f);
}

// ------------------------------------------------------------------------------------------------
// Corrupted inputs
// ------------------------------------------------------------------------------------------------

TEST_F(Gguf, RejectsBrokenHeaders) {
  const Bytes b = canonical();
  auto with_u32 = [&](const char *mark, uint32_t v) {
    std::string s = b.bytes();
    put_u32(&s, b.at(mark), v);
    return s;
  };
  auto with_u64 = [&](const char *mark, uint64_t v) {
    std::string s = b.bytes();
    put_u64(&s, b.at(mark), v);
    return s;
  };
  expect_format_error("", "shorter than a GGUF header");
  expect_format_error("GGUF\x03\x00\x00\x00", "shorter than a GGUF header");
  std::string magic = b.bytes();
  magic[3] = 'G';
  expect_format_error(magic, "not a GGUF file");
  expect_format_error(with_u32("version", 1), "version 1");
  expect_format_error(with_u32("version", 0x03000000u), "big-endian");
  expect_format_error(with_u32("version", 4), "unknown GGUF version 4");
  expect_format_error(with_u64("n_tensors", 1ull << 40), "n_tensors");
  expect_format_error(with_u64("n_tensors", ~0ull), "n_tensors -1");
  expect_format_error(with_u64("n_kv", 1ull << 62), "n_kv");
  expect_format_error(with_u64("n_kv", 5), "");  // the tensor infos misread as a fifth entry
  expect_format_error(with_u64("key0", 1ull << 60), "has length 1152921504606846976");
  expect_format_error(with_u64("key0", 0), "empty key");
  expect_format_error(with_u32("type0", 13), "unknown value type 13");
  expect_format_error(with_u64("str0", 1ull << 50), "has length");
  expect_format_error(with_u32("arr_elem", 9), "array of arrays");
  expect_format_error(with_u32("arr_elem", 77), "unknown value type 77");
  expect_format_error(with_u64("arr_count", 1ull << 61), "claims 2305843009213693952 elements");
  std::string flag = b.bytes();
  flag[b.at("bool")] = 2;
  expect_format_error(flag, "bool with byte value 2");
  Spec dup;
  dup.key1 = "t.scale";  // same length as "t.count": only the name changes
  expect_format_error(canonical(dup).bytes(), "duplicate metadata key \"t.scale\"");
}

TEST_F(Gguf, RejectsBadTensorInfos) {
  const Bytes b = canonical();
  auto with_u32 = [&](const char *mark, uint32_t v) {
    std::string s = b.bytes();
    put_u32(&s, b.at(mark), v);
    return s;
  };
  auto with_u64 = [&](const char *mark, uint64_t v) {
    std::string s = b.bytes();
    put_u64(&s, b.at(mark), v);
    return s;
  };
  expect_format_error(with_u32("ndims0", 5), "n_dims 5, outside 1..4");
  expect_format_error(with_u32("ndims0", 0), "n_dims 0");
  expect_format_error(with_u64("ne1", 0), "ne[1] = 0");
  expect_format_error(with_u64("ne1", 1ull << 62), "overflows");
  expect_format_error(with_u64("ne1", 1ull << 63), "overflows");
  expect_format_error(with_u32("type_w", 4), "unknown ggml type id 4");  // retired Q4_2
  expect_format_error(with_u32("type_w", 99), "unknown ggml type id 99");
  expect_format_error(with_u64("ne0", 16), "not a multiple of the Q8_0 block size 32");
  expect_format_error(with_u32("type_b", 2), "ne[0] = 4, not a multiple of the Q4_0 block size 32");
  expect_format_error(with_u64("off1", 97), "not a multiple of the alignment 32");
  expect_format_error(with_u64("off1", 64), "overlap");
  expect_format_error(with_u64("off1", 128), "extends past the end of the file");
  expect_format_error(with_u64("off1", 1ull << 62), "extends past the end");
  expect_format_error(with_u64("off1", ~0ull - 31), "extends past the end");
  expect_format_error(with_u64("ne_b", 100), "extends past the end");
  expect_format_error(with_u64("name0", 1ull << 40), "has length");
  expect_format_error(with_u64("name0", 0), "empty name");
  Spec same;
  same.name1 = "w";
  expect_format_error(canonical(same).bytes(), "duplicate tensor name \"w\"");
  Spec longname;
  longname.name0 = std::string(65, 'n');
  expect_format_error(canonical(longname).bytes(), "over the limit of 64");
  longname.name0 = std::string(64, 'n');  // the spec's limit itself is fine
  write_file(path("n64.gguf"), canonical(longname).bytes());
  EXPECT_EQ(GgufFile::open(path("n64.gguf")).tensors()[0].name.size(), 64u);

  Spec align;
  align.alignment_kv = true;
  const Bytes a = canonical(align);
  auto with_alignment = [&](uint32_t type, uint32_t value) {
    std::string s = a.bytes();
    put_u32(&s, a.at("align_type"), type);
    put_u32(&s, a.at("align"), value);
    return s;
  };
  expect_format_error(with_alignment(4, 12), "general.alignment is 12, not a power of two >= 8");
  expect_format_error(with_alignment(4, 4), "general.alignment is 4");
  expect_format_error(with_alignment(4, 0), "general.alignment is 0");
  expect_format_error(with_alignment(5, 32), "general.alignment has type i32, expected u32");
}

TEST_F(Gguf, OpenFailuresAreIoErrors) {
  expect_error([&] { GgufFile::open(path("absent.gguf")); }, vqr::Status::Io, "cannot open");
  expect_error([&] { GgufFile::open(tmp_.path()); }, vqr::Status::Io, "not a regular file");
}

TEST_F(Gguf, EveryTruncationFailsOrKeepsRangesInside) {
  const Bytes b = canonical();
  const std::string full = b.bytes();
  size_t opened = 0;
  for (size_t n = 0; n < full.size(); ++n) {
    SCOPED_TRACE(n);
    if (open_or_format_error(full.substr(0, n))) {
      ++opened;
      // Only the zero padding after the last tensor may go missing.
      EXPECT_GE(n, b.at("data") + 96 + 16);
    }
  }
  EXPECT_EQ(opened, 16u);  // the 16 bytes of trailing padding
}

TEST_F(Gguf, ByteMutationsNeverCrash) {
  const Bytes b = canonical();
  const std::string full = b.bytes();
  std::mt19937 rng(20240601);
  int opened = 0, failed = 0;
  // Every byte of the metadata once with a random value, then random positions and values.
  for (size_t i = 0; i < b.at("data") + 8; ++i) {
    std::string m = full;
    m[i] = static_cast<char>(m[i] ^ static_cast<char>(1 + rng() % 255));
    (open_or_format_error(m) ? opened : failed) += 1;
  }
  for (int k = 0; k < 300; ++k) {
    std::string m = full;
    const int flips = 1 + static_cast<int>(rng() % 3);
    for (int f = 0; f < flips; ++f) m[rng() % m.size()] = static_cast<char>(rng());
    (open_or_format_error(m) ? opened : failed) += 1;
  }
  EXPECT_GT(failed, 100);  // most metadata bytes matter
  EXPECT_GT(opened, 10);   // values, data and padding do not
}

// ------------------------------------------------------------------------------------------------
// The writer, checked byte for byte against the spec's layout
// ------------------------------------------------------------------------------------------------

struct WriterFixture {
  std::vector<float> f32 = {1.0f, -0.5f, 3.25f};
  std::string q8 = w_blocks().substr(0, 34);
  std::vector<uint16_t> f16 = {0x3c00, 0xc000, 0x3555, 0x0001, 0x7bff};
  void fill(GgufWriter *w) const {
    w->set_string("general.architecture", "llama");
    w->set_u32("a.u32", 4000000000u);
    w->set_i32("a.i32", -5);
    w->set_f32("a.f32", 0.125f);
    w->set_bool("a.bool", false);
    w->set_u64("a.u64", 1ull << 40);
    w->set_u8("a.u8", 200);
    w->set_strings("a.strings", {"x", "", "\xe2\x96\x81y"});
    w->set_f32s("a.f32s", {2.0f, -1.0f});
    w->set_i32s("a.i32s", {1, -2, 3});
    w->add_tensor("t.f32", {3}, GgmlType::kF32, f32.data(), 12);
    w->add_tensor("t.q8", {32, 1}, GgmlType::kQ8_0, q8.data(), 34);
    w->add_tensor("t.f16", {5}, GgmlType::kF16, f16.data(), 10);
  }
  // The same file from the spec: header, KVs in insertion order, infos, padding, padded data.
  std::string expected(uint32_t alignment) const {
    Bytes b;
    b.raw("GGUF").u32(3).u64(3).u64(alignment == 32 ? 10 : 11);
    b.str("general.architecture").u32(8).str("llama");
    b.str("a.u32").u32(4).u32(4000000000u);
    b.str("a.i32").u32(5).u32(static_cast<uint32_t>(-5));
    b.str("a.f32").u32(6).f32(0.125f);
    b.str("a.bool").u32(7).u8(0);
    b.str("a.u64").u32(10).u64(1ull << 40);
    b.str("a.u8").u32(0).u8(200);
    b.str("a.strings").u32(9).u32(8).u64(3).str("x").str("").str("\xe2\x96\x81y");
    b.str("a.f32s").u32(9).u32(6).u64(2).f32(2.0f).f32(-1.0f);
    b.str("a.i32s").u32(9).u32(5).u64(3).u32(1).u32(static_cast<uint32_t>(-2)).u32(3);
    if (alignment != 32) b.str("general.alignment").u32(4).u32(alignment);
    const uint64_t a = alignment;
    const uint64_t o1 = (12 + a - 1) / a * a, o2 = o1 + (34 + a - 1) / a * a;
    b.str("t.f32").u32(1).u64(3).u32(0).u64(0);
    b.str("t.q8").u32(2).u64(32).u64(1).u32(8).u64(o1);
    b.str("t.f16").u32(1).u64(5).u32(1).u64(o2);
    b.pad(alignment);
    const size_t data = b.size();
    b.raw(std::string(reinterpret_cast<const char *>(f32.data()), 12)).pad(alignment);
    EXPECT_EQ(b.size(), data + o1);
    b.raw(q8).pad(alignment);
    b.raw(std::string(reinterpret_cast<const char *>(f16.data()), 10)).pad(alignment);
    return b.bytes();
  }
};

TEST_F(Gguf, WriterFollowsTheSpecByteForByte) {
  const WriterFixture fx;
  for (uint32_t alignment : {32u, 64u, 8u}) {
    SCOPED_TRACE(alignment);
    GgufWriter w(alignment);
    fx.fill(&w);
    const std::string p = path("w" + std::to_string(alignment) + ".gguf");
    w.write(p);
    EXPECT_FALSE(fs::exists(p + ".tmp"));
    const std::string got = read_file(p), want = fx.expected(alignment);
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], want[i]) << "first difference at byte " << i;

    // And it reads back through the reader.
    const GgufFile f = GgufFile::open(p);
    EXPECT_EQ(f.alignment(), alignment);
    EXPECT_EQ(f.get_u32("a.u32"), 4000000000u);
    EXPECT_EQ(f.get_i32("a.i32"), -5);
    EXPECT_EQ(f.get_f32("a.f32"), 0.125f);
    EXPECT_FALSE(f.get_bool("a.bool"));
    EXPECT_EQ(f.get_u64("a.u64"), 1ull << 40);
    EXPECT_EQ(f.get_strings("a.strings"), (std::vector<std::string>{"x", "", "\xe2\x96\x81y"}));
    EXPECT_EQ(f.get_i32s("a.i32s"), (std::vector<int32_t>{1, -2, 3}));
    float h[5];
    f.read_f32(*f.find_tensor("t.f16"), h);
    EXPECT_EQ(h[0], 1.0f);
    EXPECT_EQ(h[1], -2.0f);
    EXPECT_EQ(h[2], 0.333251953125f);
    EXPECT_EQ(h[3], 5.9604644775390625e-08f);
    EXPECT_EQ(h[4], 65504.0f);
  }
}

TEST_F(Gguf, WriterRejectsBadArgumentsAndLeavesNoFile) {
  auto invalid = [&](auto fn, const std::string &needle) {
    try {
      fn();
      ADD_FAILURE() << "no error; expected " << needle;
    } catch (const vqr::Error &e) {
      EXPECT_EQ(e.status(), vqr::Status::InvalidArgument) << e.what();
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  invalid([] { GgufWriter w(12); }, "alignment 12");
  invalid([] { GgufWriter w(4); }, "alignment 4");
  GgufWriter w;
  w.set_u32("k", 1);
  const float x[32] = {};
  invalid([&] { w.set_u32("k", 2); }, "set twice");
  invalid([&] { w.set_string("", "v"); }, "empty metadata key");
  invalid([&] { w.set_u32("general.alignment", 64); }, "general.alignment");
  invalid([&] { w.add_tensor(std::string(64, 'n'), {1}, GgmlType::kF32, x, 4); }, "over 63 bytes");
  invalid([&] { w.add_tensor("t", {3}, GgmlType::kF32, x, 8); }, "needs 12");
  invalid([&] { w.add_tensor("t", {16}, GgmlType::kQ4_0, x, 9); }, "not a multiple");
  invalid([&] { w.add_tensor("t", {1, 1, 1, 1, 1}, GgmlType::kF32, x, 4); }, "1..4 dimensions");
  invalid([&] { w.add_tensor("t", {0}, GgmlType::kF32, x, 0); }, "bad shape");
  invalid([&] { w.add_tensor("t", {1}, GgmlType::kF32, nullptr, 4); }, "no data");
  invalid([&] { w.add_tensor("t", {1}, static_cast<GgmlType>(4), x, 4); }, "unknown type");
  w.add_tensor("t", {1}, GgmlType::kF32, x, 4);
  invalid([&] { w.add_tensor("t", {1}, GgmlType::kF32, x, 4); }, "duplicate tensor name");
  // A failed write leaves neither the file nor the temporary.
  const std::string p = path("no/such/dir.gguf");
  expect_error([&] { w.write(p); }, vqr::Status::Io, "cannot create");
  EXPECT_FALSE(fs::exists(p));
  EXPECT_FALSE(fs::exists(p + ".tmp"));
}

// ------------------------------------------------------------------------------------------------
// ggml blocks against plain reference decodes
// ------------------------------------------------------------------------------------------------

// A random normal fp16 bit pattern with exponent in [9, 20] (values 2^-6 .. 2^5).
uint16_t random_half(std::mt19937 &rng) {
  const uint16_t sign = (rng() & 1) ? 0x8000 : 0;
  const uint16_t exp = static_cast<uint16_t>(9 + rng() % 12);
  return static_cast<uint16_t>(sign | (exp << 10) | (rng() & 0x3ff));
}

TEST(GgmlBlocks, Q4_0LayoutAndDecode) {
  std::mt19937 rng(1);
  for (int trial = 0; trial < 50; ++trial) {
    uint8_t q[32];
    for (uint8_t &v : q) v = static_cast<uint8_t>(rng() % 16);
    const uint16_t d = random_half(rng);
    uint8_t block[18];
    vqr::io::encode_q4_0_block(block, d, q);
    EXPECT_EQ(block[0], d & 0xff);
    EXPECT_EQ(block[1], d >> 8);
    for (int j = 0; j < 16; ++j) EXPECT_EQ(block[2 + j], q[j] | (q[j + 16] << 4)) << j;
    float out[32];
    vqr::io::decode_q4_0(out, block, 32);
    for (int j = 0; j < 32; ++j) EXPECT_EQ(out[j], static_cast<float>(q[j] - 8) * fp16(d)) << j;
  }
}

TEST(GgmlBlocks, Q4_1DecodesWithTwoRoundingsNotFma) {
  std::mt19937 rng(2);
  for (int trial = 0; trial < 200; ++trial) {
    uint8_t q[32];
    for (uint8_t &v : q) v = static_cast<uint8_t>(rng() % 16);
    const uint16_t d = random_half(rng), m = random_half(rng);
    uint8_t block[20];
    vqr::io::encode_q4_1_block(block, d, m, q);
    EXPECT_EQ(block[2], m & 0xff);
    EXPECT_EQ(block[3], m >> 8);
    for (int j = 0; j < 16; ++j) ASSERT_EQ(block[4 + j], q[j] | (q[j + 16] << 4));
    float out[32];
    vqr::io::decode_q4_1(out, block, 32);
    for (int j = 0; j < 32; ++j) {
      volatile float product = static_cast<float>(q[j]) * fp16(d);  // rounded to fp32 here
      ASSERT_EQ(out[j], product + fp16(m)) << trial << " " << j;
    }
  }
  // With fp16 d and 4-bit q the product is exact, so a block cannot tell an fma from two roundings;
  // q4_1_weight (which the writer's exactness check also calls) can, given full-precision d and m.
  std::uniform_real_distribution<float> u(-3.0f, 3.0f);
  int fma_differs = 0;
  for (int trial = 0; trial < 2000; ++trial) {
    const float d = u(rng), m = u(rng);
    const int q = 1 + static_cast<int>(rng() % 15);
    volatile float product = static_cast<float>(q) * d;
    const float want = product + m;
    ASSERT_EQ(vqr::io::q4_1_weight(d, m, q), want) << d << " " << m << " " << q;
    fma_differs += std::fma(static_cast<float>(q), d, m) != want;
  }
  EXPECT_GT(fma_differs, 100);  // the check has teeth: a fused evaluation would differ here
}

TEST(GgmlBlocks, Q8_0AndPlainArrays) {
  std::mt19937 rng(3);
  int8_t q[32];
  for (int8_t &v : q) v = static_cast<int8_t>(rng());
  q[0] = -128;
  q[1] = 127;
  const uint16_t d = random_half(rng);
  uint8_t block[34];
  vqr::io::encode_q8_0_block(block, d, q);
  EXPECT_EQ(std::memcmp(block + 2, q, 32), 0);
  float out[32];
  vqr::io::decode_q8_0(out, block, 32);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(out[j], static_cast<float>(q[j]) * fp16(d));

  const float x[4] = {1.0f, -2.0f, 1.0f / 3.0f, 65520.0f};
  uint8_t h[8], bf[8];
  vqr::io::encode_f16(h, x, 4);
  vqr::io::encode_bf16(bf, x, 4);
  const uint16_t want_h[4] = {0x3c00, 0xc000, 0x3555, 0x7c00};  // 65520 rounds to Inf
  const uint16_t want_bf[4] = {0x3f80, 0xc000, 0x3eab, 0x4780};
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(h[2 * i] | (h[2 * i + 1] << 8), want_h[i]) << i;
    EXPECT_EQ(bf[2 * i] | (bf[2 * i + 1] << 8), want_bf[i]) << i;
  }
  float back[4];
  vqr::io::decode_bf16(back, bf, 4);
  EXPECT_EQ(back[0], 1.0f);
  EXPECT_EQ(back[2], 0.333984375f);
  vqr::io::decode_f16(back, h, 4);
  EXPECT_EQ(back[2], 0.333251953125f);
  EXPECT_TRUE(std::isinf(back[3]));
}

TEST_F(Gguf, EveryReadableTypeThroughAFileAndOthersRefused) {
  std::mt19937 rng(4);
  // Two rows of 64 weights per block type, random codes and scales.
  std::vector<uint8_t> q4_0(4 * 18), q4_1(4 * 20), q8_0(4 * 34), q4k(144);
  std::vector<float> want_q4_0, want_q4_1, want_q8_0;
  for (int blk = 0; blk < 4; ++blk) {
    uint8_t q[32];
    int8_t s8[32];
    for (int j = 0; j < 32; ++j) {
      q[j] = static_cast<uint8_t>(rng() % 16);
      s8[j] = static_cast<int8_t>(rng());
    }
    const uint16_t d = random_half(rng), m = random_half(rng);
    vqr::io::encode_q4_0_block(&q4_0[blk * 18], d, q);
    vqr::io::encode_q4_1_block(&q4_1[blk * 20], d, m, q);
    vqr::io::encode_q8_0_block(&q8_0[blk * 34], d, s8);
    for (int j = 0; j < 32; ++j) {
      want_q4_0.push_back(static_cast<float>(q[j] - 8) * fp16(d));
      volatile float p = static_cast<float>(q[j]) * fp16(d);
      want_q4_1.push_back(p + fp16(m));
      want_q8_0.push_back(static_cast<float>(s8[j]) * fp16(d));
    }
  }
  const uint16_t bf[3] = {0x3f80, 0xc040, 0x4049};
  GgufWriter w;
  w.add_tensor("q4_0", {64, 2}, GgmlType::kQ4_0, q4_0.data(), 72);
  w.add_tensor("q4_1", {64, 2}, GgmlType::kQ4_1, q4_1.data(), 80);
  w.add_tensor("q8_0", {64, 2}, GgmlType::kQ8_0, q8_0.data(), 136);
  w.add_tensor("bf16", {3}, GgmlType::kBF16, bf, 6);
  w.add_tensor("q4_k", {256}, GgmlType::kQ4_K, q4k.data(), 144);
  w.write(path("types.gguf"));
  const GgufFile f = GgufFile::open(path("types.gguf"));
  std::vector<float> out(128);
  f.read_f32(*f.find_tensor("q4_0"), out.data());
  EXPECT_EQ(out, want_q4_0);
  f.read_f32(*f.find_tensor("q4_1"), out.data());
  EXPECT_EQ(out, want_q4_1);
  f.read_f32(*f.find_tensor("q8_0"), out.data());
  EXPECT_EQ(out, want_q8_0);
  f.read_f32(*f.find_tensor("bf16"), out.data());
  EXPECT_EQ(out[1], -3.0f);
  EXPECT_EQ(out[2], 3.140625f);
  EXPECT_EQ(f.find_tensor("q4_k")->nbytes, 144);
  out.resize(256);
  expect_error([&] { f.read_f32(*f.find_tensor("q4_k"), out.data()); }, vqr::Status::Unsupported, "tensor \"q4_k\" has type Q4_K");
}

TEST(GgmlTypes, TableMatchesGgml) {
  const struct {
    uint32_t id;
    const char *name;
    int64_t block, bytes;
  } expected[] = {{0, "F32", 1, 4},     {1, "F16", 1, 2},      {2, "Q4_0", 32, 18},  {3, "Q4_1", 32, 20},
                  {8, "Q8_0", 32, 34},  {12, "Q4_K", 256, 144}, {14, "Q6_K", 256, 210}, {26, "I32", 1, 4},
                  {30, "BF16", 1, 2}};
  for (const auto &e : expected) {
    const vqr::io::GgmlTypeInfo *info = vqr::io::ggml_type_info(e.id);
    ASSERT_NE(info, nullptr) << e.name;
    EXPECT_STREQ(info->name, e.name);
    EXPECT_EQ(info->block_weights, e.block);
    EXPECT_EQ(info->block_bytes, e.bytes);
  }
  for (uint32_t retired : {4u, 5u, 31u, 32u, 33u, 36u, 37u, 38u, 40u, 1000u}) EXPECT_EQ(vqr::io::ggml_type_info(retired), nullptr) << retired;
  EXPECT_EQ(vqr::io::ggml_type_name(5), "type 5");
  EXPECT_STREQ(vqr::io::gguf_type_name(GgufType::kArray), "array");
}

}  // namespace

// ------------------------------------------------------------------------------------------------
// Produced tensors (io/byte_sink.h)
// ------------------------------------------------------------------------------------------------

// A tensor whose bytes a producer writes when write() reaches it gives the same file as borrowed
// data (alignment padding included); a producer writing another size, or throwing, leaves no file.
TEST_F(Gguf, ProducedTensorsWriteTheSameFileAsBorrowedOnes) {
  const std::vector<float> f32 = {1.0f, -2.0f, 3.5f};
  const std::vector<uint16_t> f16 = {0x3c00, 0xc000, 0x4100, 0x0001, 0x7bff};
  GgufWriter borrowed, produced;
  for (GgufWriter *w : {&borrowed, &produced}) w->set_string("general.architecture", "llama");
  borrowed.add_tensor("t.f32", {3}, GgmlType::kF32, f32.data(), 12);
  borrowed.add_tensor("t.f16", {5}, GgmlType::kF16, f16.data(), 10);
  produced.add_tensor("t.f32", {3}, GgmlType::kF32, [&](const vqr::io::ByteSink &sink) {
    for (float x : f32) sink(&x, sizeof x);
  }, 12);
  produced.add_tensor("t.f16", {5}, GgmlType::kF16, [&](const vqr::io::ByteSink &sink) { sink(f16.data(), 10); }, 10);
  borrowed.write(path("borrowed.gguf"));
  produced.write(path("produced.gguf"));
  EXPECT_EQ(read_file(path("produced.gguf")), read_file(path("borrowed.gguf")));

  for (size_t bytes : {size_t{8}, size_t{16}}) {
    GgufWriter w;
    w.add_tensor("t.f32", {3}, GgmlType::kF32, [bytes](const vqr::io::ByteSink &sink) {
      const std::vector<char> zeros(bytes);
      sink(zeros.data(), zeros.size());
    }, 12);
    expect_error([&] { w.write(path("bad.gguf")); }, vqr::Status::InvalidArgument,
                 "tensor \"t.f32\": its producer wrote " + std::to_string(bytes) + " bytes, its encoding needs 12",
                 vqr_test::Hint::kOptional);
    EXPECT_FALSE(std::filesystem::exists(path("bad.gguf")));
    EXPECT_FALSE(std::filesystem::exists(path("bad.gguf.tmp")));
  }
  GgufWriter w;
  w.add_tensor("t.f32", {3}, GgmlType::kF32, [](const vqr::io::ByteSink &) {
    vqr::fail(vqr::Status::Format, "source", "damaged", "re-download it");
  }, 12);
  expect_error([&] { w.write(path("bad.gguf")); }, vqr::Status::Format, "damaged");
  EXPECT_FALSE(std::filesystem::exists(path("bad.gguf.tmp")));
  expect_error([&] { w.add_tensor("t.none", {3}, GgmlType::kF32, vqr::io::ByteProducer(), 12); }, vqr::Status::InvalidArgument,
               "has no data", vqr_test::Hint::kOptional);
}
