#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include <rapidjson/document.h>

#include "core/external_secret.h"
#include "core/result.h"

namespace eso {

/// What `trigger --wait` reads back from an ExternalSecret to know whether ESO synced it.
struct SyncState {
  ObjectRef ref;
  std::string resource_version;  ///< metadata.resourceVersion: where a watch can start
  int64_t generation = 0;
  std::map<std::string, std::string> annotations;
  std::map<std::string, std::string> labels;
  std::string synced_resource_version;
  std::string refresh_time;
  std::optional<ReadyCondition> ready;
};

/// Reads the sync state from an ExternalSecret's JSON (a GET or a LIST item).
Result<SyncState> parse_sync_state(const rapidjson::Value& object);

/// Go's `%+v` of ESO's `struct{annotations, labels map[string]string}`:
/// `{annotations:map[a:1 b:2] labels:map[]}` (keys sorted bytewise, values unquoted).
std::string go_meta_text(const std::map<std::string, std::string>& annotations,
                         const std::map<std::string, std::string>& labels);

/// ESO's `GetResourceVersion`: `"<generation>-" + hex(SHA3-224(go_meta_text(...)))`, the value
/// ESO writes to `status.syncedResourceVersion` once it has synced this metadata.
std::string eso_resource_version(const SyncState& state);

enum class SyncOutcome {
  kPending,
  kSynced,
  kFailed,
  /// Patched on request (--force) though ESO will not refresh it (CreatedOnce, Periodic with
  /// refreshInterval 0): reported at once, never waited for.
  kWillNotRefresh,
};

struct SyncCheck {
  SyncOutcome outcome = SyncOutcome::kPending;
  std::string detail;  ///< why it failed, or what it is still waiting for
};

/// Whether ESO has answered a trigger that set `annotation=value`: synced when the object carries
/// the trigger (or a later one), `syncedResourceVersion` equals the hash of its current metadata
/// and Ready is True; failed when Ready is False with SecretSyncedError and that condition is not
/// the one seen before the trigger (`ready_before`).
SyncCheck check_sync(const SyncState& state, const std::string& annotation,
                     const std::string& value, const std::optional<ReadyCondition>& ready_before);

}  // namespace eso
