// Byte-level BPE internals against independent references: the byte alphabet over all 256 bytes,
// both merge paths against the textbook loop (merge the lowest-rank adjacent pair, leftmost first,
// until none applies) on random synthetic vocabularies, the three split regexes on hand-checked
// cases, added and special tokens, and hostile input (invalid UTF-8, a megabyte-long word).
#include <gtest/gtest.h>

#include <climits>
#include <thread>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "core/error.h"
#include "model/bpe_merge.h"
#include "model/bpe_nfc.h"
#include "model/bpe_nfc_tables.h"
#include "model/bpe_tokenizer.h"
#include "model/byte_level.h"
#include "model/pretokenize_regex.h"

namespace bpe = vqr::model::bpe;
namespace byte_level = vqr::model::byte_level;

namespace {

TEST(ByteLevel, EveryByteRoundTripsThroughADistinctPrintableCodePoint) {
  std::set<uint32_t> seen;
  std::string all;
  for (int b = 0; b < 256; ++b) {
    const uint32_t cp = byte_level::code_point_of(static_cast<uint8_t>(b));
    EXPECT_TRUE(seen.insert(cp).second) << "byte " << b << " shares code point " << cp;
    EXPECT_GT(cp, 0x20u) << "byte " << b << " is spelled by a control or space character";
    EXPECT_LT(cp, 0x144u);  // 188 printable bytes keep their code point, 68 get U+0100..U+0143
    if ((b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF)) {
      EXPECT_EQ(cp, uint32_t(b));
    }
    all.push_back(static_cast<char>(b));
  }
  EXPECT_EQ(byte_level::code_point_of(' '), 0x120u);   // "Ġ"
  EXPECT_EQ(byte_level::code_point_of('\n'), 0x10Au);  // "Ċ"
  const std::string spelled = byte_level::spell(all);
  std::string back;
  ASSERT_TRUE(byte_level::unspell(spelled, &back));
  EXPECT_EQ(back, all);
  EXPECT_EQ(byte_level::spell(" the"), "\xc4\xa0the");
  // Characters outside the alphabet: a raw space, a CJK character, a lone continuation byte, an
  // overlong spelling of '!'.
  for (const std::string bad : {" ", "\xe4\xb8\xad", "\x80", "\xc0\xa1"}) EXPECT_FALSE(byte_level::unspell(bad, &back)) << bad;
}

// The textbook loop, written for clarity: every round rescans every adjacent pair.
std::vector<int32_t> textbook_merge(std::vector<int32_t> s, const std::map<std::pair<int32_t, int32_t>, std::pair<int32_t, int32_t>> &m) {
  for (;;) {
    int32_t best_rank = INT_MAX;
    size_t best = 0;
    for (size_t i = 0; i + 1 < s.size(); ++i) {
      auto it = m.find({s[i], s[i + 1]});
      if (it != m.end() && it->second.first < best_rank) best_rank = it->second.first, best = i;
    }
    if (best_rank == INT_MAX) return s;
    s[best] = m.at({s[best], s[best + 1]}).second;
    s.erase(s.begin() + static_cast<std::ptrdiff_t>(best) + 1);
  }
}

TEST(BpeMerge, BothPathsMatchTheTextbookLoopOnRandomVocabularies) {
  std::mt19937 rng(19);
  int words = 0, merged_somewhere = 0;
  for (int vocab = 0; vocab < 40; ++vocab) {
    // Alphabet 0..A-1; merges combine existing ids into new ones, with ranks in a shuffled order
    // (not training order) so that ties and out-of-order ranks occur.
    const int A = 2 + static_cast<int>(rng() % 5);
    int32_t next_id = A;
    std::map<std::pair<int32_t, int32_t>, std::pair<int32_t, int32_t>> ref;
    const int n_merges = 1 + static_cast<int>(rng() % 60);
    std::vector<int32_t> ranks(static_cast<size_t>(n_merges));
    for (int i = 0; i < n_merges; ++i) ranks[static_cast<size_t>(i)] = i;
    std::shuffle(ranks.begin(), ranks.end(), rng);
    bpe::MergeTable table;
    for (int i = 0; i < n_merges; ++i) {
      const int32_t a = static_cast<int32_t>(rng() % static_cast<uint32_t>(next_id));
      const int32_t b = static_cast<int32_t>(rng() % static_cast<uint32_t>(next_id));
      if (ref.count({a, b})) continue;
      ref[{a, b}] = {ranks[static_cast<size_t>(i)], next_id};
      table.add(a, b, ranks[static_cast<size_t>(i)], next_id);
      ++next_id;
    }
    ASSERT_EQ(table.size(), ref.size());
    for (int w = 0; w < 60; ++w) {
      const size_t len = w < 50 ? rng() % 40 : 100 + rng() % 400;  // short words and long ones
      std::vector<int32_t> word(len);
      for (auto &x : word) x = static_cast<int32_t>(rng() % static_cast<uint32_t>(A));
      const std::vector<int32_t> want = textbook_merge(word, ref);
      std::vector<int32_t> rescan = word, heap = word, dispatch = word;
      bpe::merge_word_rescan(table, &rescan);
      bpe::merge_word_heap(table, &heap);
      bpe::merge_word(table, &dispatch);
      ASSERT_EQ(rescan, want) << "vocabulary " << vocab << " word " << w;
      ASSERT_EQ(heap, want) << "vocabulary " << vocab << " word " << w;
      ASSERT_EQ(dispatch, want);
      ++words;
      merged_somewhere += want.size() < word.size();
    }
  }
  EXPECT_EQ(words, 40 * 60);
  EXPECT_GT(merged_somewhere, words / 2);  // the vocabularies do merge: the comparison has teeth
}

TEST(BpeMerge, TableFindsWhatWasAddedAndARepeatKeepsTheLastRank) {
  bpe::MergeTable t;
  for (int32_t i = 0; i < 5000; ++i) t.add(i, i + 1, i, 10000 + i);  // grows several times
  for (int32_t i = 0; i < 5000; ++i) {
    const auto *e = t.find(i, i + 1);
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->merged, 10000 + i);
  }
  EXPECT_EQ(t.find(1, 0), nullptr);
  t.add(3, 4, 77, 10003);
  EXPECT_EQ(t.find(3, 4)->rank, 77);
  EXPECT_EQ(t.size(), 5000u);
}

std::vector<std::string> split(const char *pattern, const std::string &text) {
  bpe::SplitRegex re(pattern, false, "test");
  std::vector<bpe::Span> spans;
  re.split(text, {0, text.size()}, &spans);
  std::vector<std::string> out;
  for (const auto &s : spans) out.push_back(text.substr(s.begin, s.end - s.begin));
  return out;
}

using Pieces = std::vector<std::string>;

TEST(SplitRegex, TheThreeFamiliesPatternsCutAsTheirTokenizersDo) {
  // GPT-2: lowercase contractions only, digit runs whole, a space joins the next word.
  EXPECT_EQ(split(bpe::kGpt2Pattern, "I'M here's 12345  ok\n\n"),
            (Pieces{"I", "'", "M", " here", "'s", " 12345", " ", " ok", "\n\n"}));
  // Llama 3: contractions in any case, digits in threes, a newline run on its own.
  EXPECT_EQ(split(bpe::kLlama3Pattern, "I'M here's 12345  ok\n\nx"),
            (Pieces{"I", "'M", " here", "'s", " ", "123", "45", " ", " ok", "\n\n", "x"}));
  // Qwen2: as Llama 3 but one digit per piece.
  EXPECT_EQ(split(bpe::kQwen2Pattern, "a 2024!"), (Pieces{"a", " ", "2", "0", "2", "4", "!"}));
  // Unicode classes: letters of any script, U+3000 (ideographic space) as space.
  EXPECT_EQ(split(bpe::kGpt2Pattern, "日本語\xe3\x80\x80x"), (Pieces{"日本語", "\xe3\x80\x80", "x"}));
}

TEST(SplitRegex, NelIsWhiteSpaceAsInOniguruma) {
  EXPECT_EQ(bpe::oniguruma_compatible(R"(\s+(?!\S)|[^\s\p{L}])"), R"([\s\x{85}]+(?![^\s\x{85}])|[^\s\x{85}\p{L}])");
  // "a" NEL NEL "z": the NEL run is white space, so it does not join "z" as punctuation would.
  EXPECT_EQ(split(bpe::kGpt2Pattern, "a\xc2\x85\xc2\x85z"), (Pieces{"a", "\xc2\x85", "\xc2\x85", "z"}));
}

TEST(SplitRegex, InvalidUtf8BytesBecomePiecesOfTheirOwn) {
  const std::string text = "ab\xff\xfe cd\xc3";  // two invalid bytes, then a truncated sequence at the end
  const Pieces p = split(bpe::kGpt2Pattern, text);
  std::string joined;
  for (const auto &s : p) joined += s;
  EXPECT_EQ(joined, text);  // nothing lost, nothing duplicated
  EXPECT_EQ(p.front(), "ab");
  EXPECT_NE(std::find(p.begin(), p.end(), " cd"), p.end());
}

// Megabyte-long runs must be split, not cut short by a JIT stack or match limit (which would leave
// the rest of the text as one piece).
TEST(SplitRegex, LongRunsSplitLikeShortOnes) {
  const std::string letters(1 << 20, 'a'), spaces(1 << 20, ' '), digits(3 << 18, '7');
  for (const char *pattern : {bpe::kGpt2Pattern, bpe::kLlama3Pattern, bpe::kQwen2Pattern}) {
    EXPECT_EQ(split(pattern, letters + " b"), (Pieces{letters, " b"})) << pattern;
    EXPECT_EQ(split(pattern, spaces + "b"), (Pieces{spaces.substr(1), " b"})) << pattern;
  }
  EXPECT_EQ(split(bpe::kGpt2Pattern, "x" + digits), (Pieces{"x", digits}));
  const Pieces threes = split(bpe::kLlama3Pattern, digits);
  EXPECT_EQ(threes.size(), digits.size() / 3);
}

TEST(SplitRegex, ABadPatternIsAFormatError) {
  try {
    bpe::SplitRegex re("(unclosed", false, "tok.json");
    ADD_FAILURE() << "compiled";
  } catch (const vqr::Error &e) {
    EXPECT_EQ(e.status(), vqr::Status::Format);
    EXPECT_NE(std::string(e.what()).find("tok.json"), std::string::npos) << e.what();
  }
}

// NFC on cases worked by hand from the Unicode data (the oracle compares whole texts with
// tokenizers' NFC): composition, singletons, Hangul arithmetic, canonical ordering, blocking.
TEST(Nfc, ComposesOrdersAndBlocksAsUax15Says) {
  EXPECT_EQ(bpe::nfc("e\xcc\x81"), "\xc3\xa9");                          // e + U+0301 -> U+00E9
  EXPECT_EQ(bpe::nfc("\xe2\x84\xab"), "\xc3\x85");                      // U+212B ANGSTROM SIGN -> U+00C5
  EXPECT_EQ(bpe::nfc("\xe1\x84\x80\xe1\x85\xa1\xe1\x86\xa8"), "\xea\xb0\x81");  // L V T -> U+AC01
  EXPECT_EQ(bpe::nfc("\xea\xb0\x80\xe1\x86\xa8"), "\xea\xb0\x81");    // LV + T -> LVT
  // a + U+0301 (class 230) + U+0323 (class 220): reordered, a + dot below composes (U+1EA1),
  // the acute stays; the other order gives the same.
  EXPECT_EQ(bpe::nfc("a\xcc\x81\xcc\xa3"), "\xe1\xba\xa1\xcc\x81");
  EXPECT_EQ(bpe::nfc("a\xcc\xa3\xcc\x81"), "\xe1\xba\xa1\xcc\x81");
  // Two acutes: the first composes, the second is blocked by nothing but has no composite.
  EXPECT_EQ(bpe::nfc("e\xcc\x81\xcc\x81"), "\xc3\xa9\xcc\x81");
  // An invalid byte between them blocks composition and survives; NFC text is unchanged.
  EXPECT_EQ(bpe::nfc("e\xff\xcc\x81"), "e\xff\xcc\x81");
  const std::string nfc_text = "Amélie, 日本語, Привет, ὁ λόγος, 한국어";
  EXPECT_EQ(bpe::nfc(nfc_text), nfc_text);
  EXPECT_FALSE(bpe::nfc_may_change("plain ASCII and Latin-1: \xc3\xa9\xc3\xbf", 30));
  EXPECT_TRUE(bpe::nfc_may_change("e\xcc\x81", 3));
  // nfc_may_change's byte test stands for "every code point below U+0300" (lead byte 0xCC).
  EXPECT_EQ(bpe::nfc_tables::kUnchangedBelow, 0x300u);
}

// A small byte-level vocabulary: the 256 bytes (ids 0..255 in byte order), then merges learned by
// hand, then added tokens.
bpe::Spec small_spec() {
  bpe::Spec s;
  for (int b = 0; b < 256; ++b) s.pieces.push_back(byte_level::spell(std::string(1, static_cast<char>(b))));
  auto merge = [&](const std::string &a, const std::string &b) {
    s.merges.emplace_back(byte_level::spell(a), byte_level::spell(b));
    s.pieces.push_back(byte_level::spell(a + b));
  };
  merge("h", "e");      // 256
  merge(" ", "t");      // 257
  merge(" t", "he");    // 258
  merge("l", "l");      // 259
  merge("he", "ll");    // 260
  merge("hell", "o");   // 261
  merge("a", "a");      // 262
  s.split_patterns = {bpe::kGpt2Pattern};
  s.split_literal = {false};
  s.added.push_back({263, "<|endoftext|>", true, false, false, false});
  s.added.push_back({264, "<|end|>", true, false, false, false});
  s.added.push_back({265, "[X]", false, true, true, false});  // lstrip, rstrip
  s.pieces.push_back("<|endoftext|>");
  s.pieces.push_back("<|end|>");
  s.pieces.push_back("[X]");
  return s;
}

std::vector<int32_t> encode(const bpe::BpeTokenizer &t, const std::string &text) {
  std::vector<int32_t> ids;
  t.encode(text, &ids);
  return ids;
}

std::string decode(const bpe::BpeTokenizer &t, const std::vector<int32_t> &ids) {
  std::string s;
  for (int32_t id : ids) s += t.bytes_of(id);
  return s;
}

TEST(BpeTokenizer, MergesWithinWordsAndDecodesBack) {
  const bpe::BpeTokenizer t(small_spec(), "test");
  EXPECT_EQ(encode(t, "hello the"), (std::vector<int32_t>{261, 258}));
  EXPECT_EQ(encode(t, "aaa"), (std::vector<int32_t>{262, 'a'}));  // leftmost pair first
  EXPECT_EQ(encode(t, "he\nhe"), (std::vector<int32_t>{256, '\n', 256}));
  EXPECT_EQ(encode(t, ""), std::vector<int32_t>{});
  const std::string text = "hello the world, aaa\n\t  z";
  EXPECT_EQ(decode(t, encode(t, text)), text);
}

TEST(BpeTokenizer, AddedTokensAreCutOutFirstLongestMatch) {
  const bpe::BpeTokenizer t(small_spec(), "test");
  EXPECT_EQ(encode(t, "he<|endoftext|>he"), (std::vector<int32_t>{256, 263, 256}));
  EXPECT_EQ(encode(t, "<|end|><|endoftext|>"), (std::vector<int32_t>{264, 263}));
  // An incomplete special token is text.
  EXPECT_EQ(decode(t, encode(t, "<|endof")), "<|endof");
  EXPECT_EQ(encode(t, "<|endof").size(), 7u);
  // lstrip / rstrip absorb the white space around "[X]".
  EXPECT_EQ(encode(t, "he  [X] \nhe"), (std::vector<int32_t>{256, 265, 256}));
  EXPECT_EQ(decode(t, {263}), "<|endoftext|>");
}

TEST(BpeTokenizer, SingleWordAddedTokensNeedNoLetterBeside) {
  bpe::Spec s = small_spec();
  s.added[2].single_word = true;
  s.added[2].lstrip = s.added[2].rstrip = false;
  const bpe::BpeTokenizer t(std::move(s), "test");
  const std::vector<int32_t> alone = encode(t, "a [X] a"), glued = encode(t, "a[X] a");
  EXPECT_NE(std::find(alone.begin(), alone.end(), 265), alone.end());
  EXPECT_EQ(std::find(glued.begin(), glued.end(), 265), glued.end());
  EXPECT_EQ(decode(t, glued), "a[X] a");
}

TEST(BpeTokenizer, PrefixSpaceAndIgnoreMerges) {
  bpe::Spec s = small_spec();
  s.add_prefix_space = true;
  const bpe::BpeTokenizer with_space(s, "test");
  EXPECT_EQ(encode(with_space, "the"), (std::vector<int32_t>{258}));  // " the"
  bpe::Spec w = small_spec();
  w.ignore_merges = true;
  w.pieces.push_back(byte_level::spell("aaa"));  // 266: a whole word, not reachable by merges
  const bpe::BpeTokenizer whole(w, "test");
  EXPECT_EQ(encode(whole, "aaa"), (std::vector<int32_t>{266}));
  EXPECT_EQ(encode(whole, "aaaa"), (std::vector<int32_t>{262, 262}));
}

TEST(BpeTokenizer, HostileTextNeverCrashesAndRoundTrips) {
  const bpe::BpeTokenizer t(small_spec(), "test");
  // Invalid UTF-8 (lone continuation bytes, a truncated sequence, 0xFF, an overlong NUL, a
  // surrogate) is encoded byte by byte and decodes to the same bytes.
  const std::string bad = "x\x80\x80y\xe2\x82 \xff\xc0\x80\xed\xa0\x80z";
  EXPECT_EQ(decode(t, encode(t, bad)), bad);
  // A one-megabyte word takes the heap path; "aa" pairs merge.
  const std::string huge(1 << 20, 'a');
  const std::vector<int32_t> ids = encode(t, huge);
  ASSERT_EQ(ids.size(), size_t{1} << 19);
  EXPECT_EQ(ids.front(), 262);
  EXPECT_EQ(decode(t, ids), huge);
  // Every byte value, shuffled.
  std::string bytes;
  std::mt19937 rng(7);
  for (int i = 0; i < 4096; ++i) bytes.push_back(static_cast<char>(rng() & 0xFF));
  EXPECT_EQ(decode(t, encode(t, bytes)), bytes);
}

// encode() is const and keeps its scratch per thread: one tokenizer serves several threads.
TEST(BpeTokenizer, ConcurrentEncodesAgreeWithASerialOne) {
  const bpe::BpeTokenizer t(small_spec(), "test");
  std::vector<std::string> texts;
  std::mt19937 rng(3);
  for (int i = 0; i < 64; ++i) {
    std::string s;
    for (int k = 0; k < 2000; ++k) s.push_back("he llo the aa<|end|>\n\xc3\xa9"[rng() % 23]);
    texts.push_back(s);
  }
  std::vector<std::vector<int32_t>> serial;
  for (const auto &s : texts) serial.push_back(encode(t, s));
  std::vector<std::vector<std::vector<int32_t>>> per_thread(4, std::vector<std::vector<int32_t>>(texts.size()));
  std::vector<std::thread> threads;
  for (size_t k = 0; k < per_thread.size(); ++k)
    threads.emplace_back([&, k] {
      for (size_t i = 0; i < texts.size(); ++i) per_thread[k][i] = encode(t, texts[i]);
    });
  for (auto &th : threads) th.join();
  for (const auto &r : per_thread) EXPECT_EQ(r, serial);
}

TEST(BpeTokenizer, InconsistentSpecsAreFormatErrors) {
  auto expect_format = [](bpe::Spec s, const std::string &needle) {
    try {
      bpe::BpeTokenizer t(std::move(s), "vocab.json");
      ADD_FAILURE() << "accepted; expected " << needle;
    } catch (const vqr::Error &e) {
      EXPECT_EQ(e.status(), vqr::Status::Format) << e.what();
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  bpe::Spec a = small_spec();
  a.merges.emplace_back("q", "zz");  // "zz" is no piece
  expect_format(a, "merge 7");
  bpe::Spec b = small_spec();
  b.merges.emplace_back("q", "q");  // parts are pieces, "qq" is not
  expect_format(b, "\"qq\" is not in the vocabulary");
  bpe::Spec c = small_spec();
  c.added.push_back({100000, "<big>", true, false, false, false});
  expect_format(c, "outside the vocabulary");
  bpe::Spec d = small_spec();
  d.added.push_back({5, "", true, false, false, false});
  expect_format(d, "no content");
}

}  // namespace
