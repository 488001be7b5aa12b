#include "core/sync_wait.h"

#include <algorithm>
#include <thread>

namespace eso {
namespace {

class SteadyClock final : public Clock {
 public:
  std::chrono::steady_clock::time_point now() override { return std::chrono::steady_clock::now(); }
  void sleep_for(std::chrono::milliseconds duration) override {
    std::this_thread::sleep_for(duration);
  }
};

// One poll of one pending target; updates `result` when ESO has answered.
void poll_once(KubeApi& api, WaitResult& result, std::chrono::steady_clock::time_point start,
               Clock& clock) {
  auto state = api.get_sync_state(result.target.ref);
  const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(clock.now() - start);
  if (!state) {
    result.detail = state.error().message;
    if (state.error().code == ErrorCode::kNotFound) {
      result.outcome = SyncOutcome::kFailed;
      result.detail = "deleted while waiting";
      result.elapsed = elapsed;
    }
    return;
  }
  const SyncCheck check =
      check_sync(*state, result.target.annotation, result.target.value, result.target.ready_before);
  result.detail = check.detail;
  if (check.outcome == SyncOutcome::kPending) return;
  result.outcome = check.outcome;
  result.elapsed = elapsed;
}

}  // namespace

Clock& system_clock() {
  static SteadyClock clock;
  return clock;
}

std::vector<WaitResult> wait_for_sync(KubeApi& api, const std::vector<WaitTarget>& targets,
                                      std::chrono::steady_clock::time_point start,
                                      std::chrono::milliseconds timeout,
                                      std::chrono::milliseconds interval, Clock& clock) {
  std::vector<WaitResult> results;
  results.reserve(targets.size());
  for (const auto& t : targets) results.push_back(WaitResult{t, SyncOutcome::kPending, "", {}});
  const auto deadline = start + timeout;
  while (true) {
    for (auto& r : results) {
      if (r.outcome == SyncOutcome::kPending) poll_once(api, r, start, clock);
    }
    const bool done = std::none_of(results.begin(), results.end(), [](const WaitResult& r) {
      return r.outcome == SyncOutcome::kPending;
    });
    if (done || clock.now() >= deadline) break;
    clock.sleep_for(std::min(
        interval, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock.now())));
  }
  for (auto& r : results) {
    if (r.outcome == SyncOutcome::kPending) r.elapsed = timeout;
  }
  return results;
}

}  // namespace eso
