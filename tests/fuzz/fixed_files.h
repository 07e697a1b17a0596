// The valid files some harnesses hold fixed while they mutate another (a model for the tokenizer
// and text harnesses, a tokenizer for the llama2.c one). make_seeds.sh writes them into
// <build>/fuzz/fixed; the path is compiled in and VQR_FUZZ_FIXED overrides it (a reproducer run
// from another build).
#pragma once

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <string>

namespace fuzz {

inline std::string fixed_file(const char *name) {
  const char *env = getenv("VQR_FUZZ_FIXED");
#ifdef VQR_FUZZ_FIXED_DIR
  const std::string dir = env && *env ? env : VQR_FUZZ_FIXED_DIR;
#else
  const std::string dir = env && *env ? env : ".";
#endif
  std::string path = dir + "/" + name;
  // Without the file every input fails the same way: stop at once and say what to do.
  if (access(path.c_str(), R_OK) != 0) {
    fprintf(stderr, "vqr fuzz: %s is missing: build the fuzz_seeds target (or set VQR_FUZZ_FIXED)\n", path.c_str());
    abort();
  }
  return path;
}

}  // namespace fuzz
