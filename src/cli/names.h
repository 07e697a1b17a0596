// The library's names for its methods and grids (vqr_method_name, vqr_grid_name), read through
// the public API: the tool keeps no list of its own, so a method added to the library is known
// to every option that takes a method name.
#pragma once

#include <string>

namespace vqr::cli {

// The vqr_method / vqr_grid whose library name is `name`, or -1.
int method_from_name(const std::string &name);
int grid_from_name(const std::string &name);

// Every name the library gives, in enum order, ", "-separated ("rtn, gptq, ..."), for usage text.
std::string method_names();
std::string grid_names();

// The tool's name of a vqr_dtype as its options take it: "f32", "f16", "bf16" ("f32" for others).
const char *dtype_name(int dtype);

}  // namespace vqr::cli
