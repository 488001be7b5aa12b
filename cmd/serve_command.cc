#include "cmd/serve_command.h"

#include <signal.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <memory>
#include <thread>

#include <fmt/format.h>

#include "cmd/exit_code.h"
#include "core/event_service.h"
#include "core/go_duration.h"
#include "core/key_index.h"
#include "kube/reflector.h"
#include "server/http_server.h"
#include "webhook/credentials.h"
#include "webhook/handler.h"
#include "webhook/metrics.h"
#include "webhook/store_cache.h"

namespace eso::cmd {
namespace {

std::atomic<bool> g_stop{false};

extern "C" void on_stop_signal(int) { g_stop.store(true); }

Result<std::chrono::milliseconds> duration_option(const std::string& name,
                                                  const std::string& text) {
  auto d = parse_go_duration(text);
  if (!d) return Error{ErrorCode::kInvalidArgument, name + ": " + d.error().message};
  return std::chrono::duration_cast<std::chrono::milliseconds>(*d);
}

}  // namespace

namespace {

// Where serve listens, what it reads and how.
void add_source_options(CLI::App* cmd, ServeOptions& options) {
  cmd->add_option("--listen", options.listen,
                  "HOST:PORT to listen on, repeatable ([::]:8080 for IPv6)")
      ->capture_default_str();
  cmd->add_option("--port-file", options.port_file, "Write the bound port to this file");
  cmd->add_option(
      "--credentials-dir", options.credentials_dir,
      "Directory with username/password/token files (a mounted Secret), re-read on change");
  cmd->add_flag("--insecure-no-auth", options.http.insecure_no_auth,
                "Accept webhooks without credentials");
  cmd->add_flag("--metrics-auth", options.http.metrics_auth, "Require credentials on /metrics too");
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
}

// The listener's limits.
void add_limit_options(CLI::App* cmd, ServeOptions& options) {
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
}

// What events patch, and how they are read.
void add_run_options(CLI::App* cmd, ServeOptions& options) {
  cmd->add_option("--annotation", options.run.annotation,
                  "Annotation key to set on ExternalSecrets")
      ->capture_default_str();
  cmd->add_flag("--force", options.run.force, "Also patch objects ESO will not refresh");
  cmd->add_flag("--include-possible", options.run.include_possible, "Also patch find.tags matches");
  cmd->add_flag("--patch-children", options.run.patch_children,
                "ESO < v0.20: reach CES children via spec.externalSecretMetadata");
  cmd->add_option("--concurrency", options.run.concurrency, "Patches in flight at once")
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
}

// Authentication, TLS, route scopes and logs.
void add_auth_options(CLI::App* cmd, ServeOptions& options) {
  cmd->add_option("--api-key-header", options.http.api_key_header,
                  "Also accept WEBHOOK_API_KEY (or the api-key file) in this header, e.g. "
                  "X-Api-Key for an EventBridge connection");
  cmd->add_option("--tls-cert", options.tls_cert,
                  "Serve HTTPS with this PEM certificate chain (re-read when it changes)");
  cmd->add_option("--tls-key", options.tls_key, "The PEM key of --tls-cert");
  cmd->add_option("--tls-client-ca", options.http.tls_client_ca,
                  "Ask for client certificates; one that verifies against these PEM CAs "
                  "authenticates webhooks");
  cmd->add_option("--api-key-query", options.http.api_key_query,
                  "Also accept WEBHOOK_API_KEY in this query parameter, for senders that cannot "
                  "set headers (Pub/Sub push); it is never logged");
  cmd->add_option("--signature-tolerance", options.signature_tolerance,
                  "How far a signed webhook's timestamp may be from serve's clock (Infisical; SNS: "
                  "beyond its hour of retries)")
      ->capture_default_str();
  cmd->add_option("--route-store", options.http.route_stores,
                  "SOURCE=STORE: /webhook/SOURCE matches only entries reading STORE; the only "
                  "scope a request signed without HTTP credentials (Doppler, Infisical) gets");
  cmd->add_option("--route-provider", options.http.route_providers,
                  "SOURCE=PROVIDER: /webhook/SOURCE matches only entries whose store has "
                  "PROVIDER (needs --stores)");
  cmd->add_option("--log-format", options.http.log_format, "text or json")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
}

// The trigger API's limits.
void add_trigger_api_options(CLI::App* cmd, ServeOptions& options) {
  cmd->add_option("--trigger-namespaces", options.trigger_namespaces,
                  "Namespaces POST /v1/trigger may reach (default: every one serve watches)")
      ->delimiter(',')
      ->transform(CLI::Validator(
          [](std::string& name) {  // "a, b" means a and b
            name.erase(0, name.find_first_not_of(" \t"));
            name.erase(name.find_last_not_of(" \t") + 1);
            return std::string();
          },
          "", "trimmed"));
  cmd->add_option("--trigger-max-wait", options.trigger_max_wait,
                  "The longest \"wait\" a trigger request may ask for")
      ->capture_default_str();
  cmd->add_option("--trigger-max-waiting", options.trigger_max_waiting,
                  "Trigger requests waiting for ESO at once (each holds a worker)")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
}

// The cloud senders that sign what they push (issue 16), and their redeliveries.
void add_cloud_sender_options(CLI::App* cmd, ServeOptions& options) {
  cmd->add_option("--pubsub-audience", options.pubsub_audience,
                  "Pub/Sub push with authentication: /webhook/gcp accepts only a Google OIDC "
                  "token with this audience from a --pubsub-service-account (no other "
                  "credential; its scope from --route-store/--route-provider only)");
  cmd->add_option("--pubsub-service-account", options.pubsub_service_accounts,
                  "The service account email of the push subscription, whose tokens "
                  "/webhook/gcp accepts; repeatable");
  cmd->add_option("--pubsub-keys-url", options.pubsub_keys_url,
                  "Where the token signing keys (a JWK set) are fetched over HTTPS; another URL "
                  "is for private deployments and tests")
      ->capture_default_str();
  cmd->add_option("--verify-ca-file", options.verify_ca_file,
                  "PEM CAs to trust instead of the system's for fetching token keys, SNS "
                  "certificates and SubscribeURLs, and for SNS certificate chains (private "
                  "deployments, tests)");
  cmd->add_option("--sns-topic-arn", options.sns_topic_arns,
                  "Turns on /webhook/sns for Amazon SNS HTTPS subscriptions: messages of this "
                  "topic are accepted on their signature and its subscription confirmed; "
                  "repeatable");
  cmd->add_option("--sns-host-pattern", options.sns_host_pattern,
                  "For tests only: a regex of the hosts SNS certificates and SubscribeURLs may "
                  "come from, instead of sns.<region>.amazonaws.com");
  cmd->add_option("--redelivery-window", options.redelivery_window,
                  "How long a processed delivery (Pub/Sub messageId, SNS MessageId, Event Grid "
                  "or CloudEvents id, Akeyless event_id) is remembered, so that its redelivery "
                  "patches nothing; 0s turns it off")
      ->capture_default_str();
}

}  // namespace

CLI::App* add_serve_command(CLI::App& app, ServeOptions& options) {
  auto* cmd = app.add_subcommand("serve", "Receive secret-change webhooks and trigger ESO at once");
  add_source_options(cmd, options);
  add_limit_options(cmd, options);
  add_run_options(cmd, options);
  add_auth_options(cmd, options);
  add_trigger_api_options(cmd, options);
  add_cloud_sender_options(cmd, options);
  return cmd;
}

namespace {

// The durations serve's flags give, checked once.
struct ServeDurations {
  std::chrono::milliseconds phase, drain, tolerance, stores_refresh, watch_timeout, trigger_wait,
      redelivery_window;
};

Result<ServeDurations> durations(const ServeOptions& options) {
  const std::pair<const char*, const std::string*> given[] = {
      {"--phase-timeout", &options.phase_timeout},
      {"--drain-timeout", &options.drain_timeout},
      {"--signature-tolerance", &options.signature_tolerance},
      {"--stores-refresh", &options.stores_refresh},
      {"--watch-timeout", &options.watch_timeout},
      {"--trigger-max-wait", &options.trigger_max_wait},
      {"--redelivery-window", &options.redelivery_window}};
  std::vector<std::chrono::milliseconds> parsed;
  for (const auto& [name, text] : given) {
    auto d = duration_option(name, *text);
    if (!d) return d.error();
    parsed.push_back(*d);
  }
  return ServeDurations{parsed[0], parsed[1], parsed[2], parsed[3],
                        parsed[4], parsed[5], parsed[6]};
}

// Flags and credentials that cannot work together: a usage error before anything starts.
std::optional<Error> check_configuration(const ServeOptions& options,
                                         webhook::Credentials& credentials) {
  if (options.tls_cert.empty() != options.tls_key.empty() ||
      (!options.http.tls_client_ca.empty() && options.tls_cert.empty())) {
    return Error{ErrorCode::kInvalidArgument,
                 "--tls-cert and --tls-key go together, and --tls-client-ca needs them"};
  }
  const auto secrets = credentials.current();
  if (const auto half = webhook::half_credentials(secrets.http, options.credentials_dir)) {
    return Error{ErrorCode::kConfig, *half};
  }
  if (!secrets.api_key.empty() && options.http.api_key_header.empty() &&
      options.http.api_key_query.empty()) {
    return Error{ErrorCode::kInvalidArgument,
                 "an API key is set (WEBHOOK_API_KEY or api-key) but neither --api-key-header "
                 "nor --api-key-query says where senders put it"};
  }
  // With one worker no trigger waits (the default 1 means "none" there); more is a mistake.
  if (options.trigger_max_waiting >= options.workers &&
      (options.workers > 1 || options.trigger_max_waiting > 1)) {
    return Error{ErrorCode::kInvalidArgument,
                 fmt::format("--trigger-max-waiting {} must be below --workers {}: a waiting "
                             "trigger holds a worker, and webhooks need one",
                             options.trigger_max_waiting, options.workers)};
  }
  if (webhook::trigger_token_shared(secrets) || credentials.trigger_token_refused()) {
    return Error{ErrorCode::kConfig,
                 "the trigger token equals a webhook credential: give the trigger API a token of "
                 "its own, so a webhook sender cannot call it"};
  }
  const bool cloud_senders = !options.pubsub_audience.empty() || !options.sns_topic_arns.empty();
  if (!credentials.any_webhook() && options.http.tls_client_ca.empty() &&
      !options.http.insecure_no_auth && !cloud_senders) {
    return Error{ErrorCode::kConfig,
                 "no webhook credentials: set BASIC_AUTH_USER and BASIC_AUTH_PASSWORD (or "
                 "WEBHOOK_BEARER_TOKEN, WEBHOOK_API_KEY, DOPPLER_WEBHOOK_SECRET, "
                 "INFISICAL_WEBHOOK_SECRET), or --credentials-dir, or --pubsub-audience or "
                 "--sns-topic-arn; --insecure-no-auth to run open"};
  }
  return std::nullopt;
}

// The verifiers of the cloud senders and the memory of deliveries serve was asked for.
struct CloudSenderParts {
  std::unique_ptr<webhook::PubSubTokenVerifier> pubsub;
  std::unique_ptr<webhook::SnsVerifier> sns;
  std::unique_ptr<webhook::DeliveryMemory> deliveries;
  webhook::CloudSenders senders() const { return {pubsub.get(), sns.get(), deliveries.get()}; }
};

Error usage(std::string message) { return Error{ErrorCode::kInvalidArgument, std::move(message)}; }

Result<std::unique_ptr<webhook::PubSubTokenVerifier>> pubsub_verifier(const ServeOptions& options) {
  if (options.pubsub_audience.empty()) {
    if (options.pubsub_service_accounts.empty() &&
        options.pubsub_keys_url == webhook::kGoogleCertsUrl) {
      return std::unique_ptr<webhook::PubSubTokenVerifier>();
    }
    return usage("--pubsub-service-account and --pubsub-keys-url need --pubsub-audience");
  }
  if (options.pubsub_service_accounts.empty()) {
    return usage(
        "--pubsub-audience needs --pubsub-service-account: the email of the service "
        "account the push subscription authenticates as");
  }
  webhook::PubSubTokenConfig config;
  config.audience = options.pubsub_audience;
  config.allowed_emails = options.pubsub_service_accounts;
  config.keys_url = options.pubsub_keys_url;
  config.ca_file = options.verify_ca_file;
  return webhook::PubSubTokenVerifier::create(std::move(config));
}

Result<std::unique_ptr<webhook::SnsVerifier>> sns_verifier(const ServeOptions& options,
                                                           const ServeDurations& d) {
  if (options.sns_topic_arns.empty()) {
    if (options.sns_host_pattern.empty()) return std::unique_ptr<webhook::SnsVerifier>();
    return usage("--sns-host-pattern needs --sns-topic-arn");
  }
  webhook::SnsConfig config;
  config.allowed_topic_arns = options.sns_topic_arns;
  config.ca_file = options.verify_ca_file;
  if (!options.sns_host_pattern.empty()) config.host_pattern_for_tests = options.sns_host_pattern;
  config.clock_tolerance = std::chrono::duration_cast<std::chrono::seconds>(d.tolerance);
  return webhook::SnsVerifier::create(std::move(config));
}

Result<CloudSenderParts> cloud_senders(const ServeOptions& options, const ServeDurations& d) {
  CloudSenderParts parts;
  auto pubsub = pubsub_verifier(options);
  if (!pubsub) return pubsub.error();
  auto sns = sns_verifier(options, d);
  if (!sns) return sns.error();
  if (!options.verify_ca_file.empty() && !*pubsub && !*sns) {
    return usage("--verify-ca-file is for --pubsub-audience or --sns-topic-arn");
  }
  parts.pubsub = std::move(*pubsub);
  parts.sns = std::move(*sns);
  const auto window = std::chrono::duration_cast<std::chrono::seconds>(d.redelivery_window);
  if (window.count() > 0) {
    parts.deliveries =
        std::make_unique<webhook::DeliveryMemory>(webhook::DeliveryMemoryOptions{10000, window});
  }
  return parts;
}

// The index's reflectors and the store cache, each on a thread of its own until destroyed.
class Watchers {
 public:
  Watchers(kube::ApiClient& client, const ServeOptions& options, const GlobalOptions& global,
           const std::vector<ListScope>& scopes, const ServeDurations& d)
      : began_(std::chrono::steady_clock::now()), indexed_(!options.no_index) {
    const auto idle = std::max(std::chrono::seconds(1),
                               std::chrono::duration_cast<std::chrono::seconds>(d.watch_timeout));
    if (indexed_) {
      for (const auto& scope : scopes) add_reflector(client, scope, "ExternalSecret", idle);
      if (global.all_namespaces) {
        add_reflector(client, scopes.front(), "ClusterExternalSecret", idle);
      }
    }
    // Stores change rarely: a LIST every --stores-refresh, never one per event.
    read_stores_ =
        options.stores || !options.provider.empty() || !options.http.route_providers.empty();
    if (read_stores_) {
      threads_.emplace_back([this, &client, scopes, interval = d.stores_refresh] {
        stores_.run(client, scopes, interval, stop_);
      });
    }
  }
  ~Watchers() {
    stop_ = true;
    for (auto& t : threads_) t.join();
  }
  Watchers(const Watchers&) = delete;
  Watchers& operator=(const Watchers&) = delete;

  bool ready() const {
    return (!read_stores_ || stores_.loaded()) &&
           std::all_of(reflectors_.begin(), reflectors_.end(),
                       [](const auto& r) { return r->synced(); });
  }
  const KeyIndex* index() const { return indexed_ ? &index_ : nullptr; }
  StoreSnapshot stores() {
    if (!read_stores_) return {};
    return [this] { return stores_.get(); };
  }
  webhook::IndexStats stats() const {
    webhook::IndexStats s;
    s.objects = indexed_ ? index_.size() : 0;
    int watches = 0;
    for (const auto& r : reflectors_) s.lists += r->lists(), watches += r->watches();
    s.watch_restarts = std::max(watches - 1, 0);
    return s;
  }
  std::chrono::steady_clock::time_point began() const { return began_; }

 private:
  void add_reflector(kube::ApiClient& client, const ListScope& scope, const char* kind,
                     std::chrono::seconds idle) {
    kube::ReflectorOptions ro;
    ro.scope = scope;
    ro.idle_timeout = idle;
    ro.kind = kind;
    reflectors_.push_back(std::make_unique<kube::Reflector>(client, ro, index_));
    threads_.emplace_back([r = reflectors_.back().get(), this] { r->run(stop_); });
  }

  std::chrono::steady_clock::time_point began_;
  bool indexed_;
  bool read_stores_ = false;
  KeyIndex index_;
  webhook::StoreCache stores_;
  std::vector<std::unique_ptr<kube::Reflector>> reflectors_;
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
};

// What serve listens on, watches and accepts, stated once at start-up (never a credential).
void print_start_up(const ServeOptions& options, const std::vector<int>& ports, bool tls,
                    const webhook::Secrets& secrets, const std::string& scope) {
  std::vector<std::string> addresses;
  for (size_t i = 0; i < options.listen.size() && i < ports.size(); ++i) {
    const auto& listen = options.listen[i];
    addresses.push_back(fmt::format("{}:{}", listen.substr(0, listen.rfind(':')), ports[i]));
  }
  fmt::print(stderr, "eso-updater serve: listening on {}{}\n", fmt::join(addresses, ", "),
             tls ? " (HTTPS)" : "");
  fmt::print(stderr, "eso-updater serve: scope: {}{}\n", scope,
             options.no_index ? "; no index: one LIST per event" : "; index: LIST then WATCH");
  const auto& http = options.http;
  std::vector<std::string> auth;
  if (secrets.http.basic()) auth.emplace_back("basic");
  if (secrets.http.bearer()) auth.emplace_back("bearer token");
  if (!secrets.api_key.empty()) {
    auth.push_back(fmt::format(
        "api key{}{}", http.api_key_header.empty() ? "" : " (header " + http.api_key_header + ")",
        http.api_key_query.empty() ? "" : " (query parameter " + http.api_key_query + ")"));
  }
  for (const auto& [source, secret] : secrets.signing) {
    if (!secret.empty()) auth.push_back(source + " signatures");
  }
  if (!http.tls_client_ca.empty()) auth.emplace_back("client certificates");
  if (!options.pubsub_audience.empty()) {
    auth.push_back("Google tokens for " + options.pubsub_audience + " on /webhook/gcp");
  }
  if (!options.sns_topic_arns.empty()) {
    auth.push_back(fmt::format("SNS signatures of {} topic(s) on /webhook/sns",
                               options.sns_topic_arns.size()));
  }
  if (http.insecure_no_auth) auth.emplace_back("none (--insecure-no-auth)");
  fmt::print(stderr, "eso-updater serve: webhook auth: {}{}\n", fmt::join(auth, ", "),
             http.metrics_auth ? "; /metrics too" : "");
  fmt::print(
      stderr, "eso-updater serve: trigger API (POST /v1/trigger): {}\n",
      secrets.trigger_token.empty()
          ? std::string("off (no trigger token)")
          : fmt::format("on, bearer trigger token; namespaces: {}",
                        options.trigger_namespaces.empty()
                            ? std::string("all in scope")
                            : fmt::format("{}", fmt::join(options.trigger_namespaces, ","))));
}

// Logs once when the index has synced: objects and milliseconds since it started.
std::jthread log_when_synced(const Watchers& watchers) {
  return std::jthread([&watchers](const std::stop_token& stop) {
    while (!watchers.ready() && !stop.stop_requested()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (stop.stop_requested()) return;
    fmt::print(stderr, "eso-updater serve: index synced: {} object(s) in {} ms\n",
               watchers.stats().objects,
               std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now() - watchers.began())
                   .count());
  });
}

EventSettings event_settings(const ServeOptions& options, const GlobalOptions& global,
                             const ServeDurations& d, std::vector<ListScope> scopes) {
  EventSettings settings;
  settings.run = options.run;
  settings.provider = options.provider;
  settings.decode.event_types = options.event_types;
  settings.decode.key_paths = options.key_paths;
  settings.decode.cloudevents_key_path = options.cloudevents_key_path;
  settings.decode.signature_tolerance =
      std::chrono::duration_cast<std::chrono::seconds>(d.tolerance);
  settings.scopes = std::move(scopes);
  settings.cluster_external_secrets = global.all_namespaces;
  return settings;
}

http::ServerOptions server_options(const ServeOptions& options, const ServeDurations& d,
                                   std::shared_ptr<http::TlsContext> tls) {
  http::ServerOptions so;
  so.listen = options.listen;
  so.workers = options.workers;
  so.queue = options.queue;
  so.max_connections = options.max_connections;
  so.tls = std::move(tls);
  so.limits.max_body_bytes = options.max_body;
  so.phase_timeout = d.phase;
  return so;
}

// Everything serve's flags and credentials give, checked before anything starts.
struct ServeSetup {
  ServeDurations d;
  webhook::RouteScopes route_stores;
  webhook::RouteScopes route_providers;
  CloudSenderParts senders;
  std::shared_ptr<http::TlsContext> tls;
};

Result<ServeSetup> set_up(const ServeOptions& options, webhook::Credentials& credentials) {
  auto d = durations(options);
  if (!d) return d.error();
  auto route_stores = webhook::route_scopes("--route-store", options.http.route_stores);
  if (!route_stores) return route_stores.error();
  auto route_providers = webhook::route_scopes("--route-provider", options.http.route_providers);
  if (!route_providers) return route_providers.error();
  if (auto wrong = check_configuration(options, credentials)) return *wrong;
  auto senders = cloud_senders(options, *d);
  if (!senders) return senders.error();
  ServeSetup setup{*d, std::move(*route_stores), std::move(*route_providers), std::move(*senders),
                   nullptr};
  if (!options.tls_cert.empty()) {
    auto loaded =
        http::TlsContext::create({options.tls_cert, options.tls_key, options.http.tls_client_ca});
    if (!loaded) return loaded.error();
    setup.tls = *loaded;
  }
  return setup;
}

// Connections, watches and patches all need descriptors: take what the hard limit allows.
void raise_file_limit() {
  rlimit files{};
  if (::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &files);
  }
}

}  // namespace

int run_serve(const GlobalOptions& global, const ServeOptions& options) {
  raise_file_limit();
  webhook::Credentials credentials(options.credentials_dir);
  auto setup = set_up(options, credentials);
  if (!setup) {
    print_error(setup.error());
    return kExitUsage;
  }
  const ServeDurations& d = setup->d;
  auto client = connect_or_report(global);
  if (!client) return kExitUsage;
  client->set_retry_budget(std::chrono::seconds(5));
  const auto scopes = list_scopes(global, *client);
  Watchers watchers(*client, options, global, scopes, d);
  auto ready = [&] { return watchers.ready(); };
  WebhookCounters counters;
  webhook::Metrics metrics;
  webhook::LogObserver observer(metrics, options.http.log_format);
  EventService service(*client, watchers.index(), ready, event_settings(options, global, d, scopes),
                       counters, &observer, watchers.stores());
  webhook::TriggerApi trigger_api(
      service, *client,
      {options.trigger_namespaces, d.trigger_wait, 1000,
       // one worker at the least stays with the webhooks (with --workers 1, no trigger waits)
       std::min(options.trigger_max_waiting, options.workers - 1), &g_stop},
      client->group_version());
  webhook::WebhookHandler handler(
      options.http, setup->route_stores, setup->route_providers, service, credentials, metrics,
      {ready, [&] { return metrics.render(counters, watchers.stats()); }, &trigger_api,
       setup->senders.senders()});
  http::HttpServer server(server_options(options, d, setup->tls), handler);
  auto ports = server.bind();
  if (!ports) {
    print_error(ports.error());
    return kExitUsage;
  }
  if (!options.port_file.empty()) std::ofstream(options.port_file) << ports->front() << "\n";
  print_start_up(
      options, *ports, setup->tls != nullptr, credentials.current(),
      scope_description(global, *client) + (global.all_namespaces ? "" : " (-A: every namespace)"));
  // Joined (and told to stop) when it goes out of scope, however run_serve ends.
  std::jthread synced_log;
  if (!options.no_index) synced_log = log_when_synced(watchers);
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  ::sigaction(SIGTERM, &action, nullptr);
  ::sigaction(SIGINT, &action, nullptr);
  server.serve(g_stop, d.drain);
  synced_log = {};  // stops and joins it
  fmt::print(stderr, "eso-updater serve: stopped\n");
  return kExitOk;
}

}  // namespace eso::cmd
