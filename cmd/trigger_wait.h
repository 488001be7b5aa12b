#pragma once

#include <vector>

#include "cmd/global_options.h"
#include "core/patch_runner.h"
#include "core/sync_wait.h"
#include "core/trigger_plan.h"

namespace eso::cmd {

/// The ExternalSecrets whose sync confirms the patches that succeeded: each patched
/// ExternalSecret, and the children of each patched ClusterExternalSecret. A CES without known
/// children yields a failed result in `unconfirmable`.
std::vector<WaitTarget> wait_targets(const TriggerPlan& plan,
                                     const std::vector<PatchResult>& results,
                                     std::vector<WaitResult>& unconfirmable);

/// Prints the outcome of each wait (table on stdout, or nothing for json/name: the caller embeds
/// them) and returns true when every object synced.
bool print_wait_table(const std::vector<WaitResult>& waits);

/// `synced`, `failed` or `timeout`.
const char* wait_result_text(SyncOutcome outcome);

}  // namespace eso::cmd
