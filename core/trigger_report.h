#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/match.h"
#include "core/patch_runner.h"
#include "core/sync_wait.h"
#include "core/trigger_plan.h"

namespace eso {

/// One line of a trigger's report: what happened to one object.
struct ObjectReport {
  ObjectRef target;
  std::string result;  ///< patched | would-patch | skipped | failed
  std::string annotation;
  std::string detail;  ///< the skip reason or the error
  std::vector<Match> reasons;
  std::vector<ObjectRef> children;
  std::string resource_version;
};

/// The report of a run: patches in plan order, then the skipped objects.
std::vector<ObjectReport> build_reports(const TriggerPlan& plan,
                                        const std::vector<PatchResult>& results, bool dry_run);

/// What `trigger -o json` prints and `POST /v1/trigger` answers (one schema, docs/trigger-api.md):
/// {"value", "dryRun", "objects": [...], "problems": [...], "waits": [...] (with a wait)}.
struct TriggerReport {
  std::string value;
  bool dry_run = false;
  std::vector<ObjectReport> objects;
  std::vector<MatchProblem> problems;
  std::optional<std::vector<WaitResult>> waits;
};

/// The report as JSON, indented by two spaces when `pretty`.
std::string report_json(const TriggerReport& report, bool pretty);

/// The ExternalSecrets whose sync confirms the patches that succeeded: each patched
/// ExternalSecret, and the children of each patched ClusterExternalSecret. A CES without known
/// children yields a failed result in `unconfirmable`; so does, as kWillNotRefresh, an object
/// whose verdict says ESO will not refresh it (patched under --force): nothing to wait for.
/// Each target waits for the value its patch wrote.
std::vector<WaitTarget> wait_targets(const TriggerPlan& plan,
                                     const std::vector<PatchResult>& results,
                                     std::vector<WaitResult>& unconfirmable);

/// `synced`, `failed`, `timeout` or `will-not-refresh`.
const char* wait_result_text(SyncOutcome outcome);

/// True when a wait ended as the trigger intended: synced, or an object ESO will not refresh
/// (patched with --force; reported, not waited for, as an unforced trigger skips it).
bool wait_succeeded(const WaitResult& wait);

}  // namespace eso
