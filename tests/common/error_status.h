// The vqr::Status a call throws (Status::Ok when it returns): for the internal API's error tests.
#pragma once

#include <utility>

#include "core/error.h"

namespace vqr_test {

template <class Fn>
vqr::Status status_of(Fn &&fn) {
  try {
    std::forward<Fn>(fn)();
  } catch (const vqr::Error &e) {
    return e.status();
  }
  return vqr::Status::Ok;
}

}  // namespace vqr_test
