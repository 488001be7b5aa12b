#pragma once

#include "cmd/global_options.h"
#include "cmd/match_command.h"
#include "core/pipeline.h"

namespace eso::cmd {

/// `match --server`: the same question through serve's trigger API (`POST /v1/match`, answered
/// from its index), printed as a direct `match` prints it, with the same exit codes.
int run_match_remote(const GlobalOptions& global, const MatchOptions& options, const KeySet& keys);

}  // namespace eso::cmd
