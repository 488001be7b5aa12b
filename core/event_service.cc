#include "core/event_service.h"

#include <fmt/format.h>

namespace eso {
namespace {

EventOutcome failed(EventStatus status, ErrorCode code, std::string message) {
  EventOutcome outcome;
  outcome.status = status;
  outcome.error = Error{code, std::move(message)};
  return outcome;
}

}  // namespace

EventService::EventService(KubeApi& api, const KeyIndex* index, std::function<bool()> index_ready,
                           EventSettings settings, WebhookCounters& counters,
                           WebhookObserver* observer, StoreSnapshot stores)
    : api_(api),
      index_(index),
      index_ready_(std::move(index_ready)),
      settings_(std::move(settings)),
      counters_(counters),
      observer_(observer),
      stores_(std::move(stores)),
      coalescer_(api) {}

EventOutcome EventService::handle(const EventRequest& request, std::string_view source,
                                  const RequestScope& scope) {
  auto decoded = decode_events(request, source, settings_.decode);
  if (!decoded)
    return failed(EventStatus::kRejected, decoded.error().code, decoded.error().message);
  counters_.events += decoded->events;
  if (observer_ != nullptr) observer_->decoded(*decoded);
  counters_.ignored_events += decoded->ignored.size();
  if (decoded->reply) {
    EventOutcome outcome;
    outcome.status = EventStatus::kReply;
    outcome.decoded = std::move(*decoded);
    return outcome;
  }
  if (!scope.store.empty() && !decoded->store.empty() && scope.store != decoded->store) {
    return failed(
        EventStatus::kRejected, ErrorCode::kInvalidArgument,
        fmt::format("the route names store \"{}\", the body \"{}\"", scope.store, decoded->store));
  }
  KeySet keys = key_set(*decoded);
  keys.scope.store_name = scope.store.empty() ? decoded->store : scope.store;
  const std::string provider = !scope.provider.empty()       ? scope.provider
                               : !settings_.provider.empty() ? settings_.provider
                                                             : decoded->provider;
  const bool know_stores = static_cast<bool>(stores_);
  if (!keys.configs.empty() && !know_stores && keys.scope.store_name.empty()) {
    for (const auto& c : keys.configs) {
      decoded->ignored.push_back(
          {c.provider, "config " + c.config +
                           " changed without secret names: serve --stores (or ?store=) finds "
                           "the stores that read it"});
    }
    keys.configs.clear();
  }
  EventOutcome outcome = trigger(std::move(keys), settings_.run, provider);
  outcome.decoded = std::move(*decoded);
  return outcome;
}

EventOutcome EventService::trigger(KeySet keys, const TriggerOptions& options,
                                   const std::string& provider) {
  if (index_ != nullptr && !index_ready_()) {
    return failed(EventStatus::kNotReady, ErrorCode::kUnreachable,
                  "the index of ExternalSecrets is not synced yet; retry");
  }
  EventOutcome outcome;
  // Kept alive with the outcome: the run's scope points into it.
  outcome.stores = stores_ ? stores_() : nullptr;
  if (stores_ && !outcome.stores) {
    return failed(EventStatus::kNotReady, ErrorCode::kUnreachable,
                  "the SecretStores are not listed yet; retry");
  }
  keys.scope.provider = provider;
  if (outcome.stores) keys.scope.stores = store_lookup(outcome.stores.get());
  if (!provider.empty() && !outcome.stores) {
    return failed(EventStatus::kRejected, ErrorCode::kInvalidArgument,
                  "scoping to provider \"" + provider + "\" needs serve --stores (or --provider)");
  }
  auto run = std::make_shared<TriggerRun>(std::move(keys), options);
  std::unique_ptr<ObjectSource> source;
  if (index_ != nullptr) {
    source = std::make_unique<IndexedObjects>(*index_, run->keys());
  } else {
    source = std::make_unique<ListedObjects>(api_, settings_.scopes,
                                             settings_.cluster_external_secrets, &counters_.lists);
  }
  EarlyPatcher patcher(coalescer_, options.concurrency);
  if (auto listed = run->run(*source, &patcher); !listed) {
    return failed(EventStatus::kUnavailable, listed.error().code,
                  "cannot read ExternalSecrets: " + listed.error().message);
  }
  counters_.matches += run->matched().matches.size();
  counters_.match_problems += run->matched().problems.size();
  for (const auto& r : run->results()) {
    if (!r.outcome) {
      ++counters_.patches_failed;
      continue;
    }
    ++counters_.patches_ok;
    if (r.joined) ++counters_.patches_joined;
  }
  if (observer_ != nullptr) {
    for (const auto& p : run->matched().problems) observer_->problem(p);
    for (size_t i = 0; i < run->results().size(); ++i) {
      const auto& r = run->results()[i];
      observer_->patched(r.target, run->plan().patches[i].annotation, r.joined, r.latency,
                         r.outcome ? nullptr : &r.outcome.error());
    }
  }
  outcome.run = std::move(run);
  return outcome;
}

}  // namespace eso
