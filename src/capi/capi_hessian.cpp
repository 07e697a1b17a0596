// C API: vqr_hessian.
#include "capi/guard.h"
#include "capi/handles.h"
#include "core/dtype.h"
#include "core/memory_budget.h"
#include "backend/backend.h"

using vqr::capi::guarded;
using vqr::capi::require_arg;

extern "C" {

VQR_API vqr_status vqr_hessian_create(int64_t n, unsigned flags, vqr_hessian **out) {
  return vqr_hessian_create_on(nullptr, n, flags, out);
}

VQR_API vqr_status vqr_hessian_create_on(vqr_context *ctx, int64_t n, unsigned flags, vqr_hessian **out) {
  return guarded(__func__, [&] {
    require_arg(out != nullptr, "out is NULL");
    require_arg((flags & ~(VQR_HESSIAN_F64 | VQR_HESSIAN_ASYMMETRIC)) == 0, "unknown flags");
    const vqr::MemoryLimitScope budget(ctx ? ctx->memory_limit : 0);
    *out = new vqr_hessian(n, (flags & VQR_HESSIAN_F64) != 0, (flags & VQR_HESSIAN_ASYMMETRIC) != 0,
                           vqr::backend_of(ctx));
  });
}

VQR_API void vqr_hessian_free(vqr_hessian *h) { delete h; }

VQR_API vqr_status vqr_hessian_add(vqr_hessian *h, const vqr_tensor *x) {
  return guarded(__func__, [&] {
    require_arg(h != nullptr, "h is NULL");
    require_arg(x != nullptr, "x is NULL");
    h->add(vqr::capi::to_internal(*x));
  });
}

VQR_API vqr_status vqr_hessian_add_pair(vqr_hessian *h, const vqr_tensor *x_q, const vqr_tensor *x_fp) {
  return guarded(__func__, [&] {
    require_arg(h != nullptr, "h is NULL");
    require_arg(x_q != nullptr, "x_q is NULL");
    require_arg(x_fp != nullptr, "x_fp is NULL");
    h->add_pair(vqr::capi::to_internal(*x_q), vqr::capi::to_internal(*x_fp));
  });
}

VQR_API vqr_status vqr_hessian_merge(vqr_hessian *dst, const vqr_hessian *src) {
  return guarded(__func__, [&] {
    require_arg(dst != nullptr, "dst is NULL");
    require_arg(src != nullptr, "src is NULL");
    dst->merge(*src);
  });
}

VQR_API int64_t vqr_hessian_width(const vqr_hessian *h) { return h ? h->width() : 0; }

VQR_API int64_t vqr_hessian_token_count(const vqr_hessian *h) { return h ? h->tokens() : 0; }

VQR_API unsigned vqr_hessian_flags(const vqr_hessian *h) { return h ? h->flags() : 0u; }

}  // extern "C"

// Shared by vqr_hessian_read and vqr_hessian_read_d: checks, then (h->*read)(out, ld or n).
static vqr_status read_matrix(const char *function, const vqr_hessian *h, float *out, int64_t ld,
                              void (vqr::hessian::Hessian::*read)(float *, int64_t) const) {
  return guarded(function, [&] {
    require_arg(h != nullptr, "h is NULL");
    require_arg(out != nullptr, "out is NULL");
    const int64_t lead = ld == 0 ? h->width() : ld;
    require_arg(lead >= h->width(), "ld is smaller than the width");
    vqr::require_extent(h->width(), lead, h->width(), sizeof(float), "out");
    (h->*read)(out, lead);
  });
}

extern "C" {

VQR_API vqr_status vqr_hessian_read(const vqr_hessian *h, float *out, int64_t ld) {
  return read_matrix(__func__, h, out, ld, &vqr::hessian::Hessian::read);
}

VQR_API vqr_status vqr_hessian_read_d(const vqr_hessian *h, float *out, int64_t ld) {
  return read_matrix(__func__, h, out, ld, &vqr::hessian::Hessian::read_d);
}

VQR_API vqr_status vqr_hessian_serialized_size(const vqr_hessian *h, size_t *size) {
  return guarded(__func__, [&] {
    require_arg(h != nullptr, "h is NULL");
    require_arg(size != nullptr, "size is NULL");
    *size = h->serialized_size();
  });
}

VQR_API vqr_status vqr_hessian_serialize(const vqr_hessian *h, void *buf, size_t capacity, size_t *written) {
  return guarded(__func__, [&] {
    require_arg(h != nullptr, "h is NULL");
    require_arg(buf != nullptr, "buf is NULL");
    const size_t need = h->serialized_size();
    vqr::require(capacity >= need, vqr::Status::BufferTooSmall,
                 "buffer holds " + std::to_string(capacity) + " bytes; " + std::to_string(need) + " needed");
    h->serialize(buf);
    if (written) *written = need;
  });
}

VQR_API vqr_status vqr_hessian_deserialize(const void *buf, size_t size, vqr_hessian **out) {
  return guarded(__func__, [&] {
    require_arg(out != nullptr, "out is NULL");
    *out = new vqr_hessian(vqr::hessian::Hessian::deserialize(buf, size));
  });
}

}  // extern "C"
