// Byte-level BPE encoding (bpe_tokenizer.h).
#include "model/bpe_tokenizer.h"

#include <algorithm>

#include "core/error.h"
#include "model/bpe_nfc.h"
#include "model/byte_level.h"

namespace vqr::model::bpe {

namespace {

const char *const kVocabHint = "the tokenizer's vocabulary and merges do not fit together; use the model's own files";

// The code point starting at text[i] (whose length goes to *len), or -1 for an invalid byte.
int32_t code_point_at(const std::string &text, size_t i, size_t end, size_t *len) {
  const unsigned char c = static_cast<unsigned char>(text[i]);
  *len = 1;
  if (c < 0x80) return c;
  const size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 0;
  if (n == 0 || i + n > end) return -1;
  int32_t cp = c & (0x3F >> (n - 1));
  for (size_t k = 1; k < n; ++k) {
    const unsigned char cc = static_cast<unsigned char>(text[i + k]);
    if ((cc & 0xC0) != 0x80) return -1;
    cp = (cp << 6) | (cc & 0x3F);
  }
  *len = n;
  return cp;
}

// Unicode's White_Space property (what Rust's char::is_whitespace tests in tokenizers).
bool is_white_space(int32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

// The start of the character that ends at text[end - 1] (continuation bytes stepped over).
size_t char_start_before(const std::string &text, size_t begin, size_t end) {
  size_t i = end - 1;
  while (i > begin && end - i < 4 && (static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) --i;
  return i;
}

}  // namespace

BpeTokenizer::BpeTokenizer(Spec spec, const std::string &subject) : spec_(std::move(spec)) {
  const std::vector<std::string> &pieces = spec_.pieces;
  const int32_t n = static_cast<int32_t>(pieces.size());
  std::unordered_map<std::string, int32_t> index;
  index.reserve(pieces.size());
  for (int32_t i = 0; i < n; ++i)
    if (!pieces[static_cast<size_t>(i)].empty()) index[pieces[static_cast<size_t>(i)]] = i;  // the last id of a repeat, as llama.cpp
  auto id_of = [&](const std::string &p) {
    auto it = index.find(p);
    return it == index.end() ? -1 : it->second;
  };
  for (int b = 0; b < 256; ++b) byte_ids_[b] = id_of(byte_level::spell(std::string(1, static_cast<char>(b))));

  for (size_t r = 0; r < spec_.merges.size(); ++r) {
    const auto &[a, b] = spec_.merges[r];
    const int32_t ia = id_of(a), ib = id_of(b), im = id_of(a + b);
    if (ia < 0 || ib < 0 || im < 0)
      fail(Status::Format, subject,
           "merge " + std::to_string(r) + " (\"" + a + "\" \"" + b + "\"): \"" + (ia < 0 ? a : ib < 0 ? b : a + b) +
               "\" is not in the vocabulary",
           kVocabHint);
    merges_.add(ia, ib, static_cast<int32_t>(r), im);
  }
  if (spec_.unk_id >= n) fail(Status::Format, subject, "the unknown token's id is outside the vocabulary", kVocabHint);

  bytes_.resize(pieces.size());
  for (int32_t i = 0; i < n; ++i) {
    const std::string &p = pieces[static_cast<size_t>(i)];
    std::string &b = bytes_[static_cast<size_t>(i)];
    if (!byte_level::unspell(p, &b)) b = p;  // outside the alphabet: the piece's own UTF-8
    else if (spec_.ignore_merges && !p.empty()) word_ids_[b] = i;
  }

  added_by_first_byte_.resize(256);
  for (size_t k = 0; k < spec_.added.size(); ++k) {
    const AddedToken &t = spec_.added[k];
    if (t.id < 0 || t.id >= n || t.content.empty())
      fail(Status::Format, subject,
           "added token \"" + t.content + "\" has id " + std::to_string(t.id) + (t.content.empty() ? " and no content" : ", outside the vocabulary"),
           kVocabHint);
    added_by_first_byte_[static_cast<unsigned char>(t.content[0])].push_back(k);
  }
  for (auto &list : added_by_first_byte_)
    std::stable_sort(list.begin(), list.end(), [this](size_t a, size_t b) {
      return spec_.added[a].content.size() > spec_.added[b].content.size();
    });

  if (spec_.split_literal.size() != spec_.split_patterns.size()) spec_.split_literal.resize(spec_.split_patterns.size(), false);
  for (size_t i = 0; i < spec_.split_patterns.size(); ++i)
    splits_.push_back(std::make_unique<SplitRegex>(spec_.split_patterns[i], spec_.split_literal[i], subject));
  prefix_space_at_ = splits_.size();
  if (spec_.byte_level_regex) splits_.push_back(std::make_unique<SplitRegex>(kGpt2Pattern, false, subject));
  for (const AddedToken &t : spec_.added)
    if (t.single_word) {
      word_char_ = std::make_unique<SplitRegex>(R"([\p{L}\p{N}])", false, subject);
      break;
    }
}

const std::string &BpeTokenizer::bytes_of(int32_t id) const {
  static const std::string kNone;
  return id >= 0 && static_cast<size_t>(id) < bytes_.size() ? bytes_[static_cast<size_t>(id)] : kNone;
}

void BpeTokenizer::split_added(const std::string &text, std::vector<Span> *segments, std::vector<int32_t> *ids) const {
  const size_t n = text.size();
  size_t seg_begin = 0;
  for (size_t i = 0; i < n;) {
    const std::vector<size_t> &cands = added_by_first_byte_[static_cast<unsigned char>(text[i])];
    const AddedToken *hit = nullptr;
    for (size_t k : cands) {  // longest first: the first that fits is the leftmost-longest match
      const std::string &c = spec_.added[k].content;
      if (n - i >= c.size() && text.compare(i, c.size(), c) == 0) {
        hit = &spec_.added[k];
        break;
      }
    }
    if (!hit) {
      ++i;
      continue;
    }
    size_t begin = i, end = i + hit->content.size(), len = 0;
    if (hit->single_word) {
      const bool word_before = begin > 0 && word_char_->matches_at(text, char_start_before(text, 0, begin), n);
      const bool word_after = end < n && word_char_->matches_at(text, end, n);
      if (word_before || word_after) {  // not a word of its own: the text stays text
        i = end;
        continue;
      }
    }
    if (hit->lstrip)
      while (begin > seg_begin) {
        const size_t at = char_start_before(text, seg_begin, begin);
        if (!is_white_space(code_point_at(text, at, begin, &len))) break;
        begin = at;
      }
    if (hit->rstrip)
      while (end < n) {
        const int32_t cp = code_point_at(text, end, n, &len);
        if (!is_white_space(cp)) break;
        end += len;
      }
    if (begin > seg_begin) segments->push_back({seg_begin, begin});
    segments->push_back({begin, begin});  // an empty span marks the added token's place
    ids->push_back(hit->id);
    seg_begin = i = end;
  }
  if (n > seg_begin) segments->push_back({seg_begin, n});
}

void BpeTokenizer::encode(const std::string &text, std::vector<int32_t> *out) const {
  std::vector<Span> segments;
  std::vector<int32_t> added;
  split_added(text, &segments, &added);
  size_t next_added = 0;
  for (const Span &s : segments) {
    if (s.begin == s.end) out->push_back(added[next_added++]);
    else encode_segment(text, s, out);
  }
}

void BpeTokenizer::encode_segment(const std::string &text, Span seg, std::vector<int32_t> *out) const {
  if (spec_.nfc && nfc_may_change(text.data() + seg.begin, seg.end - seg.begin)) {
    const std::string normalized = nfc(text.substr(seg.begin, seg.end - seg.begin));
    encode_normalized(normalized, Span{0, normalized.size()}, out);
  } else {
    encode_normalized(text, seg, out);
  }
}

void BpeTokenizer::encode_normalized(const std::string &text, Span seg, std::vector<int32_t> *out) const {
  std::vector<Span> cur{seg}, next;
  auto split_all = [&](const std::string &subject, size_t from, size_t to) {
    for (size_t r = from; r < to; ++r) {
      next.clear();
      for (const Span &s : cur) splits_[r]->split(subject, s, &next);
      cur.swap(next);
    }
  };
  split_all(text, 0, prefix_space_at_);
  if (!spec_.add_prefix_space) {
    split_all(text, prefix_space_at_, splits_.size());
    for (const Span &s : cur) encode_word(text.data() + s.begin, s.end - s.begin, out);
    return;
  }
  // ByteLevel's add_prefix_space: every piece not starting with " " gets one, then its own split.
  const std::vector<Span> pieces = cur;
  std::string word;
  for (const Span &p : pieces) {
    word.assign(text[p.begin] == ' ' ? "" : " ");
    word.append(text, p.begin, p.end - p.begin);
    cur.assign(1, Span{0, word.size()});
    split_all(word, prefix_space_at_, splits_.size());
    for (const Span &s : cur) encode_word(word.data() + s.begin, s.end - s.begin, out);
  }
}

void BpeTokenizer::encode_word(const char *word, size_t n, std::vector<int32_t> *out) const {
  if (n == 0) return;
  if (spec_.ignore_merges) {
    auto it = word_ids_.find(std::string(word, n));
    if (it != word_ids_.end()) {
      out->push_back(it->second);
      return;
    }
  }
  // One buffer per thread: encode() is const and may run on several threads.
  thread_local std::vector<int32_t> symbols;
  symbols.clear();
  for (size_t i = 0; i < n; ++i) {
    const int32_t id = byte_ids_[static_cast<unsigned char>(word[i])];
    if (id >= 0) symbols.push_back(id);
    else if (spec_.unk_id >= 0) symbols.push_back(spec_.unk_id);  // no unknown id: the byte is dropped
  }
  merge_word(merges_, &symbols);
  out->insert(out->end(), symbols.begin(), symbols.end());
}

}  // namespace vqr::model::bpe
