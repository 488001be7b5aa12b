#pragma once

#include <string>
#include <vector>

#include "cmd/global_options.h"
#include "core/match.h"

namespace eso::cmd {

/// The objects a command matches against: ExternalSecrets in scope and, with -A, the
/// ClusterExternalSecrets (cluster-scoped) whose templates name keys.
struct Inventory {
  std::vector<ExternalSecret> objects;
  std::vector<SecretStoreRecord> stores;  ///< listed only for --provider
};

/// Lists what `global` puts in scope (and the stores, when `stores` asks for provider scoping).
Result<Inventory> load_inventory(const GlobalOptions& global, const StoreScopeOptions& stores,
                                 kube::ApiClient& client);

/// The MatchScope for the flags, looking stores up in `inventory` (which must outlive it).
MatchScope match_scope(const StoreScopeOptions& options, const Inventory& inventory);

/// Notes a user should know about a match: generated children, generators that re-run.
std::string match_notes(const Match& m);

/// Prints each problem (e.g. an invalid regexp in some object) as a warning on stderr.
void warn_problems(const std::vector<MatchProblem>& problems);

/// `namespace/name` for namespaced objects, `ClusterExternalSecret/name` for cluster ones.
std::string display_name(const ObjectRef& ref);

}  // namespace eso::cmd
