// C API: vqr_config and parameter bounds (the table lives in quant/config.cpp).
#include <cmath>
#include <cstddef>

#include "capi/guard.h"
#include "capi/handles.h"
#include "quant/config.h"

using vqr::capi::guarded;
using vqr::capi::require_arg;
using vqr::quant::param_index;
using vqr::quant::param_table;
using vqr::capi::to_internal;

namespace {

// The table entry of `param` or Error(VQR_ERR_UNSUPPORTED).
const vqr::quant::ParamInfo &lookup(vqr_param param) {
  const int i = param_index(to_internal(param));
  vqr::require(i >= 0, vqr::Status::Unsupported, "unknown parameter " + std::to_string((int)param));
  return param_table()[i];
}

void set_value(vqr_config *config, vqr_param param, double value, bool as_float) {
  require_arg(config != nullptr, "config is NULL");
  vqr::quant::check_param_value(to_internal(param), value, as_float);
  config->values[param_index(to_internal(param))] = value;
}

double get_value(const vqr_config *config, vqr_param param, bool as_float) {
  require_arg(config != nullptr, "config is NULL");
  const auto &info = lookup(param);
  vqr::require(info.is_float == as_float, vqr::Status::InvalidArgument,
               std::string("parameter ") + info.name + (info.is_float ? " is a float" : " is an integer"));
  return config->values[param_index(to_internal(param))];
}

}  // namespace

extern "C" {

VQR_API vqr_status vqr_param_bounds(vqr_param param, vqr_bounds *out) {
  return guarded(__func__, [&] {
    require_arg(out != nullptr, "out is NULL");
    const auto &info = lookup(param);
    vqr_bounds b{};
    b.is_float = info.is_float ? 1 : 0;
    b.lower = info.lower;
    b.upper = info.upper;
    b.default_value = info.default_value;
    vqr::capi::write_versioned_from_0_4(out, b, offsetof(vqr_bounds, default_value) + sizeof b.default_value);
  });
}

VQR_API const char *vqr_param_name(vqr_param param) {
  const int i = param_index(to_internal(param));
  return i >= 0 ? param_table()[i].name : nullptr;
}

VQR_API const char *vqr_method_name(vqr_method method) { return vqr::quant::method_name(to_internal(method)); }

VQR_API const char *vqr_grid_name(vqr_grid grid) { return vqr::quant::grid_name(to_internal(grid)); }

VQR_API vqr_status vqr_config_create(vqr_config **out) {
  return guarded(__func__, [&] {
    require_arg(out != nullptr, "out is NULL");
    *out = new vqr_config();
  });
}

VQR_API vqr_status vqr_config_clone(const vqr_config *config, vqr_config **out) {
  return guarded(__func__, [&] {
    require_arg(config != nullptr, "config is NULL");
    require_arg(out != nullptr, "out is NULL");
    *out = new vqr_config(*config);
  });
}

VQR_API void vqr_config_free(vqr_config *config) { delete config; }

VQR_API vqr_status vqr_config_set_int(vqr_config *config, vqr_param param, int64_t value) {
  return guarded(__func__, [&] { set_value(config, param, (double)value, false); });
}

VQR_API vqr_status vqr_config_set_float(vqr_config *config, vqr_param param, double value) {
  return guarded(__func__, [&] { set_value(config, param, value, true); });
}

VQR_API vqr_status vqr_config_get_int(const vqr_config *config, vqr_param param, int64_t *out) {
  return guarded(__func__, [&] {
    require_arg(out != nullptr, "out is NULL");
    *out = (int64_t)get_value(config, param, false);
  });
}

VQR_API vqr_status vqr_config_get_float(const vqr_config *config, vqr_param param, double *out) {
  return guarded(__func__, [&] {
    require_arg(out != nullptr, "out is NULL");
    *out = get_value(config, param, true);
  });
}

}  // extern "C"
