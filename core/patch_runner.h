#pragma once

#include <chrono>
#include <functional>
#include <vector>

#include "core/kube_api.h"
#include "core/trigger_plan.h"

namespace eso {

/// How one planned patch ended.
struct PatchResult {
  ObjectRef target;
  Result<PatchOutcome> outcome = Error{ErrorCode::kInternal, "not run"};
  std::chrono::microseconds latency{0};
  std::string value;    ///< the annotation value written
  bool joined = false;  ///< coalesced: shared a patch another request asked for
};

/// Called after each finished patch with (finished, total); may be called from any worker
/// thread, one call at a time.
using PatchProgress = std::function<void(size_t finished, size_t total)>;

}  // namespace eso
