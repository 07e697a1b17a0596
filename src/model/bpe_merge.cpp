// The BPE merge loop (bpe_merge.h).
#include "model/bpe_merge.h"

#include <climits>
#include <queue>

namespace vqr::model::bpe {

namespace {

constexpr uint64_t kEmpty = ~uint64_t{0};  // no real key: ids are non-negative int32

uint64_t key_of(int32_t left, int32_t right) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
}

// MurmurHash3's 64-bit finalizer: every key bit reaches the low bits the mask keeps (a plain
// multiply leaves them depending on the right id only, and merges sharing a right id collide).
size_t slot_of(uint64_t key, size_t mask) {
  key ^= key >> 33;
  key *= 0xff51afd7ed558ccdull;
  key ^= key >> 33;
  key *= 0xc4ceb9fe1a85ec53ull;
  key ^= key >> 33;
  return static_cast<size_t>(key) & mask;
}

}  // namespace

void MergeTable::grow() {
  std::vector<Entry> old = std::move(slots_);
  slots_.assign(old.empty() ? 1024 : old.size() * 2, Entry{kEmpty, 0, 0});
  const size_t mask = slots_.size() - 1;
  for (const Entry &e : old) {
    if (e.key == kEmpty) continue;
    size_t s = slot_of(e.key, mask);
    while (slots_[s].key != kEmpty) s = (s + 1) & mask;
    slots_[s] = e;
  }
}

void MergeTable::add(int32_t left, int32_t right, int32_t rank, int32_t merged) {
  if ((count_ + 1) * 2 > slots_.size()) grow();  // load factor at most 1/2
  const uint64_t key = key_of(left, right);
  const size_t mask = slots_.size() - 1;
  size_t s = slot_of(key, mask);
  for (; slots_[s].key != kEmpty; s = (s + 1) & mask)
    if (slots_[s].key == key) {
      slots_[s] = Entry{key, rank, merged};  // the last rank wins
      return;
    }
  slots_[s] = Entry{key, rank, merged};
  ++count_;
}

const MergeTable::Entry *MergeTable::find(int32_t left, int32_t right) const {
  if (slots_.empty()) return nullptr;
  const uint64_t key = key_of(left, right);
  const size_t mask = slots_.size() - 1;
  for (size_t s = slot_of(key, mask);; s = (s + 1) & mask) {
    const Entry &e = slots_[s];
    if (e.key == key) return &e;
    if (e.key == kEmpty) return nullptr;
  }
}

void merge_word_rescan(const MergeTable &merges, std::vector<int32_t> *symbols) {
  std::vector<int32_t> &s = *symbols;
  if (s.size() < 2) return;
  // rank[i], merged[i]: the merge of the pair (s[i], s[i + 1]); INT_MAX when there is none.
  std::vector<int32_t> rank(s.size() - 1), merged(s.size() - 1);
  auto look = [&](size_t i) {
    const MergeTable::Entry *e = merges.find(s[i], s[i + 1]);
    rank[i] = e ? e->rank : INT_MAX;
    merged[i] = e ? e->merged : -1;
  };
  for (size_t i = 0; i + 1 < s.size(); ++i) look(i);
  while (!rank.empty()) {
    size_t best = 0;
    for (size_t i = 1; i < rank.size(); ++i)
      if (rank[i] < rank[best]) best = i;  // strict: the leftmost of equal ranks
    if (rank[best] == INT_MAX) break;
    s[best] = merged[best];
    s.erase(s.begin() + static_cast<std::ptrdiff_t>(best) + 1);
    rank.erase(rank.begin() + static_cast<std::ptrdiff_t>(best));
    merged.erase(merged.begin() + static_cast<std::ptrdiff_t>(best));
    if (best > 0) look(best - 1);
    if (best < rank.size()) look(best);
  }
}

void merge_word_heap(const MergeTable &merges, std::vector<int32_t> *symbols) {
  std::vector<int32_t> &s = *symbols;
  const int n = static_cast<int>(s.size());
  if (n < 2) return;
  // Symbols form a linked list over their first positions: a merged symbol keeps its left
  // position, so positions stay in text order and "leftmost" is "lowest position".
  std::vector<int> next(n), prev(n), version(n, 0);
  for (int i = 0; i < n; ++i) {
    next[i] = i + 1 < n ? i + 1 : -1;
    prev[i] = i - 1;
  }
  struct Candidate {
    int32_t rank;
    int left, left_version, right_version;
    int32_t merged;
  };
  auto later = [](const Candidate &a, const Candidate &b) { return a.rank != b.rank ? a.rank > b.rank : a.left > b.left; };
  std::priority_queue<Candidate, std::vector<Candidate>, decltype(later)> heap(later);
  auto push = [&](int left) {
    const int right = next[left];
    if (right < 0) return;
    if (const MergeTable::Entry *e = merges.find(s[left], s[right]))
      heap.push({e->rank, left, version[left], version[right], e->merged});
  };
  for (int i = 0; i + 1 < n; ++i) push(i);
  while (!heap.empty()) {
    const Candidate c = heap.top();
    heap.pop();
    const int right = next[c.left];
    // Stale: the left symbol was absorbed or changed, or its right neighbour changed.
    if (version[c.left] != c.left_version || right < 0 || version[right] != c.right_version) continue;
    s[c.left] = c.merged;
    ++version[c.left];
    version[right] = -1;  // absorbed: never matches a queued version again
    next[c.left] = next[right];
    if (next[right] >= 0) prev[next[right]] = c.left;
    if (prev[c.left] >= 0) push(prev[c.left]);
    push(c.left);
  }
  std::vector<int32_t> out;
  for (int i = 0; i >= 0; i = next[i]) out.push_back(s[i]);
  s.swap(out);
}

void merge_word(const MergeTable &merges, std::vector<int32_t> *symbols) {
  if (symbols->size() <= kShortWord) merge_word_rescan(merges, symbols);
  else merge_word_heap(merges, symbols);
}

}  // namespace vqr::model::bpe
