// C API: end-to-end distillation on a vqr_model (VQR_PARAM_E2E; pipeline/end_to_end.h): its files
// (teacher cache, checkpoint, resume) and what the last run reported.
#include <string>

#include "capi/guard.h"
#include "capi/model_handle.h"

using vqr::capi::guarded;
using vqr::capi::require_arg;

extern "C" {

VQR_API vqr_status vqr_model_set_distill_files(vqr_model *m, const char *teacher_cache, const char *checkpoint,
                                               int resume) {
  return guarded(__func__, [&] {
    require_arg(m != nullptr, "model is NULL");
    m->session.set_distill_files(teacher_cache ? teacher_cache : "", checkpoint ? checkpoint : "", resume != 0);
  });
}

VQR_API vqr_status vqr_model_distill_stats(const vqr_model *m, vqr_distill_stats *out) {
  return guarded(__func__, [&] {
    require_arg(m != nullptr, "model is NULL");
    require_arg(out != nullptr, "out is NULL");
    const vqr::pipeline::DistillReport &r = m->session.last_run().distill;
    vqr_distill_stats st{};
    st.ran = r.ran ? 1 : 0;
    st.steps = r.steps;
    st.best_step = r.best_step;
    st.resumed_from = r.resumed_from;
    st.train_sequences = r.train_sequences;
    st.holdout_sequences = r.holdout_sequences;
    st.tokens = r.tokens;
    st.trainable_params = r.trainable_params;
    st.quantized_weights = r.quantized_weights;
    st.teacher_k = r.teacher_k;
    st.teacher_online = r.teacher_online ? 1 : 0;
    st.teacher_from_cache = r.teacher_from_cache ? 1 : 0;
    st.teacher_seconds = r.teacher_seconds;
    st.seconds = r.seconds;
    st.evaluations = (int64_t)r.evals.size();
    vqr::capi::write_versioned(out, st);
  });
}

VQR_API vqr_status vqr_model_distill_eval(const vqr_model *m, int64_t index, int64_t *step, double *kl, double *nll) {
  return guarded(__func__, [&] {
    require_arg(m != nullptr, "model is NULL");
    const auto &evals = m->session.last_run().distill.evals;
    require_arg(index >= 0 && index < (int64_t)evals.size(),
                ("index " + std::to_string(index) + " is out of range (" + std::to_string(evals.size()) +
                 " evaluations)").c_str());
    const vqr::pipeline::DistillEval &e = evals[(size_t)index];
    if (step) *step = e.step;
    if (kl) *kl = e.kl;
    if (nll) *nll = e.nll;
  });
}

VQR_API vqr_status vqr_model_distill_loss(const vqr_model *m, int64_t step, double *loss, double *reg) {
  return guarded(__func__, [&] {
    require_arg(m != nullptr, "model is NULL");
    const vqr::pipeline::DistillReport &r = m->session.last_run().distill;
    require_arg(step >= 0 && step < (int64_t)r.loss.size(),
                ("step " + std::to_string(step) + " is out of range (" + std::to_string(r.loss.size()) + " steps)")
                    .c_str());
    if (loss) *loss = r.loss[(size_t)step];
    if (reg) *reg = r.reg[(size_t)step];
  });
}

}  // extern "C"
