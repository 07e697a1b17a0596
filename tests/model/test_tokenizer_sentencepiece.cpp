// The SentencePiece backend of Tokenizer against an independent reference: the same vocabulary as
// a llama2.c tokenizer.bin encoded by run.c's algorithm (gutenberg4M's 4096 pieces, Llama 2's
// 32000). Also golden ids, pieces and decode, load errors, and pre-tokenized id files. The data
// tests skip without the shared data folder (fail with VQR_REQUIRE_DATA=1); token files need none.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "common/scratch_files.h"
#include "core/error.h"
#include "data_dir.h"
#include "model/text_corpus.h"
#include "model/token_file.h"
#include "model/tokenizer.h"
#include "synthetic_files.h"

using vqr::model::Tokenizer;
using vqr_test::TempFile;

namespace {

// Expects `fn` to throw vqr::Error with `status` and a message containing every string of `parts`.
template <class Fn>
void expect_error(Fn fn, vqr::Status status, const std::vector<std::string> &parts) {
  try {
    fn();
    ADD_FAILURE() << "no error thrown";
  } catch (const vqr::Error &e) {
    EXPECT_EQ(e.status(), status) << e.what();
    for (const auto &p : parts) EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what() << " lacks " << p;
  }
}

std::vector<char> file_bytes(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<char>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string show(const std::vector<int32_t> &ids) {
  std::string s;
  for (int32_t id : ids) s += std::to_string(id) + " ";
  return s;
}

// One vocabulary in both files: SentencePiece's tokenizer.model and llama2.c's export of it.
struct Pair {
  Tokenizer sp, bin;
  int vocab;
};

// Loaded once per process (the data folder does not change while the tests run).
const Pair &gutenberg(const std::string &data) {
  static const Pair p = [&] {
    const std::string dir = data + "/models/gutenberg4M/";
    return Pair{Tokenizer::load(dir + "tokenizer.model", 4096), Tokenizer::load(dir + "tok4096.bin", 4096), 4096};
  }();
  return p;
}

const Pair &llama2(const std::string &data) {
  static const Pair p = [&] {
    const std::string dir = data + "/models/llama2c-tokenizer/";
    return Pair{Tokenizer::load(dir + "tokenizer.model", 32000), Tokenizer::load(dir + "tokenizer.bin", 32000), 32000};
  }();
  return p;
}

// Expects SentencePiece's ids of `sp_text` to equal llama2.c's of `bin_text` (BOS and EOS on).
void expect_same_ids(const Pair &p, const std::string &sp_text, const std::string &bin_text, const std::string &what) {
  const auto a = p.sp.encode(sp_text, true, true), b = p.bin.encode(bin_text, true, true);
  EXPECT_EQ(a, b) << what << " [" << sp_text << "]\n  sentencepiece: " << show(a) << "\n  llama2.c:      " << show(b);
}

// SentencePiece's remove_extra_whitespaces (on in gutenberg4M's normalizer spec, off in Llama 2's):
// ASCII spaces stripped at both ends, runs of them collapsed to one. Other whitespace is kept.
std::string collapse_spaces(const std::string &s) {
  std::string out;
  for (char c : s) {
    if (c == ' ' && (out.empty() || out.back() == ' ')) continue;
    out.push_back(c);
  }
  if (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

// Inputs where run.c-style encoders tend to go wrong: whitespace at the ends and in runs, control
// characters, byte fallback (emoji, CJK, code points outside the vocabulary), the empty string.
const std::vector<std::string> kTricky = {
    "", " ", "  ", "a", " a", "a ", "  leading", "trailing  ", "multiple   spaces  inside", "\n", "line\nbreak",
    "two\n\nlines\n", "\ttab\tseparated\t", " \t \n ", "emoji \xf0\x9f\x98\x80 and \xf0\x9f\x8e\x89!",
    "CJK \xe4\xb8\xad\xe6\x96\x87\xe5\xad\x97 \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",
    "caf\xc3\xa9 na\xc3\xafve \xe2\x82\xac 5", "<s> not a control </s>", "x\x01y\x7f", "ALL CAPS, digits 1234567890.",
    "\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80"};

// U+2581 ("\u2581"), SentencePiece's own space mark, in the text.
const std::string kMeta = "\xe2\x96\x81";

}  // namespace

TEST(SentencePiece, Gutenberg4MMatchesLlama2cOnHeldoutText) {
  VQR_DATA_DIR_OR_SKIP(data);
  const Pair &p = gutenberg(data);
  EXPECT_EQ(p.sp.kind(), Tokenizer::Kind::kSentencePiece);
  EXPECT_EQ(p.bin.kind(), Tokenizer::Kind::kLlama2c);
  const auto paragraphs =
      vqr::model::split_paragraphs(vqr::model::read_text_file(data + "/text/gutenberg/gutenberg_heldout.txt"));
  ASSERT_GE(paragraphs.size(), 300u);
  for (size_t i = 0; i < 300; ++i) expect_same_ids(p, paragraphs[i], paragraphs[i], "paragraph " + std::to_string(i));
}

TEST(SentencePiece, Llama2MatchesLlama2cOnTinyStories) {
  VQR_DATA_DIR_OR_SKIP(data);
  const Pair &p = llama2(data);
  const auto paragraphs =
      vqr::model::split_paragraphs(vqr::model::read_text_file(data + "/text/tinystories/tinystories_val.txt"));
  ASSERT_GE(paragraphs.size(), 300u);
  for (size_t i = 0; i < 300; ++i) expect_same_ids(p, paragraphs[i], paragraphs[i], "paragraph " + std::to_string(i));
}

// Known differences between run.c's encode() and SentencePiece, asserted exactly:
//  1. gutenberg4M's model normalizes whitespace (remove_extra_whitespaces, SentencePiece's
//     default; Llama 2 turns it off): SentencePiece encodes "  leading" like "leading" and
//     "multiple   spaces  inside" like "multiple spaces inside", while run.c keeps every space.
//     So SentencePiece(text) == llama2.c(collapse_spaces(text)) for that model.
//  2. A literal U+2581 in the text: SentencePiece reads it as a space (it is its space mark);
//     llama2.c's vocabulary spells spaces " ", so the character falls back to its three bytes
//     (Llama 2: "\u2581 literal" -> SentencePiece 1 259 ..., llama2.c 1 29871 229 153 132 ...).
TEST(SentencePiece, TrickyStringsAgreeExceptKnownDifferences) {
  VQR_DATA_DIR_OR_SKIP(data);
  const Pair &llama = llama2(data), &gut = gutenberg(data);
  for (const auto &t : kTricky) {
    expect_same_ids(llama, t, t, "llama2");
    expect_same_ids(gut, t, collapse_spaces(t), "gutenberg4M (spaces collapsed for llama2.c)");
  }
  // Difference 1, shown on its own: the inputs that differ, and that llama2.c keeps the spaces.
  for (const std::string t : {" ", " a", "a ", "  leading", "trailing  ", "multiple   spaces  inside"})
    EXPECT_NE(gut.sp.encode(t, true, false), gut.bin.encode(t, true, false)) << "[" << t << "]";
  // Difference 2: U+2581 is a space to SentencePiece.
  for (const Pair *p : {&llama, &gut}) {
    expect_same_ids(*p, kMeta + " literal meta", "  literal meta", "U+2581 as a space");
    const auto bin = p->bin.encode(kMeta, false, false);
    EXPECT_EQ(std::vector<int32_t>(bin.end() - 3, bin.end()), (std::vector<int32_t>{0xe2 + 3, 0x96 + 3, 0x81 + 3}));
  }
}

// Golden ids, derived once from the llama2.c encoder (which matches run.c) and checked against
// both files. Llama 2's "Hello, world!" = 15043 29892 3186 29991 is also what Meta's tokenizer gives.
TEST(SentencePiece, GoldenIds) {
  VQR_DATA_DIR_OR_SKIP(data);
  const Pair &gut = gutenberg(data), &llama = llama2(data);
  for (const Tokenizer *t : {&gut.sp, &gut.bin}) {
    EXPECT_EQ(t->encode("It was the best of times.", true, false),
              (std::vector<int32_t>{1, 535, 327, 263, 1133, 282, 1609, 3919}));
    EXPECT_EQ(t->encode("Hello, world!", true, true), (std::vector<int32_t>{1, 369, 464, 3901, 3916, 921, 3936, 2}));
    // e-acute has a piece; U+4E2D and the emoji fall back to bytes (id = byte + 3).
    EXPECT_EQ(t->encode("caf\xc3\xa9 \xe4\xb8\xad \xf0\x9f\x98\x80", false, false),
              (std::vector<int32_t>{1330, 3913, 3988, 3897, 231, 187, 176, 3897, 243, 162, 155, 131}));
  }
  for (const Tokenizer *t : {&llama.sp, &llama.bin}) {
    EXPECT_EQ(t->encode("Hello, world!", true, false), (std::vector<int32_t>{1, 15043, 29892, 3186, 29991}));
    EXPECT_EQ(t->encode("It was the best of times.", true, true),
              (std::vector<int32_t>{1, 739, 471, 278, 1900, 310, 3064, 29889, 2}));
    EXPECT_EQ(t->encode("caf\xc3\xa9 \xe4\xb8\xad \xf0\x9f\x98\x80", false, false),
              (std::vector<int32_t>{274, 28059, 29871, 30275, 29871, 243, 162, 155, 131}));
    EXPECT_EQ(t->encode("\t \n", false, false), (std::vector<int32_t>{29871, 12, 29871, 13}));
  }
}

TEST(SentencePiece, SpecialsVocabularyAndPieces) {
  VQR_DATA_DIR_OR_SKIP(data);
  for (const Pair *pp : {&gutenberg(data), &llama2(data)}) {
    const Pair &p = *pp;
    const Tokenizer &sp = p.sp;
    EXPECT_EQ(sp.vocab_size(), p.vocab);
    EXPECT_EQ(sp.bos_id(), 1);
    EXPECT_EQ(sp.eos_id(), 2);
    EXPECT_EQ(p.bin.bos_id(), Tokenizer::kBos);
    EXPECT_EQ(p.bin.eos_id(), Tokenizer::kEos);
    EXPECT_EQ(sp.encode("", false, false), std::vector<int32_t>{});
    EXPECT_EQ(sp.encode("", true, true), (std::vector<int32_t>{1, 2}));
    EXPECT_EQ(sp.encode("a\0b", true, false), sp.encode("a", true, false)) << "text ends at its first NUL";
    EXPECT_EQ(sp.piece(0), "<unk>");
    EXPECT_EQ(sp.piece(1), "<s>");
    EXPECT_EQ(sp.piece(2), "</s>");
    EXPECT_EQ(sp.piece(3 + '\n'), "<0x0A>");
    EXPECT_THROW(sp.piece(p.vocab), std::out_of_range);
    EXPECT_THROW(sp.piece(-1), std::out_of_range);
    EXPECT_EQ(sp.lookup("no such piece, surely"), -1) << "unknown pieces are -1, not unk's id";
    EXPECT_EQ(sp.lookup("<unk>"), 0);
    EXPECT_EQ(sp.lookup(kMeta + "the"), p.bin.lookup(" the"));
    EXPECT_EQ(sp.lookup(" the"), -1) << "SentencePiece spells the space U+2581";
    // Piece for piece the same vocabulary as the llama2.c export (which writes U+2581 as " " and
    // BOS/EOS as "\n<s>\n", "\n</s>\n"), with the same scores.
    for (int32_t id = 0; id < p.vocab; ++id) {
      ASSERT_EQ(sp.lookup(sp.piece(id)), id);
      ASSERT_EQ(sp.score(id), p.bin.score(id)) << "id " << id;
      if (id == 1 || id == 2) continue;
      std::string spaced = sp.piece(id);
      for (size_t at = spaced.find(kMeta); at != std::string::npos; at = spaced.find(kMeta, at))
        spaced.replace(at, kMeta.size(), " ");
      ASSERT_EQ(spaced, p.bin.piece(id)) << "id " << id;
    }
  }
}

TEST(SentencePiece, DecodeMatchesLlama2cAndRoundTrips) {
  VQR_DATA_DIR_OR_SKIP(data);
  const Pair &llama = llama2(data), &gut = gutenberg(data);
  for (const Pair *p : {&gut, &llama}) {
    // Every id except BOS/EOS (spelled differently by the two files) decodes alike, after BOS too.
    for (int32_t id = 0; id < p->vocab; ++id) {
      if (id == 1 || id == 2) continue;
      ASSERT_EQ(p->sp.decode(1, id), p->bin.decode(1, id)) << "id " << id;
      ASSERT_EQ(p->sp.decode(5, id), p->bin.decode(5, id)) << "id " << id;
    }
  }
  EXPECT_EQ(llama.sp.decode(1, llama.sp.lookup(kMeta + "Hello")), "Hello");
  EXPECT_EQ(llama.sp.decode(15043, llama.sp.lookup(kMeta + "world")), " world");
  EXPECT_EQ(llama.sp.decode(5, 3 + 'A'), "A");
  EXPECT_EQ(llama.sp.decode(5, 3), "") << "byte 0 ends run.c's C string";

  // decode(encode(text)) gives the text back (the dummy-prefix space is dropped after BOS).
  struct Corpus {
    const Pair *pair;
    const char *file;
  };
  for (const Corpus &c : {Corpus{&gut, "/text/gutenberg/gutenberg_heldout.txt"},
                          Corpus{&llama, "/text/tinystories/tinystories_val.txt"}}) {
    const auto paragraphs = vqr::model::split_paragraphs(vqr::model::read_text_file(data + c.file));
    for (size_t i = 0; i < 50 && i < paragraphs.size(); ++i) {
      const auto ids = c.pair->sp.encode(paragraphs[i], true, false);
      std::string back;
      for (size_t k = 1; k < ids.size(); ++k) back += c.pair->sp.decode(ids[k - 1], ids[k]);
      ASSERT_EQ(back, paragraphs[i]) << c.file << " paragraph " << i;
    }
  }
}

TEST(SentencePiece, CopiesShareTheModel) {
  VQR_DATA_DIR_OR_SKIP(data);
  Tokenizer copy = Tokenizer::load(data + "/models/llama2c-tokenizer/tokenizer.bin", 32000);
  {
    const Tokenizer original = Tokenizer::load(data + "/models/llama2c-tokenizer/tokenizer.model", 32000);
    copy = original;
  }  // the original is gone; the copy keeps the processor alive
  EXPECT_EQ(copy.kind(), Tokenizer::Kind::kSentencePiece);
  EXPECT_EQ(copy.encode("Hello, world!", true, false), (std::vector<int32_t>{1, 15043, 29892, 3186, 29991}));
}

// The kind follows the rule in tokenizer.h: ".bin" tries llama2.c first, other names SentencePiece
// first, each falling back to the other; a file renamed to the wrong extension still loads.
TEST(SentencePiece, KindDoesNotDependOnTheName) {
  VQR_DATA_DIR_OR_SKIP(data);
  const std::string dir = data + "/models/gutenberg4M/";
  const std::vector<char> model = file_bytes(dir + "tokenizer.model"), bin = file_bytes(dir + "tok4096.bin");
  ASSERT_FALSE(model.empty());
  ASSERT_FALSE(bin.empty());
  struct Case {
    const char *name;
    const std::vector<char> *bytes;
    Tokenizer::Kind kind;
  };
  for (const Case &c : {Case{"spm_as.bin", &model, Tokenizer::Kind::kSentencePiece},
                        Case{"spm_noext", &model, Tokenizer::Kind::kSentencePiece},
                        Case{"bin_as.model", &bin, Tokenizer::Kind::kLlama2c},
                        Case{"bin_noext", &bin, Tokenizer::Kind::kLlama2c}}) {
    TempFile f(c.name);
    f.write(*c.bytes);
    const Tokenizer t = Tokenizer::load(f.path(), 4096);
    EXPECT_EQ(t.kind(), c.kind) << c.name;
    EXPECT_EQ(t.encode("It was the best of times.", true, false),
              (std::vector<int32_t>{1, 535, 327, 263, 1133, 282, 1609, 3919}))
        << c.name;
  }
  EXPECT_EQ(Tokenizer::load(dir + "tokenizer.model", 0).vocab_size(), 4096) << "vocab_size 0 takes the file's";
}

TEST(SentencePiece, BadFilesFailCleanly) {
  VQR_DATA_DIR_OR_SKIP(data);
  const std::string model = data + "/models/gutenberg4M/tokenizer.model";
  // A tokenizer of another model: the message names both sizes.
  expect_error([&] { Tokenizer::load(model, 32000); }, vqr::Status::Format, {model, "4096", "32000", "hint:"});
  expect_error([&] { Tokenizer::load(data + "/models/llama2c-tokenizer/tokenizer.model", 4096); }, vqr::Status::Format,
               {"32000", "4096"});
  expect_error([&] { Tokenizer::load(model + ".missing", 4096); }, vqr::Status::Io, {"cannot open"});

  // Truncated: the first 1000 bytes of a real model, under each kind of name.
  const std::vector<char> bytes = file_bytes(model);
  ASSERT_GT(bytes.size(), 1000u);
  const std::vector<char> head(bytes.begin(), bytes.begin() + 1000);
  for (const char *name : {"trunc.model", "trunc.bin", "trunc"}) {
    TempFile f(name);
    f.write(head);
    expect_error([&] { Tokenizer::load(f.path(), 4096); }, vqr::Status::Format, {f.path(), "hint:"});
    expect_error([&] { Tokenizer::load(f.path(), 0); }, vqr::Status::Format, {f.path(), "hint:"});
  }
  {
    TempFile f("trunc.model");
    f.write(head);
    expect_error([&] { Tokenizer::load(f.path(), 4096); }, vqr::Status::Format, {"SentencePiece", "truncated"});
  }
  // Garbage (text), empty: neither format, whatever the name.
  const std::string text = "Once upon a time there was a text file that was not a tokenizer at all.\n";
  for (const char *name : {"garbage.model", "garbage.bin", "garbage.txt"}) {
    TempFile f(name);
    f.write(std::vector<char>(text.begin(), text.end()));
    expect_error([&] { Tokenizer::load(f.path(), 4096); }, vqr::Status::Format, {f.path(), "hint:"});
    f.write({});
    expect_error([&] { Tokenizer::load(f.path(), 0); }, vqr::Status::Format, {f.path(), "hint:"});
  }
  {
    TempFile f("garbage.txt");
    f.write(std::vector<char>(text.begin(), text.end()));
    expect_error([&] { Tokenizer::load(f.path(), 4096); }, vqr::Status::Format, {"neither", "SentencePiece", "llama2.c"});
  }
}

// --- pre-tokenized id files (no data needed) ---------------------------------------------------

TEST(TokenFile, RoundTrip) {
  TempFile f("ids.u32");
  const std::vector<int32_t> ids = {1, 0, 4095, 2, 17, 300, 1};
  vqr::model::write_token_file(f.path(), ids);
  EXPECT_EQ(file_bytes(f.path()).size(), 4 * ids.size());
  EXPECT_EQ(vqr::model::read_token_file(f.path(), 4096), ids);
  EXPECT_EQ(vqr::model::read_token_file(f.path(), 0), ids) << "vocab_size 0: no range check";
  // Little-endian on disk: 4095 = ff 0f 00 00.
  const std::vector<char> raw = file_bytes(f.path());
  EXPECT_EQ(static_cast<unsigned char>(raw[8]), 0xffu);
  EXPECT_EQ(static_cast<unsigned char>(raw[9]), 0x0fu);
  EXPECT_EQ(raw[10], 0);
  // A bigger file, rewritten in place (replaces the old one).
  std::vector<int32_t> many(300001);
  for (size_t i = 0; i < many.size(); ++i) many[i] = static_cast<int32_t>((i * 2654435761u) % 32000);
  vqr::model::write_token_file(f.path(), many);
  EXPECT_EQ(vqr::model::read_token_file(f.path(), 32000), many);
  EXPECT_TRUE(vqr_test::temporaries_beside(f.path()).empty()) << "the temporary file is renamed away";
}

TEST(TokenFile, BadFilesFailCleanly) {
  using vqr::model::read_token_file;
  TempFile f("bad.u32");
  expect_error([&] { read_token_file(f.path(), 10); }, vqr::Status::Io, {f.path(), "cannot open"});
  f.write({});
  expect_error([&] { read_token_file(f.path(), 10); }, vqr::Status::Format, {f.path(), "empty", "hint:"});
  f.write({1, 0, 0, 0, 2, 0});
  expect_error([&] { read_token_file(f.path(), 10); }, vqr::Status::Format, {f.path(), "6 bytes", "multiple of 4"});
  f.write({1, 0, 0, 0, 9, 0, 0, 0, 10, 0, 0, 0});
  expect_error([&] { read_token_file(f.path(), 10); }, vqr::Status::Format,
               {f.path(), "token 2", "id 10", "another tokenizer"});
  EXPECT_EQ(read_token_file(f.path(), 11), (std::vector<int32_t>{1, 9, 10}));
  f.write({0, 0, 0, static_cast<char>(0x80)});  // 2^31 does not fit an int32 id
  expect_error([&] { read_token_file(f.path(), 0); }, vqr::Status::Format, {"id 2147483648"});
  expect_error([&] { read_token_file("/tmp", 10); }, vqr::Status::Io, {"/tmp"});

  expect_error([] { vqr::model::write_token_file("/nonexistent-dir/ids.u32", {1, 2}); }, vqr::Status::Io,
               {"/nonexistent-dir/ids.u32"});
  expect_error([&] { vqr::model::write_token_file(f.path(), {1, -2}); }, vqr::Status::InvalidArgument, {"-2"});
}
