// llama2.c tokenizer: file reader, run.c-compatible encoder and decoder.
#include "model/tokenizer.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <queue>

#include "core/error.h"

namespace vqr::model {

namespace {

[[noreturn]] void fail(vqr_status status, const std::string &path, const std::string &problem,
                       const std::string &hint) {
  throw Error(status, path + ": " + problem + "; hint: " + hint);
}

struct FileCloser {
  void operator()(std::FILE *f) const { std::fclose(f); }
};

const char *const kTokHint = "expected a llama2.c tokenizer.bin that belongs to the model (e.g. tok512.bin for stories260K)";

// run.c's score threshold: best_score starts at -1e10 and a merge needs a strictly higher score.
constexpr float kNoMergeScore = -1e10f;

}  // namespace

Tokenizer Tokenizer::load(const std::string &path, int vocab_size) {
  std::unique_ptr<std::FILE, FileCloser> f(std::fopen(path.c_str(), "rb"));
  if (!f) fail(VQR_ERR_IO, path, std::string("cannot open: ") + std::strerror(errno), "check the --tokenizer path");
  Tokenizer t;
  int32_t max_len = 0;
  if (std::fread(&max_len, 4, 1, f.get()) != 1) fail(VQR_ERR_CORRUPT, path, "file is empty or truncated", kTokHint);
  if (max_len <= 0 || max_len > (1 << 16))
    fail(VQR_ERR_CORRUPT, path, "implausible max_token_length " + std::to_string(max_len), kTokHint);
  t.max_token_length_ = max_len;

  for (int i = 0; vocab_size <= 0 || i < vocab_size; ++i) {
    float score = 0.0f;
    if (std::fread(&score, 4, 1, f.get()) != 1) {
      if (vocab_size <= 0 && std::feof(f.get()) && i > 0) break;
      fail(VQR_ERR_CORRUPT, path,
           "holds " + std::to_string(i) + " tokens but the model's vocabulary has " + std::to_string(vocab_size),
           kTokHint);
    }
    int32_t len = 0;
    if (std::fread(&len, 4, 1, f.get()) != 1)
      fail(VQR_ERR_CORRUPT, path, "truncated in token " + std::to_string(i), kTokHint);
    if (len < 0 || len > max_len)
      fail(VQR_ERR_CORRUPT, path,
           "token " + std::to_string(i) + " has length " + std::to_string(len) + " outside [0, max_token_length " +
               std::to_string(max_len) + "]",
           kTokHint);
    std::string piece(static_cast<size_t>(len), '\0');
    if (len > 0 && std::fread(&piece[0], 1, static_cast<size_t>(len), f.get()) != static_cast<size_t>(len))
      fail(VQR_ERR_CORRUPT, path, "truncated in token " + std::to_string(i), kTokHint);
    // run.c keeps pieces as C strings; an embedded NUL would end the piece there.
    const size_t nul = piece.find('\0');
    if (nul != std::string::npos) piece.resize(nul);
    t.pieces_.push_back(std::move(piece));
    t.scores_.push_back(score);
  }
  if (vocab_size > 0 && std::fgetc(f.get()) != EOF)
    fail(VQR_ERR_CORRUPT, path,
         "has more entries than the model's vocabulary of " + std::to_string(vocab_size) + " tokens", kTokHint);
  if (t.pieces_.size() < 3 + 256)
    fail(VQR_ERR_CORRUPT, path,
         "holds " + std::to_string(t.pieces_.size()) + " tokens, fewer than the 3 specials and 256 byte tokens",
         kTokHint);

  for (size_t i = 0; i < t.pieces_.size(); ++i) t.index_.emplace(t.pieces_[i], static_cast<int32_t>(i));
  return t;
}

int32_t Tokenizer::lookup(const std::string &piece) const {
  auto it = index_.find(piece);
  return it == index_.end() ? -1 : it->second;
}

std::vector<int32_t> Tokenizer::encode(const std::string &input, bool bos, bool eos) const {
  const std::string text(input.c_str());  // stop at the first NUL, as run.c does
  std::vector<int32_t> tokens;
  if (bos) tokens.push_back(kBos);
  // SentencePiece's add_dummy_prefix: a " " token first, only for non-empty text. (A vocabulary
  // without " " gets none; run.c would emit id -1 there.)
  if (!text.empty()) {
    const int32_t dummy = lookup(" ");
    if (dummy >= 0) tokens.push_back(dummy);
  }

  // Code points (up to 4 bytes) looked up whole; unknown ones fall back to byte tokens. The
  // buffer logic is run.c's, including its handling of over-long continuation runs.
  std::string buf;
  for (size_t c = 0; c < text.size(); ++c) {
    const unsigned char ch = static_cast<unsigned char>(text[c]);
    if ((ch & 0xC0) != 0x80) buf.clear();
    buf.push_back(text[c]);
    const unsigned char next = c + 1 < text.size() ? static_cast<unsigned char>(text[c + 1]) : 0;
    if ((next & 0xC0) == 0x80 && buf.size() < 4) continue;
    const int32_t id = lookup(buf);
    if (id != -1) {
      tokens.push_back(id);
    } else {
      for (unsigned char b : buf) tokens.push_back(static_cast<int32_t>(b) + 3);
    }
    buf.clear();
  }

  // Greedy merging. run.c rescans all pairs each round and merges the best (highest score,
  // leftmost on ties). Here each token is a node of a linked list and candidate pairs sit in a
  // max-heap keyed by (score, -position); a merged node keeps its left position, so positions stay
  // in list order and the heap pops exactly the pair run.c's scan would pick. Stale entries are
  // recognised by per-node version counters.
  const int n = static_cast<int>(tokens.size());
  if (n >= 2) {
    std::vector<int> next(n), prev(n), version(n, 0);
    for (int i = 0; i < n; ++i) {
      next[i] = i + 1 < n ? i + 1 : -1;
      prev[i] = i - 1;
    }
    struct Candidate {
      float score;
      int left, right, left_version, right_version, merged_id;
    };
    auto worse = [](const Candidate &a, const Candidate &b) {
      if (a.score != b.score) return a.score < b.score;
      return a.left > b.left;
    };
    std::priority_queue<Candidate, std::vector<Candidate>, decltype(worse)> heap(worse);
    auto push_pair = [&](int left) {
      const int right = next[left];
      if (left < 0 || right < 0) return;
      const int32_t id = lookup(pieces_[static_cast<size_t>(tokens[left])] + pieces_[static_cast<size_t>(tokens[right])]);
      if (id == -1 || !(scores_[static_cast<size_t>(id)] > kNoMergeScore)) return;
      heap.push({scores_[static_cast<size_t>(id)], left, right, version[left], version[right], id});
    };
    for (int i = 0; i + 1 < n; ++i) push_pair(i);
    std::vector<char> alive(n, 1);
    while (!heap.empty()) {
      const Candidate cand = heap.top();
      heap.pop();
      if (!alive[cand.left] || !alive[cand.right] || next[cand.left] != cand.right ||
          version[cand.left] != cand.left_version || version[cand.right] != cand.right_version)
        continue;
      tokens[cand.left] = cand.merged_id;
      ++version[cand.left];
      alive[cand.right] = 0;
      next[cand.left] = next[cand.right];
      if (next[cand.right] >= 0) prev[next[cand.right]] = cand.left;
      if (prev[cand.left] >= 0) push_pair(prev[cand.left]);
      push_pair(cand.left);
    }
    std::vector<int32_t> merged;
    for (int i = 0; i >= 0 && i < n; i = next[i]) merged.push_back(tokens[i]);
    tokens.swap(merged);
  }
  if (eos) tokens.push_back(kEos);
  return tokens;
}

std::string Tokenizer::decode(int32_t prev_token, int32_t token) const {
  std::string p = piece(token);
  // SentencePiece strips the leading space of the first piece after BOS.
  if (prev_token == kBos && !p.empty() && p[0] == ' ') p.erase(0, 1);
  // run.c: sscanf(piece, "<0x%02hhX>", &b) == 1, i.e. "<0x" followed by one or two hex digits.
  if (p.size() >= 4 && p.compare(0, 3, "<0x") == 0) {
    int value = 0, digits = 0;
    for (size_t i = 3; i < p.size() && digits < 2; ++i, ++digits) {
      const char ch = p[i];
      int d;
      if (ch >= '0' && ch <= '9') d = ch - '0';
      else if (ch >= 'a' && ch <= 'f') d = ch - 'a' + 10;
      else if (ch >= 'A' && ch <= 'F') d = ch - 'A' + 10;
      else break;
      value = value * 16 + d;
    }
    // run.c returns a C string, so byte 0 prints as nothing.
    if (digits > 0) return value == 0 ? std::string() : std::string(1, static_cast<char>(value));
  }
  return p;
}

}  // namespace vqr::model

