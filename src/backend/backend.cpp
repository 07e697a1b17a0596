// The context's backend (backend.h).
#include "backend/backend.h"

#include "core/context.h"

namespace vqr {

backend::Backend &backend_of(const Context *ctx) {
  return ctx && ctx->backend ? *ctx->backend : backend::cpu();
}

}  // namespace vqr
