// C API: vqr_config and parameter bounds (the table lives in quant/config.cpp).
#include <cmath>

#include "capi/guard.h"
#include "quant/config.h"

using vqr::capi::guarded;
using vqr::capi::require_arg;
using vqr::quant::param_index;
using vqr::quant::param_table;

namespace {

// The table entry of `param` or Error(VQR_ERR_UNSUPPORTED).
const vqr::quant::ParamInfo &lookup(vqr_param param) {
  const int i = param_index(param);
  vqr::require(i >= 0, VQR_ERR_UNSUPPORTED, "unknown parameter " + std::to_string((int)param));
  return param_table()[i];
}

void set_value(vqr_config *config, vqr_param param, double value, bool as_float) {
  require_arg(config != nullptr, "config is NULL");
  const auto &info = lookup(param);
  vqr::require(info.is_float == as_float, VQR_ERR_INVALID_ARGUMENT,
               std::string("parameter ") + info.name + " is " + (info.is_float ? "a float: use vqr_config_set_float"
                                                                              : "an integer: use vqr_config_set_int"));
  const bool in_range = !std::isnan(value) && value >= info.lower && value <= info.upper &&
                        !(param == VQR_PARAM_GROUP_SIZE && value == 0) &&
                        !((param == VQR_PARAM_ALPHA || param == VQR_PARAM_ALPHA2) && value > -1 && value < 0);
  vqr::require(in_range, VQR_ERR_OUT_OF_RANGE,
               std::string("parameter ") + info.name + " = " + std::to_string(value) + " is outside [" +
                   std::to_string(info.lower) + ", " + std::to_string(info.upper) + "]" +
                   (param == VQR_PARAM_GROUP_SIZE ? " (or 0; use -1 for per-channel)" : "") +
                   (param == VQR_PARAM_ALPHA || param == VQR_PARAM_ALPHA2 ? " (-1 = preset, else >= 0)" : ""));
  config->values[param_index(param)] = value;
}

double get_value(const vqr_config *config, vqr_param param, bool as_float) {
  require_arg(config != nullptr, "config is NULL");
  const auto &info = lookup(param);
  vqr::require(info.is_float == as_float, VQR_ERR_INVALID_ARGUMENT,
               std::string("parameter ") + info.name + (info.is_float ? " is a float" : " is an integer"));
  return config->values[param_index(param)];
}

}  // namespace

extern "C" {

VQR_API vqr_status vqr_param_bounds(vqr_param param, vqr_bounds *out) {
  return guarded(__func__, [&] {
    require_arg(out != nullptr, "out is NULL");
    const auto &info = lookup(param);
    out->struct_size = sizeof(vqr_bounds);
    out->is_float = info.is_float ? 1 : 0;
    out->lower = info.lower;
    out->upper = info.upper;
    out->default_value = info.default_value;
  });
}

VQR_API const char *vqr_param_name(vqr_param param) {
  const int i = param_index(param);
  return i >= 0 ? param_table()[i].name : nullptr;
}

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
