#pragma once

#include "cmd/global_options.h"
#include "cmd/trigger_command.h"
#include "core/pipeline.h"

namespace eso::cmd {

/// `trigger --server`: the same request through serve's trigger API (DESIGN.md §11), printed
/// as a direct trigger prints it (table, JSON, names) with the same exit codes.
int run_trigger_remote(const GlobalOptions& global, const TriggerCommandOptions& options,
                       const KeySet& keys);

}  // namespace eso::cmd
