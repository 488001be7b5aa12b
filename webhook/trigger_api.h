#pragma once

#include <atomic>
#include <chrono>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/event_service.h"
#include "core/kube_api.h"
#include "core/result.h"
#include "server/http_server.h"

namespace eso::webhook {

/// serve's trigger API settings (DESIGN.md §11).
struct TriggerApiOptions {
  /// Namespaces a trigger may reach (--trigger-namespaces); empty: every one serve watches.
  std::vector<std::string> namespaces;
  std::chrono::milliseconds max_wait{std::chrono::minutes(10)};  ///< --trigger-max-wait
  size_t max_keys = 1000;
  /// Requests waiting for ESO at once; each holds a worker while it waits, so webhooks keep
  /// the rest.
  int max_waiting = 1;
  /// Set when serve stops (SIGTERM): waiting requests answer at once with what they have.
  const std::atomic<bool>* stopping = nullptr;
};

/// A `POST /v1/trigger` body: {"keys", "namespaces", "store", "storeKind", "provider",
/// "dryRun", "wait", "force", "includePossible"}.
struct TriggerRequest {
  std::vector<std::string> keys;
  std::vector<std::string> namespaces;
  std::string store;
  std::string store_kind;
  std::string provider;
  bool dry_run = false;
  bool force = false;
  bool include_possible = false;
  std::chrono::milliseconds wait{0};  ///< 0: answer after the patches
};

/// Parses a request strictly: not JSON is kMalformed (400); unknown or duplicate fields, wrong
/// types, an empty or oversized key list, a bad duration or a wait above the maximum are
/// kInvalidArgument (422); a namespace outside the allowed ones is kForbidden (403).
/// `match`: a `POST /v1/match` body, which takes keys, namespaces, store, storeKind and
/// provider only.
Result<TriggerRequest> parse_trigger_request(std::string_view body,
                                             const TriggerApiOptions& options, bool match = false);

/// `POST /v1/trigger` after authentication: runs the keys through serve's index and pipeline
/// (no LIST) and answers with the report `trigger -o json` prints; with `wait`, after ESO has
/// synced every patched object (followed by a WATCH on the API server) or the wait ended.
class TriggerApi {
 public:
  TriggerApi(EventService& service, KubeApi& api, TriggerApiOptions options,
             std::string group_version = "external-secrets.io/v1")
      : service_(service),
        api_(api),
        options_(std::move(options)),
        group_version_(std::move(group_version)) {}

  http::Response handle(std::string_view body);
  /// `POST /v1/match`: what `match -o json` prints, from the index; read-only.
  http::Response handle_match(std::string_view body);

 private:
  http::Response run(const TriggerRequest& request);

  EventService& service_;
  KubeApi& api_;
  TriggerApiOptions options_;
  std::string group_version_;
  std::atomic<int> waiting_{0};
};

}  // namespace eso::webhook
