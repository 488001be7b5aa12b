#include "core/external_secret.h"

#include <fmt/format.h>

#include "core/go_duration.h"

namespace eso {
namespace {

const rapidjson::Value* member(const rapidjson::Value& v, const char* name) {
  if (!v.IsObject()) return nullptr;
  auto it = v.FindMember(name);
  return it == v.MemberEnd() ? nullptr : &it->value;
}

std::string string_member(const rapidjson::Value& v, const char* name) {
  const auto* m = member(v, name);
  return m != nullptr && m->IsString() ? std::string(m->GetString(), m->GetStringLength())
                                       : std::string();
}

StoreRef read_store_ref(const rapidjson::Value* ref, const StoreRef& fallback) {
  if (ref == nullptr || !ref->IsObject()) return fallback;
  StoreRef store{string_member(*ref, "name"), string_member(*ref, "kind")};
  if (store.kind.empty()) store.kind = "SecretStore";
  return store;
}

// sourceRef.storeRef overrides the object's store; sourceRef.generatorRef has no remote key.
struct SourceRef {
  StoreRef store;
  bool generator = false;
};

SourceRef read_source_ref(const rapidjson::Value& entry, const StoreRef& object_store) {
  const auto* source = member(entry, "sourceRef");
  if (source == nullptr) return {object_store, false};
  if (member(*source, "generatorRef") != nullptr) return {object_store, true};
  return {read_store_ref(member(*source, "storeRef"), object_store), false};
}

Status read_refresh(const rapidjson::Value& spec, ExternalSecret& es) {
  const std::string policy = string_member(spec, "refreshPolicy");
  if (policy == "CreatedOnce") es.refresh_policy = RefreshPolicy::kCreatedOnce;
  if (policy == "OnChange") es.refresh_policy = RefreshPolicy::kOnChange;
  const auto* interval = member(spec, "refreshInterval");
  if (interval == nullptr || !interval->IsString()) return ok_status();
  auto parsed = parse_go_duration(interval->GetString());
  if (!parsed) return parsed.error();
  es.refresh_interval = *parsed;
  return ok_status();
}

void read_data(const rapidjson::Value& spec, const StoreRef& store, ExternalSecret& es) {
  const auto* data = member(spec, "data");
  if (data == nullptr || !data->IsArray()) return;
  for (rapidjson::SizeType i = 0; i < data->Size(); ++i) {
    const auto& entry = (*data)[i];
    SourceRef source = read_source_ref(entry, store);
    es.uses_generator |= source.generator;
    const auto* remote = member(entry, "remoteRef");
    if (source.generator || remote == nullptr) continue;
    std::string key = string_member(*remote, "key");
    if (key.empty()) continue;
    es.remote_keys.push_back(
        {std::move(key), fmt::format("spec.data[{}].remoteRef.key", i), source.store});
  }
}

void read_data_from(const rapidjson::Value& spec, const StoreRef& store, ExternalSecret& es) {
  const auto* data_from = member(spec, "dataFrom");
  if (data_from == nullptr || !data_from->IsArray()) return;
  for (rapidjson::SizeType i = 0; i < data_from->Size(); ++i) {
    const auto& entry = (*data_from)[i];
    SourceRef source = read_source_ref(entry, store);
    es.uses_generator |= source.generator;
    const auto* extract = member(entry, "extract");
    if (source.generator || extract == nullptr) continue;
    std::string key = string_member(*extract, "key");
    if (key.empty()) continue;
    es.remote_keys.push_back(
        {std::move(key), fmt::format("spec.dataFrom[{}].extract.key", i), source.store});
  }
}

}  // namespace

Result<ExternalSecret> parse_external_secret(const rapidjson::Value& object) {
  const auto* metadata = member(object, "metadata");
  if (metadata == nullptr || !metadata->IsObject()) {
    return Error{ErrorCode::kServer, "ExternalSecret without metadata in the API response"};
  }
  ExternalSecret es;
  es.ref.namespace_name = string_member(*metadata, "namespace");
  es.ref.name = string_member(*metadata, "name");
  es.resource_version = string_member(*metadata, "resourceVersion");
  const auto* status = member(object, "status");
  if (status != nullptr)
    es.synced_resource_version = string_member(*status, "syncedResourceVersion");

  const auto* spec = member(object, "spec");
  if (spec == nullptr || !spec->IsObject()) return es;
  if (auto refresh = read_refresh(*spec, es); !refresh) {
    return Error{ErrorCode::kInvalidArgument,
                 fmt::format("ExternalSecret {}/{}: spec.refreshInterval: {}",
                             es.ref.namespace_name, es.ref.name, refresh.error().message)};
  }
  const StoreRef store = read_store_ref(member(*spec, "secretStoreRef"), StoreRef{});
  read_data(*spec, store, es);
  read_data_from(*spec, store, es);
  return es;
}

}  // namespace eso
