// Byte-level BPE through Tokenizer::load: tokenizer.json (+ tokenizer_config.json) written here,
// its BOS / EOS rules, padding to the model's vocabulary, which file a model folder's tokenizer is,
// malformed and unsupported files (a vqr::Error with Status::Format / Unsupported, never a crash),
// and llama.cpp's test vectors for the GPT-2 GGUF vocabulary (data folder; skipped without it).
#include <gtest/gtest.h>

#include <filesystem>

#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "common/ggml_vocab_cases.h"
#include "common/scratch_files.h"
#include "data_dir.h"
#include "model/bpe_tokenizer.h"
#include "model/byte_level.h"
#include "model/gguf_vocab.h"
#include "model/model_source.h"
#include "model/tokenizer.h"
#include "vqround/vqround.h"

using nlohmann::json;
using vqr::Status;
using vqr::model::Tokenizer;
using vqr_test::Hint;
using vqr_test::TempDir;

namespace {

namespace byte_level = vqr::model::byte_level;

const char *const kLlama3 =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// A Llama 3 shaped tokenizer.json: 256 byte pieces, a few merges, <|begin_of_text|> as the
// template's BOS and <|eot|> as a second special token.
json llama3_like() {
  json vocab = json::object();
  for (int b = 0; b < 256; ++b) vocab[byte_level::spell(std::string(1, static_cast<char>(b)))] = b;
  json merges = json::array();
  int next = 256;
  for (const auto &[a, b] : std::vector<std::pair<std::string, std::string>>{{"h", "i"}, {" ", "t"}, {" t", "hi"}, {"1", "2"}}) {
    merges.push_back(json::array({byte_level::spell(a), byte_level::spell(b)}));
    vocab[byte_level::spell(a + b)] = next++;
  }
  json j;
  j["version"] = "1.0";
  j["added_tokens"] = json::array(
      {{{"id", 260}, {"content", "<|begin_of_text|>"}, {"special", true}, {"lstrip", false}, {"rstrip", false}, {"single_word", false}, {"normalized", false}},
       {{"id", 261}, {"content", "<|eot|>"}, {"special", true}}});
  j["normalizer"] = nullptr;
  j["pre_tokenizer"] = {{"type", "Sequence"},
                        {"pretokenizers",
                         json::array({{{"type", "Split"}, {"pattern", {{"Regex", kLlama3}}}, {"behavior", "Isolated"}, {"invert", false}},
                                      {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", false}}})}};
  j["post_processor"] = {
      {"type", "Sequence"},
      {"processors",
       json::array({{{"type", "ByteLevel"}},
                    {{"type", "TemplateProcessing"},
                     {"single", json::array({{{"SpecialToken", {{"id", "<|begin_of_text|>"}, {"type_id", 0}}}},
                                             {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}})},
                     {"special_tokens", {{"<|begin_of_text|>", {{"id", "<|begin_of_text|>"}, {"ids", {260}}, {"tokens", {"<|begin_of_text|>"}}}}}}}})}};
  j["decoder"] = {{"type", "ByteLevel"}};
  j["model"] = {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr}, {"ignore_merges", true},
                {"byte_fallback", false}, {"vocab", vocab}, {"merges", merges}};
  return j;
}

Tokenizer load_json(const TempDir &dir, const json &tok, const std::string &config = "", int vocab_size = 0) {
  vqr_test::write_file(dir.file("tokenizer.json"), tok.dump());
  if (!config.empty()) vqr_test::write_file(dir.file("tokenizer_config.json"), config);
  else std::remove(dir.file("tokenizer_config.json").c_str());
  return Tokenizer::load(dir.file("tokenizer.json"), vocab_size);
}

TEST(BpeTokenizerJson, LoadsEncodesAndFollowsTheTemplatesBos) {
  TempDir dir("bpe_json");
  const Tokenizer t = load_json(dir, llama3_like());
  EXPECT_EQ(t.kind(), Tokenizer::Kind::kBpe);
  ASSERT_NE(t.bpe(), nullptr);
  EXPECT_EQ(t.vocab_size(), 262);
  EXPECT_EQ(t.bos_id(), 260);
  EXPECT_EQ(t.eos_id(), -1);
  EXPECT_FALSE(t.add_space_prefix());
  // " thi" merges to one piece; "12345" splits 123|45 and "12" merges; <|eot|> is matched as a token.
  EXPECT_EQ(t.encode("hi thi 12345<|eot|>", true, false),
            (std::vector<int32_t>{260, 256, 258, ' ', 259, '3', '4', '5', 261}));
  EXPECT_EQ(t.lookup("\xc4\xa0t"), 257);
  EXPECT_EQ(t.token_type(260), vqr::model::TokenType::kControl);
  EXPECT_EQ(t.token_type(65), vqr::model::TokenType::kNormal);
  std::string back;
  for (int32_t id : t.encode("hi thi 12345<|eot|>", false, false)) back += t.decode(0, id);
  EXPECT_EQ(back, "hi thi 12345<|eot|>");
  // The model's vocabulary is larger (padded embeddings): the pieces are padded, unused.
  const Tokenizer padded = Tokenizer::load(dir.file("tokenizer.json"), 300);
  EXPECT_EQ(padded.vocab_size(), 300);
  EXPECT_EQ(padded.piece(299), "[PAD299]");
  EXPECT_EQ(padded.token_type(299), vqr::model::TokenType::kUnused);
  EXPECT_EQ(padded.decode(0, 299), "");
  vqr_test::expect_error([&] { Tokenizer::load(dir.file("tokenizer.json"), 100); }, Status::Format, "ids up to 261");
  // Recognized by content under a name of no known kind; a ".model" name stays SentencePiece's.
  vqr_test::write_file(dir.file("tok_noext"), "\n  " + llama3_like().dump());
  EXPECT_EQ(Tokenizer::load(dir.file("tok_noext"), 0).kind(), Tokenizer::Kind::kBpe);
  vqr_test::write_file(dir.file("tok.model"), llama3_like().dump());
  vqr_test::expect_error([&] { Tokenizer::load(dir.file("tok.model"), 0); }, Status::Format, "SentencePiece", Hint::kOptional);
}

TEST(BpeTokenizerJson, TokenizerConfigDecidesBosAndEos) {
  TempDir dir("bpe_config");
  const Tokenizer no_bos = load_json(dir, llama3_like(), R"({"add_bos_token": false, "bos_token": "<|begin_of_text|>", "eos_token": "<|eot|>"})");
  EXPECT_EQ(no_bos.bos_id(), -1);
  EXPECT_EQ(no_bos.eos_id(), 261);
  EXPECT_EQ(no_bos.encode("hi", true, true), (std::vector<int32_t>{256, 261}));
  const Tokenizer object_form = load_json(
      dir, llama3_like(), R"({"add_bos_token": true, "bos_token": {"content": "<|eot|>", "lstrip": false}, "eos_token": null})");
  EXPECT_EQ(object_form.bos_id(), 261);
  EXPECT_EQ(object_form.eos_id(), -1);
  json no_template = llama3_like();
  no_template["post_processor"] = {{"type", "ByteLevel"}};
  EXPECT_EQ(load_json(dir, no_template).bos_id(), -1);  // GPT-2 and Qwen2: no BOS
  vqr_test::expect_error([&] { load_json(dir, llama3_like(), "{not json"); }, Status::Format, "tokenizer_config.json");
}

TEST(BpeTokenizerJson, MalformedFilesAreFormatErrors) {
  TempDir dir("bpe_bad");
  struct Case {
    const char *what;
    std::function<void(json &)> edit;
    const char *needle;
  };
  const std::vector<Case> cases = {
      {"vocab not an object", [](json &j) { j["model"]["vocab"] = json::array(); }, "vocabulary is not an object"},
      {"no model", [](json &j) { j.erase("model"); }, "has no \"model\""},
      {"string id", [](json &j) { j["model"]["vocab"]["!"] = "one"; }, "not an integer"},
      {"negative id", [](json &j) { j["model"]["vocab"]["!"] = -4; }, "not an integer"},
      {"huge id", [](json &j) { j["model"]["vocab"]["zz"] = 2000000000; }, "not an integer"},
      {"shared id", [](json &j) { j["model"]["vocab"]["zz"] = 5; }, "belongs to two pieces"},
      {"merge of unknown piece", [](json &j) { j["model"]["merges"].push_back(json::array({"zz", "h"})); }, "not in the vocabulary"},
      {"merge string without space", [](json &j) { j["model"]["merges"].push_back("hi"); }, "two pieces"},
      {"merge of three", [](json &j) { j["model"]["merges"].push_back(json::array({"h", "i", "x"})); }, "merge 4"},
      {"merges not a list", [](json &j) { j["model"]["merges"] = 3; }, "merges are not a list"},
      {"added token without id", [](json &j) { j["added_tokens"].push_back({{"content", "x"}}); }, "has no \"id\""},
      {"added token of wrong type", [](json &j) { j["added_tokens"][0]["content"] = 7; }, "not a string"},
      {"bad regex", [](json &j) { j["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = "(?<"; }, "cannot compile"},
      {"pattern neither", [](json &j) { j["pre_tokenizer"]["pretokenizers"][0]["pattern"] = 5; }, "neither"},
      {"not an object", [](json &j) { j = json::array({1, 2}); }, "not a JSON object"},
  };
  for (const Case &c : cases) {
    json j = llama3_like();
    c.edit(j);
    vqr_test::expect_error([&] { load_json(dir, j); }, Status::Format, c.needle);
    SCOPED_TRACE(c.what);
  }
  // Not JSON at all, truncated, deeply nested (unclosed, and valid), empty.
  const std::string text = llama3_like().dump();
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  for (const std::string &bytes : {std::string("{\"model\": "), text.substr(0, text.size() / 2), std::string(100000, '['), deep,
                                   std::string("{")}) {
    vqr_test::write_file(dir.file("tokenizer.json"), bytes);
    vqr_test::expect_error([&] { Tokenizer::load(dir.file("tokenizer.json"), 0); }, Status::Format, "JSON");
  }
}

// Random damage, structural (a node replaced by a value of another type) and textual (bytes
// overwritten, the file cut): every load either succeeds or throws vqr::Error with Format or
// Unsupported; anything else (another exception, a crash under the sanitizers) fails.
TEST(BpeTokenizerJson, RandomDamageGivesAnErrorOrATokenizerNeverACrash) {
  TempDir dir("bpe_damage");
  std::mt19937 rng(2026);
  const json base = llama3_like();
  const std::vector<json> replacements = {nullptr, -1, 0, 4000000000LL, 1.5, "", "x", json::array(), json::object(),
                                          true, json::array({1, "a"})};
  int loaded = 0, refused = 0;
  for (int round = 0; round < 400; ++round) {
    std::string bytes;
    if (round % 2 == 0) {
      json j = base;
      json *node = &j;
      for (int depth = 0; depth < 6 && (node->is_object() || node->is_array()) && !node->empty(); ++depth) {
        auto it = node->begin();
        std::advance(it, static_cast<long>(rng() % node->size()));
        node = &*it;
        if (rng() % 3 == 0) break;
      }
      *node = replacements[rng() % replacements.size()];
      bytes = j.dump();
    } else {
      bytes = base.dump();
      const std::string noise = "{}[]\",:0-9az \\";
      for (int k = 0; k < 3; ++k) bytes[rng() % bytes.size()] = noise[rng() % noise.size()];
      if (rng() % 4 == 0) bytes.resize(rng() % bytes.size());
    }
    vqr_test::write_file(dir.file("tokenizer.json"), bytes);
    try {
      const Tokenizer t = Tokenizer::load(dir.file("tokenizer.json"), 0);
      t.encode("hi thi 12345<|eot|> \xff", true, true);
      ++loaded;
    } catch (const vqr::Error &e) {
      EXPECT_TRUE(e.status() == Status::Format || e.status() == Status::Unsupported) << e.what();
      ++refused;
    }
  }
  std::printf("%d damaged files loaded, %d refused\n", loaded, refused);
  EXPECT_GT(refused, 100);  // the damage does break files...
  EXPECT_GT(loaded, 20);    // ...and some survive (a changed piece or flag): both paths are exercised
}

TEST(BpeTokenizerJson, OtherTokenizerKindsAreUnsupported) {
  TempDir dir("bpe_other");
  const std::vector<std::pair<std::function<void(json &)>, const char *>> cases = {
      {[](json &j) { j["model"]["type"] = "WordPiece"; }, "\"WordPiece\""},
      {[](json &j) { j["model"]["byte_fallback"] = true; }, "byte_fallback"},
      {[](json &j) { j["model"]["dropout"] = 0.1; }, "dropout"},
      {[](json &j) { j["normalizer"] = {{"type", "Lowercase"}}; }, "normalizer \"Lowercase\""},
      {[](json &j) { j["pre_tokenizer"] = {{"type", "Metaspace"}}; }, "\"Metaspace\""},
      {[](json &j) { j["pre_tokenizer"]["pretokenizers"][0]["behavior"] = "Removed"; }, "\"Removed\""},
      {[](json &j) { j["pre_tokenizer"]["pretokenizers"].erase(1); }, "no ByteLevel"},
      {[](json &j) { j["pre_tokenizer"] = nullptr; }, "no pre-tokenizer"},
  };
  for (const auto &[edit, needle] : cases) {
    json j = llama3_like();
    edit(j);
    vqr_test::expect_error([&] { load_json(dir, j); }, Status::Unsupported, needle);
  }
  // NFC is accepted (Qwen2's tokenizer.json has it), and so is the older "a b" merge spelling.
  json nfc = llama3_like();
  nfc["normalizer"] = {{"type", "NFC"}};
  for (auto &m : nfc["model"]["merges"]) m = m[0].get<std::string>() + " " + m[1].get<std::string>();
  const Tokenizer with_nfc = load_json(dir, nfc);
  EXPECT_EQ(with_nfc.encode("hi", false, false), (std::vector<int32_t>{256}));
  // NFC is applied: "e" + U+0301 encodes as U+00E9 (its two bytes); without the normalizer it does not.
  EXPECT_EQ(with_nfc.encode("e\xcc\x81", false, false), (std::vector<int32_t>{0xC3, 0xA9}));
  EXPECT_EQ(load_json(dir, llama3_like()).encode("e\xcc\x81", false, false), (std::vector<int32_t>{'e', 0xCC, 0x81}));
}

TEST(BpeTokenizerJson, AModelFolderPrefersAByteLevelTokenizerJson) {
  TempDir dir("bpe_folder");
  vqr_test::write_file(dir.file("config.json"), "{}");
  vqr_test::write_file(dir.file("tokenizer.model"), "x");
  // A Llama 2 style tokenizer.json (no ByteLevel) beside tokenizer.model: tokenizer.model stays.
  json metaspace = llama3_like();
  metaspace["pre_tokenizer"] = {{"type", "Metaspace"}};
  vqr_test::write_file(dir.file("tokenizer.json"), metaspace.dump());
  EXPECT_EQ(vqr::model::resolve_model_source(dir.path(), "").tokenizer_file, dir.file("tokenizer.model"));
  vqr_test::write_file(dir.file("tokenizer.json"), llama3_like().dump());
  EXPECT_EQ(vqr::model::resolve_model_source(dir.path(), "").tokenizer_file, dir.file("tokenizer.json"));
  // A byte-level tokenizer.json of a shape not supported here is not chosen: without
  // tokenizer.model the folder has no tokenizer (it loads, text needs ids), as before.
  json removed = llama3_like();
  removed["pre_tokenizer"]["pretokenizers"][0]["behavior"] = "Removed";
  vqr_test::write_file(dir.file("tokenizer.json"), removed.dump());
  std::remove(dir.file("tokenizer.model").c_str());
  EXPECT_EQ(vqr::model::resolve_model_source(dir.path(), "").tokenizer_file, "");
  EXPECT_STREQ(vqr::model::tokenizer_name_in_folder("/x/my.json"), "tokenizer.json");
  EXPECT_STREQ(vqr::model::tokenizer_name_in_folder("/x/t.model"), "tokenizer.model");
}

// Through the C ABI: vqr_model_load with a tokenizer.json as tokenizer_path (what `vqround
// --tokenizer` passes), then vqr_model_tokenize, on stories260K (512 ids: the BPE's 262 fit).
TEST(BpeTokenizerJson, TheCApiTokenizesWithAnExplicitTokenizerJson) {
  VQR_DATA_DIR_OR_SKIP(data);
  TempDir dir("bpe_capi");
  const Tokenizer t = load_json(dir, llama3_like());
  vqr_model *m = nullptr;
  ASSERT_EQ(vqr_model_load((data + "/models/stories260K/stories260K.bin").c_str(), dir.file("tokenizer.json").c_str(), &m), VQR_OK)
      << vqr_last_error();
  const char *text = "hi thi 12345<|eot|>";
  int64_t count = 0;
  std::vector<int32_t> ids(64);
  ASSERT_EQ(vqr_model_tokenize(m, text, 1, ids.data(), static_cast<int64_t>(ids.size()), &count), VQR_OK) << vqr_last_error();
  ids.resize(static_cast<size_t>(count));
  EXPECT_EQ(ids, t.encode(text, true, false));
  EXPECT_EQ(ids.front(), 260);  // the template's BOS
  vqr_model_free(m);
}

// A folder written from a model whose tokenizer was an explicit tokenizer.json carries the
// tokenizer_config.json beside it too (its BOS rule): the written folder tokenizes the same way.
TEST(BpeTokenizerJson, AWrittenFolderKeepsAnExplicitTokenizersConfig) {
  VQR_DATA_DIR_OR_SKIP(data);
  TempDir dir("bpe_written");
  const Tokenizer t = load_json(dir, llama3_like(), R"({"add_bos_token": false})");
  vqr_model *m = nullptr;
  ASSERT_EQ(vqr_model_load((data + "/models/stories260K/stories260K.bin").c_str(), dir.file("tokenizer.json").c_str(), &m), VQR_OK)
      << vqr_last_error();
  const std::string out = dir.file("written");
  ASSERT_EQ(vqr_model_save(m, out.c_str()), VQR_OK) << vqr_last_error();
  vqr_model_free(m);
  EXPECT_TRUE(std::filesystem::exists(out + "/tokenizer_config.json"));
  ASSERT_EQ(vqr_model_load(out.c_str(), nullptr, &m), VQR_OK) << vqr_last_error();
  const char *text = "hi thi 12345";
  int64_t count = 0;
  std::vector<int32_t> ids(64);
  ASSERT_EQ(vqr_model_tokenize(m, text, 1, ids.data(), static_cast<int64_t>(ids.size()), &count), VQR_OK) << vqr_last_error();
  ids.resize(static_cast<size_t>(count));
  EXPECT_EQ(ids, t.encode(text, true, false));
  EXPECT_NE(ids.front(), 260) << "add_bos_token false: no template BOS";
  vqr_model_free(m);
}

// GGUF export of a byte-level BPE (what `vqround quantize --format gguf` writes for a Llama 3
// folder): model "gpt2", pre "llama-bpe", the merges; read back, it encodes the same ids.
TEST(BpeGguf, WrittenVocabularyReadsBackAsTheSameTokenizer) {
  TempDir dir("bpe_gguf");
  const Tokenizer t = load_json(dir, llama3_like(), "", 300);
  vqr::io::GgufWriter w;
  vqr::model::write_gguf_vocab(t, &w);
  w.write(dir.file("vocab.gguf"));
  const vqr::io::GgufFile f = vqr::io::GgufFile::open(dir.file("vocab.gguf"));
  EXPECT_EQ(f.get_string("tokenizer.ggml.model"), "gpt2");
  EXPECT_EQ(f.get_string("tokenizer.ggml.pre"), "llama-bpe");
  EXPECT_EQ(f.get_strings("tokenizer.ggml.merges").size(), 4u);
  EXPECT_EQ(f.get_strings("tokenizer.ggml.tokens").size(), 300u);
  const Tokenizer back = Tokenizer::load(dir.file("vocab.gguf"), 300);
  EXPECT_EQ(back.kind(), Tokenizer::Kind::kGguf);
  EXPECT_EQ(back.bos_id(), 260);
  for (const std::string text : {"hi thi 12345<|eot|>", "I'M 1234567 \xf0\x9f\xa6\x99 thiiis\n\n", ""})
    EXPECT_EQ(back.encode(text, true, false), t.encode(text, true, false)) << text;
  // A pre-tokenizer llama.cpp has no name for cannot be written.
  json other = llama3_like();
  other["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = "\\s+|\\S+";
  const Tokenizer o = load_json(dir, other);
  vqr::io::GgufWriter w2;
  vqr_test::expect_error([&] { vqr::model::write_gguf_vocab(o, &w2); }, Status::Unsupported, "no llama.cpp name");
}

// Broken or unknown GGUF "gpt2" vocabularies: no merges, a merge without a space, a merge of
// pieces that are not tokens (Format); a pre name with no regex here (Unsupported).
TEST(BpeGguf, BrokenVocabulariesAreErrors) {
  TempDir dir("bpe_gguf_bad");
  std::vector<std::string> tokens;
  for (int b = 0; b < 256; ++b) tokens.push_back(byte_level::spell(std::string(1, static_cast<char>(b))));
  tokens.push_back("hi");
  auto write = [&](const char *pre, const std::vector<std::string> *merges) {
    vqr::io::GgufWriter w;
    w.set_string("tokenizer.ggml.model", "gpt2");
    if (pre) w.set_string("tokenizer.ggml.pre", pre);
    w.set_strings("tokenizer.ggml.tokens", tokens);
    if (merges) w.set_strings("tokenizer.ggml.merges", *merges);
    w.write(dir.file("v.gguf"));
    return dir.file("v.gguf");
  };
  const std::vector<std::string> good = {"h i"}, no_space = {"hi"}, unknown = {"h q"};
  EXPECT_EQ(Tokenizer::load(write("gpt-2", &good), 0).encode("hi hi", false, false), (std::vector<int32_t>{256, ' ', 256}));
  vqr_test::expect_error([&] { Tokenizer::load(write("gpt-2", nullptr), 0); }, Status::Format, "tokenizer.ggml.merges", Hint::kOptional);
  vqr_test::expect_error([&] { Tokenizer::load(write("gpt-2", &no_space), 0); }, Status::Format, "not two pieces");
  vqr_test::expect_error([&] { Tokenizer::load(write("gpt-2", &unknown), 0); }, Status::Format, "not in the vocabulary");
  vqr_test::expect_error([&] { Tokenizer::load(write("deepseek-v3", &good), 0); }, Status::Unsupported, "\"deepseek-v3\"");
  vqr_test::expect_error([&] { Tokenizer::load(write(nullptr, &good), 0); }, Status::Unsupported, "\"default\"");
}

// llama.cpp's test vectors (tests/io/test_gguf_vocab.cpp reads the same layout for the SPM file).
TEST(BpeGguf, Gpt2VocabularyMatchesLlamaCppTestVectors) {
  VQR_DATA_DIR_OR_SKIP(data);
  const std::string base = data + "/models/gguf-vocab-only/ggml-vocab-gpt-2.gguf";
  const Tokenizer t = Tokenizer::load(base, 0);
  EXPECT_EQ(t.kind(), Tokenizer::Kind::kGguf);
  ASSERT_NE(t.bpe(), nullptr);
  EXPECT_EQ(t.vocab_size(), 50257);
  EXPECT_EQ(t.bos_id(), -1);  // GPT-2 puts none
  const vqr_test::GgmlVocabCases v =
      vqr_test::parse_ggml_vocab_cases(vqr_test::read_file(base + ".inp"), vqr_test::read_file(base + ".out"));
  const std::vector<std::string> &cases = v.texts;
  ASSERT_EQ(cases.size(), v.ids.size());
  ASSERT_GE(cases.size(), 40u);
  size_t tokens = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    const std::vector<int32_t> &want = v.ids[i];
    const std::vector<int32_t> got = t.encode(cases[i], false, false);
    EXPECT_EQ(got, want) << "case " << i << ": \"" << cases[i] << "\"";
    std::string back;
    for (int32_t id : got) back += t.decode(0, id);
    EXPECT_EQ(back, cases[i]) << "case " << i;
    tokens += want.size();
  }
  std::printf("GPT-2 GGUF: %zu cases, %zu tokens\n", cases.size(), tokens);
}

}  // namespace
