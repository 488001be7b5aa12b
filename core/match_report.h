#pragma once

#include <string>
#include <vector>

#include "core/match.h"

namespace eso {

/// What `match -o json` prints and `POST /v1/match` answers (one schema): {"apiVersion", "keys",
/// "matches": [{kind, namespace, name, key, field, verdict, rule, store, willRefresh, possible,
/// usesGenerator, clusterExternalSecret}], "problems"}; indented by two spaces when `pretty`.
std::string match_json(const MatchResult& result, const std::vector<std::string>& keys,
                       const std::string& group_version, bool pretty);

}  // namespace eso
