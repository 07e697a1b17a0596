// Default data folder of the tool: $VQR_DATA_DIR, else ../shared/data from the working directory
// (the layout of a checkout next to the shared folder).
#include <cstdlib>
#include <string>

#include "cli/commands.h"

namespace vqr::cli {

std::string default_data_dir() {
  const char *env = std::getenv("VQR_DATA_DIR");
  if (env && *env) return env;
  return "../shared/data";
}

}  // namespace vqr::cli
