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
};

/// Lists what `global` puts in scope; prints the error and returns it on failure.
Result<Inventory> load_inventory(const GlobalOptions& global, kube::ApiClient& client);

/// The verdict column: `possible (find.tags)` for tag-only matches, else the refresh verdict.
std::string match_verdict_text(const Match& m);

/// Notes a user should know about a match: generated children, generators that re-run.
std::string match_notes(const Match& m);

/// Prints each problem (e.g. an invalid regexp in some object) as a warning on stderr.
void warn_problems(const std::vector<MatchProblem>& problems);

/// `namespace/name` for namespaced objects, `ClusterExternalSecret/name` for cluster ones.
std::string display_name(const ObjectRef& ref);

}  // namespace eso::cmd
