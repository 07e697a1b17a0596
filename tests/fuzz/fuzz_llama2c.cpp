// libFuzzer harness: the bytes are a llama2.c v0 checkpoint, loaded with a fixed valid tokenizer
// (tok512.bin, the stories260K vocabulary of the seeds), then probed (model_probe.h).
#include <vqround/vqround.h>

#include "fixed_files.h"
#include "model_probe.h"
#include "scratch_dir.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const std::string tokenizer = fuzz::fixed_file("tok512.bin");
  fuzz::Cleanup cleanup;
  const std::string path = cleanup.file(fuzz::scratch_dir() + "/model.bin");
  fuzz::write_file(path, data, size);
  vqr_model *model = fuzz::load_model(path, tokenizer.c_str());
  if (model) fuzz::probe_model(model);
  vqr_model_free(model);
  return 0;
}
