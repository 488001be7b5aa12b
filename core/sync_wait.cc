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

// Updates `result` from a state read (GET) or seen (WATCH) when ESO has answered.
void take_state(const SyncState& state, WaitResult& result,
                std::chrono::steady_clock::time_point start, Clock& clock) {
  const SyncCheck check =
      check_sync(state, result.target.annotation, result.target.value, result.target.ready_before);
  result.detail = check.detail;
  if (check.outcome == SyncOutcome::kPending) return;
  result.outcome = check.outcome;
  result.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(clock.now() - start);
}

// One poll of one pending target. Returns the object's resourceVersion ("" on an error).
std::string poll_once(KubeApi& api, WaitResult& result, std::chrono::steady_clock::time_point start,
                      Clock& clock) {
  auto state = api.get_sync_state(result.target.ref);
  if (!state) {
    result.detail = state.error().message;
    if (state.error().code == ErrorCode::kNotFound) {
      result.outcome = SyncOutcome::kFailed;
      result.detail = "deleted while waiting";
      result.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(clock.now() - start);
    }
    return "";
  }
  take_state(*state, result, start, clock);
  return state->resource_version;
}

bool all_answered(const std::vector<WaitResult>& results) {
  return std::none_of(results.begin(), results.end(),
                      [](const WaitResult& r) { return r.outcome == SyncOutcome::kPending; });
}

// Polls every pending target; returns the smallest resourceVersion read, where a watch that
// misses none of the changes since can start ("" when one could not be read).
std::string poll_pending(KubeApi& api, std::vector<WaitResult>& results,
                         std::chrono::steady_clock::time_point start, Clock& clock,
                         const std::atomic<bool>* cancel) {
  std::string from;
  bool complete = true;
  for (auto& r : results) {
    if (r.outcome != SyncOutcome::kPending) continue;
    if (cancel != nullptr && cancel->load()) return "";  // serve stopping: no more GETs
    const std::string version = poll_once(api, r, start, clock);
    complete &= !version.empty();
    // etcd's revisions are decimal numbers; any other form is simply never compared.
    const bool older = from.empty() || version.size() < from.size() ||
                       (version.size() == from.size() && version < from);
    if (!version.empty() && older) from = version;
  }
  return complete ? from : "";
}

// The namespace every pending target is in, or "" (a watch on all namespaces).
std::string common_namespace(const std::vector<WaitResult>& results) {
  std::string ns;
  for (const auto& r : results) {
    if (r.outcome != SyncOutcome::kPending) continue;
    if (!ns.empty() && ns != r.target.ref.namespace_name) return "";
    ns = r.target.ref.namespace_name;
  }
  return ns;
}

// Follows the pending targets through one watch from `from`; false when the watch failed.
bool watch_pending(KubeApi& api, std::vector<WaitResult>& results, const std::string& from,
                   std::chrono::steady_clock::time_point start,
                   std::chrono::steady_clock::time_point deadline, Clock& clock,
                   const std::atomic<bool>* cancel) {
  const auto watched = api.watch_sync_states(
      common_namespace(results), from, deadline,
      [&](const SyncState& state) {
        for (auto& r : results) {
          if (r.outcome == SyncOutcome::kPending &&
              r.target.ref.namespace_name == state.ref.namespace_name &&
              r.target.ref.name == state.ref.name) {
            take_state(state, r, start, clock);
          }
        }
        return !all_answered(results);
      },
      cancel);
  return static_cast<bool>(watched);
}

}  // namespace

Clock& system_clock() {
  static SteadyClock clock;
  return clock;
}

std::vector<WaitResult> wait_for_sync(KubeApi& api, const std::vector<WaitTarget>& targets,
                                      std::chrono::steady_clock::time_point start,
                                      std::chrono::milliseconds timeout,
                                      std::chrono::milliseconds interval, Clock& clock,
                                      const std::atomic<bool>* cancel) {
  std::vector<WaitResult> results;
  results.reserve(targets.size());
  for (const auto& t : targets) results.push_back(WaitResult{t, SyncOutcome::kPending, "", {}});
  const auto deadline = start + timeout;
  const auto cancelled = [cancel] { return cancel != nullptr && cancel->load(); };
  const auto over = [&] { return all_answered(results) || clock.now() >= deadline || cancelled(); };
  bool watching = true;  // until the client cannot watch, or a watch breaks: then poll
  while (true) {
    const std::string from = poll_pending(api, results, start, clock, cancel);
    if (over()) break;
    if (watching && !from.empty()) {
      watching = watch_pending(api, results, from, start, deadline, clock, cancel);
      if (over()) break;
      if (watching) continue;  // the server ended the watch early: read again, watch again
    }
    clock.sleep_for(std::min(
        interval, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock.now())));
  }
  const auto waited =
      std::min(timeout, std::chrono::duration_cast<std::chrono::milliseconds>(clock.now() - start));
  for (auto& r : results) {
    if (r.outcome != SyncOutcome::kPending) continue;
    if (cancelled()) {
      r.elapsed = waited;
      r.detail = "the wait was cut short: serve is stopping";
    } else {
      r.elapsed = timeout;
    }
  }
  return results;
}

}  // namespace eso
