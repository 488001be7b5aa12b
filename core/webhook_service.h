#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/event_decoder.h"
#include "core/key_index.h"
#include "core/kube_api.h"
#include "core/patch_coalescer.h"
#include "core/secret_store.h"

namespace eso {

struct WebhookSettings {
  std::string annotation = "force-sync";
  bool force = false;
  bool include_possible = false;
  bool patch_children = false;
  int concurrency = 16;
  DecodeOptions decode;
  /// Without an index: what one LIST per event reads.
  std::vector<ListScope> scopes;
  bool cluster_external_secrets = false;
  /// Only entries whose store has this provider (needs `stores`); a route's `?provider=` or a
  /// generic body's `provider` narrows per request.
  std::string provider;
};

/// The stores serve knows (refreshed in the background), or nullptr when it does not read them.
using StoreSnapshot = std::function<std::shared_ptr<const std::vector<SecretStoreRecord>>()>;

/// Counters for /metrics; the service only ever adds to them.
struct WebhookCounters {
  std::atomic<uint64_t> events{0};
  std::atomic<uint64_t> ignored_events{0};
  std::atomic<uint64_t> matches{0};
  std::atomic<uint64_t> patches_ok{0};
  std::atomic<uint64_t> patches_failed{0};
  std::atomic<uint64_t> patches_joined{0};
  std::atomic<uint64_t> lists{0};
  /// References that could not be evaluated (an invalid find regexp), per event.
  std::atomic<uint64_t> match_problems{0};
};

/// What serve reports as it goes, for logs and metrics: one call per decoded body and one per
/// patch. Called from request threads, possibly at the same time.
class WebhookObserver {
 public:
  virtual ~WebhookObserver() = default;
  virtual void decoded(const DecodedEvents& events) = 0;
  virtual void patched(const ObjectRef& target, const std::string& annotation, bool joined,
                       std::chrono::microseconds latency, const Error* error) = 0;
  /// A reference that could not be evaluated (e.g. an invalid find regexp).
  virtual void problem(const MatchProblem& /*problem*/) {}
};

/// An HTTP answer, status and JSON body.
struct WebhookResponse {
  int status = 200;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

/// The webhook's domain logic (DESIGN.md §6 "Processing"): decode every event in a body, find
/// the objects that read the keys (from the index, or one LIST without it), patch them through
/// the same planner as `trigger` with one patch in flight per object, and report. 200 when every
/// patch succeeded or nothing matched; 400/422 for bodies it cannot use; 503 with Retry-After
/// when the index is not ready or the API server failed, so the sender retries.
class WebhookService {
 public:
  WebhookService(KubeApi& api, const KeyIndex* index, std::function<bool()> index_ready,
                 WebhookSettings settings, WebhookCounters& counters,
                 WebhookObserver* observer = nullptr, StoreSnapshot stores = {});

  /// `source`: a decoder name from the route, or "" to detect; `store`: only entries reading
  /// this store (the route's `?store=`), on top of a generic body's own `store`.
  WebhookResponse handle(const EventRequest& request, std::string_view source,
                         std::string_view store = "", std::string_view provider = "");

  /// A body alone, as `trigger --event` and tests give it.
  WebhookResponse handle(std::string_view source, std::string_view body) {
    EventRequest request;
    request.body = body;
    return handle(request, source);
  }

 private:
  Result<std::vector<ExternalSecret>> candidates(const DecodedEvents& decoded);

  KubeApi& api_;
  const KeyIndex* index_;
  std::function<bool()> index_ready_;
  WebhookSettings settings_;
  WebhookCounters& counters_;
  WebhookObserver* observer_;
  StoreSnapshot stores_;
  PatchCoalescer coalescer_;
};

}  // namespace eso
