#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/event_service.h"
#include "server/http_server.h"
#include "webhook/credentials.h"
#include "webhook/metrics.h"
#include "webhook/trigger_api.h"
#include "webhook/verify/delivery_memory.h"
#include "webhook/verify/pubsub_token_verifier.h"
#include "webhook/verify/sns_verifier.h"

namespace eso::webhook {

/// --route-store / --route-provider values, SOURCE=VALUE, by source.
using RouteScopes = std::map<std::string, std::string, std::less<>>;

/// Parses SOURCE=VALUE items of `flag`; SOURCE must be an event source.
Result<RouteScopes> route_scopes(const std::string& flag, const std::vector<std::string>& given);

/// How serve's HTTP side authenticates, scopes and logs (the flags of `serve` bind to it).
struct HandlerOptions {
  bool insecure_no_auth = false;
  bool metrics_auth = false;
  std::string api_key_header;  ///< a header carrying WEBHOOK_API_KEY (EventBridge)
  std::string api_key_query;   ///< a query parameter carrying WEBHOOK_API_KEY (Pub/Sub push)
  std::string tls_client_ca;   ///< verified client certificates from this CA authenticate
  std::string log_format = "text";
  /// SOURCE=STORE / SOURCE=PROVIDER: the scope of `/webhook/SOURCE`, from configuration. A
  /// request authenticated by its body signature alone (Doppler, Infisical) gets this scope and
  /// no other: its query string cannot choose one (DESIGN.md §6).
  std::vector<std::string> route_stores;
  std::vector<std::string> route_providers;
};

/// The cloud senders that sign what they push, and the memory of their deliveries (issue 16);
/// each null when not configured.
struct CloudSenders {
  /// /webhook/gcp takes a valid Google OIDC token as its only credential (Pub/Sub push with
  /// authentication); its scope is the route's configured one, as for signed routes.
  const PubSubTokenVerifier* pubsub = nullptr;
  /// /webhook/sns is on: SNS messages, their signature the only credential.
  SnsVerifier* sns = nullptr;
  /// Redeliveries of a delivery processed in full are answered without a second round of
  /// patches.
  DeliveryMemory* deliveries = nullptr;
};

/// What the handler reads besides the request: readiness and the /metrics text.
struct HandlerHooks {
  std::function<bool()> ready;
  std::function<std::string()> render_metrics;
  TriggerApi* trigger = nullptr;  ///< POST /v1/trigger (DESIGN.md §11), answered with a token
  CloudSenders senders;
};

/// serve's routes (DESIGN.md §6): /webhook[/SOURCE] with authentication, the CloudEvents and
/// Event Grid handshakes, probes and /metrics answered without a worker, one access log line
/// and metrics per request.
class WebhookHandler final : public http::Handler {
 public:
  WebhookHandler(const HandlerOptions& options, RouteScopes route_stores,
                 RouteScopes route_providers, EventService& service, Credentials& credentials,
                 Metrics& metrics, HandlerHooks hooks);

  std::optional<http::Response> admit(const http::RequestHead& head) override;
  size_t body_limit(const http::RequestHead& head) override;
  std::optional<http::Response> answer_at_once(const http::RequestHead& head) override;
  http::Response handle(const http::Request& request) override;
  void overloaded(std::string_view limit) override;
  void answered(const http::RequestHead& head, int status,
                std::chrono::microseconds duration) override;

 private:
  std::optional<http::Response> authenticate(const http::RequestHead& head,
                                             const std::string& route);
  std::optional<http::Response> authenticate_trigger(const http::RequestHead& head);
  std::optional<http::Response> admit_sender(const http::RequestHead& head);
  std::optional<http::Response> check_credentials(const http::Request& request, EventRequest& event,
                                                  bool& signature_only);
  std::optional<http::Response> verify_pubsub(const http::RequestHead& head);
  http::Response handle_sns(const http::Request& request, EventRequest& event);
  http::Response run_events(const http::Request& request, const EventRequest& event,
                            const std::string& source, bool signature_only);
  void log_sender(std::string_view route, std::string_view verdict, std::string_view detail);
  bool by_certificate(const http::RequestHead& head) const;
  bool authenticated(const http::RequestHead& head, const Secrets& secrets) const;
  bool authorized(const http::RequestHead& head, const Secrets& secrets) const;
  Result<RequestScope> route_scope(const std::string& target, std::string_view source,
                                   bool signature_only) const;

  const HandlerOptions& options_;
  const RouteScopes route_stores_;
  const RouteScopes route_providers_;
  EventService& service_;
  Credentials& credentials_;
  Metrics& metrics_;
  HandlerHooks hooks_;
};

}  // namespace eso::webhook
