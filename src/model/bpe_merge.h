// The merge loop of byte-level BPE (tokenizers' Word::merge_all): a word starts as one symbol per
// byte; while some adjacent pair of symbols is a merge of the vocabulary, the pair with the lowest
// rank (the earliest merge learned), leftmost on ties, becomes the merged symbol. Two equivalent
// implementations: a rescan of cached pair ranks for short words (most words: a few bytes), and a
// linked list with a min-heap for long ones (a long run of spaces or a base64 blob would make the
// rescan quadratic). tests/model/test_tokenizer_bpe.cpp checks both against the textbook loop.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace vqr::model::bpe {

// (left id, right id) -> (rank, merged id): an open-addressing hash table, built once, then only
// read (safe to share between threads).
class MergeTable {
 public:
  struct Entry {
    uint64_t key;  // left << 32 | right
    int32_t rank, merged;
  };

  // Adds a merge. A pair added again replaces the earlier entry (tokenizers collects its merges
  // into a hash map in file order, so a repeated pair keeps its last rank).
  void add(int32_t left, int32_t right, int32_t rank, int32_t merged);
  // The merge of (left, right), or null.
  const Entry *find(int32_t left, int32_t right) const;
  size_t size() const { return count_; }

 private:
  void grow();
  std::vector<Entry> slots_;  // key kEmpty marks a free slot; size a power of two
  size_t count_ = 0;
};

// Words up to this many symbols take the rescan path.
inline constexpr size_t kShortWord = 48;

// Merges *symbols (ids, overwritten) in place with the path its length selects.
void merge_word(const MergeTable &merges, std::vector<int32_t> *symbols);
// The two paths, for the tests.
void merge_word_rescan(const MergeTable &merges, std::vector<int32_t> *symbols);
void merge_word_heap(const MergeTable &merges, std::vector<int32_t> *symbols);

}  // namespace vqr::model::bpe
