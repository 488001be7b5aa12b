#include "cmd/serve_command.h"

#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include <fmt/chrono.h>
#include <fmt/format.h>

#include "cmd/exit_code.h"
#include "core/go_duration.h"
#include "core/http/basic_auth.h"
#include "core/http/escape.h"
#include "core/key_index.h"
#include "core/webhook_service.h"
#include "kube/reflector.h"
#include "server/http_server.h"

namespace eso::cmd {
namespace {

using namespace std::chrono_literals;

std::atomic<bool> g_stop{false};

extern "C" void on_stop_signal(int) { g_stop.store(true); }

// What webhook senders authenticate with. HTTP: Basic or Bearer, or an API-key header; signed
// senders (Doppler, Infisical): a shared signing secret per source.
struct WebhookSecrets {
  http::ExpectedCredentials http;
  std::string api_key;
  std::map<std::string, std::string, std::less<>> signing;  ///< by source
};

// Webhook credentials: BASIC_AUTH_USER / BASIC_AUTH_PASSWORD (the original tool's),
// WEBHOOK_BEARER_TOKEN, WEBHOOK_API_KEY, DOPPLER_WEBHOOK_SECRET, INFISICAL_WEBHOOK_SECRET; files
// in --credentials-dir (a mounted Secret: username, password, token, api-key, doppler-secret,
// infisical-secret) take precedence and are re-read when they change.
class WebhookCredentials {
 public:
  explicit WebhookCredentials(std::string dir) : dir_(std::move(dir)) {
    auto env = [](const char* name) {
      const char* v = std::getenv(name);
      return std::string(v != nullptr ? v : "");
    };
    env_.http.user = env("BASIC_AUTH_USER");
    env_.http.password = env("BASIC_AUTH_PASSWORD");
    env_.http.token = env("WEBHOOK_BEARER_TOKEN");
    env_.api_key = env("WEBHOOK_API_KEY");
    for (const auto& [source, name] : kSigning) {
      if (auto v = env(name); !v.empty()) env_.signing[source] = v;
    }
  }

  WebhookSecrets current() {
    if (dir_.empty()) return env_;
    std::lock_guard lock(mu_);
    const auto now = std::chrono::steady_clock::now();
    if (now - checked_ < std::chrono::seconds(1)) return cached_;
    checked_ = now;
    std::string stamp;
    for (const char* f : kFiles) {
      struct stat st {};
      if (::stat((dir_ + "/" + f).c_str(), &st) == 0) {
        stamp += fmt::format("{}.{}.{};", st.st_mtim.tv_sec, st.st_mtim.tv_nsec, st.st_ino);
      }
    }
    if (stamp == stamp_) return cached_;
    stamp_ = stamp;
    cached_ = env_;
    if (auto v = read("username")) cached_.http.user = *v;
    if (auto v = read("password")) cached_.http.password = *v;
    if (auto v = read("token")) cached_.http.token = *v;
    if (auto v = read("api-key")) cached_.api_key = *v;
    if (auto v = read("doppler-secret")) cached_.signing["doppler"] = *v;
    if (auto v = read("infisical-secret")) cached_.signing["infisical"] = *v;
    return cached_;
  }

  bool any() {
    const auto c = current();
    return c.http.basic() || c.http.bearer() || !c.api_key.empty() ||
           std::any_of(c.signing.begin(), c.signing.end(),
                       [](const auto& s) { return !s.second.empty(); });
  }

 private:
  static constexpr std::array<std::pair<const char*, const char*>, 2> kSigning{
      {{"doppler", "DOPPLER_WEBHOOK_SECRET"}, {"infisical", "INFISICAL_WEBHOOK_SECRET"}}};
  static constexpr std::array<const char*, 6> kFiles{
      "username", "password", "token", "api-key", "doppler-secret", "infisical-secret"};

  std::optional<std::string> read(const char* name) const {
    std::ifstream in(dir_ + "/" + name, std::ios::binary);
    if (!in) return std::nullopt;
    std::ostringstream text;
    text << in.rdbuf();
    std::string value = text.str();
    while (!value.empty() && (value.back() == '\n' || value.back() == '\r')) value.pop_back();
    return value;
  }

  std::string dir_;
  WebhookSecrets env_;
  std::mutex mu_;
  WebhookSecrets cached_;
  std::string stamp_ = "unread";
  std::chrono::steady_clock::time_point checked_{};
};

// The SecretStores and ClusterSecretStores in scope, re-listed every interval on a thread of
// its own; a failed list keeps the previous ones and says why.
class StoreCache {
 public:
  std::shared_ptr<const std::vector<SecretStoreRecord>> get() const {
    std::lock_guard lock(mu_);
    return stores_;
  }
  bool loaded() const { return get() != nullptr; }

  void run(kube::ApiClient& client, const std::vector<ListScope>& scopes,
           std::chrono::milliseconds interval, const std::atomic<bool>& stop) {
    while (!stop.load()) {
      auto listed = std::make_shared<std::vector<SecretStoreRecord>>();
      std::string failure;
      for (const auto& scope : scopes) {
        auto stores = client.list_secret_stores(scope);
        if (!stores) {
          failure = stores.error().message;
          break;
        }
        for (auto& s : *stores) {
          if (std::none_of(listed->begin(), listed->end(),
                           [&](const SecretStoreRecord& r) { return r.ref == s.ref; })) {
            listed->push_back(std::move(s));
          }
        }
      }
      if (failure.empty()) {
        std::lock_guard lock(mu_);
        stores_ = std::move(listed);
      } else {
        fmt::print(stderr, "warning: list secret stores: {}\n", failure);
      }
      const auto next = std::chrono::steady_clock::now() + (failure.empty() ? interval : 2s);
      while (!stop.load() && std::chrono::steady_clock::now() < next) {
        std::this_thread::sleep_for(100ms);
      }
    }
  }

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const std::vector<SecretStoreRecord>> stores_;
};

// Prometheus counters and the request-duration histogram.
class Metrics {
 public:
  void request(const std::string& route, int status, std::chrono::microseconds duration) {
    std::lock_guard lock(mu_);
    ++requests_[{route, status}];
    if (route != "/webhook") return;
    const double seconds = static_cast<double>(duration.count()) / 1e6;
    for (size_t i = 0; i < kBuckets.size(); ++i) {
      if (seconds <= kBuckets[i]) ++histogram_[i];
    }
    ++histogram_count_;
    histogram_sum_ += seconds;
  }
  std::atomic<uint64_t> auth_failures{0};

  void overloaded(std::string_view limit) {
    std::lock_guard lock(mu_);
    ++overloaded_[std::string(limit)];
  }

  void events(const DecodedEvents& decoded) {
    std::lock_guard lock(mu_);
    for (const auto& [type, n] : decoded.types) {
      // Senders choose the types: escaped for the text format, and a bounded set of series.
      std::pair<std::string, std::string> key{decoded.source, type.empty() ? "untyped" : type};
      if (events_.size() >= kMaxTypeSeries && events_.count(key) == 0) key.second = "other";
      events_[key] += n;
    }
  }

  void patch(bool ok, std::chrono::microseconds latency) {
    std::lock_guard lock(mu_);
    const double seconds = static_cast<double>(latency.count()) / 1e6;
    for (size_t i = 0; i < kBuckets.size(); ++i) {
      if (seconds <= kBuckets[i]) ++patch_histogram_[i];
    }
    ++patch_count_;
    patch_sum_ += seconds;
    ++patches_[ok ? "succeeded" : "failed"];
  }

  std::string render(const WebhookCounters& c, const KeyIndex* index,
                     const std::vector<std::unique_ptr<kube::Reflector>>& reflectors) {
    std::lock_guard lock(mu_);
    std::string out = "# TYPE eso_updater_http_requests_total counter\n";
    for (const auto& [key, n] : requests_) {
      out += fmt::format("eso_updater_http_requests_total{{route=\"{}\",code=\"{}\"}} {}\n",
                         key.first, key.second, n);
    }
    out += "# TYPE eso_updater_webhook_duration_seconds histogram\n";
    for (size_t i = 0; i < kBuckets.size(); ++i) {
      out += fmt::format("eso_updater_webhook_duration_seconds_bucket{{le=\"{}\"}} {}\n",
                         kBuckets[i], histogram_[i]);
    }
    out += fmt::format("eso_updater_webhook_duration_seconds_bucket{{le=\"+Inf\"}} {}\n",
                       histogram_count_);
    out += fmt::format("eso_updater_webhook_duration_seconds_sum {}\n", histogram_sum_);
    out += fmt::format("eso_updater_webhook_duration_seconds_count {}\n", histogram_count_);
    out += "# TYPE eso_updater_events_by_type_total counter\n";
    for (const auto& [key, n] : events_) {
      out += fmt::format("eso_updater_events_by_type_total{{source=\"{}\",type=\"{}\"}} {}\n",
                         key.first, label_value(key.second), n);
    }
    out += "# TYPE eso_updater_http_overloaded_total counter\n";
    for (const auto& [limit, n] : overloaded_) {
      out += fmt::format("eso_updater_http_overloaded_total{{limit=\"{}\"}} {}\n", limit, n);
    }
    out += "# TYPE eso_updater_patches_total counter\n";
    for (const auto& [result, n] : patches_) {
      out += fmt::format("eso_updater_patches_total{{result=\"{}\"}} {}\n", result, n);
    }
    out += "# TYPE eso_updater_patch_duration_seconds histogram\n";
    for (size_t i = 0; i < kBuckets.size(); ++i) {
      out += fmt::format("eso_updater_patch_duration_seconds_bucket{{le=\"{}\"}} {}\n", kBuckets[i],
                         patch_histogram_[i]);
    }
    out +=
        fmt::format("eso_updater_patch_duration_seconds_bucket{{le=\"+Inf\"}} {}\n", patch_count_);
    out += fmt::format("eso_updater_patch_duration_seconds_sum {}\n", patch_sum_);
    out += fmt::format("eso_updater_patch_duration_seconds_count {}\n", patch_count_);
    const std::pair<const char*, uint64_t> counters[] = {
        {"eso_updater_events_total", c.events.load()},
        {"eso_updater_events_ignored_total", c.ignored_events.load()},
        {"eso_updater_matches_total", c.matches.load()},
        {"eso_updater_patches_succeeded_total", c.patches_ok.load()},
        {"eso_updater_patches_failed_total", c.patches_failed.load()},
        {"eso_updater_patches_joined_total", c.patches_joined.load()},
        {"eso_updater_event_lists_total", c.lists.load()},
        {"eso_updater_match_problems_total", c.match_problems.load()},
        {"eso_updater_auth_failures_total", auth_failures.load()},
    };
    for (const auto& [name, value] : counters) {
      out += fmt::format("# TYPE {0} counter\n{0} {1}\n", name, value);
    }
    int lists = 0, watches = 0;
    for (const auto& r : reflectors) lists += r->lists(), watches += r->watches();
    out += fmt::format("# TYPE eso_updater_index_objects gauge\neso_updater_index_objects {}\n",
                       index != nullptr ? index->size() : 0);
    out += fmt::format(
        "# TYPE eso_updater_index_lists_total counter\neso_updater_index_lists_total {}\n", lists);
    out += fmt::format(
        "# TYPE eso_updater_watch_restarts_total counter\neso_updater_watch_restarts_total {}\n",
        std::max(watches - 1, 0));
    return out;
  }

 private:
  static constexpr size_t kMaxTypeSeries = 200;

  // Prometheus text format: valid UTF-8, backslash, double quote and newline escaped.
  static std::string label_value(const std::string& v) { return http::prometheus_label_escape(v); }

  static constexpr std::array<double, 10> kBuckets{0.001, 0.0025, 0.005, 0.01, 0.025,
                                                   0.05,  0.1,    0.25,  1,    5};
  std::mutex mu_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;
  std::array<uint64_t, kBuckets.size()> histogram_{};
  uint64_t histogram_count_ = 0;
  double histogram_sum_ = 0;
  std::map<std::pair<std::string, std::string>, uint64_t> events_;
  std::map<std::string, uint64_t> patches_;
  std::map<std::string, uint64_t> overloaded_;  ///< 503s the server gave itself, by limit
  std::array<uint64_t, kBuckets.size()> patch_histogram_{};
  uint64_t patch_count_ = 0;
  double patch_sum_ = 0;
};

// One log line per patch and the event and patch metrics (DESIGN.md §6 "Observability").
class ServeObserver final : public WebhookObserver {
 public:
  ServeObserver(Metrics& metrics, std::string format)
      : metrics_(metrics), format_(std::move(format)) {}

  void decoded(const DecodedEvents& events) override { metrics_.events(events); }

  void problem(const MatchProblem& p) override {
    const ObjectRef& ref = p.object->ref;
    const std::string object =
        ref.kind + "/" + (ref.namespace_name.empty() ? "" : ref.namespace_name + "/") + ref.name;
    const auto now =
        fmt::gmtime(std::chrono::system_clock::to_time_t(std::chrono::system_clock::now()));
    std::lock_guard lock(mu_);
    if (format_ == "json") {
      fmt::print(
          stderr,
          "{{\"time\":\"{:%FT%TZ}\",\"problem\":\"{}\",\"field\":\"{}\",\"error\":\"{}\"}}\n", now,
          http::json_escape(object), http::json_escape(p.field), http::json_escape(p.message));
      return;
    }
    fmt::print(stderr, "{:%FT%TZ} problem {} {}: {}\n", now, object, p.field,
               http::log_escape(p.message));
  }

  void patched(const ObjectRef& target, const std::string& annotation, bool joined,
               std::chrono::microseconds latency, const Error* error) override {
    metrics_.patch(error == nullptr, latency);
    const std::string object = target.namespace_name.empty()
                                   ? target.kind + "/" + target.name
                                   : target.kind + "/" + target.namespace_name + "/" + target.name;
    const std::string result = error == nullptr ? (joined ? "joined" : "patched") : "failed";
    const double ms = static_cast<double>(latency.count()) / 1000.0;
    const auto now =
        fmt::gmtime(std::chrono::system_clock::to_time_t(std::chrono::system_clock::now()));
    std::lock_guard lock(mu_);
    if (format_ == "json") {
      const std::string escaped = http::json_escape(error == nullptr ? "" : error->message);
      fmt::print(stderr,
                 "{{\"time\":\"{:%FT%TZ}\",\"patch\":\"{}\",\"annotation\":\"{}\","
                 "\"result\":\"{}\",\"durationMs\":{:.3f}{}}}\n",
                 now, object, annotation, result, ms,
                 error == nullptr ? std::string() : ",\"error\":\"" + escaped + "\"");
      return;
    }
    fmt::print(stderr, "{:%FT%TZ} patch {} {} {} {:.3f}ms{}\n", now, object, annotation, result, ms,
               error == nullptr ? std::string() : " " + http::log_escape(error->message));
  }

 private:
  Metrics& metrics_;
  std::string format_;
  std::mutex mu_;
};

std::string route_of(const std::string& target) {
  const std::string path = target.substr(0, target.find('?'));
  if (path.rfind("/webhook/", 0) == 0) return "/webhook";
  return path;
}

// The value of `name` in the target's query string, percent-decoded ("" when absent).
std::string query_value(const std::string& target, std::string_view name) {
  const auto q = target.find('?');
  if (q == std::string::npos) return "";
  std::string_view rest = std::string_view(target).substr(q + 1);
  while (!rest.empty()) {
    const auto amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    const auto eq = pair.find('=');
    if (pair.substr(0, eq) == name && eq != std::string_view::npos) {
      return http::percent_decode(pair.substr(eq + 1), true);
    }
    if (amp == std::string_view::npos) break;
    rest.remove_prefix(amp + 1);
  }
  return "";
}

// --route-store / --route-provider values, SOURCE=VALUE, by source.
using RouteScopes = std::map<std::string, std::string, std::less<>>;

// The value a route's configuration gives `source`, or "".
std::string route_value(const RouteScopes& scopes, std::string_view source) {
  const auto found = scopes.find(source);
  return found == scopes.end() ? "" : found->second;
}

class ServeHandler final : public http::Handler {
 public:
  ServeHandler(const ServeOptions& options, WebhookService& service,
               WebhookCredentials& credentials, Metrics& metrics, std::function<bool()> ready,
               std::function<std::string()> render, RouteScopes route_stores,
               RouteScopes route_providers)
      : options_(options),
        route_stores_(std::move(route_stores)),
        route_providers_(std::move(route_providers)),
        service_(service),
        credentials_(credentials),
        metrics_(metrics),
        ready_(std::move(ready)),
        render_(std::move(render)) {}

  std::optional<http::Response> admit(const http::RequestHead& head) override {
    const std::string route = route_of(head.target);
    static const std::map<std::string, std::string> kRoutes{{"/healthz", "GET"},
                                                            {"/readyz", "GET"},
                                                            {"/metrics", "GET"},
                                                            {"/webhook", "POST, OPTIONS"}};
    const auto known = kRoutes.find(route);
    if (known == kRoutes.end()) return json(404, "no such route: " + route);
    if (route == "/webhook" && head.method == "OPTIONS") return handshake(head);
    if (head.method != known->second.substr(0, known->second.find(','))) {
      http::Response r = json(405, "use " + known->second + " on " + route);
      r.headers.emplace_back("Allow", known->second);
      return r;
    }
    const bool needs_auth = route == "/webhook" || (route == "/metrics" && options_.metrics_auth);
    if (needs_auth && !options_.insecure_no_auth) {
      const auto secrets = credentials_.current();
      const bool anonymous = !authenticated(head, secrets);
      if (anonymous && !validation_handshake(head)) {
        ++metrics_.auth_failures;
        http::Response r = json(401, "missing or wrong credentials");
        r.headers.emplace_back("WWW-Authenticate", secrets.http.basic()
                                                       ? "Basic realm=\"eso-updater\""
                                                       : "Bearer realm=\"eso-updater\"");
        return r;
      }
    }
    if (route == "/webhook" && head.header("ce-specversion") == nullptr) {
      const std::string* type = head.header("content-type");
      if (type != nullptr && type->find("json") == std::string::npos &&
          type->find("text/plain") == std::string::npos) {
        return json(415, "send application/json");
      }
    }
    return std::nullopt;
  }

  // A request admitted without credentials (Event Grid's validation handshake) may carry at
  // most 64 KiB, counted on the decoded body whatever its framing.
  size_t body_limit(const http::RequestHead& head) override {
    constexpr size_t kAnonymousBody = 64 * 1024;
    if (options_.insecure_no_auth || !validation_handshake(head)) return SIZE_MAX;
    return authenticated(head, credentials_.current()) ? SIZE_MAX : kAnonymousBody;
  }

  // Probes and /metrics are answered by the server's own thread: whoever may send them (anyone,
  // without --metrics-auth) never takes a worker from webhooks, however fast they pipeline.
  std::optional<http::Response> answer_at_once(const http::RequestHead& head) override {
    const std::string path = head.target.substr(0, head.target.find('?'));
    if (path == "/healthz") return json(200, "", "{\"status\":\"ok\"}");
    if (path == "/readyz") {
      return ready_() ? json(200, "", "{\"status\":\"ready\"}")
                      : json(503,
                             "not ready: the ExternalSecret index or the stores are not "
                             "listed yet");
    }
    if (path == "/metrics") {
      return http::Response{200, "text/plain; version=0.0.4", render_(), {}};
    }
    return std::nullopt;
  }

  http::Response handle(const http::Request& request) override {
    const std::string path = request.head.target.substr(0, request.head.target.find('?'));
    if (auto at_once = answer_at_once(request.head)) return *at_once;
    const std::string source = path.size() > 9 ? path.substr(9) : "";
    EventRequest event;
    event.body = request.body;
    event.header = [&](std::string_view name) { return request.head.header(name); };
    bool signature_only = false;
    if (!options_.insecure_no_auth) {
      // One snapshot decides both: admit() may have let the request in on its route's
      // signature alone, and a secret removed since must not leave it unchecked.
      const auto secrets = credentials_.current();
      signature_only = !authorized(request.head, secrets) && !by_certificate(request.head) &&
                       signed_route(request.head.target, secrets);
      if (!authenticated(request.head, secrets)) {
        // Only Event Grid's validation handshake gets this far without credentials (Event
        // Grid may not send delivery properties with it): answered, never matched.
        auto decoded = decode_events(event, "azure", DecodeOptions{});
        if (validation_handshake(request.head) && decoded && decoded->reply) {
          return http::Response{
              decoded->reply->status, "application/json", decoded->reply->body, {}};
        }
        ++metrics_.auth_failures;
        return json(401, "missing or wrong credentials");
      }
      event.signing_secrets = secrets.signing;
    }
    auto scope = route_scope(request.head.target, source, signature_only);
    if (!scope) return json(422, scope.error().message);
    const WebhookResponse r = service_.handle(event, source, scope->first, scope->second);
    if (r.status == 401) ++metrics_.auth_failures;
    return http::Response{r.status, "application/json", r.body, r.headers};
  }

  // The server answered 503 itself: a log line naming the limit, and a counter by limit.
  void overloaded(std::string_view limit) override {
    metrics_.overloaded(limit);
    const auto now =
        fmt::gmtime(std::chrono::system_clock::to_time_t(std::chrono::system_clock::now()));
    if (options_.log_format == "json") {
      fmt::print(stderr, "{{\"time\":\"{:%FT%TZ}\",\"overloaded\":\"{}\",\"status\":503}}\n", now,
                 limit);
      return;
    }
    fmt::print(stderr, "{:%FT%TZ} overloaded: {} limit reached, answered 503 with Retry-After\n",
               now, limit);
  }

  void answered(const http::RequestHead& head, int status,
                std::chrono::microseconds duration) override {
    // Only known routes become labels and log fields: a path is the client's to choose.
    static const std::set<std::string> kKnown{"/healthz", "/readyz", "/metrics", "/webhook"};
    std::string route = head.method.empty() ? "-" : route_of(head.target);
    if (route != "-" && kKnown.count(route) == 0) route = "other";
    metrics_.request(route, status, duration);
    const double ms = static_cast<double>(duration.count()) / 1000.0;
    const auto now = std::chrono::system_clock::now();
    if (options_.log_format == "json") {
      fmt::print(stderr,
                 "{{\"time\":\"{:%FT%TZ}\",\"method\":\"{}\",\"route\":\"{}\",\"status\":{},"
                 "\"durationMs\":{:.3f}}}\n",
                 fmt::gmtime(std::chrono::system_clock::to_time_t(now)), head.method, route, status,
                 ms);
      return;
    }
    fmt::print(stderr, "{:%FT%TZ} {} {} {} {:.3f}ms\n",
               fmt::gmtime(std::chrono::system_clock::to_time_t(now)),
               head.method.empty() ? "-" : head.method, route, status, ms);
  }

 private:
  // The CloudEvents abuse-protection handshake (also Azure Event Grid's CloudEvents schema):
  // OPTIONS with WebHook-Request-Origin is answered with WebHook-Allowed-Origin. It reveals and
  // changes nothing, so it needs no credentials (senders send none).
  static http::Response handshake(const http::RequestHead& head) {
    http::Response r{200, "application/json", "{}", {{"Allow", "POST, OPTIONS"}}};
    if (const std::string* origin = head.header("webhook-request-origin")) {
      r.headers.emplace_back("WebHook-Allowed-Origin", *origin);
      r.headers.emplace_back("WebHook-Allowed-Rate", "*");
    }
    return r;
  }

  // Azure Event Grid's SubscriptionValidation: it proves the endpoint exists and patches
  // nothing, so it may come without credentials; handle() answers nothing else for it.
  static bool validation_handshake(const http::RequestHead& head) {
    const std::string path = head.target.substr(0, head.target.find('?'));
    const std::string* type = head.header("aeg-event-type");
    return type != nullptr && *type == "SubscriptionValidation" &&
           (path == "/webhook" || path == "/webhook/azure");
  }

  // A route whose source signs its bodies, with a signing secret configured: the signature,
  // checked on the body, replaces the HTTP credentials.
  static bool signed_route(const std::string& target, const WebhookSecrets& secrets) {
    const std::string path = target.substr(0, target.find('?'));
    if (path.rfind("/webhook/", 0) != 0) return false;
    const auto secret = secrets.signing.find(std::string_view(path).substr(9));
    return secret != secrets.signing.end() && !secret->second.empty();
  }

  bool by_certificate(const http::RequestHead& head) const {
    return !options_.tls_client_ca.empty() && !head.peer_certificate.empty();
  }

  // A verified client certificate, a route whose sender signs (checked on the body), or the
  // HTTP credentials.
  bool authenticated(const http::RequestHead& head, const WebhookSecrets& secrets) const {
    return by_certificate(head) || signed_route(head.target, secrets) || authorized(head, secrets);
  }

  // The store and provider a request is scoped to. DESIGN.md §6: a body signature covers the
  // body, not the query string, so a request with no other credential gets the route's
  // configured scope and the query can only repeat it; a captured Doppler body (which signs no
  // timestamp) cannot be replayed against another store.
  Result<std::pair<std::string, std::string>> route_scope(const std::string& target,
                                                          std::string_view source,
                                                          bool signature_only) const {
    std::pair<std::string, std::string> configured{route_value(route_stores_, source),
                                                   route_value(route_providers_, source)};
    const std::pair<std::string, std::string> query{query_value(target, "store"),
                                                    query_value(target, "provider")};
    if (!signature_only) {
      return std::pair{query.first.empty() ? configured.first : query.first,
                       query.second.empty() ? configured.second : query.second};
    }
    if ((!query.first.empty() && query.first != configured.first) ||
        (!query.second.empty() && query.second != configured.second)) {
      return Error{
          ErrorCode::kInvalidArgument,
          fmt::format("a request authenticated by its signature alone takes its scope from "
                      "serve's configuration: drop ?store= and ?provider= and set "
                      "--route-store {0}=STORE or --route-provider {0}=PROVIDER",
                      source)};
    }
    return configured;
  }

  bool authorized(const http::RequestHead& head, const WebhookSecrets& secrets) const {
    if (const std::string* authorization = head.header("authorization")) {
      if (http::authorized(*authorization, secrets.http)) return true;
    }
    if (secrets.api_key.empty()) return false;
    if (!options_.api_key_query.empty()) {
      const std::string key = query_value(head.target, options_.api_key_query);
      if (!key.empty() && http::constant_time_equal(key, secrets.api_key)) return true;
    }
    if (options_.api_key_header.empty()) return false;
    std::string name = options_.api_key_header;
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    const std::string* key = head.header(name);
    return key != nullptr && http::constant_time_equal(*key, secrets.api_key);
  }

  static http::Response json(int status, const std::string& error, std::string body = "") {
    if (body.empty()) body = "{\"error\":\"" + http::json_escape(error) + "\"}";
    return http::Response{status, "application/json", std::move(body), {}};
  }

  const ServeOptions& options_;
  const RouteScopes route_stores_;
  const RouteScopes route_providers_;
  WebhookService& service_;
  WebhookCredentials& credentials_;
  Metrics& metrics_;
  std::function<bool()> ready_;
  std::function<std::string()> render_;
};

// DESIGN.md §6: a user without a password (or the reverse) is a configuration error, never
// a Basic check that accepts "user:". Names what is missing and where it would come from.
std::optional<std::string> half_credentials(const http::ExpectedCredentials& c,
                                            const std::string& dir) {
  if (c.user.empty() == c.password.empty()) return std::nullopt;
  const bool user = !c.user.empty();
  const std::string file =
      dir.empty() ? "" : fmt::format(" or {}/{}", dir, user ? "password" : "username");
  return fmt::format("{} is set but {} is missing: set {}{} too, or unset both",
                     user ? "the Basic-auth user" : "the Basic-auth password",
                     user ? "its password" : "its user",
                     user ? "BASIC_AUTH_PASSWORD" : "BASIC_AUTH_USER", file);
}

Result<RouteScopes> route_scopes(const std::string& flag, const std::vector<std::string>& given) {
  RouteScopes out;
  for (const auto& item : given) {
    const auto eq = item.find('=');
    const std::string source = item.substr(0, eq);
    const bool known = std::any_of(event_sources().begin(), event_sources().end(),
                                   [&](const EventSource& e) { return e.name == source; });
    if (eq == std::string::npos || eq + 1 == item.size() || !known) {
      return Error{ErrorCode::kInvalidArgument,
                   fmt::format("{} \"{}\": give SOURCE=VALUE with SOURCE one of the event "
                               "sources (see --event-source)",
                               flag, item)};
    }
    out[source] = item.substr(eq + 1);
  }
  return out;
}

Result<std::chrono::milliseconds> duration_option(const std::string& name,
                                                  const std::string& text) {
  auto d = parse_go_duration(text);
  if (!d) return Error{ErrorCode::kInvalidArgument, name + ": " + d.error().message};
  return std::chrono::duration_cast<std::chrono::milliseconds>(*d);
}

}  // namespace

CLI::App* add_serve_command(CLI::App& app, ServeOptions& options) {
  auto* cmd = app.add_subcommand("serve", "Receive secret-change webhooks and trigger ESO at once");
  cmd->add_option("--listen", options.listen,
                  "HOST:PORT to listen on, repeatable ([::]:8080 for IPv6)")
      ->capture_default_str();
  cmd->add_option("--port-file", options.port_file, "Write the bound port to this file");
  cmd->add_option(
      "--credentials-dir", options.credentials_dir,
      "Directory with username/password/token files (a mounted Secret), re-read on change");
  cmd->add_flag("--insecure-no-auth", options.insecure_no_auth,
                "Accept webhooks without credentials");
  cmd->add_flag("--metrics-auth", options.metrics_auth, "Require credentials on /metrics too");
  cmd->add_flag("--no-index", options.no_index,
                "LIST ExternalSecrets per event instead of watching");
  cmd->add_flag("--stores", options.stores,
                "Read SecretStores and ClusterSecretStores, so each entry is matched under its "
                "store's provider and ?provider= scopes a route");
  cmd->add_option("--provider", options.provider,
                  "Only entries whose store has this provider (implies --stores)");
  cmd->add_option("--stores-refresh", options.stores_refresh, "How often --stores re-lists them")
      ->capture_default_str();
  cmd->add_option("--watch-timeout", options.watch_timeout,
                  "A watch silent this long (no event, no bookmark) is presumed dead: not ready "
                  "until listed again")
      ->capture_default_str();
  cmd->add_option("--workers", options.workers, "Worker threads")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  cmd->add_option("--max-connections", options.max_connections,
                  "Open connections at most; a stalled or idle one makes room, else 503")
      ->check(CLI::Range(2, 1 << 20))
      ->capture_default_str();
  cmd->add_option("--queue", options.queue, "Complete requests waiting for a worker before 503")
      ->check(CLI::Range(1, 65536))
      ->capture_default_str();
  cmd->add_option("--max-body", options.max_body, "Largest request body in bytes")
      ->capture_default_str();
  cmd->add_option("--phase-timeout", options.phase_timeout,
                  "Deadline for each of TLS handshake, head, body, write")
      ->capture_default_str();
  cmd->add_option("--drain-timeout", options.drain_timeout, "How long SIGTERM lets requests finish")
      ->capture_default_str();
  cmd->add_option("--annotation", options.annotation, "Annotation key to set on ExternalSecrets")
      ->capture_default_str();
  cmd->add_flag("--force", options.force, "Also patch objects ESO will not refresh");
  cmd->add_flag("--include-possible", options.include_possible, "Also patch find.tags matches");
  cmd->add_flag("--patch-children", options.patch_children,
                "ESO < v0.20: reach CES children via spec.externalSecretMetadata");
  cmd->add_option("--concurrency", options.concurrency, "Patches in flight at once")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  cmd->add_option("--event-type", options.event_types,
                  "Event types to act on, replacing every source's defaults (Akeyless: "
                  "static-secret-updated, rotated-secret-success)");
  cmd->add_option("--key-path", options.key_paths,
                  "Where the key is in JSON bodies of no known format, as a dotted path "
                  "(detail.name, items[].path); repeatable");
  cmd->add_option("--cloudevents-key-path", options.cloudevents_key_path,
                  "Read a CloudEvent's key from this path in its data instead of its subject");
  cmd->add_option("--api-key-header", options.api_key_header,
                  "Also accept WEBHOOK_API_KEY (or the api-key file) in this header, e.g. "
                  "X-Api-Key for an EventBridge connection");
  cmd->add_option("--tls-cert", options.tls_cert,
                  "Serve HTTPS with this PEM certificate chain (re-read when it changes)");
  cmd->add_option("--tls-key", options.tls_key, "The PEM key of --tls-cert");
  cmd->add_option("--tls-client-ca", options.tls_client_ca,
                  "Ask for client certificates; one that verifies against these PEM CAs "
                  "authenticates webhooks");
  cmd->add_option("--api-key-query", options.api_key_query,
                  "Also accept WEBHOOK_API_KEY in this query parameter, for senders that cannot "
                  "set headers (Pub/Sub push); it is never logged");
  cmd->add_option("--signature-tolerance", options.signature_tolerance,
                  "How old a signed webhook's timestamp may be (Infisical)")
      ->capture_default_str();
  cmd->add_option("--route-store", options.route_stores,
                  "SOURCE=STORE: /webhook/SOURCE matches only entries reading STORE; the only "
                  "scope a request signed without HTTP credentials (Doppler, Infisical) gets");
  cmd->add_option("--route-provider", options.route_providers,
                  "SOURCE=PROVIDER: /webhook/SOURCE matches only entries whose store has "
                  "PROVIDER (needs --stores)");
  cmd->add_option("--log-format", options.log_format, "text or json")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  return cmd;
}

namespace {

// What serve listens on, watches and accepts, stated once at start-up (never a credential).
void print_start_up(const ServeOptions& options, const std::vector<int>& ports, bool tls,
                    const WebhookSecrets& secrets, const std::string& scope) {
  std::vector<std::string> addresses;
  for (size_t i = 0; i < options.listen.size() && i < ports.size(); ++i) {
    const auto& listen = options.listen[i];
    addresses.push_back(fmt::format("{}:{}", listen.substr(0, listen.rfind(':')), ports[i]));
  }
  fmt::print(stderr, "eso-updater serve: listening on {}{}\n", fmt::join(addresses, ", "),
             tls ? " (HTTPS)" : "");
  fmt::print(stderr, "eso-updater serve: scope: {}{}\n", scope,
             options.no_index ? "; no index: one LIST per event" : "; index: LIST then WATCH");
  std::vector<std::string> auth;
  if (secrets.http.basic()) auth.emplace_back("basic");
  if (secrets.http.bearer()) auth.emplace_back("bearer token");
  if (!secrets.api_key.empty()) {
    auth.push_back(fmt::format(
        "api key{}{}",
        options.api_key_header.empty() ? "" : " (header " + options.api_key_header + ")",
        options.api_key_query.empty() ? "" : " (query parameter " + options.api_key_query + ")"));
  }
  for (const auto& [source, secret] : secrets.signing) {
    if (!secret.empty()) auth.push_back(source + " signatures");
  }
  if (!options.tls_client_ca.empty()) auth.emplace_back("client certificates");
  if (options.insecure_no_auth) auth.emplace_back("none (--insecure-no-auth)");
  fmt::print(stderr, "eso-updater serve: webhook auth: {}{}\n", fmt::join(auth, ", "),
             options.metrics_auth ? "; /metrics too" : "");
}

}  // namespace

int run_serve(const GlobalOptions& global, const ServeOptions& options) {
  // Connections, watches and patches all need descriptors: take what the hard limit allows.
  rlimit files{};
  if (::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &files);
  }
  const auto phase = duration_option("--phase-timeout", options.phase_timeout);
  const auto drain = duration_option("--drain-timeout", options.drain_timeout);
  const auto tolerance = duration_option("--signature-tolerance", options.signature_tolerance);
  const auto stores_refresh = duration_option("--stores-refresh", options.stores_refresh);
  const auto watch_timeout = duration_option("--watch-timeout", options.watch_timeout);
  for (const auto* d : {&phase, &drain, &tolerance, &stores_refresh, &watch_timeout}) {
    if (!*d) {
      print_error(d->error());
      return kExitUsage;
    }
  }
  if (options.tls_cert.empty() != options.tls_key.empty() ||
      (!options.tls_client_ca.empty() && options.tls_cert.empty())) {
    print_error(Error{ErrorCode::kInvalidArgument,
                      "--tls-cert and --tls-key go together, and --tls-client-ca needs them"});
    return kExitUsage;
  }
  std::shared_ptr<http::TlsContext> tls;
  if (!options.tls_cert.empty()) {
    auto loaded =
        http::TlsContext::create({options.tls_cert, options.tls_key, options.tls_client_ca});
    if (!loaded) {
      print_error(loaded.error());
      return kExitUsage;
    }
    tls = *loaded;
  }
  const auto route_stores = route_scopes("--route-store", options.route_stores);
  const auto route_providers = route_scopes("--route-provider", options.route_providers);
  for (const auto* r : {&route_stores, &route_providers}) {
    if (!*r) {
      print_error(r->error());
      return kExitUsage;
    }
  }
  WebhookCredentials credentials(options.credentials_dir);
  if (const auto half = half_credentials(credentials.current().http, options.credentials_dir)) {
    print_error(Error{ErrorCode::kConfig, *half});
    return kExitUsage;
  }
  if (!credentials.current().api_key.empty() && options.api_key_header.empty() &&
      options.api_key_query.empty()) {
    print_error(Error{ErrorCode::kInvalidArgument,
                      "an API key is set (WEBHOOK_API_KEY or api-key) but neither "
                      "--api-key-header nor --api-key-query says where senders put it"});
    return kExitUsage;
  }
  if (!credentials.any() && options.tls_client_ca.empty() && !options.insecure_no_auth) {
    print_error(
        Error{ErrorCode::kConfig,
              "no webhook credentials: set BASIC_AUTH_USER and BASIC_AUTH_PASSWORD (or "
              "WEBHOOK_BEARER_TOKEN, WEBHOOK_API_KEY, DOPPLER_WEBHOOK_SECRET, "
              "INFISICAL_WEBHOOK_SECRET), or --credentials-dir; --insecure-no-auth to run open"});
    return kExitUsage;
  }
  auto client = connect_or_report(global);
  if (!client) return kExitUsage;
  client->set_retry_budget(std::chrono::seconds(5));

  WebhookSettings settings;
  settings.annotation = options.annotation;
  settings.force = options.force;
  settings.include_possible = options.include_possible;
  settings.patch_children = options.patch_children;
  settings.concurrency = options.concurrency;
  settings.provider = options.provider;
  settings.decode.event_types = options.event_types;
  settings.decode.key_paths = options.key_paths;
  settings.decode.cloudevents_key_path = options.cloudevents_key_path;
  settings.decode.signature_tolerance =
      std::chrono::duration_cast<std::chrono::seconds>(*tolerance);
  settings.scopes = list_scopes(global, *client);
  settings.cluster_external_secrets = global.all_namespaces;

  KeyIndex index;
  std::vector<std::unique_ptr<kube::Reflector>> reflectors;
  std::vector<std::thread> threads;
  std::atomic<bool> stop_reflectors{false};
  const auto watch_seconds = std::max(
      std::chrono::seconds(1), std::chrono::duration_cast<std::chrono::seconds>(*watch_timeout));
  const auto index_began = std::chrono::steady_clock::now();
  if (!options.no_index) {
    for (const auto& scope : settings.scopes) {
      kube::ReflectorOptions ro;
      ro.scope = scope;
      ro.idle_timeout = watch_seconds;
      reflectors.push_back(std::make_unique<kube::Reflector>(*client, ro, index));
    }
    if (global.all_namespaces) {
      kube::ReflectorOptions ro;
      ro.idle_timeout = watch_seconds;
      ro.kind = "ClusterExternalSecret";
      ro.scope = settings.scopes.front();
      reflectors.push_back(std::make_unique<kube::Reflector>(*client, ro, index));
    }
    for (auto& r : reflectors)
      threads.emplace_back([&r, &stop_reflectors] { r->run(stop_reflectors); });
  }
  // Stores change rarely: a LIST every --stores-refresh, never one per event.
  StoreCache store_cache;
  const bool read_stores =
      options.stores || !options.provider.empty() || !options.route_providers.empty();
  if (read_stores) {
    threads.emplace_back([&, interval = *stores_refresh] {
      store_cache.run(*client, settings.scopes, interval, stop_reflectors);
    });
  }
  auto ready = [&] {
    return (!read_stores || store_cache.loaded()) &&
           std::all_of(reflectors.begin(), reflectors.end(),
                       [](const auto& r) { return r->synced(); });
  };
  WebhookCounters counters;
  Metrics metrics;
  ServeObserver observer(metrics, options.log_format);
  StoreSnapshot snapshot;
  if (read_stores) snapshot = [&] { return store_cache.get(); };
  WebhookService service(*client, options.no_index ? nullptr : &index, ready, settings, counters,
                         &observer, snapshot);
  ServeHandler handler(
      options, service, credentials, metrics, ready,
      [&] { return metrics.render(counters, options.no_index ? nullptr : &index, reflectors); },
      *route_stores, *route_providers);

  http::ServerOptions server_options;
  server_options.listen = options.listen;
  server_options.workers = options.workers;
  server_options.queue = options.queue;
  server_options.max_connections = options.max_connections;
  server_options.tls = tls;
  server_options.limits.max_body_bytes = options.max_body;
  server_options.phase_timeout = *phase;
  http::HttpServer server(server_options, handler);
  auto ports = server.bind();
  if (!ports) {
    print_error(ports.error());
    stop_reflectors = true;
    for (auto& t : threads) t.join();
    return kExitUsage;
  }
  if (!options.port_file.empty()) std::ofstream(options.port_file) << ports->front() << "\n";
  print_start_up(
      options, *ports, tls != nullptr, credentials.current(),
      scope_description(global, *client) + (global.all_namespaces ? "" : " (-A: every namespace)"));
  // Joined (and told to stop) when it goes out of scope, however run_serve ends.
  std::jthread synced_log;
  if (!options.no_index) {
    synced_log = std::jthread([&](const std::stop_token& stop) {
      while (!ready() && !stop.stop_requested()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      if (stop.stop_requested()) return;
      fmt::print(stderr, "eso-updater serve: index synced: {} object(s) in {} ms\n", index.size(),
                 std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::steady_clock::now() - index_began)
                     .count());
    });
  }

  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  ::sigaction(SIGTERM, &action, nullptr);
  ::sigaction(SIGINT, &action, nullptr);
  server.serve(g_stop, *drain);
  synced_log = {};  // stops and joins it
  stop_reflectors = true;
  for (auto& t : threads) t.join();
  fmt::print(stderr, "eso-updater serve: stopped\n");
  return kExitOk;
}

}  // namespace eso::cmd
