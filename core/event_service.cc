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

EventOutcome replied(DecodedEvents decoded) {
  EventOutcome outcome;
  outcome.status = EventStatus::kReply;
  outcome.decoded = std::move(decoded);
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
                                  const RequestScope& scope, const DecodedHook& on_decoded) {
  auto decoded = decode_events(request, source, settings_.decode);
  if (!decoded)
    return failed(EventStatus::kRejected, decoded.error().code, decoded.error().message);
  if (on_decoded && !decoded->reply) {
    on_decoded(*decoded);
    if (decoded->reply) return replied(std::move(*decoded));
  }
  counters_.events += decoded->events;
  if (observer_ != nullptr) observer_->decoded(*decoded);
  counters_.ignored_events += decoded->ignored.size();
  if (decoded->reply) return replied(std::move(*decoded));
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

bool EventService::prepare(KeySet& keys, const std::string& provider, EventOutcome& outcome) {
  if (index_ != nullptr && !index_ready_()) {
    outcome = failed(EventStatus::kNotReady, ErrorCode::kUnreachable,
                     "the index of ExternalSecrets is not synced yet; retry");
    return false;
  }
  // Kept alive with the outcome: the run's scope points into it.
  outcome.stores = stores_ ? stores_() : nullptr;
  if (stores_ && !outcome.stores) {
    outcome = failed(EventStatus::kNotReady, ErrorCode::kUnreachable,
                     "the SecretStores are not listed yet; retry");
    return false;
  }
  keys.scope.provider = provider;
  if (outcome.stores) keys.scope.stores = store_lookup(outcome.stores.get());
  if (!provider.empty() && !outcome.stores) {
    outcome =
        failed(EventStatus::kRejected, ErrorCode::kInvalidArgument,
               "scoping to provider \"" + provider + "\" needs serve --stores (or --provider)");
    return false;
  }
  return true;
}

std::unique_ptr<ObjectSource> EventService::source_for(const KeySet& keys) {
  if (index_ != nullptr) return std::make_unique<IndexedObjects>(*index_, keys);
  return std::make_unique<ListedObjects>(api_, settings_.scopes, settings_.cluster_external_secrets,
                                         &counters_.lists);
}

EventOutcome EventService::trigger(KeySet keys, const TriggerOptions& options,
                                   const std::string& provider) {
  EventOutcome outcome;
  if (!prepare(keys, provider, outcome)) return outcome;
  auto run = std::make_shared<TriggerRun>(std::move(keys), options);
  const auto source = source_for(run->keys());
  EarlyPatcher patcher(coalescer_, options.concurrency);
  if (auto listed = run->run(*source, &patcher); !listed) {
    return failed(EventStatus::kUnavailable, listed.error().code,
                  "cannot read ExternalSecrets: " + listed.error().message);
  }
  account(*run);
  outcome.run = std::move(run);
  return outcome;
}

EventOutcome EventService::plan(KeySet keys, const TriggerOptions& options,
                                const std::string& provider,
                                const std::set<std::string>& namespaces) {
  EventOutcome outcome;
  if (!prepare(keys, provider, outcome)) return outcome;
  auto run = std::make_shared<TriggerRun>(std::move(keys), options);
  const auto source = source_for(run->keys());
  NamespacedObjects in_scope(*source, namespaces);
  if (auto listed = run->run(in_scope, nullptr); !listed) {
    return failed(EventStatus::kUnavailable, listed.error().code,
                  "cannot read ExternalSecrets: " + listed.error().message);
  }
  counters_.matches += run->matched().matches.size();
  counters_.match_problems += run->matched().problems.size();
  outcome.run = std::move(run);
  return outcome;
}

void EventService::patch(TriggerRun& run) {
  EarlyPatcher patcher(api_, run.options().value, run.options().concurrency);
  run.patch(patcher);
  for (const auto& r : run.results())
    ++(r.outcome ? counters_.patches_ok : counters_.patches_failed);
  report_patches(run);
}

void EventService::account(const TriggerRun& run) {
  counters_.matches += run.matched().matches.size();
  counters_.match_problems += run.matched().problems.size();
  for (const auto& r : run.results()) {
    if (!r.outcome) {
      ++counters_.patches_failed;
      continue;
    }
    ++counters_.patches_ok;
    if (r.joined) ++counters_.patches_joined;
  }
  if (observer_ != nullptr) {
    for (const auto& p : run.matched().problems) observer_->problem(p);
  }
  report_patches(run);
}

void EventService::report_patches(const TriggerRun& run) {
  if (observer_ == nullptr) return;
  for (size_t i = 0; i < run.results().size(); ++i) {
    const auto& r = run.results()[i];
    observer_->patched(r.target, run.plan().patches[i].annotation, r.joined, r.latency,
                       r.outcome ? nullptr : &r.outcome.error());
  }
}

}  // namespace eso
