#include "kube/http_transport.h"

#include <curl/curl.h>
#include <sys/stat.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <vector>

#include <fmt/format.h>

#include "core/version.h"
#include "kube/credential_source.h"

namespace eso::kube {
namespace {

// A hostile or broken server must not make us buffer without bound.
constexpr size_t kMaxResponseBytes = size_t{1} << 30;

struct Exchange {
  CURL* handle;
  std::string* body;
  std::string* retry_after;
  std::vector<std::string>* warnings;
  const std::function<bool(std::string_view)>* stream;  // null: collect the body
  const std::atomic<bool>* cancel = nullptr;
  bool stopped = false;  // the stream asked to end, or the request was cancelled
};

int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* ex = static_cast<Exchange*>(user);
  if (ex->cancel == nullptr || !ex->cancel->load()) return 0;
  ex->stopped = true;
  return 1;  // aborts the transfer
}

size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto* ex = static_cast<Exchange*>(user);
  const size_t n = size * count;
  long status = 0;
  curl_easy_getinfo(ex->handle, CURLINFO_RESPONSE_CODE, &status);
  if (ex->stream != nullptr && *ex->stream && status == 200) {
    if ((*ex->stream)(std::string_view(data, n))) return n;
    ex->stopped = true;
    return 0;  // aborts the transfer
  }
  if (ex->body->size() + n > kMaxResponseBytes) return 0;
  ex->body->append(data, n);
  return n;
}

std::string trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == '\r' || s.back() == '\n' || s.back() == ' '))
    s.remove_suffix(1);
  return std::string(s);
}

bool header_is(std::string_view line, std::string_view name) {
  if (line.size() <= name.size() || line[name.size()] != ':') return false;
  for (size_t i = 0; i < name.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(line[i])) != name[i]) return false;
  }
  return true;
}

size_t on_header(char* data, size_t size, size_t count, void* user) {
  auto* ex = static_cast<Exchange*>(user);
  const std::string_view line(data, size * count);
  if (header_is(line, "warning")) ex->warnings->push_back(trim(line.substr(8)));
  if (header_is(line, "retry-after")) *ex->retry_after = trim(line.substr(12));
  return size * count;
}

void lock_share(CURL*, curl_lock_data data, curl_lock_access, void* user) {
  static_cast<std::array<std::mutex, CURL_LOCK_DATA_LAST>*>(user)->at(data).lock();
}
void unlock_share(CURL*, curl_lock_data data, void* user) {
  static_cast<std::array<std::mutex, CURL_LOCK_DATA_LAST>*>(user)->at(data).unlock();
}

// RFC 7234 §5.5: warn-code warn-agent "warn-text"; show just the text, as kubectl does.
std::string warning_text(const std::string& header) {
  const auto open = header.find('"');
  const auto close = header.rfind('"');
  if (open == std::string::npos || close <= open) return header;
  return header.substr(open + 1, close - open - 1);
}

std::string host_port_of(const std::string& server) {
  const auto scheme = server.find("://");
  const auto start = scheme == std::string::npos ? 0 : scheme + 3;
  const auto end = server.find('/', start);
  return server.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

}  // namespace

std::string user_agent() {
#if defined(__x86_64__)
  constexpr const char* kArch = "amd64";
#elif defined(__aarch64__)
  constexpr const char* kArch = "arm64";
#else
  constexpr const char* kArch = "unknown";
#endif
  return fmt::format("eso-updater/{} (linux/{})", kVersion, kArch);
}

// Connections kept open to the API server: --concurrency (16 by default, at most 256 in flight)
// plus serve's watches.
constexpr long kMaxConnections = 300;

struct HttpTransport::Impl {
  ClientConfig config;
  std::string base_url;    // server URL, with tls-server-name as the host when set
  std::string connect_to;  // CURLOPT_CONNECT_TO entry routing that name to the real host
  std::string agent = user_agent();
  CURLSH* share = nullptr;
  std::array<std::mutex, CURL_LOCK_DATA_LAST> share_locks;
  std::mutex pool_mu;
  std::vector<CURL*> idle;
  std::atomic<uint64_t> connections_opened{0};

  std::unique_ptr<CredentialSource> credential_source;

  std::mutex warn_mu;
  std::set<std::string> warnings_seen;

  ~Impl() {
    for (CURL* h : idle) curl_easy_cleanup(h);
    if (share != nullptr) curl_share_cleanup(share);
  }

  CURL* acquire() {
    {
      std::lock_guard lock(pool_mu);
      if (!idle.empty()) {
        CURL* h = idle.back();
        idle.pop_back();
        return h;
      }
    }
    return curl_easy_init();
  }

  void release(CURL* h) {
    std::lock_guard lock(pool_mu);
    idle.push_back(h);
  }

  void show_warnings(const std::vector<std::string>& warnings);
  void configure_tls(CURL* h, const Credentials& credentials);
  curl_slist* prepare(CURL* h, const HttpRequest& request, const Credentials& credentials,
                      Exchange& ex, char* errbuf, const std::string& url, const std::string& auth,
                      const std::string& type);
  Error transfer_error(CURLcode rc, const char* errbuf) const;
  Result<HttpResponse> perform(const HttpRequest& request, const Credentials& credentials);
};

void HttpTransport::Impl::show_warnings(const std::vector<std::string>& warnings) {
  std::lock_guard lock(warn_mu);
  for (const auto& w : warnings) {
    if (warnings_seen.insert(w).second) fmt::print(stderr, "Warning: {}\n", warning_text(w));
  }
}

void HttpTransport::Impl::configure_tls(CURL* h, const Credentials& credentials) {
  if (config.insecure_skip_tls_verify) {
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  if (!config.ca_pem.empty()) {
    curl_blob ca{config.ca_pem.data(), config.ca_pem.size(), CURL_BLOB_NOCOPY};
    curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &ca);
  }
  // An exec plugin's certificate, else the kubeconfig's. libcurl copies blobs it is given.
  const bool from_exec = !credentials.client_cert_pem.empty();
  const std::string& cert_pem = from_exec ? credentials.client_cert_pem : config.client_cert_pem;
  const std::string& key_pem = from_exec ? credentials.client_key_pem : config.client_key_pem;
  if (!cert_pem.empty()) {
    curl_blob cert{const_cast<char*>(cert_pem.data()), cert_pem.size(), CURL_BLOB_COPY};
    curl_blob key{const_cast<char*>(key_pem.data()), key_pem.size(), CURL_BLOB_COPY};
    curl_easy_setopt(h, CURLOPT_SSLCERT_BLOB, &cert);
    curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
    curl_easy_setopt(h, CURLOPT_SSLKEY_BLOB, &key);
    curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
  }
}

HttpTransport::HttpTransport(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpTransport::~HttpTransport() = default;
const ClientConfig& HttpTransport::config() const { return impl_->config; }
uint64_t HttpTransport::connections_opened() const { return impl_->connections_opened.load(); }

Result<std::unique_ptr<HttpTransport>> HttpTransport::create(ClientConfig config) {
  static std::once_flag global_init;
  std::call_once(global_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (config.server.rfind("https://", 0) != 0 && config.server.rfind("http://", 0) != 0) {
    return Error{ErrorCode::kConfig, fmt::format("server \"{}\" (context {}) is not an http(s) URL",
                                                 config.server, config.context_name)};
  }
  auto impl = std::make_unique<Impl>();
  impl->base_url = config.server;
  if (!config.tls_server_name.empty()) {
    // Verify the certificate against tls-server-name while connecting to the real address.
    const std::string host_port = host_port_of(config.server);
    const auto colon = host_port.rfind(':');
    const bool has_port =
        colon != std::string::npos && host_port.find(']', colon) == std::string::npos;
    const std::string port = has_port ? host_port.substr(colon + 1) : "443";
    const std::string host = has_port ? host_port.substr(0, colon) : host_port;
    impl->base_url = fmt::format("https://{}:{}", config.tls_server_name, port);
    impl->connect_to = fmt::format("{}:{}:{}:{}", config.tls_server_name, port, host, port);
  }
  impl->share = curl_share_init();
  curl_share_setopt(impl->share, CURLSHOPT_LOCKFUNC, lock_share);
  curl_share_setopt(impl->share, CURLSHOPT_UNLOCKFUNC, unlock_share);
  curl_share_setopt(impl->share, CURLSHOPT_USERDATA, &impl->share_locks);
  curl_share_setopt(impl->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
  curl_share_setopt(impl->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
  curl_share_setopt(impl->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
  impl->config = std::move(config);
  impl->credential_source = std::make_unique<CredentialSource>(impl->config);
  return std::unique_ptr<HttpTransport>(new HttpTransport(std::move(impl)));
}

Result<HttpResponse> HttpTransport::send(const HttpRequest& request) {
  auto credentials = impl_->credential_source->current();
  if (!credentials) return credentials.error();
  auto response = impl_->perform(request, *credentials);
  // A rotated token file or an expired exec credential: renew once and retry (client-go does).
  if (response && response->status == 401 &&
      impl_->credential_source->renew_after_unauthorized(credentials->token)) {
    credentials = impl_->credential_source->current();
    if (!credentials) return credentials.error();
    response = impl_->perform(request, *credentials);
  }
  return response;
}

// The request-independent and request-specific options of one transfer.
curl_slist* HttpTransport::Impl::prepare(CURL* h, const HttpRequest& request,
                                         const Credentials& credentials, Exchange& ex, char* errbuf,
                                         const std::string& url, const std::string& auth,
                                         const std::string& type) {
  curl_easy_setopt(h, CURLOPT_SHARE, share);
  // The shared connection cache keeps at most MAXCONNECTS connections (default 5), counting
  // those in use: with serve's watches open and 16 patches in flight every finished transfer
  // closed the oldest idle connection, so nearly every PATCH paid a new TLS handshake.
  curl_easy_setopt(h, CURLOPT_MAXCONNECTS, kMaxConnections);
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(h, CURLOPT_USERAGENT, agent.c_str());
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
  curl_easy_setopt(h, CURLOPT_TIMEOUT, static_cast<long>(request.timeout.count()));
  if (request.idle_timeout.count() > 0) {
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, static_cast<long>(request.idle_timeout.count()));
  }
  curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &ex);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &ex);
  curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  if (request.cancel != nullptr) {
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, &ex);
  }
  if (!config.proxy_url.empty()) {
    // client-go sends everything through proxy-url; NO_PROXY applies to environment proxies only.
    curl_easy_setopt(h, CURLOPT_PROXY, config.proxy_url.c_str());
    curl_easy_setopt(h, CURLOPT_NOPROXY, "");
  }
  configure_tls(h, credentials);
  if (!config.username.empty()) {
    curl_easy_setopt(h, CURLOPT_USERNAME, config.username.c_str());
    curl_easy_setopt(h, CURLOPT_PASSWORD, config.password.c_str());
  }
  curl_slist* headers = curl_slist_append(nullptr, "Accept: application/json");
  if (!auth.empty()) headers = curl_slist_append(headers, auth.c_str());
  if (!request.content_type.empty()) headers = curl_slist_append(headers, type.c_str());
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  if (request.method != "GET") {
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
  }
  return headers;
}

Error HttpTransport::Impl::transfer_error(CURLcode rc, const char* errbuf) const {
  const std::string detail = errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc);
  const std::string where =
      config.context_name.empty() ? config.source : "context " + config.context_name;
  if (rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE) {
    return Error{
        ErrorCode::kTlsVerification,
        fmt::format("TLS verification of {} ({}) failed against {}: {}", config.server, where,
                    config.ca_origin.empty() ? "the system CA store" : config.ca_origin, detail)};
  }
  if (rc == CURLE_SSL_CERTPROBLEM) {
    return Error{
        ErrorCode::kConfig,
        fmt::format("the client certificate or key of {} cannot be used: {}", where, detail)};
  }
  return Error{ErrorCode::kUnreachable,
               fmt::format("cannot reach {} ({}): {}", config.server, where, detail)};
}

Result<HttpResponse> HttpTransport::Impl::perform(const HttpRequest& request,
                                                  const Credentials& credentials) {
  CURL* h = acquire();
  if (h == nullptr) return Error{ErrorCode::kInternal, "curl_easy_init failed"};
  curl_easy_reset(h);
  HttpResponse response;
  std::vector<std::string> warnings;
  Exchange ex{h,         &response.body,   &response.retry_after,
              &warnings, &request.on_data, request.cancel};
  std::array<char, CURL_ERROR_SIZE> errbuf{};
  const std::string url = base_url + request.path;
  const std::string auth =
      credentials.token.empty() ? std::string() : "Authorization: Bearer " + credentials.token;
  const std::string type = "Content-Type: " + request.content_type;
  curl_slist* connect_to_list = nullptr;
  if (!connect_to.empty()) {
    connect_to_list = curl_slist_append(nullptr, connect_to.c_str());
    curl_easy_setopt(h, CURLOPT_CONNECT_TO, connect_to_list);
  }
  curl_slist* headers = prepare(h, request, credentials, ex, errbuf.data(), url, auth, type);

  const CURLcode rc = curl_easy_perform(h);
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &response.status);
  long opened = 0;
  curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &opened);
  connections_opened += static_cast<uint64_t>(opened);
  curl_slist_free_all(headers);
  curl_slist_free_all(connect_to_list);
  release(h);
  show_warnings(warnings);
  if (rc == CURLE_OK || ex.stopped) return response;
  // A stream that went quiet for idle_timeout ended normally from the caller's point of view.
  if (rc == CURLE_OPERATION_TIMEDOUT && request.on_data && response.status == 200) {
    response.went_quiet = true;
    return response;
  }
  return transfer_error(rc, errbuf.data());
}

}  // namespace eso::kube
