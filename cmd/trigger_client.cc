#include "cmd/trigger_client.h"

#include <curl/curl.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>

#include <fmt/format.h>
#include <rapidjson/document.h>

#include "core/version.h"
#include "server/http_client.h"

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

size_t on_data(char* data, size_t size, size_t count, void* user) {
  auto* body = static_cast<std::string*>(user);
  if (body->size() + size * count > kMaxAnswer) return 0;
  body->append(data, size * count);
  return size * count;
}

using Failure = http::ClientOutcome::Failure;

Failure failure_of(CURLcode rc) {
  switch (rc) {
    case CURLE_OK:
      return Failure::kNone;
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_PROXY:
      return Failure::kConnect;
    case CURLE_PEER_FAILED_VERIFICATION:
      return Failure::kTlsVerify;
    case CURLE_SSL_CACERT_BADFILE:
      return Failure::kCaFile;
    case CURLE_SSL_CONNECT_ERROR:
      return Failure::kTls;
    case CURLE_OPERATION_TIMEDOUT:
      return Failure::kTimeout;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
      return Failure::kUrl;
    case CURLE_WRITE_ERROR:
      return Failure::kTooLarge;
    default:
      return Failure::kLost;
  }
}

// Whether the request may have reached serve. Not when libcurl failed before sending it (no
// connection, the proxy's CONNECT refused, the certificate not trusted): its REQUEST_SIZE counts
// a CONNECT to the proxy too. Otherwise yes once it was about to send (PRETRANSFER), even when
// REQUEST_SIZE is 0 (libcurl counts only the request's first write).
bool may_have_sent(CURL* c, CURLcode rc) {
  switch (failure_of(rc)) {
    case Failure::kNone:
      return true;
    case Failure::kConnect:
    case Failure::kTls:
    case Failure::kTlsVerify:
    case Failure::kCaFile:
    case Failure::kUrl:
      return false;
    default:
      break;
  }
  long tunnel = 0;  // the proxy's answer to CONNECT; 0 without a tunnel
  curl_easy_getinfo(c, CURLINFO_HTTP_CONNECTCODE, &tunnel);
  if (tunnel != 0 && (tunnel < 200 || tunnel > 299)) return false;
  long sent = 0;
  curl_easy_getinfo(c, CURLINFO_REQUEST_SIZE, &sent);
  curl_off_t pretransfer = 0;
  curl_easy_getinfo(c, CURLINFO_PRETRANSFER_TIME_T, &pretransfer);
  return sent > 0 || pretransfer > 0;
}

// The same request through libcurl, when a proxy applies.
http::ClientOutcome post_with_libcurl(const http::ClientRequest& request) {
  http::ClientOutcome out;
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) return {Failure::kConnect, false, "curl_easy_init failed", 0, ""};
  curl_slist* headers = nullptr;
  for (const auto& h : request.headers) headers = curl_slist_append(headers, h.c_str());
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> header_list(headers,
                                                                          curl_slist_free_all);
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, request.body.c_str());
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(request.body.size()));
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &out.body);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(request.connect_timeout.count()));
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout.count()));
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  char error[CURL_ERROR_SIZE] = "";
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
  if (!request.ca_file.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, request.ca_file.c_str());
  const CURLcode rc = curl_easy_perform(c);
  out.request_sent = may_have_sent(c, rc);
  out.failure = failure_of(rc);
  if (rc != CURLE_OK) {
    out.detail = error[0] != '\0' ? error : curl_easy_strerror(rc);
    out.body.clear();
    return out;
  }
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  out.status = static_cast<int>(status);
  return out;
}

// The answer, or the error a pipeline reads: whether the trigger may have run, and what to do.
Result<ServerAnswer> answer_of(const http::ClientOutcome& outcome,
                               const http::ClientRequest& request, const std::string& path) {
  const std::string& url = request.url;
  if (outcome.failure == Failure::kNone) return ServerAnswer{outcome.status, outcome.body};
  if (outcome.request_sent) {
    const std::string what =
        outcome.failure == Failure::kTimeout
            ? fmt::format("no answer from {} within {} s", url, request.timeout.count() / 1000)
            : fmt::format("sent the request to {} but its answer was lost: {}", url,
                          outcome.detail);
    return Error{ErrorCode::kUnreachable, what + after_lost_answer(path)};
  }
  switch (outcome.failure) {
    case Failure::kUrl:  // the URL may hold a password: not repeated
      return Error{ErrorCode::kConfig, fmt::format("--server: {}", outcome.detail)};
    case Failure::kCaFile:
      return Error{ErrorCode::kConfig, fmt::format("--server-ca: {}", outcome.detail)};
    case Failure::kTls:
      return Error{ErrorCode::kTlsVerification,
                   fmt::format("cannot reach the trigger API at {}: {}", url, outcome.detail)};
    case Failure::kTlsVerify:
      return Error{ErrorCode::kTlsVerification,
                   fmt::format("cannot reach the trigger API at {}: {} (give its CA with "
                               "--server-ca)",
                               url, outcome.detail)};
    default:
      return Error{ErrorCode::kUnreachable,
                   fmt::format("cannot reach the trigger API at {}: {}", url, outcome.detail)};
  }
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
  http::ClientRequest request;
  request.url = endpoint(target.url, path);
  request.headers = {"Content-Type: application/json", "Accept: application/json",
                     "User-Agent: eso-updater/" + std::string(kVersion),
                     "Authorization: Bearer " + *token};
  request.body = body;
  request.ca_file = target.ca_file;
  request.timeout = timeout;
  request.max_answer = kMaxAnswer;
  // Our own client unless a proxy is configured: libcurl knows proxies (and no_proxy).
  const http::ClientOutcome outcome =
      http::proxy_applies(request.url) ? post_with_libcurl(request) : http::post(request);
  return answer_of(outcome, request, path);
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
