// Text file reading, paragraph splitting and calibration windows.
#include "model/text_corpus.h"

#include <algorithm>

#include "core/error.h"
#include "core/splitmix64.h"
#include "io/files.h"

namespace vqr::model {

std::string read_text_file(const std::string &path) { return io::read_file(path, "check the text file path"); }

std::vector<std::string> split_paragraphs(const std::string &text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find("\n\n", start);
    if (end == std::string::npos) end = text.size();
    if (end > start) out.push_back(text.substr(start, end - start));
    start = end + 2;
  }
  return out;
}

std::vector<std::vector<int32_t>> calibration_windows(const Tokenizer &tokenizer,
                                                      const std::vector<std::string> &paragraphs,
                                                      int64_t max_tokens, int64_t window) {
  require(max_tokens >= 1 && window >= 1, Status::InvalidArgument,
          "calibration_windows: max_tokens and window must be >= 1");
  std::vector<int32_t> stream;
  for (const std::string &p : paragraphs) {
    if (static_cast<int64_t>(stream.size()) >= max_tokens) break;
    const std::vector<int32_t> ids = tokenizer.encode(p, /*bos=*/true, /*eos=*/false);
    stream.insert(stream.end(), ids.begin(), ids.end());
  }
  if (static_cast<int64_t>(stream.size()) > max_tokens) stream.resize(static_cast<size_t>(max_tokens));
  std::vector<std::vector<int32_t>> windows;
  for (size_t s = 0; s < stream.size(); s += static_cast<size_t>(window)) {
    const size_t e = std::min(stream.size(), s + static_cast<size_t>(window));
    windows.emplace_back(stream.begin() + static_cast<std::ptrdiff_t>(s), stream.begin() + static_cast<std::ptrdiff_t>(e));
  }
  return windows;
}

std::vector<int32_t> encode_paragraphs(const Tokenizer &tokenizer, const std::vector<std::string> &paragraphs) {
  std::vector<int32_t> stream;
  for (const std::string &p : paragraphs) {
    const std::vector<int32_t> ids = tokenizer.encode(p, /*bos=*/true, /*eos=*/false);
    stream.insert(stream.end(), ids.begin(), ids.end());
  }
  return stream;
}

std::vector<std::vector<int32_t>> random_windows(const std::vector<int32_t> &tokens, int64_t count, int64_t length,
                                                 uint64_t seed) {
  require(!tokens.empty() && count >= 1 && length >= 1, Status::InvalidArgument,
          "random_windows: needs a non-empty token stream and count, length >= 1");
  const int64_t n = static_cast<int64_t>(tokens.size());
  if (n <= length) return {tokens};
  SplitMix64 rng(seed);  // the same windows on every platform for a given seed
  std::vector<std::vector<int32_t>> windows;
  for (int64_t i = 0; i < count; ++i) {
    const int64_t start = rng.below(n - length + 1);
    windows.emplace_back(tokens.begin() + start, tokens.begin() + start + length);
  }
  return windows;
}

std::vector<std::vector<int32_t>> paragraph_sequences(const Tokenizer &tokenizer,
                                                      const std::vector<std::string> &paragraphs, int64_t count,
                                                      int64_t length) {
  const size_t n = count > 0 ? std::min(paragraphs.size(), (size_t)count) : paragraphs.size();
  std::vector<std::vector<int32_t>> out(n);
  for (size_t p = 0; p < n; ++p) {
    out[p] = tokenizer.encode(paragraphs[p], /*bos=*/true, /*eos=*/false);
    if ((int64_t)out[p].size() > length) out[p].resize((size_t)length);  // the protocol truncates
  }
  return out;
}

std::vector<std::vector<int32_t>> consecutive_windows(const std::vector<int32_t> &tokens, int64_t count,
                                                      int64_t length) {
  int64_t n = (int64_t)tokens.size() / length;
  if (count > 0) n = std::min(n, count);
  std::vector<std::vector<int32_t>> out((size_t)n);
  for (int64_t k = 0; k < n; ++k) out[(size_t)k].assign(tokens.begin() + k * length, tokens.begin() + (k + 1) * length);
  return out;
}

}  // namespace vqr::model
