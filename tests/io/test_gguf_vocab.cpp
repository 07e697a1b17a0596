// The GGUF tokenizer (model/tokenizer.h, kind kGguf) and llama.cpp's vocabulary-only files
// (../shared/data/models/gguf-vocab-only): a small SentencePiece-style vocabulary written here
// whose merge order is visible in the expected ids, the metadata of both real files field by
// field, and llama.cpp's own tokenizer test vectors (.inp/.out) reproduced case by case.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "common/ggml_vocab_cases.h"
#include "common/scratch_files.h"
#include "core/error.h"
#include "io/gguf.h"
#include "model/data_dir.h"
#include "model/tokenizer.h"

namespace {

using vqr::io::GgufFile;
using vqr::io::GgufWriter;
using vqr::model::Tokenizer;
using vqr_test::expect_error;
using vqr_test::read_file;

// ------------------------------------------------------------------------------------------------
// The GGUF tokenizer on a small vocabulary written here
// ------------------------------------------------------------------------------------------------

TEST(GgufTokenizer, SpmOnAHandWrittenVocabulary) {
  const vqr_test::TempDir tmp("gguf_vocab");
  auto path = [&](const std::string &name) { return tmp.file(name); };
  // <unk> <s> </s>, 256 byte pieces, then pieces chosen so the merge order is visible.
  std::vector<std::string> tokens = {"<unk>", "<s>", "</s>"};
  std::vector<float> scores = {0, 0, 0};
  std::vector<int32_t> types = {2, 3, 3};
  for (int b = 0; b < 256; ++b) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "<0x%02X>", b);
    tokens.push_back(buf);
    scores.push_back(0);
    types.push_back(6);
  }
  const std::string sp = "\xe2\x96\x81";
  auto add = [&](const std::string &t, float s, int32_t type = 1) {
    tokens.push_back(t);
    scores.push_back(s);
    types.push_back(type);
    return static_cast<int32_t>(tokens.size() - 1);
  };
  const int32_t kSp = add(sp, -1), kA = add("a", -2), kB = add("b", -3), kSpA = add(sp + "a", -5), kAb = add("ab", -4),
                kAbb = add("abb", -6), kSep = add("<sep>", 0, 4);
  GgufWriter w;
  w.set_string("tokenizer.ggml.model", "llama");
  w.set_strings("tokenizer.ggml.tokens", tokens);
  w.set_f32s("tokenizer.ggml.scores", scores);
  w.set_i32s("tokenizer.ggml.token_type", types);
  w.write(path("vocab.gguf"));
  const Tokenizer t = Tokenizer::load(path("vocab.gguf"), 0);
  EXPECT_EQ(t.kind(), Tokenizer::Kind::kGguf);
  EXPECT_EQ(t.bos_id(), 1);  // llama.cpp's defaults for an SPM vocabulary without the keys
  EXPECT_EQ(t.eos_id(), 2);
  EXPECT_EQ(t.unk_id(), 0);
  EXPECT_EQ(t.token_type(kSep), vqr::model::TokenType::kUserDefined);
  using V = std::vector<int32_t>;
  // "▁ab": "ab" (-4) beats "▁a" (-5); then "▁" + "ab" is no piece.
  EXPECT_EQ(t.encode("ab", false, false), (V{kSp, kAb}));
  // "▁abb": ab first, then "abb" (-6) merges.
  EXPECT_EQ(t.encode("abb", true, true), (V{1, kSp, kAbb, 2}));
  // A user-defined piece splits the text; the fragment after it gets its own space prefix.
  EXPECT_EQ(t.encode("a<sep>a", false, false), (V{kSpA, kSep, kSpA}));
  // Unknown characters become byte pieces (UTF-8 of U+00E9 is C3 A9); spaces are U+2581.
  EXPECT_EQ(t.encode("\xc3\xa9 b", false, false), (V{kSp, 3 + 0xC3, 3 + 0xA9, kSp, kB}));
  EXPECT_EQ(t.encode("", true, false), (V{1}));
  EXPECT_EQ(t.decode(1, kSpA), "a");
  EXPECT_EQ(t.decode(kA, kSpA), " a");
  EXPECT_EQ(t.decode(kA, 3 + 'x'), "x");
  expect_error([&] { Tokenizer::load(path("vocab.gguf"), 100); }, vqr::Status::Format, "has " + std::to_string(tokens.size()) + " tokens");

  // Inconsistent vocabularies are FORMAT errors.
  GgufWriter bad;
  bad.set_string("tokenizer.ggml.model", "llama");
  bad.set_strings("tokenizer.ggml.tokens", tokens);
  bad.set_f32s("tokenizer.ggml.scores", {1.0f});
  bad.write(path("bad_vocab.gguf"));
  expect_error([&] { Tokenizer::load(path("bad_vocab.gguf"), 0); }, vqr::Status::Format, "tokenizer.ggml.scores has 1 entries");
}

// ------------------------------------------------------------------------------------------------
// llama.cpp's vocabulary-only files
// ------------------------------------------------------------------------------------------------

TEST(GgufVocabFiles, MetadataOfBothFiles) {
  VQR_DATA_DIR_OR_SKIP(data);
  const std::string dir = data + "/models/gguf-vocab-only/";
  const GgufFile spm = GgufFile::open(dir + "ggml-vocab-llama-spm.gguf");
  EXPECT_EQ(spm.version(), 3u);
  EXPECT_TRUE(spm.tensors().empty());
  EXPECT_EQ(spm.kvs().size(), 22u);
  EXPECT_EQ(spm.get_string("general.architecture"), "llama");
  EXPECT_EQ(spm.get_string("general.name"), "llama-spm");
  EXPECT_EQ(spm.get_u32("llama.block_count"), 32u);
  EXPECT_EQ(spm.get_u32("llama.context_length"), 4096u);
  EXPECT_EQ(spm.get_u32("llama.feed_forward_length"), 11008u);
  EXPECT_EQ(spm.get_f32("llama.attention.layer_norm_rms_epsilon"), 1e-5f);
  EXPECT_EQ(spm.get_string("tokenizer.ggml.model"), "llama");
  const std::vector<std::string> tokens = spm.get_strings("tokenizer.ggml.tokens");
  ASSERT_EQ(tokens.size(), 32000u);
  EXPECT_EQ(tokens[0], "<unk>");
  EXPECT_EQ(tokens[2], "</s>");
  EXPECT_EQ(tokens[3 + 0x41], "<0x41>");
  EXPECT_EQ(tokens[29871], "\xe2\x96\x81");
  EXPECT_EQ(tokens[15043], "\xe2\x96\x81Hello");
  const std::vector<int32_t> types = spm.get_i32s("tokenizer.ggml.token_type");
  std::map<int32_t, int> by_type;
  for (int32_t t : types) ++by_type[t];
  EXPECT_EQ(by_type, (std::map<int32_t, int>{{1, 31741}, {2, 1}, {3, 2}, {6, 256}}));
  EXPECT_EQ(spm.get_f32s("tokenizer.ggml.scores").size(), 32000u);
  EXPECT_EQ(spm.get_u32("tokenizer.ggml.bos_token_id"), 1u);
  EXPECT_TRUE(spm.get_bool("tokenizer.ggml.add_bos_token"));
  EXPECT_FALSE(spm.get_bool("tokenizer.ggml.add_eos_token"));

  const GgufFile gpt2 = GgufFile::open(dir + "ggml-vocab-gpt-2.gguf");
  EXPECT_EQ(gpt2.get_string("general.architecture"), "gpt2");
  EXPECT_EQ(gpt2.get_u32("gpt2.context_length"), 1024u);
  EXPECT_EQ(gpt2.get_string("tokenizer.ggml.model"), "gpt2");
  EXPECT_EQ(gpt2.array_count("tokenizer.ggml.tokens"), 50257u);
  const std::vector<std::string> merges = gpt2.get_strings("tokenizer.ggml.merges");
  ASSERT_EQ(merges.size(), 50000u);
  EXPECT_EQ(merges[0], "\xc4\xa0 t");
  EXPECT_EQ(gpt2.get_u32("tokenizer.ggml.eos_token_id"), 50256u);
}

// llama.cpp's tokenizer test vectors: inputs separated by "\n__ggml_vocab_test__\n" (the file ends
// with the separator), one output line per input with the ids, each preceded by a space, no BOS.
TEST(GgufVocabFiles, LlamaSpmTokenizerMatchesLlamaCpp) {
  VQR_DATA_DIR_OR_SKIP(data);
  const std::string base = data + "/models/gguf-vocab-only/ggml-vocab-llama-spm.gguf";
  const Tokenizer t = Tokenizer::load(base, 32000);
  EXPECT_EQ(t.kind(), Tokenizer::Kind::kGguf);
  EXPECT_EQ(t.bos_id(), 1);
  const std::string inp = read_file(base + ".inp");
  const vqr_test::GgmlVocabCases v = vqr_test::parse_ggml_vocab_cases(inp, read_file(base + ".out"));
  EXPECT_EQ(v.parsed, inp.size()) << "the input file ends with the separator";
  const std::vector<std::string> &cases = v.texts;
  ASSERT_EQ(cases.size(), v.ids.size());
  ASSERT_GE(cases.size(), 40u);
  for (size_t i = 0; i < cases.size(); ++i)
    EXPECT_EQ(t.encode(cases[i], false, false), v.ids[i]) << "case " << i << ": \"" << cases[i] << "\"";
}

// Since issue 19 a "gpt2" vocabulary tokenizes as byte-level BPE (its llama.cpp test vectors are
// checked in tests/model/test_tokenizer_bpe_files.cpp).
TEST(GgufVocabFiles, Gpt2VocabularyLoadsAsByteLevelBpe) {
  VQR_DATA_DIR_OR_SKIP(data);
  const std::string p = data + "/models/gguf-vocab-only/ggml-vocab-gpt-2.gguf";
  const Tokenizer t = Tokenizer::load(p, 0);
  EXPECT_EQ(t.kind(), Tokenizer::Kind::kGguf);
  EXPECT_NE(t.bpe(), nullptr);
  EXPECT_EQ(t.encode("Hello world", false, false), (std::vector<int32_t>{15496, 995}));
}

}  // namespace
