#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "core/match.h"

namespace eso {

/// The annotation ESO documents for forcing a sync (`kubectl annotate es NAME force-sync=...`).
inline constexpr std::string_view kDefaultTriggerAnnotation = "force-sync";

struct TriggerOptions {
  std::string annotation{kDefaultTriggerAnnotation};
  std::string value;   ///< unique per trigger; see trigger_stamp()
  bool force = false;  ///< patch objects ESO will ignore the nudge on, too
};

/// One object to patch, with every match that led to it.
struct PlannedPatch {
  ObjectRef target;
  MatchVerdict verdict = MatchVerdict::kWillRefresh;
  std::vector<Match> reasons;
};

/// One object that matched but is not patched, and why.
struct SkippedObject {
  ObjectRef target;
  MatchVerdict verdict = MatchVerdict::kWillRefresh;
  std::vector<Match> reasons;
};

struct TriggerPlan {
  std::string annotation;
  std::string value;
  std::vector<PlannedPatch> patches;  ///< one per object, in first-match order
  std::vector<SkippedObject> skipped;
};

/// Groups matches per object (one patch per object however many fields matched) and skips
/// objects ESO would not refresh unless `options.force`.
TriggerPlan plan_trigger(const std::vector<Match>& matches, const TriggerOptions& options);

/// RFC 3339 UTC with nanoseconds, e.g. `2026-11-28T02:05:44.123456789Z`: never repeats within
/// a second, unlike `date +%s`.
std::string trigger_stamp(std::chrono::system_clock::time_point now);

}  // namespace eso
