// C API: vqr_sequences — token sequences for calibration and evaluation, built from text, ids or a
// file by the protocols of spec gptq_family §5 (model/sequences.h holds the protocols).
#include <string>
#include <vector>

#include "capi/guard.h"
#include "capi/model_handle.h"
#include "core/dtype.h"
#include "core/memory_budget.h"
#include "model/sequences.h"

using vqr::capi::guarded;
using vqr::capi::require_arg;

struct vqr_sequences {
  vqr::model::PackedSequences packed;
};

namespace {

// Checks the handles and the sampling enum, then the request against the model.
vqr::model::SamplingRequest checked(const vqr_model *m, vqr_sampling sampling, int64_t count, int64_t length,
                                    uint64_t seed, vqr_sequences **out) {
  require_arg(m != nullptr, "model is NULL");
  require_arg(out != nullptr, "out is NULL");
  require_arg(sampling == VQR_SAMPLE_PARAGRAPHS || sampling == VQR_SAMPLE_WINDOWS ||
                  sampling == VQR_SAMPLE_RANDOM_WINDOWS,
              "sampling is not a vqr_sampling");
  return m->session.sampling_request(vqr::capi::to_internal(sampling), count, length, seed);
}

void emit(const vqr::model::Sequences &seqs, vqr_sequences **out) {
  *out = new vqr_sequences{vqr::model::pack_sequences(seqs)};
}

}  // namespace

extern "C" {

VQR_API vqr_status vqr_sequences_from_text(const vqr_model *m, const char *text, vqr_sampling sampling, int64_t count,
                                           int64_t length, uint64_t seed, vqr_sequences **out) {
  return guarded(__func__, [&] {
    const vqr::model::SamplingRequest r = checked(m, sampling, count, length, seed, out);
    require_arg(text != nullptr, "text is NULL");
    emit(m->session.sample_text(text, r), out);
  });
}

VQR_API vqr_status vqr_sequences_from_ids(const vqr_model *m, const int32_t *ids, int64_t n, vqr_sampling sampling,
                                          int64_t count, int64_t length, uint64_t seed, vqr_sequences **out) {
  return guarded(__func__, [&] {
    const vqr::model::SamplingRequest r = checked(m, sampling, count, length, seed, out);
    require_arg(n >= 0 && (n == 0 || ids != nullptr), "ids is NULL or n < 0");
    vqr::require_extent(1, n, n, sizeof(int32_t), "ids");
    vqr::require_memory(nullptr, 2.0 * (double)n * sizeof(int32_t), std::to_string(n) + " token ids");
    emit(m->session.sample_ids(std::vector<int32_t>(ids, ids + n), r), out);
  });
}

VQR_API vqr_status vqr_sequences_from_file(const vqr_model *m, const char *path, int is_ids, vqr_sampling sampling,
                                           int64_t count, int64_t length, uint64_t seed, vqr_sequences **out) {
  return guarded(__func__, [&] {
    const vqr::model::SamplingRequest r = checked(m, sampling, count, length, seed, out);
    require_arg(path != nullptr && *path, "path is NULL or empty");
    emit(m->session.sample_file(path, is_ids != 0, r), out);
  });
}

VQR_API void vqr_sequences_free(vqr_sequences *s) { delete s; }

VQR_API int64_t vqr_sequences_count(const vqr_sequences *s) { return s ? (int64_t)s->packed.lengths.size() : 0; }

VQR_API const int32_t *vqr_sequences_tokens(const vqr_sequences *s) {
  return s && !s->packed.tokens.empty() ? s->packed.tokens.data() : nullptr;
}

VQR_API const int64_t *vqr_sequences_lengths(const vqr_sequences *s) {
  return s && !s->packed.lengths.empty() ? s->packed.lengths.data() : nullptr;
}

VQR_API int64_t vqr_sequences_total_tokens(const vqr_sequences *s) { return s ? (int64_t)s->packed.tokens.size() : 0; }

}  // extern "C"
