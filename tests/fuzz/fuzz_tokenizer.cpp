// libFuzzer harness: the bytes after the first are a tokenizer file loaded with a fixed tiny model
// of the matching vocabulary; the first byte modulo 3 picks the reader: 0 a llama2.c tokenizer.bin
// (model tiny512.bin), 1 a SentencePiece tokenizer.model (model tiny4096.bin, the vocabulary of
// gutenberg4M's tokenizer.model), 2 a byte-level BPE tokenizer.json (model tiny512.bin; no
// tokenizer_config.json beside it, so BOS comes from the post-processor or is none). A tokenizer
// that loads encodes a few awkward strings.
#include <vqround/vqround.h>

#include "fixed_files.h"
#include "model_probe.h"
#include "scratch_dir.h"

namespace {

// Spaces, byte fallback (control bytes, invalid UTF-8), multi-byte scripts, an emoji, the special
// tokens' spellings, and the empty string.
const char *const kTexts[] = {
    "Once upon a time, there was a little dog.",
    "  leading and  double  spaces\n\nand paragraphs\t tabs",
    "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e \xf0\x9f\x98\x80 \x01\x7f",
    "\xff\xfe invalid \xc3 utf-8 \xe2\x82",
    "<s></s><unk> \xe2\x96\x81",
    "",
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  static const std::string model_512 = fuzz::fixed_file("tiny512.bin");
  static const std::string model_4096 = fuzz::fixed_file("tiny4096.bin");
  static const char *const kNames[3] = {"/tokenizer.bin", "/tokenizer.model", "/tokenizer.json"};
  const int route = data[0] % 3;
  fuzz::Cleanup cleanup;
  const std::string path = cleanup.file(fuzz::scratch_dir() + kNames[route]);
  fuzz::write_file(path, data + 1, size - 1);
  vqr_model *model = fuzz::load_model(route == 1 ? model_4096 : model_512, path.c_str());
  if (model) {
    for (const char *text : kTexts) {
      int32_t tokens[256];
      int64_t count = 0;
      vqr_model_tokenize(model, text, 1, tokens, 256, &count);
      vqr_model_tokenize(model, text, 0, nullptr, 0, &count);
    }
    fuzz::probe_model(model);
  }
  vqr_model_free(model);
  return 0;
}
