// "[4096, 11008]": how error messages about tensor files (safetensors, GGUF, packed checkpoints)
// write a shape, so every reader words it the same way.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace vqr {

inline std::string shape_text(const std::vector<int64_t> &shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

}  // namespace vqr
