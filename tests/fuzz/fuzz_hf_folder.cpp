// libFuzzer harness: the bytes are a whole Hugging Face model folder (folder_container.h): dense
// config.json + model.safetensors, sharded model.safetensors.index.json + shards, GPTQ
// (quantize_config.json / quantization_config), compressed-tensors, the tokenizer files and a
// vqround.json. The folder is loaded and probed (model_probe.h).
#include <vqround/vqround.h>

#include <sys/stat.h>

#include "folder_container.h"
#include "model_probe.h"
#include "scratch_dir.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz::Cleanup cleanup;
  const std::string dir = cleanup.dir(fuzz::scratch_dir() + "/model");
  if (mkdir(dir.c_str(), 0700) != 0) {
    perror("vqr fuzz: mkdir");
    abort();
  }
  for (const fuzz::FolderEntry &e : fuzz::split_folder(data, size))
    fuzz::write_file(cleanup.file(dir + "/" + e.name), e.data, e.size);
  vqr_model *model = fuzz::load_model(dir, nullptr);
  if (model) fuzz::probe_model(model);
  vqr_model_free(model);
  return 0;
}
