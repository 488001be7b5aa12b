#include "core/trigger_plan.h"

#include <algorithm>
#include <ctime>
#include <map>

#include <fmt/format.h>

namespace eso {
namespace {

// Where a match's patch goes: the object itself, or the ClusterExternalSecret that owns it.
struct Destination {
  ObjectRef target;
  std::string annotation;
  AnnotationPlace place = AnnotationPlace::kObject;
  bool via_parent = false;
};

Destination destination_of(const Match& m, const TriggerOptions& options) {
  const ExternalSecret& es = *m.object;
  const AnnotationPlace parent_place =
      options.patch_children ? AnnotationPlace::kObjectAndChildren : AnnotationPlace::kObject;
  if (es.ref.kind == "ClusterExternalSecret") {
    return {es.ref, std::string(kClusterForceSyncAnnotation), parent_place, false};
  }
  if (!es.owner_cluster_external_secret.empty()) {
    return {ObjectRef{"ClusterExternalSecret", "", es.owner_cluster_external_secret},
            std::string(kClusterForceSyncAnnotation), parent_place, true};
  }
  return {es.ref, options.annotation, AnnotationPlace::kObject, false};
}

template <typename T, typename Make>
T& entry_for(std::vector<T>& list, std::map<ObjectRef, size_t>& index, const ObjectRef& key,
             Make make) {
  auto [it, added] = index.try_emplace(key, list.size());
  if (added) list.push_back(make());
  return list[it->second];
}

}  // namespace

std::string skip_text(const SkippedObject& skipped) {
  if (skipped.reason == SkipReason::kPossibleOnly) {
    return "possible (find.tags); --include-possible patches it";
  }
  if (skipped.reason == SkipReason::kGenerator) {
    return "uses a generatorRef: a refresh regenerates its values (a Password generator issues a "
           "new password); --force patches it anyway";
  }
  return fmt::format("{}; --force patches it anyway", verdict_text(skipped.verdict));
}

TriggerPlan plan_trigger(const std::vector<Match>& matches, const TriggerOptions& options) {
  TriggerPlan plan{options.value, {}, {}};
  std::map<ObjectRef, size_t> patch_index;
  std::map<ObjectRef, size_t> skip_index;
  for (const auto& m : matches) {
    const ObjectRef& own = m.object->ref;
    if (m.possible && !options.include_possible) {
      entry_for(plan.skipped, skip_index, own, [&] {
        return SkippedObject{own, SkipReason::kPossibleOnly, m.verdict, {}};
      }).reasons.push_back(m);
      continue;
    }
    if (!options.force && m.object->uses_generator) {
      entry_for(plan.skipped, skip_index, own, [&] {
        return SkippedObject{own, SkipReason::kGenerator, m.verdict, {}};
      }).reasons.push_back(m);
      continue;
    }
    if (!options.force && !will_refresh(m.verdict)) {
      entry_for(plan.skipped, skip_index, own, [&] {
        return SkippedObject{own, SkipReason::kWillNotRefresh, m.verdict, {}};
      }).reasons.push_back(m);
      continue;
    }
    const Destination dest = destination_of(m, options);
    auto& patch = entry_for(plan.patches, patch_index, dest.target, [&] {
      return PlannedPatch{dest.target, dest.annotation, dest.place, m.verdict, {}, {}};
    });
    patch.reasons.push_back(m);
    if (dest.via_parent &&
        std::find(patch.children.begin(), patch.children.end(), own) == patch.children.end()) {
      patch.children.push_back(own);
    }
  }
  // A skip is moot when the same object is patched for another reason.
  std::erase_if(plan.skipped,
                [&](const SkippedObject& s) { return patch_index.count(s.target) != 0; });
  return plan;
}

std::string trigger_stamp(std::chrono::system_clock::time_point now) {
  const auto since_epoch = now.time_since_epoch();
  const auto secs = std::chrono::floor<std::chrono::seconds>(since_epoch);
  const auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(since_epoch - secs);
  std::time_t t = secs.count();
  std::tm utc{};
  gmtime_r(&t, &utc);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}Z", utc.tm_year + 1900,
                     utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                     nanos.count());
}

}  // namespace eso
