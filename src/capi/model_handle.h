// The object behind vqr_model: a pipeline session (pipeline/model_session.h holds the state and
// every operation), shared by the C API files that work on models (capi_model.cpp,
// capi_model_layers.cpp, capi_sequences.cpp, capi_export.cpp).
#pragma once

#include <utility>

#include "pipeline/model_session.h"
#include "vqround/vqround.h"

struct vqr_model {
  vqr::pipeline::ModelSession session;

  explicit vqr_model(vqr::pipeline::ModelSession s) : session(std::move(s)) {}
};
