// Method and grid names from the library (names.h).
#include "cli/names.h"

#include "vqround/vqround.h"

namespace vqr::cli {

namespace {

// The library names 0, 1, 2, ... until name_of returns NULL.
template <class Enum>
int index_of_name(const char *(*name_of)(Enum), const std::string &name) {
  for (int i = 0; name_of((Enum)i) != nullptr; ++i)
    if (name == name_of((Enum)i)) return i;
  return -1;
}

template <class Enum>
std::string all_names(const char *(*name_of)(Enum)) {
  std::string out;
  for (int i = 0; name_of((Enum)i) != nullptr; ++i) out += (i ? ", " : "") + std::string(name_of((Enum)i));
  return out;
}

}  // namespace

int method_from_name(const std::string &name) { return index_of_name(vqr_method_name, name); }
int grid_from_name(const std::string &name) { return index_of_name(vqr_grid_name, name); }
std::string method_names() { return all_names(vqr_method_name); }
std::string grid_names() { return all_names(vqr_grid_name); }

const char *dtype_name(int dtype) {
  return dtype == VQR_DTYPE_BF16 ? "bf16" : dtype == VQR_DTYPE_F16 ? "f16" : "f32";
}

}  // namespace vqr::cli
