// C API: vqr_method_info — the method-traits table (quant/method_traits.h) as a versioned public
// struct, so the tool's --dry-run plan and embedders read the library's own facts.
#include "capi/guard.h"
#include "capi/translate.h"
#include "quant/method_traits.h"

using vqr::capi::guarded;
using vqr::capi::require_arg;

extern "C" {

VQR_API vqr_status vqr_method_info(vqr_method method, vqr_method_facts *out) {
  return guarded(__func__, [&] {
    require_arg(out != nullptr, "out is NULL");
    const vqr::quant::MethodTraits &t = vqr::quant::method_traits(vqr::capi::to_internal(method));
    vqr_method_facts f{};
    f.name = t.name;
    f.stage = t.stage;
    f.is_sweep = t.family == vqr::quant::MethodFamily::kGptqSweep ? 1 : 0;
    f.is_learned = t.family == vqr::quant::MethodFamily::kLearnedRounding ? 1 : 0;
    f.needs_hessian = t.needs_hessian ? 1 : 0;
    f.needs_asymmetric = t.needs_d ? 1 : 0;
    f.needs_fp_stream = t.needs_fp_stream ? 1 : 0;
    f.accepts_exact_target = t.exact_target ? 1 : 0;
    f.accepts_gptq_init = t.learned.gptq_init ? 1 : 0;
    f.preset_steps = t.learned.steps;
    f.preset_lr = t.learned.lr;
    f.preset_warmup = t.learned.warmup;
    f.preset_alpha = t.sweep.alpha;
    f.preset_alpha2 = t.sweep.alpha2;
    f.preset_outer = (int)t.sweep.outer;
    f.preset_outer_2_bits = (int)t.sweep.outer_2_bits;
    vqr::capi::write_versioned(out, f);
  });
}

}  // extern "C"
