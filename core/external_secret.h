#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <rapidjson/document.h>

#include "core/result.h"

namespace eso {

/// Which object a trigger patches: kind, namespace (empty for cluster-scoped), name.
struct ObjectRef {
  std::string kind = "ExternalSecret";
  std::string namespace_name;
  std::string name;

  bool operator==(const ObjectRef&) const = default;
  auto operator<=>(const ObjectRef&) const = default;
};

/// A SecretStore or ClusterSecretStore reference; kind is normalised, never empty.
struct StoreRef {
  std::string name;
  std::string kind = "SecretStore";

  bool operator==(const StoreRef&) const = default;
};

/// The `Ready` condition ESO writes on an ExternalSecret.
struct ReadyCondition {
  std::string status;  ///< "True", "False", "Unknown"
  std::string reason;  ///< e.g. SecretSynced, SecretSyncedError
  std::string message;
  std::string last_transition_time;

  bool operator==(const ReadyCondition&) const = default;
};

/// `spec.refreshPolicy`; unset means Periodic.
enum class RefreshPolicy { kPeriodic, kCreatedOnce, kOnChange };

/// One place in an ExternalSecret that names a remote key, e.g. `spec.data[2].remoteRef.key`.
struct RemoteKeyRef {
  std::string key;    ///< as written in the object
  std::string field;  ///< JSON path of the field, for reports
  StoreRef store;     ///< the entry's sourceRef.storeRef, else spec.secretStoreRef
};

/// A `spec.dataFrom[i].find`: selects every remote key under `path` whose name matches
/// `name_regexp` (Go/RE2 syntax). Tags cannot be decided from a key alone.
struct FindRef {
  std::string field;  ///< e.g. `spec.dataFrom[1].find`
  StoreRef store;
  bool has_path = false;
  std::string path;
  bool has_name_regexp = false;
  std::string name_regexp;
  bool has_tags = false;
};

/// The part of an ExternalSecret that matching and triggering need; nothing else is kept.
struct ExternalSecret {
  ObjectRef ref;
  std::string resource_version;
  RefreshPolicy refresh_policy = RefreshPolicy::kPeriodic;
  /// `spec.refreshInterval`; the CRD default is 1h when unset.
  std::chrono::nanoseconds refresh_interval = std::chrono::hours(1);
  /// `status.syncedResourceVersion`; empty while ESO has never synced the object.
  std::string synced_resource_version;
  std::vector<RemoteKeyRef> remote_keys;
  std::vector<FindRef> finds;
  /// `status.conditions[type=Ready]`, to tell a new sync error from an old one.
  std::optional<ReadyCondition> ready;
  /// The ClusterExternalSecret that owns this object (ESO generated it), or empty.
  std::string owner_cluster_external_secret;
  /// Some entry uses `sourceRef.generatorRef`: a refresh regenerates its value.
  bool uses_generator = false;
};

/// Reads an ExternalSecret from its JSON form (an item of a LIST or a GET). Errors name the
/// object and field that could not be understood.
Result<ExternalSecret> parse_external_secret(const rapidjson::Value& object);

/// Reads a ClusterExternalSecret: its `spec.externalSecretSpec` is the template of the
/// ExternalSecrets it generates, so it is matched like one. `ref.kind` is ClusterExternalSecret,
/// fields are reported under `spec.externalSecretSpec`.
Result<ExternalSecret> parse_cluster_external_secret(const rapidjson::Value& object);

/// `status.conditions[type=Ready]` of an ExternalSecret's JSON `status`, if present.
std::optional<ReadyCondition> parse_ready_condition(const rapidjson::Value& status);

}  // namespace eso
