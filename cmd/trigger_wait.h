#pragma once

#include <vector>

#include "cmd/global_options.h"
#include "core/patch_runner.h"
#include "core/sync_wait.h"
#include "core/trigger_plan.h"

namespace eso::cmd {

/// The ExternalSecrets whose sync confirms the patches that succeeded: each patched
/// ExternalSecret, and the children of each patched ClusterExternalSecret. A CES without known
/// children yields a failed result in `unconfirmable`; so does, as kWillNotRefresh, an object
/// whose verdict says ESO will not refresh it (patched under --force): nothing to wait for.
std::vector<WaitTarget> wait_targets(const TriggerPlan& plan,
                                     const std::vector<PatchResult>& results,
                                     std::vector<WaitResult>& unconfirmable);

/// Prints the outcome of each wait (table on stdout, or nothing for json/name: the caller embeds
/// them) and returns true when every object synced.
bool print_wait_table(const std::vector<WaitResult>& waits);

/// `synced`, `failed`, `timeout` or `will-not-refresh`.
const char* wait_result_text(SyncOutcome outcome);

/// True when a wait ended as the trigger intended: synced, or an object ESO will not refresh
/// (patched with --force; reported, not waited for, as an unforced trigger skips it).
bool wait_succeeded(const WaitResult& wait);

}  // namespace eso::cmd
