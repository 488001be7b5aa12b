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
  std::string field;                       ///< e.g. `spec.dataFrom[1].extract.key`
  StoreRef store;
  MatchVerdict verdict = MatchVerdict::kWillRefresh;
};

/// Every (object, field) that references one of `keys`, in the order of `objects` and then of
/// fields. Keys compare after Akeyless normalisation, so `db/pass` matches `/db/pass`.
std::vector<Match> match_keys(const std::vector<ExternalSecret>& objects,
                              const std::vector<std::string>& keys);

}  // namespace eso
