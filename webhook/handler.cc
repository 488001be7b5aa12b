#include "webhook/handler.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <set>

#include <fmt/chrono.h>
#include <fmt/format.h>

#include "core/http/escape.h"
#include "webhook/responses.h"
#include "webhook/verify/delivery_id.h"

namespace eso::webhook {
namespace {

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

// The value a route's configuration gives `source`, or "".
std::string route_value(const RouteScopes& scopes, std::string_view source) {
  const auto found = scopes.find(source);
  return found == scopes.end() ? "" : found->second;
}

http::Response json(int status, const std::string& error, std::string body = "") {
  if (body.empty()) return error_response(status, error);
  return http::Response{status, "application/json", std::move(body), {}};
}

// The CloudEvents abuse-protection handshake (also Azure Event Grid's CloudEvents schema):
// OPTIONS with WebHook-Request-Origin is answered with WebHook-Allowed-Origin. It reveals and
// changes nothing, so it needs no credentials (senders send none).
http::Response handshake(const http::RequestHead& head) {
  http::Response r{200, "application/json", "{}", {{"Allow", "POST, OPTIONS"}}};
  if (const std::string* origin = head.header("webhook-request-origin")) {
    r.headers.emplace_back("WebHook-Allowed-Origin", *origin);
    r.headers.emplace_back("WebHook-Allowed-Rate", "*");
  }
  return r;
}

// Azure Event Grid's SubscriptionValidation: it proves the endpoint exists and patches
// nothing, so it may come without credentials; handle() answers nothing else for it.
bool validation_handshake(const http::RequestHead& head) {
  const std::string path = head.target.substr(0, head.target.find('?'));
  const std::string* type = head.header("aeg-event-type");
  return type != nullptr && *type == "SubscriptionValidation" &&
         (path == "/webhook" || path == "/webhook/azure");
}

// A route whose source signs its bodies, with a signing secret configured: the signature,
// checked on the body, replaces the HTTP credentials.
bool signed_route(const std::string& target, const Secrets& secrets) {
  const std::string path = target.substr(0, target.find('?'));
  if (path.rfind("/webhook/", 0) != 0) return false;
  const auto secret = secrets.signing.find(std::string_view(path).substr(9));
  return secret != secrets.signing.end() && !secret->second.empty();
}

// The routes whose sender's own proof replaces the HTTP credentials (issue 16): a Google
// token on /webhook/gcp when an audience is configured, an SNS signature on /webhook/sns.
enum class SenderRoute { kNone, kPubSub, kSns };

SenderRoute sender_route(const std::string& target, const CloudSenders& senders) {
  const std::string path = target.substr(0, target.find('?'));
  if (path == "/webhook/gcp" && senders.pubsub != nullptr) return SenderRoute::kPubSub;
  if (path == "/webhook/sns") return SenderRoute::kSns;
  return SenderRoute::kNone;
}

bool bearer(const std::string* authorization) {
  constexpr std::string_view kBearer = "bearer ";
  return authorization != nullptr && authorization->size() > kBearer.size() &&
         std::equal(kBearer.begin(), kBearer.end(), authorization->begin(),
                    [](char a, unsigned char b) { return a == std::tolower(b); });
}

// The delivery ids a decoded body's source carries, by decoder name.
std::optional<DeliverySource> delivery_source(std::string_view source) {
  static constexpr std::array<std::pair<std::string_view, DeliverySource>, 5> kSources{{
      {"akeyless", DeliverySource::kAkeyless},
      {"azure", DeliverySource::kEventGrid},
      {"cloudevents", DeliverySource::kCloudEvents},
      {"gcp", DeliverySource::kPubSub},
      {"sns", DeliverySource::kSns},
  }};
  for (const auto& [name, delivery] : kSources) {
    if (name == source) return delivery;
  }
  return std::nullopt;
}

// What a redelivery repeats: the delivery's id and what its events name. An id a sender reuses
// for other events is a new delivery, not a redelivery.
std::string delivery_key(const std::string& id, const DecodedEvents& decoded) {
  std::string named = decoded.source;
  for (const auto& k : decoded.keys) named += "\nkey " + k;
  for (const auto& p : decoded.paths) named += "\npath " + p;
  for (const auto& [type, n] : decoded.types) named += fmt::format("\ntype {} {}", type, n);
  for (const auto& c : decoded.configs) named += "\nconfig " + c.provider + " " + c.config;
  return id + "#" + hmac_sha256_hex("eso-updater delivery", named);
}

// One request's place in the memory of deliveries: begun once its events are decoded (after
// authentication), finished with its answer; a delivery whose answer was not 200 is forgotten,
// so the sender's retry is processed again.
class Redelivery {
 public:
  Redelivery(DeliveryMemory* memory, Metrics& metrics, const http::Request& request)
      : memory_(memory), metrics_(metrics), request_(request) {}
  ~Redelivery() { finish(false); }
  Redelivery(const Redelivery&) = delete;
  Redelivery& operator=(const Redelivery&) = delete;

  DecodedHook hook() {
    if (memory_ == nullptr) return {};
    return [this](DecodedEvents& decoded) { check(decoded); };
  }
  bool in_flight() const { return start_ == DeliveryStart::kInFlight; }
  void finish(bool ok) {
    if (begun_) memory_->finish(key_, ok);
    begun_ = false;
  }

 private:
  void check(DecodedEvents& decoded) {
    const auto source = delivery_source(decoded.source);
    if (!source) return;
    const auto id = delivery_id(*source, request_.body, request_.head.headers);
    if (!id) return;
    key_ = delivery_key(*id, decoded);
    start_ = memory_->begin(key_);
    if (start_ == DeliveryStart::kNew) {
      begun_ = true;
      return;
    }
    metrics_.redelivery(in_flight() ? "in_flight" : "duplicate");
    decoded.reply = in_flight() ? EventReply{503, ""} : duplicate_reply(decoded);
  }

  DeliveryMemory* memory_;
  Metrics& metrics_;
  const http::Request& request_;
  std::string key_;
  DeliveryStart start_ = DeliveryStart::kNew;
  bool begun_ = false;
};

// A SubscribeURL carries the subscription's confirmation token: kept out of log lines.
std::string without_token(std::string text) {
  for (size_t at = text.find("Token="); at != std::string::npos; at = text.find("Token=", at)) {
    at += 6;
    const size_t end = text.find_first_of("& \"'", at);
    text.replace(at, (end == std::string::npos ? text.size() : end) - at, "...");
  }
  return text;
}

const std::map<std::string, std::string>& routes() {
  static const std::map<std::string, std::string> kRoutes{
      {"/healthz", "GET"},           {"/readyz", "GET"},      {"/metrics", "GET"},
      {"/webhook", "POST, OPTIONS"}, {"/v1/trigger", "POST"}, {"/v1/match", "POST"}};
  return kRoutes;
}

}  // namespace

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

WebhookHandler::WebhookHandler(const HandlerOptions& options, RouteScopes route_stores,
                               RouteScopes route_providers, EventService& service,
                               Credentials& credentials, Metrics& metrics, HandlerHooks hooks)
    : options_(options),
      route_stores_(std::move(route_stores)),
      route_providers_(std::move(route_providers)),
      service_(service),
      credentials_(credentials),
      metrics_(metrics),
      hooks_(std::move(hooks)) {}

std::optional<http::Response> WebhookHandler::admit(const http::RequestHead& head) {
  const std::string route = route_of(head.target);
  const auto known = routes().find(route);
  if (known == routes().end()) return json(404, "no such route: " + route);
  if (route == "/webhook" && head.method == "OPTIONS") return handshake(head);
  if (head.method != known->second.substr(0, known->second.find(','))) {
    http::Response r = json(405, "use " + known->second + " on " + route);
    r.headers.emplace_back("Allow", known->second);
    return r;
  }
  if (route == "/v1/trigger" || route == "/v1/match") {
    if (auto refused = authenticate_trigger(head)) return refused;
  } else if (sender_route(head.target, hooks_.senders) != SenderRoute::kNone) {
    if (auto refused = admit_sender(head)) return refused;
  } else if (auto refused = authenticate(head, route)) {
    return refused;
  }
  if ((route == "/webhook" || route == "/v1/trigger" || route == "/v1/match") &&
      head.header("ce-specversion") == nullptr) {
    const std::string* type = head.header("content-type");
    if (type != nullptr && type->find("json") == std::string::npos &&
        type->find("text/plain") == std::string::npos) {
      return json(415, "send application/json");
    }
  }
  return std::nullopt;
}

// The 401 for a request to `route` without the credentials it needs, or nullopt.
std::optional<http::Response> WebhookHandler::authenticate(const http::RequestHead& head,
                                                           const std::string& route) {
  const bool needs_auth = route == "/webhook" || (route == "/metrics" && options_.metrics_auth);
  if (!needs_auth || options_.insecure_no_auth) return std::nullopt;
  const auto secrets = credentials_.current();
  if (authenticated(head, secrets) || validation_handshake(head)) return std::nullopt;
  metrics_.auth_failure();
  http::Response r = json(401, "missing or wrong credentials");
  r.headers.emplace_back("WWW-Authenticate", secrets.http.basic() ? "Basic realm=\"eso-updater\""
                                                                  : "Bearer realm=\"eso-updater\"");
  return r;
}

// The cloud senders' routes: SNS needs its route on; a Pub/Sub push without a Bearer token is
// refused before its body is read. The token itself is checked by a worker, since checking it
// may fetch Google's keys.
std::optional<http::Response> WebhookHandler::admit_sender(const http::RequestHead& head) {
  if (sender_route(head.target, hooks_.senders) == SenderRoute::kSns) {
    if (hooks_.senders.sns != nullptr) return std::nullopt;
    return json(404, "the SNS route is off: give serve --sns-topic-arn with the topics to accept");
  }
  if (bearer(head.header("authorization"))) return std::nullopt;
  return verify_pubsub(head);
}

// Google's OIDC token on a Pub/Sub push: the verdict, a log line with the reason (never the
// token) and a metric by reason when refused.
std::optional<http::Response> WebhookHandler::verify_pubsub(const http::RequestHead& head) {
  const std::string* authorization = head.header("authorization");
  const TokenVerdict verdict =
      hooks_.senders.pubsub->verify(authorization == nullptr ? "" : *authorization);
  if (verdict.ok()) return std::nullopt;
  const std::string reason = verdict.outcome == TokenVerdict::Outcome::kKeysUnavailable
                                 ? "keys_unavailable"
                                 : std::string(to_string(verdict.reason));
  metrics_.auth_failure("pubsub_" + reason);
  log_sender("/webhook/gcp", "Pub/Sub push token refused: " + reason, verdict.detail);
  return token_refusal(verdict);
}

// An SNS message: verified first; a confirmation confirmed (allowed topics only), an
// unsubscription logged, a notification's events run like any other, scoped by configuration.
http::Response WebhookHandler::handle_sns(const http::Request& request, EventRequest& event) {
  SnsVerifier& sns = *hooks_.senders.sns;
  const SnsVerdict verdict = sns.verify(request.body);
  if (!verdict.ok()) {
    const std::string reason = verdict.outcome == SnsVerdict::Outcome::kCertUnavailable
                                   ? "certificate_unavailable"
                                   : std::string(to_string(verdict.reason));
    metrics_.auth_failure("sns_" + reason);
    log_sender("/webhook/sns", "SNS message refused: " + reason, without_token(verdict.detail));
    return sns_refusal(verdict);
  }
  const SnsMessage& message = verdict.message;
  if (message.type == SnsMessageType::kSubscriptionConfirmation) {
    const SubscriptionOutcome outcome = sns.confirm_subscription(message);
    const bool confirmed = outcome.status == SubscriptionOutcome::Status::kConfirmed;
    log_sender("/webhook/sns",
               confirmed ? "SNS subscription confirmed" : "SNS subscription not confirmed",
               "topic " + message.topic_arn + ": " + without_token(outcome.detail));
    return subscription_response(outcome, message);
  }
  if (message.type == SnsMessageType::kUnsubscribeConfirmation) {
    log_sender("/webhook/sns", "SNS subscription ended (UnsubscribeConfirmation)",
               "topic " + message.topic_arn);
    return json(200, "", R"({"unsubscribed":true})");
  }
  event.signing_secrets.clear();
  return run_events(request, event, "sns", true);
}

void WebhookHandler::log_sender(std::string_view route, std::string_view verdict,
                                std::string_view detail) {
  const auto now =
      fmt::gmtime(std::chrono::system_clock::to_time_t(std::chrono::system_clock::now()));
  if (options_.log_format == "json") {
    fmt::print(stderr,
               "{{\"time\":\"{:%FT%TZ}\",\"route\":\"{}\",\"sender\":\"{}\",\"detail\":\"{}\"}}\n",
               now, route, http::json_escape(verdict), http::json_escape(detail));
    return;
  }
  fmt::print(stderr, "{:%FT%TZ} {} {}: {}\n", now, route, verdict, http::log_escape(detail));
}

// The trigger API takes its own token (DESIGN.md §11), never a webhook sender's credentials:
// a sender can patch what its events name, not probe the inventory or choose keys.
std::optional<http::Response> WebhookHandler::authenticate_trigger(const http::RequestHead& head) {
  const auto secrets = credentials_.current();
  if (hooks_.trigger != nullptr && credentials_.trigger_token_refused()) {
    return json(404,
                "the trigger API is off: its token equals a webhook credential (a rotated file in "
                "--credentials-dir); give it a token of its own");
  }
  if (hooks_.trigger == nullptr || secrets.trigger_token.empty()) {
    return json(404,
                "the trigger API is off: give serve a trigger token (TRIGGER_TOKEN, or the file "
                "trigger-token in --credentials-dir)");
  }
  const std::string* authorization = head.header("authorization");
  constexpr std::string_view kBearer = "Bearer ";
  if (authorization != nullptr && authorization->size() > kBearer.size() &&
      std::equal(
          kBearer.begin(), kBearer.end(), authorization->begin(),
          [](unsigned char a, unsigned char b) { return std::tolower(a) == std::tolower(b); }) &&
      http::constant_time_equal(std::string_view(*authorization).substr(kBearer.size()),
                                secrets.trigger_token)) {
    return std::nullopt;
  }
  metrics_.auth_failure("trigger-token");
  http::Response r = json(401, "missing or wrong trigger token");
  r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"eso-updater trigger\"");
  return r;
}

// A request admitted without credentials (Event Grid's validation handshake) may carry at most
// 64 KiB, counted on the decoded body whatever its framing.
size_t WebhookHandler::body_limit(const http::RequestHead& head) {
  constexpr size_t kAnonymousBody = 64 * 1024;
  if (options_.insecure_no_auth || !validation_handshake(head)) return SIZE_MAX;
  return authenticated(head, credentials_.current()) ? SIZE_MAX : kAnonymousBody;
}

// Probes and /metrics are answered by the server's own thread: whoever may send them (anyone,
// without --metrics-auth) never takes a worker from webhooks, however fast they pipeline.
std::optional<http::Response> WebhookHandler::answer_at_once(const http::RequestHead& head) {
  const std::string path = head.target.substr(0, head.target.find('?'));
  if (path == "/healthz") return json(200, "", "{\"status\":\"ok\"}");
  if (path == "/readyz") {
    return hooks_.ready() ? json(200, "", "{\"status\":\"ready\"}")
                          : json(503,
                                 "not ready: the ExternalSecret index or the stores are not "
                                 "listed yet");
  }
  if (path == "/metrics") {
    return http::Response{200, "text/plain; version=0.0.4", hooks_.render_metrics(), {}};
  }
  return std::nullopt;
}

http::Response WebhookHandler::handle(const http::Request& request) {
  if (auto at_once = answer_at_once(request.head)) return *at_once;
  const std::string path = request.head.target.substr(0, request.head.target.find('?'));
  if (path == "/v1/trigger" || path == "/v1/match") {
    // admit() checked the token, but it may have been rotated away since.
    if (auto refused = authenticate_trigger(request.head)) return *refused;
    return path == "/v1/match" ? hooks_.trigger->handle_match(request.body)
                               : hooks_.trigger->handle(request.body);
  }
  const std::string source = path.size() > 9 ? path.substr(9) : "";
  EventRequest event;
  event.body = request.body;
  event.header = [&](std::string_view name) { return request.head.header(name); };
  bool signature_only = false;
  switch (sender_route(request.head.target, hooks_.senders)) {
    case SenderRoute::kPubSub:
      if (auto refused = verify_pubsub(request.head)) return *refused;
      signature_only = true;  // the token proves the sender, not the query string
      break;
    case SenderRoute::kSns:
      if (hooks_.senders.sns == nullptr) return json(404, "the SNS route is off");
      return handle_sns(request, event);
    case SenderRoute::kNone:
      if (auto refused = check_credentials(request, event, signature_only)) return *refused;
      break;
  }
  return run_events(request, event, source, signature_only);
}

// The HTTP credentials, a client certificate or a route's signing secret; `signature_only`
// says whether the body's signature is the request's only credential.
std::optional<http::Response> WebhookHandler::check_credentials(const http::Request& request,
                                                                EventRequest& event,
                                                                bool& signature_only) {
  if (options_.insecure_no_auth) return std::nullopt;
  // One snapshot decides both: admit() may have let the request in on its route's signature
  // alone, and a secret removed since must not leave it unchecked.
  const auto secrets = credentials_.current();
  signature_only = !authorized(request.head, secrets) && !by_certificate(request.head) &&
                   signed_route(request.head.target, secrets);
  if (!authenticated(request.head, secrets)) {
    // Only Event Grid's validation handshake gets this far without credentials (Event Grid
    // may not send delivery properties with it): answered, never matched.
    auto decoded = decode_events(event, "azure", DecodeOptions{});
    if (validation_handshake(request.head) && decoded && decoded->reply) {
      return http::Response{decoded->reply->status, "application/json", decoded->reply->body, {}};
    }
    metrics_.auth_failure();
    return json(401, "missing or wrong credentials");
  }
  event.signing_secrets = secrets.signing;
  return std::nullopt;
}

// An authenticated request's events: scoped, checked against the deliveries already processed,
// matched and patched.
http::Response WebhookHandler::run_events(const http::Request& request, const EventRequest& event,
                                          const std::string& source, bool signature_only) {
  auto scope = route_scope(request.head.target, source, signature_only);
  if (!scope) return json(422, scope.error().message);
  Redelivery delivery(hooks_.senders.deliveries, metrics_, request);
  const EventOutcome outcome = service_.handle(event, source, *scope, delivery.hook());
  if (outcome.status == EventStatus::kRejected && outcome.error.code == ErrorCode::kUnauthorized) {
    metrics_.auth_failure("signature");
  }
  if (delivery.in_flight()) {
    return error_response(503,
                          "this delivery is being processed now (an earlier try of it); "
                          "retry");
  }
  http::Response response = event_response(outcome);
  delivery.finish(response.status == 200);
  return response;
}

void WebhookHandler::overloaded(std::string_view limit) {
  metrics_.overloaded(limit);
  const auto now =
      fmt::gmtime(std::chrono::system_clock::to_time_t(std::chrono::system_clock::now()));
  if (options_.log_format == "json") {
    fmt::print(stderr, "{{\"time\":\"{:%FT%TZ}\",\"overloaded\":\"{}\",\"status\":503}}\n", now,
               limit);
    return;
  }
  fmt::print(stderr, "{:%FT%TZ} overloaded: {} limit reached, answered 503 with Retry-After\n", now,
             limit);
}

void WebhookHandler::answered(const http::RequestHead& head, int status,
                              std::chrono::microseconds duration) {
  // Only known routes become labels and log fields: a path is the client's to choose.
  std::string route = head.method.empty() ? "-" : route_of(head.target);
  if (route != "-" && routes().count(route) == 0) route = "other";
  metrics_.request(route, status, duration);
  const double ms = static_cast<double>(duration.count()) / 1000.0;
  const auto now =
      fmt::gmtime(std::chrono::system_clock::to_time_t(std::chrono::system_clock::now()));
  if (options_.log_format == "json") {
    fmt::print(stderr,
               "{{\"time\":\"{:%FT%TZ}\",\"method\":\"{}\",\"route\":\"{}\",\"status\":{},"
               "\"durationMs\":{:.3f}}}\n",
               now, head.method, route, status, ms);
    return;
  }
  fmt::print(stderr, "{:%FT%TZ} {} {} {} {:.3f}ms\n", now, head.method.empty() ? "-" : head.method,
             route, status, ms);
}

bool WebhookHandler::by_certificate(const http::RequestHead& head) const {
  return !options_.tls_client_ca.empty() && !head.peer_certificate.empty();
}

// A verified client certificate, a route whose sender signs (checked on the body), or the HTTP
// credentials.
bool WebhookHandler::authenticated(const http::RequestHead& head, const Secrets& secrets) const {
  return by_certificate(head) || signed_route(head.target, secrets) || authorized(head, secrets);
}

// The store and provider a request is scoped to. DESIGN.md §6: a body signature covers the body,
// not the query string, so a request with no other credential gets the route's configured scope
// and the query can only repeat it; a captured Doppler body (which signs no timestamp) cannot be
// replayed against another store.
Result<RequestScope> WebhookHandler::route_scope(const std::string& target, std::string_view source,
                                                 bool signature_only) const {
  const RequestScope configured{route_value(route_stores_, source),
                                route_value(route_providers_, source)};
  const RequestScope query{query_value(target, "store"), query_value(target, "provider")};
  if (!signature_only) {
    return RequestScope{query.store.empty() ? configured.store : query.store,
                        query.provider.empty() ? configured.provider : query.provider};
  }
  if ((!query.store.empty() && query.store != configured.store) ||
      (!query.provider.empty() && query.provider != configured.provider)) {
    return Error{ErrorCode::kInvalidArgument,
                 fmt::format("a request authenticated by its signature alone takes its scope "
                             "from serve's configuration: drop ?store= and ?provider= and set "
                             "--route-store {0}=STORE or --route-provider {0}=PROVIDER",
                             source)};
  }
  return configured;
}

bool WebhookHandler::authorized(const http::RequestHead& head, const Secrets& secrets) const {
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

}  // namespace eso::webhook
