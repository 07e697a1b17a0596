// libFuzzer harness: the bytes after a 4-byte settings header are calibration or evaluation input
// for the sequence builders, with fixed tiny models (one per tokenizer kind, loaded once):
//   byte 0: bit 0 through a file (vqr_sequences_from_file) or memory; bit 1 ids (little-endian
//           uint32 / int32) or text; bits 2-3 the sampling (3 is out of range on purpose); bits
//           4-5 the model's tokenizer: llama2.c tokenizer.bin, SentencePiece, byte-level BPE
//           tokenizer.json (and 3 again llama2.c)
//   byte 1: count (0..7); byte 2: length (0..seq_len + 1, both ends out of range); byte 3: seed.
// A non-empty set is scored (its first sequence), as the calibration code would use it.
#include <vqround/vqround.h>

#include <cstring>
#include <string>
#include <vector>

#include "fixed_files.h"
#include "model_probe.h"
#include "scratch_dir.h"

namespace {

vqr_model *load_fixed(const char *model, const char *tokenizer) {
  vqr_model *m = fuzz::load_model(fuzz::fixed_file(model), fuzz::fixed_file(tokenizer).c_str());
  if (!m) {
    fprintf(stderr, "vqr fuzz: the fixed model %s does not load: %s\n", model, vqr_last_error());
    abort();
  }
  return m;
}

void score_first(const vqr_model *model, const vqr_sequences *seqs) {
  if (vqr_sequences_count(seqs) < 1) return;
  const int64_t *lengths = vqr_sequences_lengths(seqs);
  double nll = 0;
  int64_t predicted = 0;
  vqr_model_eval_nll(fuzz::fuzz_context(), model, vqr_sequences_tokens(seqs), lengths, 1, &nll, &predicted);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 4) return 0;
  static vqr_model *const llama2c = load_fixed("tiny512.bin", "tok512.bin");
  static vqr_model *const sentencepiece = load_fixed("tiny4096.bin", "tokenizer.model");
  static vqr_model *const byte_level_bpe = load_fixed("tiny512.bin", "tokenizer.json");
  const bool via_file = data[0] & 1, ids = data[0] & 2;
  const auto sampling = static_cast<vqr_sampling>((data[0] >> 2) & 3);
  const vqr_model *const models[4] = {llama2c, sentencepiece, byte_level_bpe, llama2c};
  const vqr_model *model = models[(data[0] >> 4) & 3];
  vqr_model_info info{};
  info.struct_size = sizeof info;
  vqr_model_get_info(model, &info);
  const int64_t count = data[1] & 7;
  const int64_t length = data[2] % (info.seq_len + 2);
  const uint64_t seed = data[3];
  const uint8_t *body = data + 4;
  const size_t body_size = size - 4;

  vqr_sequences *seqs = nullptr;
  if (via_file) {
    fuzz::Cleanup cleanup;
    const std::string path = cleanup.file(fuzz::scratch_dir() + (ids ? "/ids.bin" : "/text.txt"));
    fuzz::write_file(path, body, body_size);
    vqr_sequences_from_file(model, path.c_str(), ids, sampling, count, length, seed, &seqs);
  } else if (ids) {
    std::vector<int32_t> values(body_size / 4);
    if (!values.empty()) std::memcpy(values.data(), body, values.size() * 4);
    vqr_sequences_from_ids(model, values.data(), static_cast<int64_t>(values.size()), sampling, count, length, seed,
                           &seqs);
  } else {
    const std::string text(reinterpret_cast<const char *>(body), body_size);  // read up to its first NUL
    vqr_sequences_from_text(model, text.c_str(), sampling, count, length, seed, &seqs);
  }
  score_first(model, seqs);
  vqr_sequences_free(seqs);
  return 0;
}
