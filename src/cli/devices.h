// `vqround inspect --devices`: the OpenCL devices the library sees (vqr_device_count /
// vqr_device_get), with the --device spec that selects each, or why there are none.
#pragma once

namespace vqr::cli {

// Prints the list on stdout, as text or (json) one JSON object; returns the exit code (0, also
// when there is no device: that is an answer, not a failure).
int print_devices(bool json);

}  // namespace vqr::cli
