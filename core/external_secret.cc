#include "core/external_secret.h"

#include <fmt/format.h>

#include "core/json_fields.h"

#include "core/go_duration.h"

namespace eso {
namespace {

StoreRef read_store_ref(const rapidjson::Value* ref, const StoreRef& fallback) {
  if (ref == nullptr || !ref->IsObject()) return fallback;
  StoreRef store{json_string(*ref, "name"), json_string(*ref, "kind")};
  if (store.kind.empty()) store.kind = "SecretStore";
  return store;
}

// sourceRef.storeRef overrides the object's store; sourceRef.generatorRef has no remote key.
struct SourceRef {
  StoreRef store;
  bool generator = false;
};

SourceRef read_source_ref(const rapidjson::Value& entry, const StoreRef& object_store) {
  const auto* source = json_member(entry, "sourceRef");
  if (source == nullptr) return {object_store, false};
  if (json_member(*source, "generatorRef") != nullptr) return {object_store, true};
  return {read_store_ref(json_member(*source, "storeRef"), object_store), false};
}

Status read_refresh(const rapidjson::Value& spec, ExternalSecret& es) {
  const std::string policy = json_string(spec, "refreshPolicy");
  if (policy == "CreatedOnce") es.refresh_policy = RefreshPolicy::kCreatedOnce;
  if (policy == "OnChange") es.refresh_policy = RefreshPolicy::kOnChange;
  const auto* interval = json_member(spec, "refreshInterval");
  if (interval == nullptr || !interval->IsString()) return ok_status();
  auto parsed = parse_go_duration(interval->GetString());
  if (!parsed) return parsed.error();
  es.refresh_interval = *parsed;
  return ok_status();
}

void read_data(const rapidjson::Value& spec, const StoreRef& store, const std::string& prefix,
               ExternalSecret& es) {
  const auto* data = json_member(spec, "data");
  if (data == nullptr || !data->IsArray()) return;
  for (rapidjson::SizeType i = 0; i < data->Size(); ++i) {
    const auto& entry = (*data)[i];
    SourceRef source = read_source_ref(entry, store);
    es.uses_generator |= source.generator;
    const auto* remote = json_member(entry, "remoteRef");
    if (source.generator || remote == nullptr) continue;
    std::string key = json_string(*remote, "key");
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
  if (const auto* path = json_member(find, "path"); path != nullptr && path->IsString()) {
    ref.has_path = true;
    ref.path = path->GetString();
  }
  if (const auto* name = json_member(find, "name"); name != nullptr) {
    if (const auto* re = json_member(*name, "regexp"); re != nullptr && re->IsString()) {
      ref.has_name_regexp = true;
      ref.name_regexp = re->GetString();
    }
  }
  const auto* tags = json_member(find, "tags");
  ref.has_tags = tags != nullptr && tags->IsObject() && tags->MemberCount() > 0;
  es.finds.push_back(std::move(ref));
}

void read_data_from(const rapidjson::Value& spec, const StoreRef& store, const std::string& prefix,
                    ExternalSecret& es) {
  const auto* data_from = json_member(spec, "dataFrom");
  if (data_from == nullptr || !data_from->IsArray()) return;
  for (rapidjson::SizeType i = 0; i < data_from->Size(); ++i) {
    const auto& entry = (*data_from)[i];
    SourceRef source = read_source_ref(entry, store);
    es.uses_generator |= source.generator;
    if (source.generator) continue;
    if (const auto* find = json_member(entry, "find"); find != nullptr && find->IsObject()) {
      read_find(*find, fmt::format("{}.dataFrom[{}].find", prefix, i), source.store, es);
    }
    const auto* extract = json_member(entry, "extract");
    if (extract == nullptr) continue;
    std::string key = json_string(*extract, "key");
    if (key.empty()) continue;
    es.remote_keys.push_back(
        {std::move(key), fmt::format("{}.dataFrom[{}].extract.key", prefix, i), source.store});
  }
}

std::string owner_of_kind(const rapidjson::Value& metadata, std::string_view kind) {
  const auto* owners = json_member(metadata, "ownerReferences");
  if (owners == nullptr || !owners->IsArray()) return "";
  for (const auto& owner : owners->GetArray()) {
    if (json_string(owner, "kind") == kind) return json_string(owner, "name");
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
  const StoreRef store = read_store_ref(json_member(spec, "secretStoreRef"), StoreRef{});
  read_data(spec, store, prefix, es);
  read_data_from(spec, store, prefix, es);
  return ok_status();
}

}  // namespace

Result<ExternalSecret> parse_external_secret(const rapidjson::Value& object) {
  const auto* metadata = json_member(object, "metadata");
  if (metadata == nullptr || !metadata->IsObject()) {
    return Error{ErrorCode::kServer, "ExternalSecret without metadata in the API response"};
  }
  ExternalSecret es;
  es.ref.namespace_name = json_string(*metadata, "namespace");
  es.ref.name = json_string(*metadata, "name");
  es.resource_version = json_string(*metadata, "resourceVersion");
  const auto* status = json_member(object, "status");
  if (status != nullptr) {
    es.synced_resource_version = json_string(*status, "syncedResourceVersion");
    es.ready = parse_ready_condition(*status);
  }

  es.owner_cluster_external_secret = owner_of_kind(*metadata, "ClusterExternalSecret");

  const auto* spec = json_member(object, "spec");
  if (spec == nullptr || !spec->IsObject()) return es;
  if (auto read = read_spec(*spec, "spec", es); !read) return read.error();
  return es;
}

std::optional<ReadyCondition> parse_ready_condition(const rapidjson::Value& status) {
  const auto* conditions = json_member(status, "conditions");
  if (conditions == nullptr || !conditions->IsArray()) return std::nullopt;
  for (const auto& c : conditions->GetArray()) {
    if (json_string(c, "type") != "Ready") continue;
    return ReadyCondition{json_string(c, "status"), json_string(c, "reason"),
                          json_string(c, "message"), json_string(c, "lastTransitionTime")};
  }
  return std::nullopt;
}

Result<ExternalSecret> parse_cluster_external_secret(const rapidjson::Value& object) {
  const auto* metadata = json_member(object, "metadata");
  if (metadata == nullptr || !metadata->IsObject()) {
    return Error{ErrorCode::kServer, "ClusterExternalSecret without metadata in the API response"};
  }
  ExternalSecret es;
  es.ref.kind = "ClusterExternalSecret";
  es.ref.name = json_string(*metadata, "name");
  es.resource_version = json_string(*metadata, "resourceVersion");
  // The template has no sync status of its own; its children each have one.
  es.synced_resource_version = "template";
  const auto* spec = json_member(object, "spec");
  if (spec == nullptr) return es;
  const auto* template_spec = json_member(*spec, "externalSecretSpec");
  if (template_spec == nullptr || !template_spec->IsObject()) return es;
  if (auto read = read_spec(*template_spec, "spec.externalSecretSpec", es); !read) {
    return read.error();
  }
  return es;
}

}  // namespace eso
