#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/event_decoder.h"
#include "core/key_index.h"
#include "core/kube_api.h"
#include "core/patch_coalescer.h"
#include "core/pipeline.h"
#include "core/secret_store.h"

namespace eso {

/// What serve runs events with.
struct EventSettings {
  TriggerOptions run;  ///< the same options as `trigger` (dry_run unused)
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

/// How a notification or a trigger request ended, in domain terms; the webhook layer maps it
/// to HTTP (webhook/responses.h).
enum class EventStatus {
  kDone,         ///< run: `run` holds matches, plan and patch results (some may have failed)
  kReply,        ///< a handshake the decoder answers itself (`decoded.reply`)
  kRejected,     ///< input it cannot use; `error.code` says how (kMalformed, kInvalidArgument...)
  kNotReady,     ///< the index or the stores are not listed yet: the sender should retry
  kUnavailable,  ///< the API server failed a LIST: the sender should retry
};

struct EventOutcome {
  EventStatus status = EventStatus::kDone;
  Error error;            ///< for kRejected, kNotReady, kUnavailable
  DecodedEvents decoded;  ///< empty for a trigger request
  std::shared_ptr<TriggerRun> run;
  /// The stores the run matched with (its scope points into them).
  std::shared_ptr<const std::vector<SecretStoreRecord>> stores;
};

/// The scope a route or a trigger request gives on top of the body's own.
struct RequestScope {
  std::string store;
  std::string provider;
};

/// Called with a body's events once decoded, before they are counted, matched or patched, unless
/// the decoder answered a handshake: setting `reply` answers the request with it instead (serve
/// answers a redelivery of a delivery it has processed so).
using DecodedHook = std::function<void(DecodedEvents&)>;

/// serve's domain logic (DESIGN.md §6 "Processing"): decode every event in a body, find the
/// objects that read the keys (from the index, or one LIST without it), and run them through the
/// same pipeline as `trigger` with one patch in flight per object.
class EventService {
 public:
  EventService(KubeApi& api, const KeyIndex* index, std::function<bool()> index_ready,
               EventSettings settings, WebhookCounters& counters,
               WebhookObserver* observer = nullptr, StoreSnapshot stores = {});

  /// `source`: a decoder name from the route, or "" to detect. `on_decoded`: see DecodedHook.
  EventOutcome handle(const EventRequest& request, std::string_view source,
                      const RequestScope& scope = {}, const DecodedHook& on_decoded = {});

  /// A body alone, as tests give it.
  EventOutcome handle(std::string_view source, std::string_view body) {
    EventRequest request;
    request.body = body;
    return handle(request, source);
  }

  /// Runs `keys` (their scope's store names and environment set) through the pipeline with
  /// `options`, patching through the coalescer as matches arrive; `provider` narrows to a
  /// provider, which needs the stores.
  EventOutcome trigger(KeySet keys, const TriggerOptions& options,
                       const std::string& provider = "");

  /// Matches and plans only (the trigger API: its wait reads each object before the patch);
  /// in `namespaces` only when given. Patch the plan with patch().
  EventOutcome plan(KeySet keys, const TriggerOptions& options, const std::string& provider,
                    const std::set<std::string>& namespaces);
  /// Patches a planned run with its own value (unless dry_run), counted and logged like events.
  void patch(TriggerRun& run);

  const EventSettings& settings() const { return settings_; }

 private:
  // The checks before a run, setting the provider and stores on `keys`; false with the error
  // in `outcome`.
  bool prepare(KeySet& keys, const std::string& provider, EventOutcome& outcome);
  std::unique_ptr<ObjectSource> source_for(const KeySet& keys);
  void account(const TriggerRun& run);
  void report_patches(const TriggerRun& run);

  KubeApi& api_;
  const KeyIndex* index_;
  std::function<bool()> index_ready_;
  EventSettings settings_;
  WebhookCounters& counters_;
  WebhookObserver* observer_;
  StoreSnapshot stores_;
  PatchCoalescer coalescer_;
};

}  // namespace eso
