// Our side of the tokenizers oracle (bpe_oracle.py): encodes texts with a tokenizer file through
// vqr::model::Tokenizer, writes the ids and the decoded tokens, and times the encoding on one
// thread. bpe_oracle.py compares both with tokenizers'.
// Usage: bpe_encode TOKENIZER TEXTS IDS_OUT DECODED_OUT
//   TEXTS: uint32 count, then per text uint32 byte length and the bytes (little endian).
//   IDS_OUT: per text uint32 id count and the ids, encoded with the model's BOS rule, no EOS.
//   DECODED_OUT: per text uint32 byte length and the concatenated decode() of all its ids.
// Prints one line "texts N tokens T seconds S" on stdout.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "model/tokenizer.h"

namespace {

bool read_u32(std::istream &in, uint32_t *v) { return static_cast<bool>(in.read(reinterpret_cast<char *>(v), 4)); }

}  // namespace

int main(int argc, char **argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: bpe_encode TOKENIZER TEXTS IDS_OUT DECODED_OUT\n");
    return 2;
  }
  try {
    const vqr::model::Tokenizer tok = vqr::model::Tokenizer::load(argv[1], 0);
    std::ifstream in(argv[2], std::ios::binary);
    uint32_t count = 0;
    if (!read_u32(in, &count)) throw std::runtime_error(std::string(argv[2]) + ": cannot read the text count");
    std::vector<std::string> texts(count);
    for (std::string &t : texts) {
      uint32_t n = 0;
      if (!read_u32(in, &n)) throw std::runtime_error(std::string(argv[2]) + ": truncated");
      t.resize(n);
      if (n && !in.read(&t[0], n)) throw std::runtime_error(std::string(argv[2]) + ": truncated");
    }
    std::vector<std::vector<int32_t>> ids(count);
    const auto t0 = std::chrono::steady_clock::now();
    for (uint32_t i = 0; i < count; ++i) ids[i] = tok.encode(texts[i], /*bos=*/true, /*eos=*/false);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

    size_t tokens = 0;
    std::ofstream out(argv[3], std::ios::binary), decoded(argv[4], std::ios::binary);
    for (uint32_t i = 0; i < count; ++i) {
      const uint32_t n = static_cast<uint32_t>(ids[i].size());
      out.write(reinterpret_cast<const char *>(&n), 4);
      out.write(reinterpret_cast<const char *>(ids[i].data()), static_cast<std::streamsize>(n * 4));
      tokens += n;
      std::string back;
      for (int32_t id : ids[i]) back += tok.decode(-1, id);
      const uint32_t bn = static_cast<uint32_t>(back.size());
      decoded.write(reinterpret_cast<const char *>(&bn), 4);
      decoded.write(back.data(), static_cast<std::streamsize>(bn));
    }
    if (!out || !decoded) throw std::runtime_error("cannot write the outputs");
    std::printf("texts %u tokens %zu seconds %.6f\n", count, tokens, seconds);
    return 0;
  } catch (const std::exception &e) {
    std::fprintf(stderr, "bpe_encode: %s\n", e.what());
    return 1;
  }
}
