#include "core/match.h"

#include <algorithm>
#include <array>
#include <utility>

#include "core/remote_key.h"

namespace eso {

MatchVerdict refresh_verdict(const ExternalSecret& es) {
  // ESO's shouldRefresh: both exceptions apply only once the object has synced.
  if (es.synced_resource_version.empty()) return MatchVerdict::kNeverSynced;
  switch (es.refresh_policy) {
    case RefreshPolicy::kCreatedOnce:
      return MatchVerdict::kCreatedOnce;
    case RefreshPolicy::kOnChange:
      return MatchVerdict::kWillRefresh;
    case RefreshPolicy::kPeriodic:
      break;
  }
  return es.refresh_interval.count() == 0 ? MatchVerdict::kPeriodicZeroInterval
                                          : MatchVerdict::kWillRefresh;
}

bool will_refresh(MatchVerdict verdict) {
  return verdict == MatchVerdict::kWillRefresh || verdict == MatchVerdict::kNeverSynced;
}

std::string_view verdict_text(MatchVerdict verdict) {
  static constexpr std::array<std::pair<MatchVerdict, std::string_view>, 4> kTexts{{
      {MatchVerdict::kWillRefresh, "will-refresh"},
      {MatchVerdict::kNeverSynced, "will-refresh (not synced yet)"},
      {MatchVerdict::kCreatedOnce, "will-not-refresh (refreshPolicy CreatedOnce)"},
      {MatchVerdict::kPeriodicZeroInterval, "will-not-refresh (Periodic with refreshInterval 0)"},
  }};
  for (const auto& [v, text] : kTexts) {
    if (v == verdict) return text;
  }
  return "unknown";
}

std::vector<Match> match_keys(const std::vector<ExternalSecret>& objects,
                              const std::vector<std::string>& keys) {
  std::vector<std::string> wanted;
  wanted.reserve(keys.size());
  for (const auto& k : keys) wanted.push_back(normalise_akeyless_key(k));
  std::sort(wanted.begin(), wanted.end());
  wanted.erase(std::unique(wanted.begin(), wanted.end()), wanted.end());

  std::vector<Match> matches;
  for (const auto& es : objects) {
    for (const auto& ref : es.remote_keys) {
      std::string key = normalise_akeyless_key(ref.key);
      if (!std::binary_search(wanted.begin(), wanted.end(), key)) continue;
      matches.push_back(Match{&es, std::move(key), ref.field, ref.store, refresh_verdict(es)});
    }
  }
  return matches;
}

}  // namespace eso
