// Internal: llama.cpp's SPM tokenizer over a GGUF vocabulary (gguf_vocab_spm.h).
#include "model/gguf_vocab_spm.h"

#include <algorithm>
#include <cstdio>
#include <queue>

namespace vqr::model::gguf_spm {

namespace {

const char *const kSpace = "\xe2\x96\x81";  // U+2581

// Bytes of the UTF-8 sequence a lead byte starts, by its high nibble (llama.cpp unicode_len_utf8):
// continuation and invalid bytes count as one.
size_t utf8_length(unsigned char lead) {
  static const size_t kLen[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return kLen[lead >> 4];
}

int32_t find(const Vocab &v, const std::string &piece) {
  auto it = v.index.find(piece);
  return it == v.index.end() ? -1 : it->second;
}

// The id of one raw byte: "<0xXX>", else the byte as a one-byte piece, else unk.
int32_t byte_token(const Vocab &v, unsigned char b) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "<0x%02X>", b);
  int32_t id = find(v, buf);
  if (id < 0) id = find(v, std::string(1, static_cast<char>(b)));
  return id >= 0 ? id : v.unk_id;
}

// One fragment (spaces already escaped) through the merge loop.
void tokenize_fragment(const Vocab &v, const std::string &s, std::vector<int32_t> *out) {
  struct Symbol {
    size_t offset, n;
    int prev, next;
  };
  std::vector<Symbol> sym;
  for (size_t at = 0; at < s.size();) {
    const size_t n = std::min(s.size() - at, utf8_length(static_cast<unsigned char>(s[at])));
    const int i = static_cast<int>(sym.size());
    sym.push_back({at, n, i - 1, -1});
    if (i > 0) sym[static_cast<size_t>(i - 1)].next = i;
    at += n;
  }
  struct Bigram {
    float score;
    int left, right;
    size_t size;
  };
  auto lower = [](const Bigram &a, const Bigram &b) { return a.score < b.score || (a.score == b.score && a.left > b.left); };
  std::priority_queue<Bigram, std::vector<Bigram>, decltype(lower)> heap(lower);
  auto try_add = [&](int left, int right) {
    if (left < 0 || right < 0) return;
    const Symbol &l = sym[static_cast<size_t>(left)], &r = sym[static_cast<size_t>(right)];
    const int32_t id = find(v, s.substr(l.offset, l.n + r.n));
    if (id < 0 || static_cast<size_t>(id) >= v.scores.size()) return;
    heap.push({v.scores[static_cast<size_t>(id)], left, right, l.n + r.n});
  };
  for (size_t i = 1; i < sym.size(); ++i) try_add(static_cast<int>(i - 1), static_cast<int>(i));
  while (!heap.empty()) {
    const Bigram b = heap.top();
    heap.pop();
    Symbol &l = sym[static_cast<size_t>(b.left)], &r = sym[static_cast<size_t>(b.right)];
    // Stale: one side was merged away or grew since the pair was queued (sizes tell, as in llama.cpp).
    if (l.n == 0 || r.n == 0 || l.n + r.n != b.size) continue;
    l.n += r.n;
    r.n = 0;
    l.next = r.next;
    if (r.next >= 0) sym[static_cast<size_t>(r.next)].prev = b.left;
    try_add(l.prev, b.left);
    try_add(b.left, l.next);
  }
  for (int i = sym.empty() ? -1 : 0; i >= 0; i = sym[static_cast<size_t>(i)].next) {
    const Symbol &x = sym[static_cast<size_t>(i)];
    const std::string text = s.substr(x.offset, x.n);
    const int32_t id = find(v, text);
    if (id >= 0) {
      out->push_back(id);
      continue;
    }
    for (unsigned char c : text) {
      const int32_t b = byte_token(v, c);
      if (b >= 0) out->push_back(b);
    }
  }
}

}  // namespace

void encode(const Vocab &v, const std::string &text, std::vector<int32_t> *out) {
  struct Fragment {
    int32_t token;  // -1: raw text [offset, offset + length)
    size_t offset, length;
  };
  std::vector<Fragment> frags;
  if (!text.empty()) frags.push_back({-1, 0, text.size()});
  for (int32_t id : v.user_defined) {
    const std::string &p = v.pieces[static_cast<size_t>(id)];
    if (p.empty()) continue;
    std::vector<Fragment> next;
    for (const Fragment &f : frags) {
      if (f.token >= 0) {
        next.push_back(f);
        continue;
      }
      size_t at = f.offset;
      const size_t end = f.offset + f.length;
      for (size_t hit = text.find(p, at); hit != std::string::npos && hit + p.size() <= end; hit = text.find(p, at)) {
        if (hit > at) next.push_back({-1, at, hit - at});
        next.push_back({id, hit, p.size()});
        at = hit + p.size();
      }
      if (at < end) next.push_back({-1, at, end - at});
    }
    frags.swap(next);
  }
  bool after_special = true;  // the first fragment counts as following one
  for (const Fragment &f : frags) {
    if (f.token >= 0) {
      out->push_back(f.token);
      after_special = true;
      continue;
    }
    std::string s = v.add_space_prefix && after_special ? " " : "";
    s.append(text, f.offset, f.length);
    std::string escaped;
    escaped.reserve(s.size() + 8);
    for (char c : s) {
      if (c == ' ') escaped += kSpace;
      else escaped.push_back(c);
    }
    tokenize_fragment(v, escaped, out);
    after_special = false;
  }
}

}  // namespace vqr::model::gguf_spm
