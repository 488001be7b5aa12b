#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "cmd/global_options.h"
#include "core/trigger_plan.h"
#include "webhook/handler.h"

namespace eso::cmd {

struct ServeOptions {
  std::vector<std::string> listen{"0.0.0.0:8080"};
  std::string port_file;        ///< write the bound port here (tests, port 0)
  std::string credentials_dir;  ///< files `username`, `password`, `token`; re-read on change
  bool no_index = false;
  bool stores = false;   ///< read SecretStores/ClusterSecretStores (refreshed)
  std::string provider;  ///< only entries whose store has this provider (implies stores)
  std::string stores_refresh = "60s";
  /// A watch with no event and no bookmark for this long is presumed dead: not ready, re-list.
  std::string watch_timeout = "90s";
  int workers = 4;
  int queue = 64;
  int max_connections = 4096;
  size_t max_body = 1 << 20;
  std::string phase_timeout = "10s";
  std::string drain_timeout = "20s";
  TriggerOptions
      run;  ///< --annotation, --force, --include-possible, --patch-children, --concurrency
  std::vector<std::string> event_types;
  std::vector<std::string> key_paths;      ///< generic extractor for other JSON bodies
  std::string cloudevents_key_path;        ///< CloudEvents: key in `data` instead of subject
  std::string tls_cert;                    ///< serve HTTPS with this certificate chain (PEM)
  std::string tls_key;                     ///< and this key
  std::string signature_tolerance = "5m";  ///< signed senders' timestamp window
  webhook::HandlerOptions http;            ///< authentication, route scopes, log format
  /// The trigger API (DESIGN.md §11): namespaces it may reach, its longest wait, and how many
  /// requests may wait at once.
  std::vector<std::string> trigger_namespaces;
  std::string trigger_max_wait = "10m";
  int trigger_max_waiting = 1;
  /// The cloud senders that sign what they push (issue 16): Pub/Sub push tokens on
  /// /webhook/gcp, SNS HTTPS subscriptions on /webhook/sns, and the memory of deliveries.
  std::string pubsub_audience;
  std::vector<std::string> pubsub_service_accounts;
  std::string pubsub_keys_url{webhook::kGoogleCertsUrl};
  std::string verify_ca_file;  ///< CAs for the verifiers' fetches and SNS certificate chains
  std::vector<std::string> sns_topic_arns;
  std::string sns_host_pattern;  ///< tests only: hosts SNS certificates may come from
  std::string redelivery_window = "1h";
};

/// `eso-updater serve`: the webhook server (DESIGN.md §6).
CLI::App* add_serve_command(CLI::App& app, ServeOptions& options);

/// Runs until SIGTERM or SIGINT; returns the process exit code.
int run_serve(const GlobalOptions& global, const ServeOptions& options);

}  // namespace eso::cmd
