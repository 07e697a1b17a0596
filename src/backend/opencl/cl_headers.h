// The OpenCL C API at version 1.2: every call the backend makes exists in 1.2, which NVIDIA,
// AMD, Intel and PoCL all provide (spec api_formats_ecosystem §2.5).
#pragma once

#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#include <CL/cl.h>

#include <cstring>
