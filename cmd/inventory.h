#pragma once

#include <memory>
#include <string>
#include <vector>

#include "cmd/global_options.h"
#include "core/match.h"
#include "core/pipeline.h"

namespace eso::cmd {

/// What matching needs before the objects stream in: the stores, listed only for --provider.
struct Inventory {
  std::vector<SecretStoreRecord> stores;
};

/// Only the stores (for --provider, --store): what matching needs before the objects stream in.
Result<Inventory> load_stores(const GlobalOptions& global, const StoreScopeOptions& stores,
                              kube::ApiClient& client);

/// A direct match or trigger's start: connects to the cluster and sets the flags' store scope on
/// `scope`, the stores it needs kept in `inventory` (which must outlive it). nullptr after
/// printing why not.
std::unique_ptr<kube::ApiClient> connect_scoped(const GlobalOptions& global,
                                                const StoreScopeOptions& stores,
                                                Inventory& inventory, MatchScope& scope);

/// Every ExternalSecret in scope and, with -A, every ClusterExternalSecret, streamed page by
/// page from LISTs.
ListedObjects listed_objects(const GlobalOptions& global, kube::ApiClient& client);

/// Sets the flags' store scope on `scope` (keeping its event rule and environment), looking
/// stores up in `inventory` (which must outlive it).
void apply_store_scope(const StoreScopeOptions& options, const Inventory& inventory,
                       MatchScope& scope);

/// Notes a user should know about a match: generated children, generators that re-run.
std::string match_notes(const Match& m);

/// Prints each problem (e.g. an invalid regexp in some object) as a warning on stderr.
void warn_problems(const std::vector<MatchProblem>& problems);

/// `namespace/name` for namespaced objects, `ClusterExternalSecret/name` for cluster ones.
std::string display_name(const ObjectRef& ref);

}  // namespace eso::cmd
