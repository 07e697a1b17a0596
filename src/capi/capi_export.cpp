// C API: writing a vqr_model — vqr_model_save (the native folder) and vqr_model_export (any
// format of pipeline/export.h), with the model's provenance in vqround.json.
#include "capi/guard.h"
#include "capi/handles.h"
#include "capi/model_handle.h"
#include "core/context.h"
#include "core/dtype.h"
#include "core/export_note.h"
#include "pipeline/export.h"

using vqr::capi::guarded;
using vqr::capi::require_arg;

extern "C" {

VQR_API vqr_status vqr_model_save(const vqr_model *m, const char *dir) {
  return guarded(__func__, [&] {
    require_arg(m != nullptr, "model is NULL");
    require_arg(dir != nullptr && *dir, "dir is NULL or empty");
    m->session.save(dir);
  });
}

VQR_API vqr_status vqr_model_export(vqr_context *ctx, const vqr_model *m, const char *path, vqr_format format,
                                    vqr_dtype dtype, int64_t max_shard_bytes) {
  return guarded(__func__, [&] {
    require_arg(m != nullptr, "model is NULL");
    require_arg(path != nullptr && *path, "path is NULL or empty");
    require_arg(vqr::dtype_name(vqr::capi::to_internal(dtype)) != nullptr, "dtype is not a vqr_dtype");
    require_arg(max_shard_bytes >= 0, "max_shard_bytes is negative");
    vqr::pipeline::ExportRequest r;
    r.format = vqr::capi::to_internal(format);
    r.dtype = vqr::capi::to_internal(dtype);
    r.max_shard_bytes = max_shard_bytes;
    vqr::ExportNotes notes;
    try {
      m->session.export_to(r, path, &notes, ctx);
    } catch (...) {
      // Nothing was written, so no note warns of anything: they only give the error its context.
      for (const vqr::ExportNote &n : notes) vqr::log_message(ctx, vqr::LogLevel::Info, n.text);
      throw;
    }
    for (const vqr::ExportNote &n : notes) vqr::log_message(ctx, n.level, n.text);
  });
}

VQR_API const char *vqr_format_name(vqr_format format) { return vqr::pipeline::format_name(vqr::capi::to_internal(format)); }

}  // extern "C"
