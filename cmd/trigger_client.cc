#include "cmd/trigger_client.h"

#include <curl/curl.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>

#include <fmt/format.h>
#include <rapidjson/document.h>

namespace eso::cmd {
namespace {

constexpr size_t kMaxAnswer = size_t{64} << 20;

Result<std::string> read_token(const ServerTarget& target) {
  std::string token;
  if (!target.token_file.empty()) {
    std::ifstream in(target.token_file, std::ios::binary);
    if (!in) {
      return Error{ErrorCode::kConfig,
                   fmt::format("--token-file {}: {}", target.token_file, std::strerror(errno))};
    }
    std::ostringstream text;
    text << in.rdbuf();
    token = text.str();
  } else if (const char* env = std::getenv("ESO_UPDATER_TOKEN")) {
    token = env;
  }
  // Line ends only, as serve reads its trigger-token file: a token file both sides share (a
  // mounted Secret) must give the same token on each.
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) token.pop_back();
  if (token.empty()) {
    return Error{ErrorCode::kConfig,
                 "--server needs the trigger token: --token-file FILE or ESO_UPDATER_TOKEN"};
  }
  if (token.find_first_of("\r\n") != std::string::npos) {
    return Error{ErrorCode::kConfig, "the trigger token holds a line break"};
  }
  return token;
}

size_t on_data(char* data, size_t size, size_t count, void* user) {
  auto* body = static_cast<std::string*>(user);
  if (body->size() + size * count > kMaxAnswer) return 0;
  body->append(data, size * count);
  return size * count;
}

std::string endpoint(const std::string& url, const std::string& path) {
  std::string base = url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  return base + path;
}

// What a pipeline should know when the request left but serve's answer did not arrive.
std::string after_lost_answer(const std::string& path) {
  if (path != "/v1/trigger") return ": nothing was changed (read-only), so retrying is safe";
  return ". The trigger may have run: look at the objects before retrying; a proxy in front of "
         "serve needs a read timeout longer than --timeout";
}

// The server's {"error": ...} message, or a short excerpt of what it sent.
std::string message_of(const std::string& body) {
  rapidjson::Document doc;
  doc.Parse(body.c_str());
  if (!doc.HasParseError() && doc.IsObject() && doc.HasMember("error") && doc["error"].IsString()) {
    return doc["error"].GetString();
  }
  return body.size() > 200 ? body.substr(0, 200) + "..." : body;
}

}  // namespace

void add_server_options(CLI::App& command, ServerTarget& target, const std::string& what) {
  command.add_option("--server", target.url,
                     what +
                         " through eso-updater serve's trigger API at this URL instead of the "
                         "Kubernetes API (no kubeconfig needed)");
  command.add_option("--token-file", target.token_file,
                     "File with the trigger token for --server (default: $ESO_UPDATER_TOKEN)");
  command.add_option("--server-ca", target.ca_file,
                     "PEM CA bundle that signed --server's certificate (default: the system's)");
}

Result<ServerAnswer> post_to_server(const ServerTarget& target, const std::string& path,
                                    const std::string& body, std::chrono::milliseconds timeout) {
  auto token = read_token(target);
  if (!token) return token.error();
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) return Error{ErrorCode::kInternal, "curl_easy_init failed"};
  const std::string url = endpoint(target.url, path);
  const std::string authorization = "Authorization: Bearer " + *token;
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  headers = curl_slist_append(headers, authorization.c_str());
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> header_list(headers,
                                                                          curl_slist_free_all);
  ServerAnswer answer;
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &answer.body);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  if (!target.ca_file.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, target.ca_file.c_str());
  const CURLcode rc = curl_easy_perform(c);
  long sent = 0;  // request bytes that left: then serve may have acted on it
  curl_easy_getinfo(c, CURLINFO_REQUEST_SIZE, &sent);
  if (rc != CURLE_OK && sent > 0) {
    const std::string what =
        rc == CURLE_OPERATION_TIMEDOUT
            ? fmt::format("no answer from {} within {} s", url, timeout.count() / 1000)
            : fmt::format("sent the request to {} but its answer was lost: {}", url,
                          curl_easy_strerror(rc));
    return Error{ErrorCode::kUnreachable, what + after_lost_answer(path)};
  }
  if (rc != CURLE_OK) {
    const bool tls = rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE ||
                     rc == CURLE_SSL_CONNECT_ERROR;
    return Error{tls ? ErrorCode::kTlsVerification : ErrorCode::kUnreachable,
                 fmt::format("cannot reach the trigger API at {}: {}{}", url,
                             curl_easy_strerror(rc), tls ? " (give its CA with --server-ca)" : "")};
  }
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  answer.status = static_cast<int>(status);
  return answer;
}

Error server_error(const ServerTarget& target, const std::string& path,
                   const ServerAnswer& answer) {
  const std::string message = message_of(answer.body);
  const std::string url = endpoint(target.url, path);
  switch (answer.status) {
    case 401:
      return Error{ErrorCode::kUnauthorized,
                   fmt::format("{} refused the trigger token ({}): check --token-file or "
                               "ESO_UPDATER_TOKEN against serve's trigger token",
                               url, message)};
    case 404:
    case 405:
      if (message.find("trigger API is off") != std::string::npos) {
        return Error{ErrorCode::kNotFound, fmt::format("{}: {}", url, message)};
      }
      return Error{ErrorCode::kNotFound,
                   fmt::format("{} has no trigger API (HTTP {}): is it eso-updater serve, and a "
                               "version with POST {}?",
                               url, answer.status, path)};
    case 503:
      return Error{ErrorCode::kUnreachable, fmt::format("{} is not ready: {}", url, message)};
    case 502:
    case 504:  // serve answers these with a report; without one, a proxy in front of it did
      return Error{ErrorCode::kUnreachable,
                   fmt::format("{} answered HTTP {} without serve's report (a proxy in front of "
                               "it?){}",
                               url, answer.status, after_lost_answer(path))};
    default:
      return Error{
          answer.status == 403 ? ErrorCode::kForbidden : ErrorCode::kInvalidArgument,
          fmt::format("{} refused the request (HTTP {}): {}", url, answer.status, message)};
  }
}

void write_request_scope(rapidjson::Writer<rapidjson::StringBuffer>& w, const GlobalOptions& global,
                         const KeySet& keys, const StoreScopeOptions& scope) {
  w.Key("keys");
  w.StartArray();
  for (const auto& k : keys.keys) w.String(k);
  w.EndArray();
  if (!global.all_namespaces && !global.namespaces.empty()) {
    w.Key("namespaces");
    w.StartArray();
    for (const auto& n : global.namespaces) w.String(n);
    w.EndArray();
  }
  const std::pair<const char*, const std::string*> strings[] = {
      {"store", &scope.store}, {"storeKind", &scope.store_kind}, {"provider", &scope.provider}};
  for (const auto& [name, value] : strings) {
    if (value->empty()) continue;
    w.Key(name);
    w.String(*value);
  }
}

std::string json_text(const rapidjson::Value& o, const char* name) {
  const auto m = o.FindMember(name);
  return m != o.MemberEnd() && m->value.IsString() ? m->value.GetString() : "";
}

}  // namespace eso::cmd
