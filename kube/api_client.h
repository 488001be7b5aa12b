#pragma once

#include <functional>
#include <memory>
#include <string>

#include <rapidjson/document.h>

#include "core/inventory_sink.h"
#include "core/kube_api.h"
#include "kube/http_transport.h"

namespace eso::kube {

/// The external-secrets.io API on one cluster: discovery, paginated LIST and annotation PATCH.
/// Retries 429 (honouring Retry-After) and 5xx/connection failures a bounded number of times.
class ApiClient final : public KubeApi {
 public:
  /// Connects and discovers which external-secrets.io version the server serves (v1, else
  /// v1beta1). Fails with a clear message when the CRDs are not installed.
  static Result<std::unique_ptr<ApiClient>> connect(ClientConfig config);

  Result<std::vector<ExternalSecret>> list_external_secrets(const ListScope& scope) override;
  Result<std::vector<ExternalSecret>> list_cluster_external_secrets(
      const ListScope& scope) override;
  Status stream_objects(const std::string& kind, const ListScope& scope,
                        const PageHandler& on_page) override;
  Result<std::vector<SecretStoreRecord>> list_secret_stores(const ListScope& scope) override;
  Result<SyncState> get_sync_state(const ObjectRef& target) override;
  Result<PatchOutcome> patch_annotation(const ObjectRef& target, std::string_view key,
                                        std::string_view value, AnnotationPlace place) override;
  Status watch_sync_states(const std::string& namespace_name, const std::string& resource_version,
                           std::chrono::steady_clock::time_point deadline,
                           const std::function<bool(const SyncState&)>& on_change,
                           const std::atomic<bool>* cancel) override;

  /// How a watch ended.
  enum class WatchEnd {
    kClosed,   ///< the server closed the stream: watch again
    kQuiet,    ///< no event and no bookmark for idle_timeout: presumed dead, list again
    kGone,     ///< the resourceVersion is too old (410): list again
    kStopped,  ///< `stop` was set
  };

  /// Lists `kind` (ExternalSecret or ClusterExternalSecret) in `scope` into `sink` (replace) and
  /// returns the list's resourceVersion.
  Result<std::string> list_into(const std::string& kind, const ListScope& scope,
                                InventorySink& sink);

  /// Watches `kind` from `resource_version` with bookmarks, feeding `sink`; `resource_version`
  /// advances with every event and bookmark. Ends after `idle_timeout` without a byte.
  Result<WatchEnd> watch_into(const std::string& kind, const ListScope& scope,
                              std::string& resource_version, std::chrono::seconds idle_timeout,
                              InventorySink& sink, const std::atomic<bool>& stop);

  /// How long a request may spend retrying 429s, 5xx and connection failures (default 30 s).
  /// serve uses less, so a webhook sender hears 503 soon enough to retry on its own.
  void set_retry_budget(std::chrono::milliseconds budget) { retry_budget_ = budget; }

  /// e.g. "external-secrets.io/v1".
  const std::string& group_version() const { return group_version_; }
  const ClientConfig& config() const { return transport_->config(); }
  /// New connections to the API server so far (for tests and figures).
  uint64_t connections_opened() const { return transport_->connections_opened(); }

 private:
  ApiClient(std::unique_ptr<HttpTransport> transport, std::string group_version);

  /// What a request is, for error messages: verb, resource and namespace.
  struct Intent {
    std::string verb;
    std::string resource;
    std::string namespace_name;
    std::string name;
  };
  Result<HttpResponse> send_with_retry(const HttpRequest& request, const Intent& intent);
  /// Which collection to list; `take` reads one item (and may skip it with a warning);
  /// `end_page`, when set, is called after each page and may stop the list with an error.
  struct Collection {
    std::string resource;
    std::function<Status(const rapidjson::Value&)> take;
    std::function<Status()> end_page = {};
  };
  /// Every page of `collection`; on an expired continue token, `restart` is called and the list
  /// is read again in one piece. Returns the list's resourceVersion.
  Result<std::string> list_all(const Collection& collection, const ListScope& scope,
                               const std::function<void()>& restart);
  /// One page; returns the continue token and sets `resource_version`.
  Result<std::string> list_page(const Collection& collection, const ListScope& scope,
                                const std::string& continue_token, std::string& resource_version);

  std::unique_ptr<HttpTransport> transport_;
  std::string group_version_;
  std::chrono::milliseconds retry_budget_{30000};
};

}  // namespace eso::kube
