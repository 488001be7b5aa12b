#pragma once

#include <vector>

#include "cmd/global_options.h"
#include "core/patch_runner.h"
#include "core/sync_wait.h"
#include "core/trigger_plan.h"

namespace eso::cmd {

/// Prints the outcome of each wait (table on stdout, or nothing for json/name: the caller embeds
/// them) and returns true when every object synced.
bool print_wait_table(const std::vector<WaitResult>& waits);

}  // namespace eso::cmd
