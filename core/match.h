#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/external_secret.h"

namespace eso {

/// Whether ESO will re-sync an ExternalSecret when its metadata changes (DESIGN.md §2).
enum class MatchVerdict {
  kWillRefresh,
  kNeverSynced,           ///< will refresh: ESO has not synced it yet, any change triggers a sync
  kCreatedOnce,           ///< will not refresh: refreshPolicy CreatedOnce
  kPeriodicZeroInterval,  ///< will not refresh: Periodic with refreshInterval 0
};

/// ESO's `shouldRefresh` for a metadata change, from the object's spec and status.
MatchVerdict refresh_verdict(const ExternalSecret& es);

/// True when ESO acts on the trigger.
bool will_refresh(MatchVerdict verdict);

/// Stable text for reports: `will-refresh`, `will-not-refresh (refreshPolicy CreatedOnce)`, ...
std::string_view verdict_text(MatchVerdict verdict);

/// One reason an object is affected by a key: which field names it.
struct Match {
  const ExternalSecret* object = nullptr;  ///< points into the caller's list
  std::string key;                         ///< the requested key, normalised
  std::string field;  ///< e.g. `spec.dataFrom[1].extract.key`, `spec.dataFrom[0].find.name.regexp`
  StoreRef store;
  MatchVerdict verdict = MatchVerdict::kWillRefresh;
  /// Only `find.tags` could select the key, which cannot be decided from the key alone.
  bool possible = false;
};

/// A reference that could not be evaluated (e.g. an invalid regexp); the run goes on.
struct MatchProblem {
  const ExternalSecret* object = nullptr;
  std::string field;
  std::string message;
};

struct MatchResult {
  std::vector<Match> matches;  ///< in the order of the objects, then of their fields
  std::vector<MatchProblem> problems;
};

/// Every (object, field) that references one of `keys` (DESIGN.md §3): `data[].remoteRef.key`
/// and `dataFrom[].extract.key` by equality, `dataFrom[].find` by path prefix and RE2 regexp,
/// `find.tags` as a possible match. Keys compare after Akeyless normalisation, so `db/pass`
/// matches `/db/pass`.
MatchResult match_keys(const std::vector<ExternalSecret>& objects,
                       const std::vector<std::string>& keys);

/// `find.path` selects `key` (both Akeyless-normalised): ESO treats the path as a folder, so
/// `/prod` selects `/prod/db` but not `/production`.
bool find_path_selects(std::string_view path, std::string_view key);

}  // namespace eso
