// safetensors reader/writer tests. The references are independent of the code under test: files
// built byte by byte here, headers parsed by hand, fp16/bf16 values written as exact literals.
// The corrupted-input cases and the truncation / byte-flip sweeps run under ASan/UBSan in CI.
// Tensors produced at write time must give the file that borrowed data gives.
#include "io/safetensors.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "common/scratch_files.h"

namespace {

using vqr_test::expect_error;
using vqr_test::read_file;
using vqr_test::write_file;

namespace fs = std::filesystem;
using vqr::io::SafetensorsCheckpoint;
using vqr::io::SafetensorsFile;
using vqr::io::StDtype;
using vqr::io::StTensor;
using vqr::io::StTensorData;

std::string le64(uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  return s;
}

// A file: 8-byte little-endian header length, header, data (no padding unless the header has it).
std::string st_bytes(const std::string &header, const std::string &data) { return le64(header.size()) + header + data; }

// Bytes of a little-endian uint16 / float, written out by hand.
std::string u16le(uint16_t v) { return std::string{static_cast<char>(v & 0xff), static_cast<char>(v >> 8)}; }
std::string f32le(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u16le(static_cast<uint16_t>(u & 0xffff)) + u16le(static_cast<uint16_t>(u >> 16));
}

const std::string kGoodEntry = R"("a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})";
const std::string kEightBytes(8, '\x11');

class Safetensors : public ::testing::Test {
 protected:
  std::string path(const std::string &name) const { return tmp_.file(name); }
  void expect_format_error(const std::string &bytes, const std::string &needle) {
    SCOPED_TRACE(needle);
    const std::string p = path("bad.safetensors");
    write_file(p, bytes);
    expect_error([&] { SafetensorsFile::open(p); }, vqr::Status::Format, needle);
  }
  vqr_test::TempDir tmp_{"st"};
};

// ------------------------------------------------------------------------------------------------
// dtypes
// ------------------------------------------------------------------------------------------------

TEST(SafetensorsDtype, NamesAndSizesMatchTheFormat) {
  const struct {
    StDtype d;
    const char *name;
    int64_t size;
  } expected[] = {{StDtype::kF64, "F64", 8},  {StDtype::kF32, "F32", 4},        {StDtype::kF16, "F16", 2},
                  {StDtype::kBF16, "BF16", 2}, {StDtype::kI64, "I64", 8},        {StDtype::kI32, "I32", 4},
                  {StDtype::kI16, "I16", 2},   {StDtype::kI8, "I8", 1},          {StDtype::kU8, "U8", 1},
                  {StDtype::kBool, "BOOL", 1}, {StDtype::kU16, "U16", 2},        {StDtype::kU32, "U32", 4},
                  {StDtype::kU64, "U64", 8},   {StDtype::kF8E4M3, "F8_E4M3", 1}, {StDtype::kF8E5M2, "F8_E5M2", 1}};
  for (const auto &e : expected) {
    EXPECT_STREQ(vqr::io::st_dtype_name(e.d), e.name);
    EXPECT_EQ(vqr::io::st_dtype_size(e.d), e.size) << e.name;
    StDtype back = StDtype::kU8;
    EXPECT_TRUE(vqr::io::st_dtype_from_name(e.name, &back));
    EXPECT_EQ(back, e.d);
  }
  StDtype untouched = StDtype::kI8;
  for (const char *bad : {"f32", "FP32", "", "F8_E8M0", "F32 "}) EXPECT_FALSE(vqr::io::st_dtype_from_name(bad, &untouched));
  EXPECT_EQ(untouched, StDtype::kI8);
}

// ------------------------------------------------------------------------------------------------
// Writer -> reader round trip, and the written header checked field by field
// ------------------------------------------------------------------------------------------------

struct Fixture {
  std::vector<float> f32 = {1.5f, -2.0f, 3.25f, 0.0f, -0.0f, 1e-30f};
  std::vector<uint16_t> f16 = {0x3c00, 0xc000, 0x3555, 0x0001, 0x7bff};
  std::vector<uint16_t> bf16 = {0x3f80, 0xc040, 0x4049, 0x0001};
  std::vector<int32_t> i32 = {-7, 0, 2147483647};
  std::vector<uint8_t> u8 = {1, 2, 3, 4, 5, 6, 7};
  float scalar = 42.0f;
  // Deliberately not in name order; the writer sorts.
  std::vector<StTensorData> tensors() const {
    return {{"layer.u8", StDtype::kU8, {7}, u8.data(), 7},
            {"layer.f32", StDtype::kF32, {2, 3}, f32.data(), 24},
            {"empty", StDtype::kF32, {0, 4}, nullptr, 0},
            {"layer.bf16", StDtype::kBF16, {2, 2}, bf16.data(), 8},
            {"layer.f16", StDtype::kF16, {5}, f16.data()},
            {"scalar", StDtype::kF32, {}, &scalar, 4},
            {"layer.i32", StDtype::kI32, {3}, i32.data(), 12}};
  }
};

TEST_F(Safetensors, RoundTripKeepsEveryFieldAndByte) {
  const Fixture fx;
  const std::vector<StTensorData> in = fx.tensors();
  const std::string p = path("rt.safetensors");
  vqr::io::write_safetensors(p, in, {{"quant_method", "vqround"}, {"bits", "4"}});
  EXPECT_FALSE(fs::exists(p + ".tmp"));

  const SafetensorsFile f = SafetensorsFile::open(p);
  EXPECT_EQ(f.path(), p);
  const std::map<std::string, std::string> md = {{"bits", "4"}, {"format", "pt"}, {"quant_method", "vqround"}};
  EXPECT_EQ(f.metadata(), md);
  const std::vector<std::string> order = {"empty", "layer.bf16", "layer.f16", "layer.f32", "layer.i32", "layer.u8", "scalar"};
  ASSERT_EQ(f.tensors().size(), order.size());
  for (size_t i = 0; i < order.size(); ++i) EXPECT_EQ(f.tensors()[i].name, order[i]);
  for (const StTensorData &d : in) {
    SCOPED_TRACE(d.name);
    const StTensor *t = f.find(d.name);
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(t->dtype, d.dtype);
    EXPECT_EQ(t->shape, d.shape);
    int64_t n = 1;
    for (int64_t s : d.shape) n *= s;
    EXPECT_EQ(t->elements(), n);
    const int64_t bytes = n * vqr::io::st_dtype_size(d.dtype);
    ASSERT_EQ(t->end - t->begin, bytes);
    if (bytes > 0) {
      EXPECT_EQ(std::memcmp(f.data(*t), d.data, static_cast<size_t>(bytes)), 0);
    }
  }
  EXPECT_EQ(f.find("missing"), nullptr);
  EXPECT_EQ(f.find(""), nullptr);

  const StTensor *scalar = f.find("scalar");
  float s = 0.0f;
  f.read_f32(*scalar, &s);
  EXPECT_EQ(s, 42.0f);
  std::vector<float> got(6);
  f.read_f32(*f.find("layer.f32"), got.data());
  EXPECT_EQ(std::memcmp(got.data(), fx.f32.data(), 24), 0);  // bitwise: keeps -0.0
  f.read_f32(*f.find("empty"), nullptr);                      // no elements, no writes
  expect_error([&] { f.read_f32(*f.find("layer.i32"), got.data()); }, vqr::Status::Unsupported, "I32");
  StTensor foreign = *f.find("layer.f32");
  foreign.begin += 1000;
  foreign.end += 1000;
  try {
    f.read_f32(foreign, got.data());
    ADD_FAILURE() << "a range outside the file was read";
  } catch (const vqr::Error &e) {
    EXPECT_EQ(e.status(), vqr::Status::InvalidArgument);
  }
}

TEST_F(Safetensors, WrittenHeaderFollowsTheSpec) {
  const Fixture fx;
  const std::vector<StTensorData> in = fx.tensors();
  const std::string p = path("hdr.safetensors");
  vqr::io::write_safetensors(p, in, {{"note", "caf\xc3\xa9 \"quoted\""}});
  const std::string bytes = read_file(p);
  ASSERT_GE(bytes.size(), 8u);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<uint8_t>(bytes[i]);
  ASSERT_LE(8 + n, bytes.size());
  EXPECT_EQ(n % 8, 0u) << "header length pads the data start to 8 bytes";
  const std::string header = bytes.substr(8, n);
  EXPECT_EQ(header.rfind("{\"__metadata__\":{", 0), 0u) << header;  // compact, metadata first
  const size_t close = header.find_last_of('}');
  ASSERT_NE(close, std::string::npos);
  EXPECT_EQ(header.find_first_not_of(' ', close + 1), std::string::npos) << "only spaces pad the header";
  EXPECT_LT(header.size() - close - 1, 8u);

  const nlohmann::json j = nlohmann::json::parse(header);
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(j["__metadata__"], (nlohmann::json{{"format", "pt"}, {"note", "caf\xc3\xa9 \"quoted\""}}));
  const int64_t data_size = static_cast<int64_t>(bytes.size() - 8 - n);
  int64_t cursor = 0;
  std::string prev;
  size_t count = 0;
  for (const auto &item : j.items()) {  // nlohmann iterates keys in sorted order = name order
    if (item.key() == "__metadata__") continue;
    ++count;
    EXPECT_LT(prev, item.key());
    prev = item.key();
    const auto &e = item.value();
    EXPECT_EQ(e.size(), 3u);
    const int64_t begin = e["data_offsets"][0].get<int64_t>(), end = e["data_offsets"][1].get<int64_t>();
    EXPECT_EQ(begin, cursor) << item.key() << ": offsets contiguous in name order";
    cursor = end;
    const StTensorData *d = nullptr;
    for (const StTensorData &t : in)
      if (t.name == item.key()) d = &t;
    ASSERT_NE(d, nullptr) << item.key();
    EXPECT_EQ(e["dtype"].get<std::string>(), vqr::io::st_dtype_name(d->dtype));
    EXPECT_EQ(e["shape"].get<std::vector<int64_t>>(), d->shape);
    if (end > begin) {
      EXPECT_EQ(std::memcmp(bytes.data() + 8 + n + begin, d->data, static_cast<size_t>(end - begin)), 0);
    }
  }
  EXPECT_EQ(count, in.size());
  EXPECT_EQ(cursor, data_size) << "no trailing bytes";
}

// ------------------------------------------------------------------------------------------------
// A file built byte by byte
// ------------------------------------------------------------------------------------------------

TEST_F(Safetensors, HandBuiltFileReadsExactValues) {
  // Entries out of name order, metadata last, header padded with spaces to a non-aligned length.
  std::string header =
      R"({"w":{"dtype":"F16","shape":[2,2],"data_offsets":[0,8]},)"
      R"("v":{"dtype":"BF16","shape":[3],"data_offsets":[8,14]},)"
      R"("s":{"dtype":"F32","shape":[],"data_offsets":[14,18]},)"
      R"("z":{"dtype":"U8","shape":[0],"data_offsets":[18,18]},)"
      R"("__metadata__":{"k":"v"}}   )";
  // F16: 1.0, -2.0, 65504 (max), 2^-24 (smallest subnormal). BF16: 1.0, -3.0, 3.140625.
  const std::string data = u16le(0x3c00) + u16le(0xc000) + u16le(0x7bff) + u16le(0x0001) + u16le(0x3f80) +
                           u16le(0xc040) + u16le(0x4049) + f32le(-0.375f);
  ASSERT_EQ(data.size(), 18u);
  const std::string p = path("hand.safetensors");
  write_file(p, st_bytes(header, data));

  const SafetensorsFile f = SafetensorsFile::open(p);
  ASSERT_EQ(f.tensors().size(), 4u);
  EXPECT_EQ(f.tensors()[0].name, "s");
  EXPECT_EQ(f.tensors()[1].name, "v");
  EXPECT_EQ(f.tensors()[2].name, "w");
  EXPECT_EQ(f.tensors()[3].name, "z");
  EXPECT_EQ(f.data_size(), 18);
  EXPECT_EQ(f.metadata(), (std::map<std::string, std::string>{{"k", "v"}}));

  const StTensor *w = f.find("w");
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->dtype, StDtype::kF16);
  EXPECT_EQ(w->shape, (std::vector<int64_t>{2, 2}));
  float wf[4];
  f.read_f32(*w, wf);
  EXPECT_EQ(wf[0], 1.0f);
  EXPECT_EQ(wf[1], -2.0f);
  EXPECT_EQ(wf[2], 65504.0f);
  EXPECT_EQ(wf[3], 5.9604644775390625e-08f);

  float vf[3];
  f.read_f32(*f.find("v"), vf);
  EXPECT_EQ(vf[0], 1.0f);
  EXPECT_EQ(vf[1], -3.0f);
  EXPECT_EQ(vf[2], 3.140625f);

  const StTensor *s = f.find("s");
  EXPECT_TRUE(s->shape.empty());
  EXPECT_EQ(s->elements(), 1);
  float sf = 0;
  f.read_f32(*s, &sf);  // at data offset 14: not 4-byte aligned
  EXPECT_EQ(sf, -0.375f);
  EXPECT_EQ(f.find("z")->elements(), 0);

  // Moving keeps the mapping alive and the moved-from object empty.
  SafetensorsFile moved = SafetensorsFile::open(p);
  SafetensorsFile target = std::move(moved);
  EXPECT_TRUE(moved.tensors().empty());
  target.read_f32(*target.find("v"), vf);
  EXPECT_EQ(vf[2], 3.140625f);
}

// ------------------------------------------------------------------------------------------------
// Corrupted inputs: each fails with Status::Format naming the problem
// ------------------------------------------------------------------------------------------------

TEST_F(Safetensors, RejectsBrokenHeaderFraming) {
  expect_format_error("", "shorter than the 8-byte");
  expect_format_error("\x05\x00\x00", "shorter than the 8-byte");
  expect_format_error(le64(1000) + "{}", "larger than the file");
  expect_format_error(le64(1ull << 63) + "{}", "exceeds the 100 MB");
  expect_format_error(le64(~0ull) + "{}", "exceeds the 100 MB");
  expect_format_error(le64(0), "'{'");
  expect_format_error(st_bytes("[1,2]", ""), "'{'");
  expect_format_error(st_bytes(" {}", ""), "'{'");
  expect_format_error(st_bytes(R"({"a":)", ""), "invalid JSON");
  expect_format_error(st_bytes("{} x", ""), "invalid JSON");
  expect_format_error(st_bytes("{\"\xff\":1}", ""), "invalid JSON");  // not UTF-8
  expect_format_error(st_bytes("{" + kGoodEntry + "}\n\x01", kEightBytes), "invalid JSON");
  std::string deep = "{\"a\":" + std::string(100, '[') + std::string(100, ']') + "}";
  expect_format_error(st_bytes(deep, ""), "nested deeper");
}

TEST_F(Safetensors, RejectsBadEntries) {
  auto one = [](const std::string &entry) { return st_bytes("{\"a\":" + entry + "}", kEightBytes); };
  expect_format_error(one("5"), "not a JSON object");
  expect_format_error(one(R"({"dtype":"F33","shape":[2],"data_offsets":[0,8]})"), "unknown dtype \"F33\"");
  expect_format_error(one(R"({"dtype":4,"shape":[2],"data_offsets":[0,8]})"), "unknown dtype 4");
  expect_format_error(one(R"({"dtype":"F32","shape":[-2],"data_offsets":[0,8]})"), "shape entry -2");
  expect_format_error(one(R"({"dtype":"F32","shape":[2.0],"data_offsets":[0,8]})"), "shape entry 2.0");
  expect_format_error(one(R"({"dtype":"F32","shape":2,"data_offsets":[0,8]})"), "shape is not an array");
  expect_format_error(one(R"({"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]})"), "overflows");
  expect_format_error(one(R"({"dtype":"F64","shape":[1152921504606846976],"data_offsets":[0,8]})"), "overflows");
  expect_format_error(one(R"({"dtype":"F32","shape":[18446744073709551615],"data_offsets":[0,8]})"), "shape entry");
  expect_format_error(one(R"({"dtype":"F32","shape":[2],"data_offsets":[8,0]})"), "reversed");
  expect_format_error(one(R"({"dtype":"F32","shape":[4],"data_offsets":[0,16]})"), "out of range");
  expect_format_error(one(R"({"dtype":"F32","shape":[2],"data_offsets":[0,-8]})"), "data_offsets");
  expect_format_error(one(R"({"dtype":"F32","shape":[2],"data_offsets":[0,8,9]})"), "data_offsets");
  expect_format_error(one(R"({"dtype":"F32","shape":[2],"data_offsets":"0-8"})"), "data_offsets");
  expect_format_error(one(R"({"dtype":"F32","shape":[3],"data_offsets":[0,8]})"), "size mismatch");
  expect_format_error(one(R"({"dtype":"F32","data_offsets":[0,8]})"), "missing \"shape\"");
  expect_format_error(one(R"({"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":1})"), "unexpected key \"x\"");
  expect_format_error(one(R"({"dtype":"F32","dtype":"F32","shape":[2],"data_offsets":[0,8]})"), "duplicate key \"dtype\"");
  expect_format_error(st_bytes(R"({"":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", kEightBytes), "empty name");
  expect_format_error(st_bytes("{" + kGoodEntry + "," + kGoodEntry + "}", kEightBytes), "duplicate key \"a\"");
}

TEST_F(Safetensors, RejectsBadDataLayout) {
  const std::string b_over = R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]})";
  expect_format_error(st_bytes("{" + kGoodEntry + "," + b_over + "}", std::string(12, 'x')), "overlap");
  const std::string b_same = R"("b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})";
  expect_format_error(st_bytes("{" + kGoodEntry + "," + b_same + "}", kEightBytes), "overlap");
  const std::string b_gap = R"("b":{"dtype":"F32","shape":[2],"data_offsets":[12,20]})";
  expect_format_error(st_bytes("{" + kGoodEntry + "," + b_gap + "}", std::string(20, 'x')), "gap");
  const std::string b_late = R"("b":{"dtype":"U8","shape":[1],"data_offsets":[9,10]})";
  expect_format_error(st_bytes("{" + b_late + "}", std::string(10, 'x')), "gap");
  expect_format_error(st_bytes("{" + kGoodEntry + "}", std::string(12, 'x')), "4 trailing bytes");
  expect_format_error(st_bytes("{}", "x"), "1 trailing bytes");
  const std::string z_far = R"("z":{"dtype":"U8","shape":[0],"data_offsets":[9,9]})";
  expect_format_error(st_bytes("{" + kGoodEntry + "," + z_far + "}", kEightBytes), "out of range");
  // Zero-size tensors may sit anywhere inside the data section, even inside another's range.
  const std::string z_in = R"("z":{"dtype":"U8","shape":[0],"data_offsets":[4,4]})";
  write_file(path("z.safetensors"), st_bytes("{" + kGoodEntry + "," + z_in + "}", kEightBytes));
  EXPECT_EQ(SafetensorsFile::open(path("z.safetensors")).tensors().size(), 2u);
  // An empty file set: header only.
  write_file(path("e.safetensors"), st_bytes("{}", ""));
  EXPECT_TRUE(SafetensorsFile::open(path("e.safetensors")).tensors().empty());
}

TEST_F(Safetensors, RejectsBadMetadata) {
  expect_format_error(st_bytes(R"({"__metadata__":{"k":1},)" + kGoodEntry + "}", kEightBytes), "not a string");
  expect_format_error(st_bytes(R"({"__metadata__":{"k":{"x":"y"}},)" + kGoodEntry + "}", kEightBytes), "not a string");
  expect_format_error(st_bytes(R"({"__metadata__":["a"],)" + kGoodEntry + "}", kEightBytes), "__metadata__ is not an object");
  expect_format_error(st_bytes(R"({"__metadata__":{"k":"a","k":"b"},)" + kGoodEntry + "}", kEightBytes), "duplicate key \"k\"");
}

TEST_F(Safetensors, OpenFailuresAreIoErrors) {
  expect_error([&] { SafetensorsFile::open(path("absent.safetensors")); }, vqr::Status::Io, "cannot open");
  expect_error([&] { SafetensorsFile::open(tmp_.path()); }, vqr::Status::Io, "not a regular file");
  ASSERT_EQ(mkfifo(path("fifo").c_str(), 0600), 0);
  expect_error([&] { SafetensorsFile::open(path("fifo")); }, vqr::Status::Io, "not a regular file");  // no hang
}

TEST_F(Safetensors, EveryTruncationThrows) {
  const Fixture fx;
  const std::string good = path("good.safetensors");
  vqr::io::write_safetensors(good, fx.tensors());
  const std::string bytes = read_file(good);
  // Shrinking in place (longest cut first) avoids a rewrite per length: ext4 flushes a file
  // truncated to zero and rewritten, which made this sweep disk-bound.
  const std::string p = path("cut.safetensors");
  write_file(p, bytes);
  for (size_t len = bytes.size(); len-- > 0;) {
    fs::resize_file(p, len);
    try {
      SafetensorsFile::open(p);
      ADD_FAILURE() << "a file cut to " << len << " of " << bytes.size() << " bytes opened";
    } catch (const vqr::Error &e) {
      EXPECT_EQ(e.status(), vqr::Status::Format) << len << ": " << e.what();
    }
  }
}

// Property: any single-byte change to the length or header either opens with every range inside
// the data section (and readable: ASan checks the reads) or throws vqr::Error. Never crashes.
TEST_F(Safetensors, HeaderByteMutationsNeverCrash) {
  const std::vector<float> a = {1, 2, 3};
  const std::vector<uint16_t> b = {0x3c00, 0x4000};
  const std::vector<uint8_t> c = {9};
  const std::string good = path("good.safetensors");
  vqr::io::write_safetensors(good,
                                 {{"a", StDtype::kF32, {3}, a.data()},
                                  {"b", StDtype::kF16, {1, 2}, b.data()},
                                  {"c", StDtype::kU8, {}, c.data()},
                                  {"d", StDtype::kI64, {0}, nullptr}},
                                 {{"m", "x"}});
  const std::string bytes = read_file(good);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<uint8_t>(bytes[i]);
  ASSERT_LT(8 + n, bytes.size());

  // Bytes are patched in place (and restored) rather than rewriting the file per mutation.
  const std::string p = path("mut.safetensors");
  write_file(p, bytes);
  const int fd = ::open(p.c_str(), O_WRONLY);
  ASSERT_GE(fd, 0);
  auto patch = [fd](size_t pos, uint8_t v) { ASSERT_EQ(::pwrite(fd, &v, 1, static_cast<off_t>(pos)), 1); };
  int opened = 0, rejected = 0;
  // Every byte gets a bit flip plus two of these, rotating with the position (a deterministic
  // sample that keeps the sanitizer build under a second).
  const uint8_t replacements[] = {0x00, '0', '9', '"', '}', ']', ',', '-', 0xff};
  const size_t kinds = sizeof replacements;
  for (size_t pos = 0; pos < 8 + n; ++pos) {
    for (int r = 0; r < 3; ++r) {
      const uint8_t old = static_cast<uint8_t>(bytes[pos]);
      const uint8_t now = r == 0 ? static_cast<uint8_t>(old ^ 0x01) : replacements[(pos + 4 * r) % kinds];
      if (now == old) continue;
      patch(pos, now);
      try {
        const SafetensorsFile f = SafetensorsFile::open(p);
        ++opened;
        uint32_t sum = 0;
        for (const StTensor &t : f.tensors()) {
          ASSERT_LE(0, t.begin);
          ASSERT_LE(t.begin, t.end);
          ASSERT_LE(t.end, f.data_size());
          ASSERT_EQ(t.end - t.begin, t.elements() * vqr::io::st_dtype_size(t.dtype));
          for (int64_t i = 0; i < t.end - t.begin; ++i) sum += f.data(t)[i];
        }
        (void)sum;
      } catch (const vqr::Error &) {
        ++rejected;
      } catch (const std::exception &e) {
        ADD_FAILURE() << "byte " << pos << " -> " << int(now) << ": non-vqr exception " << e.what();
      }
      patch(pos, old);
    }
  }
  ::close(fd);
  EXPECT_GT(opened, 0) << "the sweep should also hit harmless bytes (metadata text, padding)";
  EXPECT_GT(rejected, 0);
}

// ------------------------------------------------------------------------------------------------
// Writer argument checks and atomicity
// ------------------------------------------------------------------------------------------------

TEST_F(Safetensors, WriterRejectsBadArguments) {
  const float x[4] = {1, 2, 3, 4};
  const std::string p = path("w.safetensors");
  auto expect_bad = [&](const std::vector<StTensorData> &t, const std::map<std::string, std::string> &md,
                        const std::string &needle) {
    SCOPED_TRACE(needle);
    expect_error([&] { vqr::io::write_safetensors(p, t, md); }, vqr::Status::InvalidArgument, needle);
    EXPECT_FALSE(fs::exists(p));
    EXPECT_FALSE(fs::exists(p + ".tmp"));
  };
  expect_bad({{"a", StDtype::kF32, {2}, x}, {"a", StDtype::kF32, {2}, x}}, {}, "duplicate tensor name \"a\"");
  expect_bad({{"", StDtype::kF32, {2}, x}}, {}, "empty name");
  expect_bad({{"__metadata__", StDtype::kF32, {2}, x}}, {}, "__metadata__");
  expect_bad({{"a", StDtype::kF32, {4}, x, 8}}, {}, "size mismatch");
  expect_bad({{"a", StDtype::kF32, {2}, nullptr}}, {}, "no data");
  expect_bad({{"a", StDtype::kF32, {-1}, x}}, {}, "negative or overflowing");
  expect_bad({{"a", StDtype::kF32, {int64_t(1) << 62, 4}, x}}, {}, "negative or overflowing");
  expect_bad({{"a\xff", StDtype::kF32, {2}, x}}, {}, "not valid UTF-8");
  expect_bad({{"a", StDtype::kF32, {2}, x}}, {{"format", "tf"}}, "\"format\"");
  expect_bad({{"a", static_cast<StDtype>(99), {2}, x}}, {}, "invalid dtype");
  // "format": "pt" given explicitly is fine, as is a tensor-free file.
  vqr::io::write_safetensors(p, {}, {{"format", "pt"}});
  EXPECT_TRUE(SafetensorsFile::open(p).tensors().empty());
}

TEST_F(Safetensors, WriterFailuresLeaveNoTempFile) {
  const float x[2] = {1, 2};
  const std::string missing = path("no/such/dir/w.safetensors");
  expect_error([&] { vqr::io::write_safetensors(missing, {{"a", StDtype::kF32, {2}, x}}); }, vqr::Status::Io, "cannot create");
  // Renaming onto a folder fails after the temp file was written: it must be removed.
  const std::string folder = path("occupied");
  fs::create_directory(folder);
  expect_error([&] { vqr::io::write_safetensors(folder, {{"a", StDtype::kF32, {2}, x}}); }, vqr::Status::Io, "rename");
  EXPECT_FALSE(fs::exists(folder + ".tmp"));
  // Overwriting an existing file replaces it whole.
  const std::string p = path("w.safetensors");
  vqr::io::write_safetensors(p, {{"a", StDtype::kF32, {2}, x}});
  vqr::io::write_safetensors(p, {{"b", StDtype::kF32, {1}, x}});
  const SafetensorsFile f = SafetensorsFile::open(p);
  ASSERT_EQ(f.tensors().size(), 1u);
  EXPECT_EQ(f.tensors()[0].name, "b");
}

// ------------------------------------------------------------------------------------------------
// Sharded checkpoints
// ------------------------------------------------------------------------------------------------

struct ShardFixture {
  std::vector<float> a = std::vector<float>(16, 1.0f), b = std::vector<float>(16, 2.0f);
  std::vector<float> c = std::vector<float>(50, 3.0f), d = std::vector<float>(8, 4.0f);
  // With a 128-byte limit: [a b] (128 bytes), [c] (200 > limit, alone), [d e] (32 + 0).
  std::vector<StTensorData> tensors() const {
    return {{"e.empty", StDtype::kF32, {0}, nullptr},
            {"d", StDtype::kF32, {2, 4}, d.data()},
            {"c", StDtype::kF32, {5, 10}, c.data()},
            {"b", StDtype::kF32, {16}, b.data()},
            {"a", StDtype::kF32, {4, 4}, a.data()}};
  }
};

TEST_F(Safetensors, ShardedWriteAndCheckpointRead) {
  const ShardFixture fx;
  const std::vector<StTensorData> in = fx.tensors();
  const std::vector<std::string> files = vqr::io::write_safetensors_sharded(tmp_.path(), in, 128, {{"k", "v"}});
  const std::vector<std::string> expected_files = {"model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors",
                                                   "model-00003-of-00003.safetensors", "model.safetensors.index.json"};
  EXPECT_EQ(files, expected_files);
  EXPECT_FALSE(fs::exists(path("model.safetensors")));

  const nlohmann::json index = nlohmann::json::parse(read_file(path("model.safetensors.index.json")));
  const nlohmann::json expected_index = {
      {"metadata", {{"total_size", 360}}},
      {"weight_map",
       {{"a", expected_files[0]}, {"b", expected_files[0]}, {"c", expected_files[1]}, {"d", expected_files[2]},
        {"e.empty", expected_files[2]}}}};
  EXPECT_EQ(index, expected_index);

  const std::vector<std::vector<std::string>> shard_names = {{"a", "b"}, {"c"}, {"d", "e.empty"}};
  for (size_t i = 0; i < 3; ++i) {
    const SafetensorsFile s = SafetensorsFile::open(path(expected_files[i]));
    std::vector<std::string> names;
    for (const StTensor &t : s.tensors()) names.push_back(t.name);
    EXPECT_EQ(names, shard_names[i]);
    EXPECT_EQ(s.metadata(), (std::map<std::string, std::string>{{"format", "pt"}, {"k", "v"}}));
  }

  const SafetensorsCheckpoint ck = SafetensorsCheckpoint::open_dir(tmp_.path());
  EXPECT_EQ(ck.names(), (std::vector<std::string>{"a", "b", "c", "d", "e.empty"}));
  for (const StTensorData &d : in) {
    SCOPED_TRACE(d.name);
    const SafetensorsFile *file = nullptr;
    const StTensor *t = ck.find(d.name, &file);
    ASSERT_NE(t, nullptr);
    ASSERT_NE(file, nullptr);
    EXPECT_EQ(fs::path(file->path()).filename().string(), index["weight_map"][d.name].get<std::string>());
    EXPECT_EQ(t->shape, d.shape);
    std::vector<float> got(static_cast<size_t>(t->elements()) + 1, -1.0f);
    ck.read_f32(d.name, d.shape, got.data());
    if (t->elements() > 0) {
      EXPECT_EQ(std::memcmp(got.data(), d.data, static_cast<size_t>(t->end - t->begin)), 0);
    }
    EXPECT_EQ(got.back(), -1.0f) << "wrote past the tensor";
  }
  EXPECT_EQ(ck.find("zzz", nullptr), nullptr);
  expect_error([&] { ck.read_f32("zzz", {1}, nullptr); }, vqr::Status::Format, "missing tensor zzz");
  std::vector<float> buf(16);
  expect_error([&] { ck.read_f32("a", {2, 8}, buf.data()); }, vqr::Status::Format, "tensor a has shape [4, 4], expected [2, 8]");
}

TEST_F(Safetensors, SingleFileFolder) {
  const ShardFixture fx;
  EXPECT_EQ(vqr::io::write_safetensors_sharded(tmp_.path(), fx.tensors(), 360), (std::vector<std::string>{"model.safetensors"}));
  EXPECT_FALSE(fs::exists(path("model.safetensors.index.json")));
  const SafetensorsCheckpoint ck = SafetensorsCheckpoint::open_dir(tmp_.path() + "/");
  EXPECT_EQ(ck.names().size(), 5u);
  std::vector<float> got(50);
  ck.read_f32("c", {5, 10}, got.data());
  EXPECT_EQ(got, fx.c);
  expect_error([&] { vqr::io::write_safetensors_sharded(tmp_.path(), fx.tensors(), 0); }, vqr::Status::InvalidArgument,
               "max_shard_bytes");
}

TEST_F(Safetensors, CheckpointFolderErrors) {
  expect_error([&] { SafetensorsCheckpoint::open_dir(tmp_.path()); }, vqr::Status::Io, "no model.safetensors");
  const ShardFixture fx;
  vqr::io::write_safetensors_sharded(tmp_.path(), fx.tensors(), 128);
  const std::string index_path = path("model.safetensors.index.json");
  const std::string good_index = read_file(index_path);
  auto with_index = [&](const std::string &text, const std::string &needle) {
    SCOPED_TRACE(needle);
    write_file(index_path, text);
    expect_error([&] { SafetensorsCheckpoint::open_dir(tmp_.path()); }, vqr::Status::Format, needle);
  };
  const std::string s1 = "model-00001-of-00003.safetensors", s3 = "model-00003-of-00003.safetensors";
  with_index("[]", "not an object");
  with_index("{\"weight_map\":", "invalid JSON");
  with_index(R"({"metadata":{}})", "weight_map");
  with_index(R"({"weight_map":{"a":1}})", "not a string");
  with_index(R"({"weight_map":{"a":"../model-00001-of-00003.safetensors"}})", "not a plain file name");
  with_index(R"({"weight_map":{"a":"sub/x.safetensors"}})", "not a plain file name");
  with_index(R"({"weight_map":{"a":""}})", "not a plain file name");
  with_index(R"({"weight_map":{"a":"gone.safetensors"}})", "does not exist");
  with_index(R"({"weight_map":{"zzz":")" + s1 + "\"}}", "tensor \"zzz\" is listed in shard");
  with_index(R"({"weight_map":{"a":")" + s3 + "\"}}", "tensor \"a\" is listed in shard");
  with_index(R"({"weight_map":{"a":")" + s1 + R"(","a":")" + s1 + "\"}}", "duplicate key");

  // The same tensor in two shards.
  const float x[2] = {1, 2};
  vqr::io::write_safetensors(path("x1.safetensors"), {{"a", StDtype::kF32, {2}, x}});
  vqr::io::write_safetensors(path("x2.safetensors"), {{"a", StDtype::kF32, {2}, x}, {"b", StDtype::kF32, {2}, x}});
  with_index(R"({"weight_map":{"a":"x1.safetensors","b":"x2.safetensors"}})", "is in two shards");

  // A shard that is corrupt reports the shard's own error.
  write_file(index_path, good_index);
  EXPECT_NO_THROW(SafetensorsCheckpoint::open_dir(tmp_.path()));
  write_file(path(s3), "short");
  expect_error([&] { SafetensorsCheckpoint::open_dir(tmp_.path()); }, vqr::Status::Format, "shorter than the 8-byte");
  // A missing shard.
  fs::remove(path(s3));
  expect_error([&] { SafetensorsCheckpoint::open_dir(tmp_.path()); }, vqr::Status::Format, "does not exist");
  // Both layouts at once are ambiguous.
  vqr::io::write_safetensors(path("model.safetensors"), {{"a", StDtype::kF32, {2}, x}});
  expect_error([&] { SafetensorsCheckpoint::open_dir(tmp_.path()); }, vqr::Status::Format, "both");
}

}  // namespace

// ------------------------------------------------------------------------------------------------
// Produced tensors (io/byte_sink.h)
// ------------------------------------------------------------------------------------------------

// A tensor whose bytes a producer writes when the file reaches it gives the same file as borrowed
// data, whatever the pieces; a producer writing another size, or throwing, leaves no file.
TEST_F(Safetensors, ProducedTensorsWriteTheSameFileAsBorrowedOnes) {
  const std::vector<float> a = {1.5f, -2.0f, 3.25f, 4.0f, -5.5f, 6.0f};
  const std::vector<int32_t> b = {7, -8, 9};
  vqr::io::write_safetensors(path("borrowed.safetensors"),
                             {{"a", StDtype::kF32, {2, 3}, a.data()}, {"b", StDtype::kI32, {3}, b.data()}});
  StTensorData pa{"a", StDtype::kF32, {2, 3}}, pb{"b", StDtype::kI32, {3}};
  pa.produce = [&](const vqr::io::ByteSink &sink) {
    sink(a.data(), 3);  // pieces need not be whole elements
    sink(reinterpret_cast<const char *>(a.data()) + 3, 21);
  };
  pb.produce = [&](const vqr::io::ByteSink &sink) {
    for (int32_t x : b) sink(&x, sizeof x);
  };
  vqr::io::write_safetensors(path("produced.safetensors"), {pb, pa});  // name order decides, as for data
  EXPECT_EQ(read_file(path("produced.safetensors")), read_file(path("borrowed.safetensors")));

  for (size_t bytes : {size_t{20}, size_t{28}}) {
    StTensorData bad{"a", StDtype::kF32, {2, 3}};
    bad.produce = [bytes](const vqr::io::ByteSink &sink) {
      const std::vector<char> zeros(bytes);
      sink(zeros.data(), zeros.size());
    };
    expect_error([&] { vqr::io::write_safetensors(path("bad.safetensors"), {pb, bad}); }, vqr::Status::InvalidArgument,
                 "tensor \"a\": its producer wrote " + std::to_string(bytes) + " bytes, F32 [2, 3] needs 24");
    EXPECT_FALSE(std::filesystem::exists(path("bad.safetensors")));
    EXPECT_FALSE(std::filesystem::exists(path("bad.safetensors.tmp")));
  }
  StTensorData throwing{"a", StDtype::kF32, {2, 3}};
  throwing.produce = [](const vqr::io::ByteSink &) { vqr::fail(vqr::Status::Format, "source", "damaged", "re-download it"); };
  expect_error([&] { vqr::io::write_safetensors(path("bad.safetensors"), {throwing}); }, vqr::Status::Format, "damaged");
  EXPECT_FALSE(std::filesystem::exists(path("bad.safetensors.tmp")));
}
