#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "core/kube_api.h"
#include "core/match.h"

namespace eso {

/// The annotation ESO documents for forcing a sync (`kubectl annotate es NAME force-sync=...`).
inline constexpr std::string_view kDefaultTriggerAnnotation = "force-sync";

/// The annotation ESO (>= v0.20) copies from a ClusterExternalSecret onto all its children.
inline constexpr std::string_view kClusterForceSyncAnnotation = "external-secrets.io/force-sync";

/// The one option struct of a run from keys to patches (trigger, serve, the trigger API): what
/// is planned, and how the patches run.
struct TriggerOptions {
  std::string annotation{kDefaultTriggerAnnotation};
  std::string value;              ///< unique per trigger; see trigger_stamp()
  bool force = false;             ///< patch objects ESO will ignore the nudge on, too
  bool include_possible = false;  ///< patch objects that only `find.tags` may select
  /// Reach a ClusterExternalSecret's children on ESO < v0.20, which copies no annotation from
  /// the parent: the annotation goes into the parent's spec.externalSecretMetadata too, which the
  /// ClusterExternalSecret controller writes onto every child.
  bool patch_children = false;
  int concurrency = 16;  ///< patches in flight at once
  bool dry_run = false;  ///< plan and report, patch nothing
  /// Patch nothing whose refresh reaches beyond the namespaces asked for: a match on a
  /// ClusterExternalSecret's child is skipped (kBeyondNamespaces) instead of patching the parent,
  /// which refreshes its children in every namespace. The trigger API sets it when serve's
  /// --trigger-namespaces restricts it; --force does not lift it.
  bool confined = false;
};

/// One object to patch, with every match that led to it.
struct PlannedPatch {
  ObjectRef target;
  std::string annotation;
  AnnotationPlace place = AnnotationPlace::kObject;
  MatchVerdict verdict = MatchVerdict::kWillRefresh;
  std::vector<Match> reasons;
  /// For a ClusterExternalSecret: the generated ExternalSecrets whose matches led here.
  std::vector<ObjectRef> children;
};

/// Why a matched object is not patched.
enum class SkipReason {
  kWillNotRefresh,
  kPossibleOnly,
  kGenerator,         ///< an entry uses `sourceRef.generatorRef`: a refresh regenerates its values
  kBeyondNamespaces,  ///< its ClusterExternalSecret would refresh namespaces out of reach
                      ///< (confined)
};

/// One object that matched but is not patched.
struct SkippedObject {
  ObjectRef target;
  SkipReason reason = SkipReason::kWillNotRefresh;
  MatchVerdict verdict = MatchVerdict::kWillRefresh;
  std::vector<Match> reasons;
};

/// Human text for a skipped object, with the flag that would patch it.
std::string skip_text(const SkippedObject& skipped);

struct TriggerPlan {
  std::string value;
  std::vector<PlannedPatch> patches;  ///< one per object, in first-match order
  std::vector<SkippedObject> skipped;
};

/// Groups matches per object (one patch per object however many fields matched); routes matches
/// on a ClusterExternalSecret's children to the parent (its controller reverts annotations set on
/// children), through the child template as well under `patch_children`;
/// skips objects ESO would not refresh unless `force`, objects with a `generatorRef` entry
/// unless `force` (a refresh re-runs their generators: a Password generator issues a new
/// password, DESIGN.md §3), and possible matches unless `include_possible`.
TriggerPlan plan_trigger(const std::vector<Match>& matches, const TriggerOptions& options);

/// RFC 3339 UTC with nanoseconds, e.g. `2026-11-28T02:05:44.123456789Z`: never repeats within
/// a second, unlike `date +%s`.
std::string trigger_stamp(std::chrono::system_clock::time_point now);

}  // namespace eso
