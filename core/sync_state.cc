#include "core/sync_state.h"

#include <openssl/evp.h>

#include <array>
#include <memory>

#include <fmt/format.h>

#include "core/json_fields.h"

namespace eso {
namespace {

std::map<std::string, std::string> string_map(const rapidjson::Value* v) {
  std::map<std::string, std::string> out;
  if (v == nullptr || !v->IsObject()) return out;
  for (const auto& m : v->GetObject()) {
    if (m.value.IsString()) out.emplace(m.name.GetString(), m.value.GetString());
  }
  return out;
}

std::string go_map_text(const std::map<std::string, std::string>& m) {
  std::string out = "map[";
  bool first = true;
  for (const auto& [k, v] : m) {
    if (!first) out += ' ';
    first = false;
    out += k;
    out += ':';
    out += v;
  }
  return out + "]";
}

std::string sha3_224_hex(std::string_view text) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int size = 0;
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_DigestInit_ex(ctx.get(), EVP_sha3_224(), nullptr);
  EVP_DigestUpdate(ctx.get(), text.data(), text.size());
  EVP_DigestFinal_ex(ctx.get(), digest.data(), &size);
  std::string hex;
  for (unsigned int i = 0; i < size; ++i) hex += fmt::format("{:02x}", digest[i]);
  return hex;
}

}  // namespace

Result<SyncState> parse_sync_state(const rapidjson::Value& object) {
  const auto* metadata = json_member(object, "metadata");
  if (metadata == nullptr || !metadata->IsObject()) {
    return Error{ErrorCode::kServer, "ExternalSecret without metadata in the API response"};
  }
  SyncState state;
  state.ref.namespace_name = json_string(*metadata, "namespace");
  state.ref.name = json_string(*metadata, "name");
  state.resource_version = json_string(*metadata, "resourceVersion");
  if (const auto* g = json_member(*metadata, "generation"); g != nullptr && g->IsInt64()) {
    state.generation = g->GetInt64();
  }
  state.annotations = string_map(json_member(*metadata, "annotations"));
  state.labels = string_map(json_member(*metadata, "labels"));
  const auto* status = json_member(object, "status");
  if (status == nullptr) return state;
  state.synced_resource_version = json_string(*status, "syncedResourceVersion");
  state.refresh_time = json_string(*status, "refreshTime");
  state.ready = parse_ready_condition(*status);
  return state;
}

std::string go_meta_text(const std::map<std::string, std::string>& annotations,
                         const std::map<std::string, std::string>& labels) {
  return "{annotations:" + go_map_text(annotations) + " labels:" + go_map_text(labels) + "}";
}

std::string eso_resource_version(const SyncState& state) {
  return fmt::format("{}-{}", state.generation,
                     sha3_224_hex(go_meta_text(state.annotations, state.labels)));
}

SyncCheck check_sync(const SyncState& state, const std::string& annotation,
                     const std::string& value, const std::optional<ReadyCondition>& ready_before) {
  const auto current = state.annotations.find(annotation);
  // Trigger values are RFC 3339 UTC with nanoseconds, so a later trigger sorts after ours.
  if (current == state.annotations.end() || current->second < value) {
    return {SyncOutcome::kPending,
            fmt::format("waiting for {}={} to reach the object", annotation, value)};
  }
  const bool ready_true = state.ready && state.ready->status == "True";
  if (ready_true && state.synced_resource_version == eso_resource_version(state)) {
    return {SyncOutcome::kSynced, "synced"};
  }
  const bool sync_error =
      state.ready && state.ready->status == "False" && state.ready->reason == "SecretSyncedError";
  if (sync_error && state.ready != ready_before) {
    return {SyncOutcome::kFailed, "SecretSyncedError: " + state.ready->message};
  }
  if (sync_error) {
    return {SyncOutcome::kPending, "still failing from before: " + state.ready->message};
  }
  return {SyncOutcome::kPending, "waiting for ESO to sync"};
}

}  // namespace eso
