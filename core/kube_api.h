#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/external_secret.h"
#include "core/result.h"
#include "core/secret_store.h"
#include "core/sync_state.h"

namespace eso {

/// Which ExternalSecrets to read.
struct ListScope {
  std::string namespace_name;  ///< empty: all namespaces
  std::string label_selector;  ///< Kubernetes label selector syntax, passed to the server
  int page_size = 500;         ///< LIST `limit`; 0 asks for everything at once
  /// Called after each page with its number (from 1): progress for long lists, and the point
  /// where tests make a continue token expire.
  std::function<void(int page)> after_page;
};

/// What the API server answered to a successful patch.
struct PatchOutcome {
  std::string resource_version;
};

/// Where a trigger's annotation is written.
enum class AnnotationPlace {
  kObject,  ///< the object's metadata.annotations
  /// A ClusterExternalSecret's metadata.annotations and its spec.externalSecretMetadata
  /// .annotations, which every ESO copies onto each generated ExternalSecret (ESO < v0.20 copies
  /// nothing else from the parent; DESIGN.md §2).
  kObjectAndChildren,
};

/// The Kubernetes operations the core needs. kube/ implements it over HTTPS; tests use fakes.
/// Implementations are safe to call from several threads at once.
class KubeApi {
 public:
  virtual ~KubeApi() = default;

  /// Every ExternalSecret in scope, following `continue` tokens to the end.
  virtual Result<std::vector<ExternalSecret>> list_external_secrets(const ListScope& scope) = 0;

  /// Every ClusterExternalSecret (cluster-scoped; the label selector applies), parsed as the
  /// template it generates ExternalSecrets from.
  virtual Result<std::vector<ExternalSecret>> list_cluster_external_secrets(
      const ListScope& scope) = 0;

  /// Receives one page of a LIST; an error stops the list.
  using PageHandler = std::function<Status(std::vector<ExternalSecret> page)>;

  /// Every ExternalSecret in scope (or, for kind "ClusterExternalSecret", every CES), one page at
  /// a time as each arrives, holding no more than a page: what `trigger` matches against without
  /// keeping 50,000 objects in memory (DESIGN.md §9). If the list has to start over (an expired
  /// continue token), objects already delivered come again. The default delivers one page from
  /// list_external_secrets / list_cluster_external_secrets.
  virtual Status stream_objects(const std::string& kind, const ListScope& scope,
                                const PageHandler& on_page) {
    auto listed = kind == "ClusterExternalSecret" ? list_cluster_external_secrets(scope)
                                                  : list_external_secrets(scope);
    if (!listed) return listed.error();
    return on_page(std::move(*listed));
  }

  /// The SecretStores in scope and every ClusterSecretStore (for provider scoping).
  virtual Result<std::vector<SecretStoreRecord>> list_secret_stores(const ListScope& scope) = 0;

  /// The sync state of one ExternalSecret (a GET).
  virtual Result<SyncState> get_sync_state(const ObjectRef& target) = 0;

  /// Streams the sync state of every ExternalSecret in `namespace_name` ("" = all namespaces)
  /// that changes after `resource_version` to `on_change` (a WATCH), until `on_change` returns
  /// false (ok), `deadline` passes (ok) or `*cancel` turns true (ok; nullptr: never). An error
  /// when the watch cannot be had or breaks: the caller polls instead. The default
  /// implementation has no watch (kInternal).
  virtual Status watch_sync_states(const std::string& namespace_name,
                                   const std::string& resource_version,
                                   std::chrono::steady_clock::time_point deadline,
                                   const std::function<bool(const SyncState&)>& on_change,
                                   const std::atomic<bool>* cancel) {
    (void)namespace_name, (void)resource_version, (void)deadline, (void)on_change, (void)cancel;
    return Error{ErrorCode::kInternal, "this client cannot watch"};
  }

  /// Sets one annotation on `target` with a JSON merge patch, leaving everything else alone;
  /// with kObjectAndChildren, on a ClusterExternalSecret's child template as well.
  virtual Result<PatchOutcome> patch_annotation(const ObjectRef& target, std::string_view key,
                                                std::string_view value, AnnotationPlace place) = 0;
};

}  // namespace eso
