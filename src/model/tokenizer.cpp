// Tokenizer: the file-kind rule, the llama2.c tokenizer.bin reader, run.c's encoder and decoder;
// SentencePiece models go through sentencepiece_backend.cpp, GGUF vocabularies through
// gguf_vocab.cpp (reading) and gguf_vocab_spm.cpp (encoding), byte-level BPE (tokenizer.json,
// GGUF "gpt2") through bpe_hf_json.cpp / gguf_vocab_bpe.cpp (reading) and bpe_tokenizer.cpp.
#include "model/tokenizer.h"

#include <algorithm>
#include <cstring>
#include <optional>
#include <queue>

#include "core/error.h"
#include "io/files.h"
#include "io/gguf.h"
#include "model/bpe_hf_json.h"
#include "model/bpe_tokenizer.h"
#include "model/gguf_vocab.h"
#include "model/gguf_vocab_bpe.h"
#include "model/gguf_vocab_sentencepiece.h"
#include "model/gguf_vocab_spm.h"
#include "model/sentencepiece_backend.h"

namespace vqr::model {

namespace {

const char *const kTokHint = "expected a llama2.c tokenizer.bin that belongs to the model (e.g. tok512.bin for stories260K)";

// run.c's score threshold: best_score starts at -1e10 and a merge needs a strictly higher score.
constexpr float kNoMergeScore = -1e10f;

// Tokenizer files are small (Llama 2's: 0.5 MB; a 256K-piece SentencePiece model: ~5 MB). A larger
// file is something else (a checkpoint passed as --tokenizer) and is not read into memory.
constexpr io::ReadLimit kTokenizerLimit{size_t{256} << 20, "larger than 256 MiB, too large for a tokenizer",
                                        "pass the model's tokenizer.model or tokenizer.bin, not the checkpoint"};

bool ends_with(const std::string &s, const char *suffix) {
  const size_t n = std::strlen(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

}  // namespace

Tokenizer Tokenizer::load(const std::string &path, int vocab_size) {
  if (io::is_gguf(path)) {
    Tokenizer t;
    t.read_gguf(path, vocab_size);
    return t;
  }
  const std::string bytes = io::read_file(path, "check the --tokenizer path", &kTokenizerLimit);
  const size_t first = bytes.find_first_not_of(" \t\r\n");
  // By name, else by content for names of no known kind (a tokenizer.bin may start with '{').
  const bool other_name = !ends_with(path, ".bin") && !ends_with(path, ".model");
  if (ends_with(path, ".json") || (other_name && first != std::string::npos && bytes[first] == '{')) {
    Tokenizer t;
    t.read_hf_json(path, bytes, vocab_size);
    return t;
  }
  const bool bin_name = ends_with(path, ".bin");
  // The rule of tokenizer.h: the name's kind first, the other one second.
  std::string bin_problem, sp_problem;
  auto try_kind = [&](bool llama2c) {
    Tokenizer t;
    const bool ok = llama2c ? t.read_llama2c(bytes, vocab_size, &bin_problem) : t.read_sentencepiece(bytes, &sp_problem);
    return ok ? std::optional<Tokenizer>(std::move(t)) : std::nullopt;
  };
  std::optional<Tokenizer> loaded = try_kind(bin_name);
  if (!loaded) loaded = try_kind(!bin_name);
  if (!loaded) {
    if (bin_name) fail(Status::Format, path, bin_problem, kTokHint);
    if (ends_with(path, ".model"))
      fail(Status::Format, path, sp_problem,
           "expected the SentencePiece tokenizer.model that belongs to the model, complete");
    fail(Status::Format, path,
         "neither a SentencePiece tokenizer.model (" + sp_problem + ") nor a llama2.c tokenizer.bin (" +
             bin_problem + ")",
         "pass the model's tokenizer.model or tokenizer.bin");
  }
  Tokenizer &t = *loaded;
  if (t.sp_ && vocab_size > 0 && t.vocab_size() != vocab_size)
    fail(Status::Format, path,
         "SentencePiece model has " + std::to_string(t.vocab_size()) + " pieces but the model's vocabulary has " +
             std::to_string(vocab_size),
         "use the tokenizer.model that belongs to the model");
  for (size_t i = 0; i < t.pieces_.size(); ++i) t.index_.emplace(t.pieces_[i], static_cast<int32_t>(i));
  return std::move(t);
}

void Tokenizer::read_gguf(const std::string &path, int vocab_size) {
  const io::GgufFile file = io::GgufFile::open(path);
  const std::string model = file.get_string("tokenizer.ggml.model");
  if (model != "llama" && model != "gpt2")
    fail(Status::Unsupported, path, "tokenizer.ggml.model is \"" + model + "\"; the \"llama\" (SentencePiece) and \"gpt2\" (byte-level BPE) vocabularies are supported",
         "pass a SentencePiece tokenizer.model, a tokenizer.json or a llama2.c tokenizer.bin with --tokenizer, or pre-tokenized ids");
  GgufVocab v = read_gguf_vocab(file);
  if (model == "gpt2") {
    if (vocab_size > 0 && static_cast<int64_t>(v.tokens.size()) > vocab_size)
      fail(Status::Format, path,
           "GGUF vocabulary has " + std::to_string(v.tokens.size()) + " tokens but the model's has " + std::to_string(vocab_size),
           "use the tokenizer that belongs to the model");
    const bool adds_bos = gguf_bpe_adds_bos(file);
    adopt_bpe(std::make_shared<const bpe::BpeTokenizer>(gguf_bpe_spec(file, v), path), vocab_size);
    kind_ = Kind::kGguf;
    bos_id_ = adds_bos ? v.bos_id : -1;
    eos_id_ = v.eos_id;
    unk_id_ = v.unk_id;
    types_ = std::move(v.types);  // the file's own types (control, user-defined, ...)
    types_.resize(pieces_.size(), TokenType::kUnused);
    for (size_t i = 0; i < pieces_.size(); ++i) index_[pieces_[i]] = static_cast<int32_t>(i);  // llama.cpp: the last id
    return;
  }
  if (vocab_size > 0 && static_cast<int64_t>(v.tokens.size()) != vocab_size)
    fail(Status::Format, path,
         "GGUF vocabulary has " + std::to_string(v.tokens.size()) + " tokens but the model's has " + std::to_string(vocab_size),
         "use the tokenizer that belongs to the model");
  kind_ = Kind::kGguf;
  pieces_ = std::move(v.tokens);
  scores_ = std::move(v.scores);
  types_ = std::move(v.types);
  bos_id_ = v.bos_id;
  eos_id_ = v.eos_id;
  unk_id_ = v.unk_id;
  add_space_prefix_ = v.add_space_prefix;
  // llama.cpp fills token_to_id in id order, so a repeated piece maps to its last id.
  for (size_t i = 0; i < pieces_.size(); ++i) index_[pieces_[i]] = static_cast<int32_t>(i);
  for (size_t i = 0; i < pieces_.size(); ++i)
    if (types_[i] == TokenType::kUserDefined) user_defined_.push_back(static_cast<int32_t>(i));
  std::stable_sort(user_defined_.begin(), user_defined_.end(), [this](int32_t a, int32_t b) {
    return pieces_[static_cast<size_t>(a)].size() > pieces_[static_cast<size_t>(b)].size();
  });
}

void Tokenizer::read_hf_json(const std::string &path, const std::string &bytes, int vocab_size) {
  const std::string config_path = bpe::tokenizer_config_beside(path);
  const std::string config = io::is_regular_file(config_path)
                                 ? io::read_file(config_path, "check the tokenizer_config.json beside the tokenizer", &kTokenizerLimit)
                                 : std::string();
  bpe::HfBpe hf = bpe::parse_hf_bpe(bytes, config, path);
  auto tok = std::make_shared<const bpe::BpeTokenizer>(std::move(hf.spec), path);
  if (vocab_size > 0 && tok->id_count() > vocab_size)
    fail(Status::Format, path,
         "tokenizer.json has ids up to " + std::to_string(tok->id_count() - 1) + " but the model's vocabulary has " +
             std::to_string(vocab_size) + " tokens",
         "use the tokenizer.json that belongs to the model");
  adopt_bpe(std::move(tok), vocab_size);
  kind_ = Kind::kBpe;
  bos_id_ = hf.bos_id;
  eos_id_ = hf.eos_id;
  unk_id_ = bpe_->spec().unk_id;
}

void Tokenizer::adopt_bpe(std::shared_ptr<const bpe::BpeTokenizer> tok, int vocab_size) {
  const bpe::Spec &spec = tok->spec();
  const size_t n = std::max(spec.pieces.size(), static_cast<size_t>(std::max(vocab_size, 0)));
  pieces_ = spec.pieces;
  pieces_.resize(n);
  types_.assign(n, TokenType::kNormal);
  for (size_t i = 0; i < n; ++i)
    if (pieces_[i].empty()) {
      pieces_[i] = "[PAD" + std::to_string(i) + "]";  // as Hugging Face's GGUF converter names them
      types_[i] = TokenType::kUnused;
    }
  for (const bpe::AddedToken &a : spec.added)
    types_[static_cast<size_t>(a.id)] = a.special ? TokenType::kControl : TokenType::kUserDefined;
  scores_.assign(n, 0.0f);
  add_space_prefix_ = false;
  index_.clear();
  for (size_t i = 0; i < n; ++i) index_.emplace(pieces_[i], static_cast<int32_t>(i));
  bpe_ = std::move(tok);
}

bool Tokenizer::read_sentencepiece(const std::string &bytes, std::string *problem) {
  spm::Loaded m;
  if (!spm::parse(bytes, &m, problem)) return false;
  pieces_ = std::move(m.pieces);
  scores_ = std::move(m.scores);
  bos_id_ = m.bos_id;
  eos_id_ = m.eos_id;
  SentencePieceExtras extras = sentencepiece_extras(*m.processor);
  types_ = std::move(extras.types);
  unk_id_ = extras.unk_id;
  add_space_prefix_ = extras.add_dummy_prefix;
  sp_ = std::move(m.processor);
  kind_ = Kind::kSentencePiece;
  return true;
}

bool Tokenizer::read_llama2c(const std::string &bytes, int vocab_size, std::string *problem) {
  size_t at = 0;
  auto take = [&](void *dst, size_t n) {
    if (bytes.size() - at < n) return false;
    std::memcpy(dst, bytes.data() + at, n);
    at += n;
    return true;
  };
  auto bad = [&](const std::string &p) {
    *problem = p;
    return false;
  };
  int32_t max_len = 0;
  if (!take(&max_len, 4)) return bad("file is empty or truncated");
  if (max_len <= 0 || max_len > (1 << 16)) return bad("implausible max_token_length " + std::to_string(max_len));
  max_token_length_ = max_len;

  for (int i = 0; vocab_size <= 0 || i < vocab_size; ++i) {
    if (at == bytes.size()) {
      if (vocab_size <= 0) break;
      return bad("holds " + std::to_string(i) + " tokens but the model's vocabulary has " + std::to_string(vocab_size));
    }
    float score = 0.0f;
    int32_t len = 0;
    if (!take(&score, 4) || !take(&len, 4)) return bad("truncated in token " + std::to_string(i));
    if (len < 0 || len > max_len)
      return bad("token " + std::to_string(i) + " has length " + std::to_string(len) +
                 " outside [0, max_token_length " + std::to_string(max_len) + "]");
    std::string piece(static_cast<size_t>(len), '\0');
    if (len > 0 && !take(&piece[0], static_cast<size_t>(len))) return bad("truncated in token " + std::to_string(i));
    // run.c keeps pieces as C strings; an embedded NUL would end the piece there.
    const size_t nul = piece.find('\0');
    if (nul != std::string::npos) piece.resize(nul);
    pieces_.push_back(std::move(piece));
    scores_.push_back(score);
  }
  if (at != bytes.size())
    return bad("has more entries than the model's vocabulary of " + std::to_string(vocab_size) + " tokens");
  if (pieces_.size() < 3 + 256)
    return bad("holds " + std::to_string(pieces_.size()) +
               " tokens, fewer than the 3 specials and 256 byte tokens");
  // Types by position, the layout of llama2.c's exporter (run.c maps byte b to id b + 3).
  types_.assign(pieces_.size(), TokenType::kNormal);
  types_[0] = TokenType::kUnknown;
  types_[1] = types_[2] = TokenType::kControl;
  for (size_t i = 3; i < 3 + 256; ++i) {
    const std::string &p = pieces_[i];
    if (p.size() == 6 && p.compare(0, 3, "<0x") == 0 && p[5] == '>') types_[i] = TokenType::kByte;
  }
  unk_id_ = 0;
  kind_ = Kind::kLlama2c;
  return true;
}

int32_t Tokenizer::lookup(const std::string &piece) const {
  auto it = index_.find(piece);
  return it == index_.end() ? -1 : it->second;
}

std::vector<int32_t> Tokenizer::encode(const std::string &input, bool bos, bool eos) const {
  const std::string text(input.c_str());  // stop at the first NUL, as run.c does
  std::vector<int32_t> tokens;
  if (bos && bos_id_ >= 0) tokens.push_back(bos_id_);
  if (bpe_) {
    bpe_->encode(text, &tokens);
    if (eos && eos_id_ >= 0) tokens.push_back(eos_id_);
    return tokens;
  }
  if (kind_ == Kind::kGguf) {
    const gguf_spm::Vocab v{pieces_, scores_, index_, user_defined_, add_space_prefix_, unk_id_};
    gguf_spm::encode(v, text, &tokens);
    if (eos && eos_id_ >= 0) tokens.push_back(eos_id_);
    return tokens;
  }
  if (sp_) {
    const std::vector<int32_t> ids = spm::encode(*sp_, text);
    tokens.insert(tokens.end(), ids.begin(), ids.end());
    if (eos && eos_id_ >= 0) tokens.push_back(eos_id_);
    return tokens;
  }
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
  if (eos) tokens.push_back(eos_id_);
  return tokens;
}

std::string Tokenizer::decode(int32_t prev_token, int32_t token) const {
  if (bpe_) {
    if (token < 0 || token >= vocab_size()) piece(token);  // the out_of_range of the contract
    return bpe_->bytes_of(token);
  }
  std::string p = piece(token);
  if (kind_ != Kind::kLlama2c) {  // SentencePiece and GGUF spell a space U+2581 ("\xe2\x96\x81"); tokenizer.bin stores " "
    static const std::string kMeta = "\xe2\x96\x81";
    for (size_t at = p.find(kMeta); at != std::string::npos; at = p.find(kMeta, at + 1)) p.replace(at, kMeta.size(), " ");
  }
  // SentencePiece strips the leading space of the first piece after BOS.
  if (bos_id_ >= 0 && prev_token == bos_id_ && !p.empty() && p[0] == ' ') p.erase(0, 1);
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

