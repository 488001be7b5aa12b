#include "core/trigger_report.h"

#include <algorithm>

#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "core/json_report.h"

namespace eso {
namespace {

template <typename JsonWriter>
void write_report(JsonWriter& w, const ObjectReport& r) {
  w.StartObject();
  write_object_ref(w, r.target);
  w.Key("result");
  w.String(r.result);
  if (!r.annotation.empty()) {
    w.Key("annotation");
    w.String(r.annotation);
  }
  w.Key("matches");
  w.StartArray();
  for (const auto& m : r.reasons) {
    w.StartObject();
    write_match_fields(w, m);
    w.EndObject();
  }
  w.EndArray();
  if (!r.children.empty()) {
    w.Key("children");
    w.StartArray();
    for (const auto& c : r.children) {
      w.StartObject();
      write_object_ref(w, c);
      w.EndObject();
    }
    w.EndArray();
  }
  if (!r.resource_version.empty()) {
    w.Key("resourceVersion");
    w.String(r.resource_version);
  }
  if (!r.detail.empty()) {
    w.Key(r.result == "failed" ? "error" : "reason");
    w.String(r.detail);
  }
  w.EndObject();
}

template <typename JsonWriter>
void write_waits(JsonWriter& w, const std::vector<WaitResult>& waits) {
  w.Key("waits");
  w.StartArray();
  for (const auto& r : waits) {
    w.StartObject();
    write_object_ref(w, r.target.ref);
    if (r.target.via != r.target.ref) {
      w.Key("via");
      w.StartObject();
      write_object_ref(w, r.target.via);
      w.EndObject();
    }
    w.Key("result");
    w.String(wait_result_text(r.outcome));
    w.Key("elapsedSeconds");
    w.Double(static_cast<double>(r.elapsed.count()) / 1000.0);
    if (r.outcome != SyncOutcome::kSynced) {
      w.Key("detail");
      w.String(r.detail);
    }
    w.EndObject();
  }
  w.EndArray();
}

template <typename JsonWriter>
void write_report_json(JsonWriter& w, const TriggerReport& report) {
  w.StartObject();
  w.Key("value");
  w.String(report.value);
  w.Key("dryRun");
  w.Bool(report.dry_run);
  w.Key("objects");
  w.StartArray();
  for (const auto& r : report.objects) write_report(w, r);
  w.EndArray();
  write_problems(w, report.problems);
  if (report.waits) write_waits(w, *report.waits);
  w.EndObject();
}

}  // namespace

std::vector<ObjectReport> build_reports(const TriggerPlan& plan,
                                        const std::vector<PatchResult>& results, bool dry_run) {
  std::vector<ObjectReport> reports;
  for (size_t i = 0; i < plan.patches.size(); ++i) {
    const auto& p = plan.patches[i];
    ObjectReport r{
        p.target, dry_run ? "would-patch" : "patched", p.annotation, "", p.reasons, p.children, ""};
    if (!dry_run && results[i].outcome) r.resource_version = results[i].outcome->resource_version;
    if (!dry_run && !results[i].outcome) {
      r.result = "failed";
      r.detail = results[i].outcome.error().message;
    }
    reports.push_back(std::move(r));
  }
  for (const auto& s : plan.skipped) {
    reports.push_back(ObjectReport{s.target, "skipped", "", skip_text(s), s.reasons, {}, ""});
  }
  return reports;
}

std::string report_json(const TriggerReport& report, bool pretty) {
  rapidjson::StringBuffer buffer;
  if (pretty) {
    rapidjson::PrettyWriter<rapidjson::StringBuffer> w(buffer);
    w.SetIndent(' ', 2);
    write_report_json(w, report);
  } else {
    rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
    write_report_json(w, report);
  }
  return buffer.GetString();
}

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

// What the patch wrote: its own value when coalesced (serve), else the plan's.
const std::string& value_of(const TriggerPlan& plan, const PatchResult& result) {
  return result.value.empty() ? plan.value : result.value;
}

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
      WaitTarget target{patch.target, patch.annotation, value_of(plan, results[i]),
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
      WaitTarget target{child.ref, std::string(kClusterForceSyncAnnotation),
                        value_of(plan, results[i]), child.ready, patch.target};
      any_child = true;
      if (!will_refresh(m.verdict)) {
        unconfirmable.push_back(will_not_refresh(std::move(target), m.verdict));
        continue;
      }
      targets.push_back(std::move(target));
    }
    if (!any_child) {
      unconfirmable.push_back(
          WaitResult{WaitTarget{patch.target, patch.annotation, value_of(plan, results[i]),
                                std::nullopt, patch.target},
                     SyncOutcome::kFailed,
                     "cannot confirm: none of its generated ExternalSecrets is in scope (use -A)",
                     {}});
    }
  }
  return targets;
}

}  // namespace eso
