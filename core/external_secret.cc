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

void read_data(const rapidjson::Value& spec, const StoreRef& store, const std::string& prefix,
               ExternalSecret& es) {
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
        {std::move(key), fmt::format("{}.data[{}].remoteRef.key", prefix, i), source.store});
  }
}

void read_find(const rapidjson::Value& find, std::string field, const StoreRef& store,
               ExternalSecret& es) {
  FindRef ref;
  ref.field = std::move(field);
  ref.store = store;
  if (const auto* path = member(find, "path"); path != nullptr && path->IsString()) {
    ref.has_path = true;
    ref.path = path->GetString();
  }
  if (const auto* name = member(find, "name"); name != nullptr) {
    if (const auto* re = member(*name, "regexp"); re != nullptr && re->IsString()) {
      ref.has_name_regexp = true;
      ref.name_regexp = re->GetString();
    }
  }
  const auto* tags = member(find, "tags");
  ref.has_tags = tags != nullptr && tags->IsObject() && tags->MemberCount() > 0;
  es.finds.push_back(std::move(ref));
}

void read_data_from(const rapidjson::Value& spec, const StoreRef& store, const std::string& prefix,
                    ExternalSecret& es) {
  const auto* data_from = member(spec, "dataFrom");
  if (data_from == nullptr || !data_from->IsArray()) return;
  for (rapidjson::SizeType i = 0; i < data_from->Size(); ++i) {
    const auto& entry = (*data_from)[i];
    SourceRef source = read_source_ref(entry, store);
    es.uses_generator |= source.generator;
    if (source.generator) continue;
    if (const auto* find = member(entry, "find"); find != nullptr && find->IsObject()) {
      read_find(*find, fmt::format("{}.dataFrom[{}].find", prefix, i), source.store, es);
    }
    const auto* extract = member(entry, "extract");
    if (extract == nullptr) continue;
    std::string key = string_member(*extract, "key");
    if (key.empty()) continue;
    es.remote_keys.push_back(
        {std::move(key), fmt::format("{}.dataFrom[{}].extract.key", prefix, i), source.store});
  }
}

std::string owner_of_kind(const rapidjson::Value& metadata, std::string_view kind) {
  const auto* owners = member(metadata, "ownerReferences");
  if (owners == nullptr || !owners->IsArray()) return "";
  for (const auto& owner : owners->GetArray()) {
    if (string_member(owner, "kind") == kind) return string_member(owner, "name");
  }
  return "";
}

// The spec of an ExternalSecret (or a ClusterExternalSecret's template) into `es`.
Status read_spec(const rapidjson::Value& spec, const std::string& prefix, ExternalSecret& es) {
  if (auto refresh = read_refresh(spec, es); !refresh) {
    return Error{ErrorCode::kInvalidArgument,
                 fmt::format("{} {}{}{}: {}.refreshInterval: {}", es.ref.kind,
                             es.ref.namespace_name, es.ref.namespace_name.empty() ? "" : "/",
                             es.ref.name, prefix, refresh.error().message)};
  }
  const StoreRef store = read_store_ref(member(spec, "secretStoreRef"), StoreRef{});
  read_data(spec, store, prefix, es);
  read_data_from(spec, store, prefix, es);
  return ok_status();
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
  if (status != nullptr) {
    es.synced_resource_version = string_member(*status, "syncedResourceVersion");
    es.ready = parse_ready_condition(*status);
  }

  es.owner_cluster_external_secret = owner_of_kind(*metadata, "ClusterExternalSecret");

  const auto* spec = member(object, "spec");
  if (spec == nullptr || !spec->IsObject()) return es;
  if (auto read = read_spec(*spec, "spec", es); !read) return read.error();
  return es;
}

std::optional<ReadyCondition> parse_ready_condition(const rapidjson::Value& status) {
  const auto* conditions = member(status, "conditions");
  if (conditions == nullptr || !conditions->IsArray()) return std::nullopt;
  for (const auto& c : conditions->GetArray()) {
    if (string_member(c, "type") != "Ready") continue;
    return ReadyCondition{string_member(c, "status"), string_member(c, "reason"),
                          string_member(c, "message"), string_member(c, "lastTransitionTime")};
  }
  return std::nullopt;
}

Result<ExternalSecret> parse_cluster_external_secret(const rapidjson::Value& object) {
  const auto* metadata = member(object, "metadata");
  if (metadata == nullptr || !metadata->IsObject()) {
    return Error{ErrorCode::kServer, "ClusterExternalSecret without metadata in the API response"};
  }
  ExternalSecret es;
  es.ref.kind = "ClusterExternalSecret";
  es.ref.name = string_member(*metadata, "name");
  es.resource_version = string_member(*metadata, "resourceVersion");
  // The template has no sync status of its own; its children each have one.
  es.synced_resource_version = "template";
  const auto* spec = member(object, "spec");
  if (spec == nullptr) return es;
  const auto* template_spec = member(*spec, "externalSecretSpec");
  if (template_spec == nullptr || !template_spec->IsObject()) return es;
  if (auto read = read_spec(*template_spec, "spec.externalSecretSpec", es); !read) {
    return read.error();
  }
  return es;
}

}  // namespace eso
