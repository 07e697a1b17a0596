// The objects behind the C API's opaque handles. Each derives from the internal object it stands
// for, so a shim passes a handle where the internal code wants the object (a NULL handle stays a
// NULL pointer) and the internal floors never see a public type (DESIGN §1).
#pragma once

#include <string>
#include <utility>

#include "core/context.h"
#include "hessian/hessian.h"
#include "quant/config.h"
#include "quant/quantized_layer.h"
#include "vqround/vqround.h"

struct vqr_context : vqr::Context {
  std::string backend_text;  // vqr_context_backend's answer, rebuilt when the backend changes
};

struct vqr_config : vqr::quant::ParamValues {};

struct vqr_hessian : vqr::hessian::Hessian {
  using vqr::hessian::Hessian::Hessian;
  vqr_hessian(vqr::hessian::Hessian &&h) : vqr::hessian::Hessian(std::move(h)) {}
};

struct vqr_result : vqr::quant::QuantizedLayer {
  explicit vqr_result(vqr::quant::QuantizedLayer &&q) : vqr::quant::QuantizedLayer(std::move(q)) {}
};
