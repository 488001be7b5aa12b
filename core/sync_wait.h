#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "core/kube_api.h"
#include "core/sync_state.h"

namespace eso {

/// The clock `wait_for_sync` polls with; tests substitute one that does not sleep.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::chrono::steady_clock::time_point now() = 0;
  virtual void sleep_for(std::chrono::milliseconds duration) = 0;
};

/// The real steady clock.
Clock& system_clock();

/// An ExternalSecret whose sync confirms a trigger.
struct WaitTarget {
  ObjectRef ref;
  std::string annotation;  ///< the trigger annotation as it appears on this object
  std::string value;
  std::optional<ReadyCondition> ready_before;  ///< as listed before the trigger
  ObjectRef via;  ///< the object actually patched (a ClusterExternalSecret), or == ref
};

struct WaitResult {
  WaitTarget target;
  SyncOutcome outcome = SyncOutcome::kPending;  ///< kPending after the deadline: timed out
  std::string detail;
  std::chrono::milliseconds elapsed{0};  ///< from `start` to the answer (or the deadline)
};

/// Reads each target once (GET), then follows them with a WATCH (KubeApi::watch_sync_states),
/// so a sync is seen as soon as ESO writes its status, until ESO answers (check_sync) or
/// `timeout` has passed since `start`. Where the client cannot watch, or a watch breaks, it polls
/// every `interval` instead. An object deleted meanwhile fails; API errors are retried until the
/// deadline and reported in `detail`. When `*cancel` turns true (serve stopping; nullptr: never)
/// the wait ends within `interval`, the unanswered targets pending with a detail that says so.
std::vector<WaitResult> wait_for_sync(KubeApi& api, const std::vector<WaitTarget>& targets,
                                      std::chrono::steady_clock::time_point start,
                                      std::chrono::milliseconds timeout,
                                      std::chrono::milliseconds interval, Clock& clock,
                                      const std::atomic<bool>* cancel = nullptr);

}  // namespace eso
