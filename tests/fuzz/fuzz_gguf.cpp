// libFuzzer harness: the bytes are a GGUF file (tensors F32/F16/Q4_0/Q4_1/Q8_0 and the vocabulary
// that travels in it), loaded and probed (model_probe.h).
#include <vqround/vqround.h>

#include "model_probe.h"
#include "scratch_dir.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz::Cleanup cleanup;
  const std::string path = cleanup.file(fuzz::scratch_dir() + "/model.gguf");
  fuzz::write_file(path, data, size);
  vqr_model *model = fuzz::load_model(path, nullptr);
  if (model) fuzz::probe_model(model);
  vqr_model_free(model);
  return 0;
}
