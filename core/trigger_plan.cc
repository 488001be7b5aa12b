#include "core/trigger_plan.h"

#include <ctime>
#include <map>

#include <fmt/format.h>

namespace eso {

TriggerPlan plan_trigger(const std::vector<Match>& matches, const TriggerOptions& options) {
  TriggerPlan plan{options.annotation, options.value, {}, {}};
  std::map<ObjectRef, size_t> patch_index;
  std::map<ObjectRef, size_t> skip_index;
  for (const auto& m : matches) {
    const ObjectRef& target = m.object->ref;
    if (options.force || will_refresh(m.verdict)) {
      auto [it, added] = patch_index.try_emplace(target, plan.patches.size());
      if (added) plan.patches.push_back(PlannedPatch{target, m.verdict, {}});
      plan.patches[it->second].reasons.push_back(m);
      continue;
    }
    auto [it, added] = skip_index.try_emplace(target, plan.skipped.size());
    if (added) plan.skipped.push_back(SkippedObject{target, m.verdict, {}});
    plan.skipped[it->second].reasons.push_back(m);
  }
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
