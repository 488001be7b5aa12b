#include "core/secret_store.h"

namespace eso {
namespace {

const rapidjson::Value* member(const rapidjson::Value& v, const char* name) {
  if (!v.IsObject()) return nullptr;
  auto it = v.FindMember(name);
  return it == v.MemberEnd() ? nullptr : &it->value;
}

std::string string_member(const rapidjson::Value* v, const char* name) {
  if (v == nullptr) return "";
  const auto* m = member(*v, name);
  return m != nullptr && m->IsString() ? std::string(m->GetString(), m->GetStringLength())
                                       : std::string();
}

}  // namespace

Result<SecretStoreRecord> parse_secret_store(const rapidjson::Value& object,
                                             const std::string& kind) {
  const auto* metadata = member(object, "metadata");
  if (metadata == nullptr || !metadata->IsObject()) {
    return Error{ErrorCode::kServer, kind + " without metadata in the API response"};
  }
  SecretStoreRecord store;
  store.ref.kind = kind;
  store.ref.namespace_name = string_member(metadata, "namespace");
  store.ref.name = string_member(metadata, "name");
  const auto* spec = member(object, "spec");
  const auto* provider = spec != nullptr ? member(*spec, "provider") : nullptr;
  if (provider == nullptr || !provider->IsObject() || provider->MemberCount() == 0) return store;
  const auto& first = *provider->MemberBegin();
  store.info.provider = first.name.GetString();
  if (store.info.provider == "vault") {
    std::string mount = string_member(&first.value, "path");
    while (!mount.empty() && mount.back() == '/') mount.pop_back();
    while (!mount.empty() && mount.front() == '/') mount.erase(0, 1);
    store.info.vault_mount = mount;
  }
  return store;
}

}  // namespace eso
