#pragma once

#include <string>
#include <vector>

#include <rapidjson/document.h>

#include "core/external_secret.h"
#include "core/match.h"
#include "core/result.h"

namespace eso {

/// A SecretStore or ClusterSecretStore, reduced to what matching needs.
struct SecretStoreRecord {
  ObjectRef ref;  ///< kind SecretStore (namespaced) or ClusterSecretStore
  StoreInfo info;
};

/// Reads a store from its JSON; `kind` is SecretStore or ClusterSecretStore. The provider is the
/// (single) key under `spec.provider`.
Result<SecretStoreRecord> parse_secret_store(const rapidjson::Value& object,
                                             const std::string& kind);

/// Looks an entry's store up in `stores` (which must outlive the lookup): a SecretStore in the
/// object's own namespace, or a ClusterSecretStore.
StoreLookup store_lookup(const std::vector<SecretStoreRecord>* stores);

}  // namespace eso
