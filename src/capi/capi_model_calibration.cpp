// C API: calibration at scale on a vqr_model — how the hidden states are stored (dtype, memory
// budget, spill folder) and what the last vqr_model_quantize measured (per-phase seconds, peak
// hidden-state bytes).
#include <string>

#include "capi/guard.h"
#include "capi/model_handle.h"
#include "capi/translate.h"

using vqr::capi::guarded;
using vqr::capi::require_arg;

extern "C" {

VQR_API vqr_status vqr_model_set_calibration(vqr_model *m, vqr_dtype calib_dtype, int64_t max_memory_bytes,
                                             const char *spill_dir) {
  return guarded(__func__, [&] {
    require_arg(m != nullptr, "model is NULL");
    m->session.set_calibration(vqr::capi::to_internal(calib_dtype), max_memory_bytes, spill_dir ? spill_dir : "");
  });
}

VQR_API vqr_status vqr_model_quantize_stats(const vqr_model *m, vqr_quantize_stats *out) {
  return guarded(__func__, [&] {
    require_arg(m != nullptr, "model is NULL");
    require_arg(out != nullptr, "out is NULL");
    const vqr::pipeline::ModelSession &s = m->session;
    const vqr::pipeline::QuantizedModel &run = s.last_run();
    vqr_quantize_stats st{};
    st.seconds = run.seconds;
    st.load_seconds = run.phases.load;
    st.forward_seconds = run.phases.forward;
    st.hessian_seconds = run.phases.hessian;
    st.sweep_seconds = run.phases.sweep;
    st.peak_hidden_bytes = run.peak_hidden_bytes;
    st.sequences = s.calibration_sequences();
    st.tokens = s.calibration_tokens();
    st.calib_dtype = (int)s.last_options().calib_dtype;
    st.max_memory_bytes = s.last_options().max_memory_bytes;
    vqr::capi::write_versioned(out, st);
  });
}

}  // extern "C"
