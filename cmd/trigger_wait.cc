#include "cmd/trigger_wait.h"

#include <algorithm>

#include <fmt/format.h>

#include "cmd/inventory.h"
#include "cmd/table.h"

namespace eso::cmd {

const char* wait_result_text(SyncOutcome outcome) {
  switch (outcome) {
    case SyncOutcome::kSynced:
      return "synced";
    case SyncOutcome::kFailed:
      return "failed";
    case SyncOutcome::kWillNotRefresh:
      return "will-not-refresh";
    case SyncOutcome::kPending:
      break;
  }
  return "timeout";
}

bool wait_succeeded(const WaitResult& wait) {
  return wait.outcome == SyncOutcome::kSynced || wait.outcome == SyncOutcome::kWillNotRefresh;
}

namespace {

// ESO skips objects whose verdict is will-not-refresh (DESIGN.md §2): waiting for them would only
// run into the timeout, so they are answered at once.
WaitResult will_not_refresh(WaitTarget target, MatchVerdict verdict) {
  return WaitResult{
      std::move(target),
      SyncOutcome::kWillNotRefresh,
      std::string(verdict_text(verdict)) + ": ESO ignores the trigger; not waited for",
      {}};
}

}  // namespace

std::vector<WaitTarget> wait_targets(const TriggerPlan& plan,
                                     const std::vector<PatchResult>& results,
                                     std::vector<WaitResult>& unconfirmable) {
  std::vector<WaitTarget> targets;
  for (size_t i = 0; i < plan.patches.size() && i < results.size(); ++i) {
    if (!results[i].outcome) continue;
    const PlannedPatch& patch = plan.patches[i];
    if (patch.target.kind == "ExternalSecret") {
      WaitTarget target{patch.target, patch.annotation, plan.value,
                        patch.reasons.front().object->ready, patch.target};
      if (!will_refresh(patch.verdict)) {
        unconfirmable.push_back(will_not_refresh(std::move(target), patch.verdict));
        continue;
      }
      targets.push_back(std::move(target));
      continue;
    }
    bool any_child = false;
    for (const auto& m : patch.reasons) {
      const ExternalSecret& child = *m.object;
      if (child.ref.kind != "ExternalSecret") continue;
      const bool seen = std::any_of(targets.begin(), targets.end(),
                                    [&](const WaitTarget& t) { return t.ref == child.ref; }) ||
                        std::any_of(unconfirmable.begin(), unconfirmable.end(),
                                    [&](const WaitResult& w) { return w.target.ref == child.ref; });
      if (seen) continue;
      WaitTarget target{child.ref, std::string(kClusterForceSyncAnnotation), plan.value,
                        child.ready, patch.target};
      any_child = true;
      if (!will_refresh(m.verdict)) {
        unconfirmable.push_back(will_not_refresh(std::move(target), m.verdict));
        continue;
      }
      targets.push_back(std::move(target));
    }
    if (!any_child) {
      unconfirmable.push_back(WaitResult{
          WaitTarget{patch.target, patch.annotation, plan.value, std::nullopt, patch.target},
          SyncOutcome::kFailed,
          "cannot confirm: none of its generated ExternalSecrets is in scope (use -A)",
          {}});
    }
  }
  return targets;
}

bool print_wait_table(const std::vector<WaitResult>& waits) {
  Table table({"NAMESPACE", "NAME", "SYNC", "ELAPSED", "DETAIL"});
  bool all_synced = true;
  for (const auto& w : waits) {
    all_synced &= wait_succeeded(w);
    std::string detail = w.outcome == SyncOutcome::kSynced ? std::string() : w.detail;
    if (w.target.via != w.target.ref && w.target.via.kind == "ClusterExternalSecret") {
      detail =
          "via ClusterExternalSecret/" + w.target.via.name + (detail.empty() ? "" : "; ") + detail;
    }
    table.add_row(
        {w.target.ref.namespace_name,
         w.target.ref.namespace_name.empty() ? display_name(w.target.ref) : w.target.ref.name,
         wait_result_text(w.outcome),
         fmt::format("{:.1f}s", static_cast<double>(w.elapsed.count()) / 1000.0), detail});
  }
  table.print(stdout);
  return all_synced;
}

}  // namespace eso::cmd
