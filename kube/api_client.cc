#include "kube/api_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <random>
#include <thread>
#include <utility>

#include <fmt/format.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace eso::kube {
namespace {

constexpr std::string_view kGroup = "external-secrets.io";
constexpr int kMaxAttempts = 8;
// A refused or dropped connection is retried briefly (an API server restarting), not for long:
// a user whose server is down should hear so in about a second, as with kubectl.
constexpr int kMaxConnectionAttempts = 3;
constexpr auto kMaxBackoff = std::chrono::seconds(8);

std::string url_escape(std::string_view s) {
  char* escaped = curl_easy_escape(nullptr, s.data(), static_cast<int>(s.size()));
  std::string out = escaped == nullptr ? std::string() : escaped;
  curl_free(escaped);
  return out;
}

std::string resource_path(const std::string& group_version, const std::string& namespace_name,
                          const std::string& resource) {
  if (namespace_name.empty()) return fmt::format("/apis/{}/{}", group_version, resource);
  return fmt::format("/apis/{}/namespaces/{}/{}", group_version, url_escape(namespace_name),
                     resource);
}

// The `message` of a metav1.Status body, or the body itself (trimmed) when it is not one.
std::string status_message(const std::string& body) {
  rapidjson::Document doc;
  doc.Parse(body.data(), body.size());
  if (!doc.HasParseError() && doc.IsObject()) {
    auto it = doc.FindMember("message");
    if (it != doc.MemberEnd() && it->value.IsString()) return it->value.GetString();
  }
  return body.substr(0, 200);
}

bool retryable_status(long status) {
  return status == 429 || status == 500 || status == 502 || status == 503 || status == 504;
}

std::chrono::milliseconds backoff(int attempt, const std::string& retry_after) {
  thread_local std::mt19937 rng{std::random_device{}()};
  if (!retry_after.empty() &&
      std::all_of(retry_after.begin(), retry_after.end(), [](char c) { return std::isdigit(c); })) {
    // Retry-After (APF says 1 s), spread by up to half a second so rejected clients do not all
    // come back at the same instant.
    const auto seconds = std::min<long>(std::stol(retry_after.substr(0, 6)), kMaxBackoff.count());
    std::uniform_int_distribution<long> spread(0, 500);
    return std::chrono::seconds(seconds) + std::chrono::milliseconds(spread(rng));
  }
  // Capped exponential backoff with jitter.
  const auto cap = std::min<std::chrono::milliseconds>(
      std::chrono::milliseconds(200) * (1 << std::min(attempt, 6)), kMaxBackoff);
  std::uniform_int_distribution<long> jitter(cap.count() / 2, cap.count());
  return std::chrono::milliseconds(jitter(rng));
}

ErrorCode code_for_status(long status) {
  switch (status) {
    case 401:
      return ErrorCode::kUnauthorized;
    case 403:
      return ErrorCode::kForbidden;
    case 404:
      return ErrorCode::kNotFound;
    case 409:
      return ErrorCode::kConflict;
    case 410:
      return ErrorCode::kGone;
    case 429:
      return ErrorCode::kTooManyRequests;
    default:
      return status >= 500 ? ErrorCode::kServer : ErrorCode::kInvalidArgument;
  }
}

std::string identity_of(const ClientConfig& config) {
  if (!config.context_name.empty()) return "context " + config.context_name;
  return config.source;
}

std::string scope_text(const std::string& namespace_name) {
  return namespace_name.empty() ? std::string("at cluster scope")
                                : "in namespace " + namespace_name;
}

}  // namespace

ApiClient::ApiClient(std::unique_ptr<HttpTransport> transport, std::string group_version)
    : transport_(std::move(transport)), group_version_(std::move(group_version)) {}

Result<std::unique_ptr<ApiClient>> ApiClient::connect(ClientConfig config) {
  auto transport = HttpTransport::create(std::move(config));
  if (!transport) return transport.error();
  std::unique_ptr<ApiClient> client(new ApiClient(std::move(*transport), ""));
  auto response = client->send_with_retry(
      make_request("GET", fmt::format("/apis/{}", kGroup), std::chrono::seconds(30)),
      Intent{"get", "apigroups", "", std::string(kGroup)});
  if (!response) {
    if (response.error().code == ErrorCode::kNotFound) {
      return Error{ErrorCode::kNotFound,
                   fmt::format("the API server {} does not serve {}: install the External "
                               "Secrets Operator (its CRDs) first",
                               client->config().server, kGroup)};
    }
    return response.error();
  }
  rapidjson::Document doc;
  doc.Parse(response->body.data(), response->body.size());
  const bool is_group = !doc.HasParseError() && doc.IsObject() && doc.HasMember("versions") &&
                        doc["versions"].IsArray();
  if (!is_group) {
    return Error{ErrorCode::kServer, "discovery of external-secrets.io returned no versions"};
  }
  std::vector<std::string> served;
  for (const auto& v : doc["versions"].GetArray()) {
    if (v.IsObject() && v.HasMember("version") && v["version"].IsString()) {
      served.emplace_back(v["version"].GetString());
    }
  }
  for (const char* preferred : {"v1", "v1beta1"}) {
    if (std::find(served.begin(), served.end(), preferred) != served.end()) {
      client->group_version_ = fmt::format("{}/{}", kGroup, preferred);
      return client;
    }
  }
  return Error{ErrorCode::kNotFound,
               fmt::format("the API server serves {} only in versions [{}]; eso-updater needs v1 "
                           "or v1beta1",
                           kGroup, fmt::join(served, ", "))};
}

Result<HttpResponse> ApiClient::send_with_retry(const HttpRequest& request, const Intent& intent) {
  const auto deadline = std::chrono::steady_clock::now() + retry_budget_;
  for (int attempt = 1;; ++attempt) {
    auto response = transport_->send(request);
    const bool transient = !response ? response.error().code == ErrorCode::kUnreachable
                                     : retryable_status(response->status);
    const auto wait = backoff(attempt, response ? response->retry_after : std::string());
    const int max_attempts = response ? kMaxAttempts : kMaxConnectionAttempts;
    const bool can_retry =
        transient && attempt < max_attempts && std::chrono::steady_clock::now() + wait < deadline;
    if (can_retry) {
      std::this_thread::sleep_for(wait);
      continue;
    }
    if (!response) return response.error();
    const long status = response->status;
    if (status >= 200 && status < 300) return response;
    const std::string server_says = status_message(response->body);
    const std::string target =
        fmt::format("{} {}", intent.resource, intent.name.empty() ? "" : intent.name);
    switch (status) {
      case 401:
        return Error{ErrorCode::kUnauthorized,
                     fmt::format("unauthorized: {} rejected the credentials of {} (expired or "
                                 "invalid); log in again or refresh the token",
                                 config().server, identity_of(config()))};
      case 403:
        return Error{ErrorCode::kForbidden,
                     fmt::format("forbidden: cannot {} {} {} ({}): {} — grant it with a Role or "
                                 "ClusterRole (see deploy/)",
                                 intent.verb, intent.resource, scope_text(intent.namespace_name),
                                 identity_of(config()), server_says)};
      default:
        return Error{code_for_status(status),
                     fmt::format("{} {} {} failed with HTTP {}{}: {}", intent.verb, target,
                                 scope_text(intent.namespace_name), status,
                                 attempt > 1 ? fmt::format(" after {} attempts", attempt) : "",
                                 server_says)};
    }
  }
}

Result<std::string> ApiClient::list_page(const Collection& collection, const ListScope& scope,
                                         const std::string& continue_token,
                                         std::string& resource_version) {
  std::string path = resource_path(group_version_, scope.namespace_name, collection.resource);
  std::vector<std::string> query;
  if (scope.page_size > 0) query.push_back(fmt::format("limit={}", scope.page_size));
  if (!continue_token.empty()) query.push_back("continue=" + url_escape(continue_token));
  if (!scope.label_selector.empty()) {
    query.push_back("labelSelector=" + url_escape(scope.label_selector));
  }
  if (!query.empty()) path += "?" + fmt::format("{}", fmt::join(query, "&"));

  auto response = send_with_retry(make_request("GET", path, std::chrono::seconds(60)),
                                  Intent{"list", collection.resource, scope.namespace_name, ""});
  if (!response) return response.error();
  rapidjson::Document doc;
  doc.ParseInsitu(response->body.data());
  if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("items") ||
      !doc["items"].IsArray()) {
    return Error{ErrorCode::kServer,
                 fmt::format("LIST {} returned a body that is not a list", collection.resource)};
  }
  for (const auto& item : doc["items"].GetArray()) {
    if (auto taken = collection.take(item); !taken) {
      fmt::print(stderr, "warning: skipping {}\n", taken.error().message);
    }
  }
  const auto metadata = doc.FindMember("metadata");
  if (metadata == doc.MemberEnd() || !metadata->value.IsObject()) return std::string();
  const auto rv = metadata->value.FindMember("resourceVersion");
  if (rv != metadata->value.MemberEnd() && rv->value.IsString()) {
    resource_version = rv->value.GetString();
  }
  const auto token = metadata->value.FindMember("continue");
  if (token == metadata->value.MemberEnd() || !token->value.IsString()) return std::string();
  return std::string(token->value.GetString(), token->value.GetStringLength());
}

Result<std::string> ApiClient::list_all(const Collection& collection, const ListScope& scope,
                                        const std::function<void()>& restart) {
  std::string token;
  std::string resource_version;
  int page = 0;
  do {
    auto next = list_page(collection, scope, token, resource_version);
    if (!next && next.error().code == ErrorCode::kGone && !token.empty()) {
      // The continue token expired (etcd compacted): start over with one full list.
      restart();
      ListScope full = scope;
      full.page_size = 0;
      next = list_page(collection, full, "", resource_version);
    }
    if (!next) return next.error();
    token = std::move(*next);
    if (collection.end_page) {
      if (auto ended = collection.end_page(); !ended) return ended.error();
    }
    if (scope.after_page) scope.after_page(++page);
  } while (!token.empty());
  return resource_version;
}

namespace {

// Collects parsed objects of one kind into `out`.
template <typename T>
std::function<Status(const rapidjson::Value&)> collect_into(
    std::vector<T>& out, std::function<Result<T>(const rapidjson::Value&)> parse) {
  return [&out, parse = std::move(parse)](const rapidjson::Value& item) -> Status {
    auto parsed = parse(item);
    if (!parsed) return parsed.error();
    out.push_back(std::move(*parsed));
    return ok_status();
  };
}

}  // namespace

Result<std::vector<ExternalSecret>> ApiClient::list_external_secrets(const ListScope& scope) {
  std::vector<ExternalSecret> out;
  auto listed = list_all(
      Collection{"externalsecrets", collect_into<ExternalSecret>(out, parse_external_secret)},
      scope, [&] { out.clear(); });
  if (!listed) return listed.error();
  return out;
}

Result<std::vector<ExternalSecret>> ApiClient::list_cluster_external_secrets(
    const ListScope& scope) {
  ListScope cluster_scope = scope;
  cluster_scope.namespace_name.clear();
  std::vector<ExternalSecret> out;
  auto listed =
      list_all(Collection{"clusterexternalsecrets",
                          collect_into<ExternalSecret>(out, parse_cluster_external_secret)},
               cluster_scope, [&] { out.clear(); });
  if (!listed) return listed.error();
  return out;
}

Result<std::vector<SecretStoreRecord>> ApiClient::list_secret_stores(const ListScope& scope) {
  std::vector<SecretStoreRecord> out;
  ListScope stores_scope = scope;
  stores_scope.label_selector.clear();  // the selector is for ExternalSecrets, not stores
  for (const auto& [resource, kind] :
       {std::pair<std::string, std::string>{"secretstores", "SecretStore"},
        {"clustersecretstores", "ClusterSecretStore"}}) {
    if (kind == "ClusterSecretStore") stores_scope.namespace_name.clear();
    const size_t first = out.size();
    auto listed = list_all(
        Collection{resource, collect_into<SecretStoreRecord>(out,
                                                             [k = kind](const rapidjson::Value& v) {
                                                               return parse_secret_store(v, k);
                                                             })},
        stores_scope, [&] { out.resize(first); });
    if (!listed) return listed.error();
  }
  return out;
}

namespace {

struct KindInfo {
  std::string resource;
  Result<ExternalSecret> (*parse)(const rapidjson::Value&);
};

Result<KindInfo> kind_info(const std::string& kind) {
  if (kind == "ExternalSecret") return KindInfo{"externalsecrets", parse_external_secret};
  if (kind == "ClusterExternalSecret") {
    return KindInfo{"clusterexternalsecrets", parse_cluster_external_secret};
  }
  return Error{ErrorCode::kInternal, "cannot list or watch " + kind};
}

}  // namespace

Status ApiClient::stream_objects(const std::string& kind, const ListScope& scope,
                                 const PageHandler& on_page) {
  auto info = kind_info(kind);
  if (!info) return info.error();
  ListScope effective = scope;
  if (kind == "ClusterExternalSecret") effective.namespace_name.clear();
  std::vector<ExternalSecret> page;
  Collection collection{info->resource, collect_into<ExternalSecret>(page, info->parse),
                        [&]() -> Status { return on_page(std::exchange(page, {})); }};
  auto listed = list_all(collection, effective, [&] { page.clear(); });
  if (!listed) return listed.error();
  return ok_status();
}

Result<std::string> ApiClient::list_into(const std::string& kind, const ListScope& scope,
                                         InventorySink& sink) {
  auto info = kind_info(kind);
  if (!info) return info.error();
  ListScope effective = scope;
  if (kind == "ClusterExternalSecret") effective.namespace_name.clear();
  std::vector<ExternalSecret> objects;
  auto listed =
      list_all(Collection{info->resource, collect_into<ExternalSecret>(objects, info->parse)},
               effective, [&] { objects.clear(); });
  if (!listed) return listed.error();
  sink.replace(kind, effective.namespace_name, std::move(objects));
  return listed;
}

namespace {

// Splits a watch stream into its newline-delimited JSON events.
class WatchDecoder {
 public:
  WatchDecoder(Result<ExternalSecret> (*parse)(const rapidjson::Value&), InventorySink& sink,
               std::string& resource_version)
      : parse_(parse), sink_(sink), resource_version_(resource_version) {}

  /// Feeds bytes; false once the stream said the resourceVersion is gone (stop reading).
  bool feed(std::string_view data) {
    buffer_.append(data);
    for (size_t nl = buffer_.find('\n'); nl != std::string::npos; nl = buffer_.find('\n')) {
      const std::string line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      if (!line.empty() && !event(line)) return false;
    }
    return buffer_.size() < (size_t{64} << 20);  // a line that never ends: give up
  }
  bool gone() const { return gone_; }

 private:
  bool event(const std::string& line) {
    rapidjson::Document doc;
    doc.Parse<rapidjson::kParseIterativeFlag>(line.data(), line.size());
    if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("type") ||
        !doc["type"].IsString() || !doc.HasMember("object")) {
      return true;  // not an event: skip it
    }
    const std::string type = doc["type"].GetString();
    const auto& object = doc["object"];
    if (type == "ERROR") {
      // A metav1.Status; 410 means the resourceVersion was compacted away.
      gone_ = object.IsObject() && object.HasMember("code") && object["code"].IsInt() &&
              object["code"].GetInt() == 410;
      return false;
    }
    remember_version(object);
    if (type == "BOOKMARK") return true;
    auto parsed = parse_(object);
    if (!parsed) return true;
    if (type == "DELETED") {
      sink_.remove(parsed->ref);
    } else {
      sink_.upsert(std::move(*parsed));
    }
    return true;
  }

  void remember_version(const rapidjson::Value& object) {
    if (!object.IsObject() || !object.HasMember("metadata")) return;
    const auto& metadata = object["metadata"];
    if (metadata.IsObject() && metadata.HasMember("resourceVersion") &&
        metadata["resourceVersion"].IsString()) {
      resource_version_ = metadata["resourceVersion"].GetString();
    }
  }

  Result<ExternalSecret> (*parse_)(const rapidjson::Value&);
  InventorySink& sink_;
  std::string& resource_version_;
  std::string buffer_;
  bool gone_ = false;
};

}  // namespace

Result<ApiClient::WatchEnd> ApiClient::watch_into(const std::string& kind, const ListScope& scope,
                                                  std::string& resource_version,
                                                  std::chrono::seconds idle_timeout,
                                                  InventorySink& sink,
                                                  const std::atomic<bool>& stop) {
  auto info = kind_info(kind);
  if (!info) return info.error();
  const std::string ns = kind == "ClusterExternalSecret" ? "" : scope.namespace_name;
  std::string path =
      resource_path(group_version_, ns, info->resource) +
      "?watch=1&allowWatchBookmarks=true&resourceVersion=" + url_escape(resource_version);
  if (!scope.label_selector.empty()) path += "&labelSelector=" + url_escape(scope.label_selector);
  WatchDecoder decoder(info->parse, sink, resource_version);
  HttpRequest request = make_request("GET", path, std::chrono::seconds(0));
  request.on_data = [&](std::string_view data) { return decoder.feed(data); };
  request.idle_timeout = idle_timeout;
  request.cancel = &stop;
  auto response = transport_->send(request);
  if (!response) return response.error();
  if (stop.load()) return WatchEnd::kStopped;
  if (response->status == 410 || decoder.gone()) return WatchEnd::kGone;
  if (response->status != 200) {
    return Error{code_for_status(response->status),
                 fmt::format("watch {} failed with HTTP {}: {}", info->resource, response->status,
                             status_message(response->body))};
  }
  return response->went_quiet ? WatchEnd::kQuiet : WatchEnd::kClosed;
}

Status ApiClient::watch_sync_states(const std::string& namespace_name,
                                    const std::string& resource_version,
                                    std::chrono::steady_clock::time_point deadline,
                                    const std::function<bool(const SyncState&)>& on_change,
                                    const std::atomic<bool>* cancel) {
  const auto remaining =
      std::chrono::ceil<std::chrono::seconds>(deadline - std::chrono::steady_clock::now());
  if (remaining.count() <= 0) return ok_status();
  // The server ends the watch at the deadline (timeoutSeconds); curl's timeout is the backstop.
  const std::string path = resource_path(group_version_, namespace_name, "externalsecrets") +
                           "?watch=1&resourceVersion=" + url_escape(resource_version) +
                           fmt::format("&timeoutSeconds={}", remaining.count());
  HttpRequest request = make_request("GET", path, remaining + std::chrono::seconds(2));
  request.cancel = cancel;
  std::string buffer;
  bool answered = false;  // on_change said it has all it waited for
  bool gone = false;
  request.on_data = [&](std::string_view data) {
    buffer.append(data);
    for (size_t nl = buffer.find('\n'); nl != std::string::npos; nl = buffer.find('\n')) {
      rapidjson::Document event;
      event.Parse(buffer.data(), nl);
      buffer.erase(0, nl + 1);
      if (event.HasParseError() || !event.IsObject() || !event.HasMember("type") ||
          !event["type"].IsString() || !event.HasMember("object")) {
        continue;
      }
      if (std::string_view(event["type"].GetString()) == "ERROR") {
        gone = true;  // e.g. 410: the resourceVersion is too old
        return false;
      }
      auto state = parse_sync_state(event["object"]);
      if (state && !on_change(*state)) {
        answered = true;
        return false;
      }
    }
    return buffer.size() < (size_t{64} << 20);
  };
  auto response = transport_->send(request);
  const bool cancelled = cancel != nullptr && cancel->load();
  if (answered || cancelled || std::chrono::steady_clock::now() >= deadline) return ok_status();
  if (!response) return response.error();
  if (gone || response->status != 200) {
    return Error{
        code_for_status(gone ? 410 : response->status),
        fmt::format("watch externalsecrets ended: HTTP {}", gone ? 410 : response->status)};
  }
  return ok_status();
}

Result<SyncState> ApiClient::get_sync_state(const ObjectRef& target) {
  const std::string path = resource_path(group_version_, target.namespace_name, "externalsecrets") +
                           "/" + url_escape(target.name);
  auto response =
      send_with_retry(make_request("GET", path, std::chrono::seconds(30)),
                      Intent{"get", "externalsecrets", target.namespace_name, target.name});
  if (!response) return response.error();
  rapidjson::Document doc;
  doc.Parse(response->body.data(), response->body.size());
  if (doc.HasParseError() || !doc.IsObject()) {
    return Error{ErrorCode::kServer, "GET externalsecrets returned a body that is not an object"};
  }
  return parse_sync_state(doc);
}

Result<PatchOutcome> ApiClient::patch_annotation(const ObjectRef& target, std::string_view key,
                                                 std::string_view value, AnnotationPlace place) {
  rapidjson::StringBuffer body;
  rapidjson::Writer<rapidjson::StringBuffer> w(body);
  const auto annotations = [&] {
    w.Key("annotations");
    w.StartObject();
    w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
    w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
    w.EndObject();
  };
  w.StartObject();
  w.Key("metadata");
  w.StartObject();
  annotations();
  w.EndObject();
  if (place == AnnotationPlace::kObjectAndChildren && target.kind == "ClusterExternalSecret") {
    w.Key("spec");
    w.StartObject();
    w.Key("externalSecretMetadata");
    w.StartObject();
    annotations();
    w.EndObject();
    w.EndObject();
  }
  w.EndObject();

  const std::string resource =
      target.kind == "ClusterExternalSecret" ? "clusterexternalsecrets" : "externalsecrets";
  const std::string path = resource_path(group_version_, target.namespace_name, resource) + "/" +
                           url_escape(target.name) + "?fieldManager=eso-updater";
  auto response = send_with_retry(make_request("PATCH", path, std::chrono::seconds(30),
                                               body.GetString(), "application/merge-patch+json"),
                                  Intent{"patch", resource, target.namespace_name, target.name});
  if (!response) return response.error();
  PatchOutcome outcome;
  rapidjson::Document doc;
  doc.Parse(response->body.data(), response->body.size());
  if (doc.HasParseError() || !doc.IsObject()) return outcome;
  const auto metadata = doc.FindMember("metadata");
  if (metadata == doc.MemberEnd() || !metadata->value.IsObject()) return outcome;
  const auto rv = metadata->value.FindMember("resourceVersion");
  if (rv != metadata->value.MemberEnd() && rv->value.IsString()) {
    outcome.resource_version = rv->value.GetString();
  }
  return outcome;
}

}  // namespace eso::kube
