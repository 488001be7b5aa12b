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
};

/// Called after each finished patch with (finished, total); may be called from any worker
/// thread, one call at a time.
using PatchProgress = std::function<void(size_t finished, size_t total)>;

/// Applies every patch of `plan` through `api`, at most `concurrency` at a time (at least 1).
/// Results are in plan order. Failures of one object never stop the others.
std::vector<PatchResult> run_patches(KubeApi& api, const TriggerPlan& plan, int concurrency,
                                     const PatchProgress& progress = {});

}  // namespace eso
