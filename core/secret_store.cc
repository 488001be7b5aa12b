#include "core/secret_store.h"

#include "core/json_fields.h"

namespace eso {
namespace {

std::string string_member(const rapidjson::Value* v, const char* name) {
  return v == nullptr ? std::string() : json_string(*v, name);
}

}  // namespace

Result<SecretStoreRecord> parse_secret_store(const rapidjson::Value& object,
                                             const std::string& kind) {
  const auto* metadata = json_member(object, "metadata");
  if (metadata == nullptr || !metadata->IsObject()) {
    return Error{ErrorCode::kServer, kind + " without metadata in the API response"};
  }
  SecretStoreRecord store;
  store.ref.kind = kind;
  store.ref.namespace_name = string_member(metadata, "namespace");
  store.ref.name = string_member(metadata, "name");
  const auto* spec = json_member(object, "spec");
  const auto* provider = spec != nullptr ? json_member(*spec, "provider") : nullptr;
  if (provider == nullptr || !provider->IsObject() || provider->MemberCount() == 0) return store;
  const auto& first = *provider->MemberBegin();
  store.info.provider = first.name.GetString();
  if (store.info.provider == "vault") {
    std::string mount = string_member(&first.value, "path");
    while (!mount.empty() && mount.back() == '/') mount.pop_back();
    while (!mount.empty() && mount.front() == '/') mount.erase(0, 1);
    store.info.vault_mount = mount;
  }
  if (store.info.provider == "doppler") {
    store.info.doppler_project = string_member(&first.value, "project");
    store.info.doppler_config = string_member(&first.value, "config");
  }
  if (store.info.provider == "infisical") {
    const auto* scope = json_member(first.value, "secretsScope");
    std::string path = string_member(scope, "secretsPath");
    while (path.size() > 1 && path.back() == '/') path.pop_back();
    // Built afresh rather than with insert(0, "/"): g++ 12 at -O3 reports a false -Wrestrict
    // for an insert at the front (GCC bug 105329).
    store.info.infisical_path = path.starts_with('/') ? path : "/" + path;
    store.info.infisical_environment = string_member(scope, "environmentSlug");
  }
  return store;
}

StoreLookup store_lookup(const std::vector<SecretStoreRecord>* stores) {
  return [stores](const ExternalSecret& es, const StoreRef& ref) -> const StoreInfo* {
    // A SecretStore lives in the object's namespace; a CES template's namespace varies.
    const bool cluster = ref.kind == "ClusterSecretStore";
    if (!cluster && es.ref.namespace_name.empty()) return nullptr;
    const ObjectRef want{ref.kind, cluster ? std::string() : es.ref.namespace_name, ref.name};
    for (const auto& s : *stores) {
      if (s.ref == want) return &s.info;
    }
    return nullptr;
  };
}

}  // namespace eso
