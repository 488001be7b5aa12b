#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/event_decoder.h"
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
  /// The provider rule under which the keys compared equal (key_rules.h), e.g. `akeyless`.
  std::string rule;
};

/// The verdict of one match for reports: `possible (find.tags)` for a tag-only match ESO would
/// refresh, else verdict_text().
std::string match_verdict_text(const Match& m);

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

/// What a store is, as far as matching cares.
struct StoreInfo {
  std::string provider;     ///< the key under `spec.provider`, e.g. `akeyless`, `vault`
  std::string vault_mount;  ///< `spec.provider.vault.path`, for Vault keys written without it
  /// Infisical: `secretsScope.secretsPath` (the folder of keys written without one; "/" when
  /// unset) and `secretsScope.environmentSlug`.
  std::string infisical_path;
  std::string infisical_environment;
  /// Doppler: `project` and `config`, empty when the store's service token implies them.
  std::string doppler_project;
  std::string doppler_config;
};

/// Finds the store an entry of `object` reads from; nullptr when unknown.
using StoreLookup =
    std::function<const StoreInfo*(const ExternalSecret& object, const StoreRef& store)>;

/// Narrows matching (DESIGN.md §3 "Scoping"); every part is optional.
struct MatchScope {
  std::string provider;    ///< only entries whose store has this provider; its key rule applies
  std::string store_name;  ///< only entries reading this store
  std::string store_kind;  ///< SecretStore or ClusterSecretStore
  StoreLookup stores;      ///< needed for `provider`; also picks each store's own key rule
  /// The key rule of the event's source (`aws` for an AWS event, `azurekv` for Event Grid, ...),
  /// for entries whose store's provider is unknown and with no `provider`; empty: the exact
  /// rule (Akeyless-style leading-slash equivalence only).
  std::string event_rule;
  /// Folder events (Infisical): the environment they happened in; entries whose store reads
  /// another environment are skipped. Empty: any.
  std::string environment;
};

/// Every (object, field) that references one of `keys` (DESIGN.md §3): `data[].remoteRef.key`
/// and `dataFrom[].extract.key` by equality under one key rule (the store's provider when known,
/// else `scope.provider`, else `scope.event_rule`, else exact), `dataFrom[].find` by path
/// prefix and RE2 regexp on the Akeyless form, `find.tags` as a possible match.
///
/// `paths` are folders whose secrets changed without names (Infisical, DESIGN.md §7): a
/// `remoteRef.key` or `extract.key` matches when it lies directly in one (a key without a folder
/// lies in `/`), a `find` when its `path` is the folder or contains it; a find that also filters
/// by name or tags is a possible match. Rule `infisical-path`; entries whose store is known to be
/// another provider are skipped.
///
/// `configs` are configurations that changed as a whole (Doppler's default payload): every
/// `remoteRef.key`, `extract.key` and `find` entry reading a store of that provider whose
/// project and config (when the store names them) are the event's matches, rule
/// `doppler-config`. Only entries whose store is known (`scope.stores`) or named
/// (`scope.store_name`) can match.
MatchResult match_keys(const std::vector<ExternalSecret>& objects,
                       const std::vector<std::string>& keys, const MatchScope& scope = {},
                       const std::vector<std::string>& paths = {},
                       const std::vector<ConfigScope>& configs = {});

/// `find.path` selects `key` (both Akeyless-normalised): ESO treats the path as a folder, so
/// `/prod` selects `/prod/db` but not `/production`.
bool find_path_selects(std::string_view path, std::string_view key);

}  // namespace eso
