// C API: vqr_context (capi/handles.h wraps a vqr::Context; the callbacks are adapted here).
#include "capi/guard.h"
#include "capi/handles.h"
#include "core/memory_budget.h"

using vqr::capi::guarded;
using vqr::capi::require_arg;

extern "C" {

VQR_API vqr_status vqr_context_create(vqr_context **out) {
  return guarded(__func__, [&] {
    require_arg(out != nullptr, "out is NULL");
    *out = new vqr_context();
  });
}

VQR_API void vqr_context_free(vqr_context *ctx) { delete ctx; }

VQR_API vqr_status vqr_context_set_threads(vqr_context *ctx, int threads) {
  return guarded(__func__, [&] {
    require_arg(ctx != nullptr, "ctx is NULL");
    vqr::require(threads >= 0 && threads <= 4096, vqr::Status::OutOfRange,
                 "threads = " + std::to_string(threads) + " is outside [0, 4096]");
    ctx->threads = threads;
  });
}

VQR_API int vqr_context_get_threads(const vqr_context *ctx) { return ctx ? ctx->threads : 0; }

VQR_API vqr_status vqr_context_set_seed(vqr_context *ctx, uint64_t seed) {
  return guarded(__func__, [&] {
    require_arg(ctx != nullptr, "ctx is NULL");
    ctx->seed = seed;
  });
}

VQR_API vqr_status vqr_context_set_log(vqr_context *ctx, vqr_log_fn fn, void *user_data, vqr_log_level min_level) {
  return guarded(__func__, [&] {
    require_arg(ctx != nullptr, "ctx is NULL");
    require_arg(min_level >= VQR_LOG_DEBUG && min_level <= VQR_LOG_NONE, "min_level is not a vqr_log_level");
    ctx->log_fn = nullptr;
    if (fn)
      ctx->log_fn = [fn, user_data](vqr::LogLevel level, const char *message) {
        fn(user_data, vqr::capi::mirror<vqr_log_level>(level), message);
      };
    ctx->log_level = vqr::capi::to_internal(min_level);
  });
}

VQR_API vqr_status vqr_context_set_progress(vqr_context *ctx, vqr_progress_fn fn, void *user_data) {
  return guarded(__func__, [&] {
    require_arg(ctx != nullptr, "ctx is NULL");
    ctx->progress_fn = nullptr;
    if (fn)
      ctx->progress_fn = [fn, user_data](const vqr::ProgressInfo &info) {
        const vqr_progress p = vqr::capi::to_public(info);
        return fn(user_data, &p);
      };
  });
}

VQR_API vqr_status vqr_context_set_memory_limit(vqr_context *ctx, int64_t bytes) {
  return guarded(__func__, [&] {
    require_arg(ctx != nullptr, "ctx is NULL");
    vqr::require(bytes >= 0, vqr::Status::OutOfRange, "memory limit " + std::to_string(bytes) + " is negative");
    ctx->memory_limit = bytes;
  });
}

VQR_API int64_t vqr_context_get_memory_limit(const vqr_context *ctx) {
  return ctx ? vqr::memory_budget(ctx) : 0;
}

VQR_API void vqr_context_cancel(vqr_context *ctx) {
  if (ctx) ctx->cancel_requested.store(true);
}

}  // extern "C"
