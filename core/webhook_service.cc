#include "core/webhook_service.h"

#include <algorithm>
#include <thread>

#include <fmt/format.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "core/http/escape.h"
#include "core/json_report.h"
#include "core/match.h"
#include "core/trigger_plan.h"

namespace eso {
namespace {

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

WebhookResponse error_response(int status, const std::string& message,
                               std::vector<std::pair<std::string, std::string>> headers = {}) {
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  w.Key("error");
  const std::string valid = http::valid_utf8(message);  // it may quote a query value
  w.String(valid.data(), static_cast<rapidjson::SizeType>(valid.size()));
  w.EndObject();
  return WebhookResponse{status, buffer.GetString(), std::move(headers)};
}

bool retryable(const Error& e) {
  return e.code == ErrorCode::kUnreachable || e.code == ErrorCode::kServer ||
         e.code == ErrorCode::kTooManyRequests;
}

// What happened to each planned patch.
struct PatchReport {
  const PlannedPatch* plan;
  CoalescedPatch done;
  std::chrono::microseconds latency{0};
};

std::vector<PatchReport> run_coalesced(PatchCoalescer& coalescer, const TriggerPlan& plan,
                                       int concurrency) {
  std::vector<PatchReport> reports(plan.patches.size());
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t i = next++; i < plan.patches.size(); i = next++) {
      const auto start = std::chrono::steady_clock::now();
      reports[i].plan = &plan.patches[i];
      reports[i].done = coalescer.patch(plan.patches[i].target, plan.patches[i].annotation,
                                        plan.patches[i].place);
      reports[i].latency = std::chrono::duration_cast<std::chrono::microseconds>(
          std::chrono::steady_clock::now() - start);
    }
  };
  const size_t threads =
      std::min(plan.patches.size(), static_cast<size_t>(std::max(concurrency, 1)));
  if (threads <= 1) {
    worker();
    return reports;
  }
  std::vector<std::jthread> pool;
  for (size_t t = 0; t < threads; ++t) pool.emplace_back(worker);
  return reports;
}

void write_events(JsonWriter& w, const DecodedEvents& decoded) {
  w.Key("source");
  w.String(decoded.source);
  w.Key("events");
  w.Uint64(decoded.events);
  w.Key("keys");
  w.StartArray();
  for (const auto& k : decoded.keys) w.String(k);
  w.EndArray();
  if (!decoded.paths.empty()) {
    w.Key("paths");
    w.StartArray();
    for (const auto& p : decoded.paths) w.String(p);
    w.EndArray();
  }
  w.Key("ignored");
  w.StartArray();
  for (const auto& i : decoded.ignored) {
    w.StartObject();
    w.Key("eventType");
    w.String(i.event_type);
    w.Key("reason");
    w.String(i.reason);
    w.EndObject();
  }
  w.EndArray();
}

void write_matches(JsonWriter& w, const MatchResult& matched) {
  w.Key("matched");
  w.StartArray();
  for (const auto& m : matched.matches) {
    w.StartObject();
    write_match_fields(w, m);
    w.EndObject();
  }
  w.EndArray();
}

}  // namespace

WebhookService::WebhookService(KubeApi& api, const KeyIndex* index,
                               std::function<bool()> index_ready, WebhookSettings settings,
                               WebhookCounters& counters, WebhookObserver* observer,
                               StoreSnapshot stores)
    : api_(api),
      index_(index),
      index_ready_(std::move(index_ready)),
      settings_(std::move(settings)),
      counters_(counters),
      observer_(observer),
      stores_(std::move(stores)),
      coalescer_(api) {}

Result<std::vector<ExternalSecret>> WebhookService::candidates(const DecodedEvents& decoded) {
  if (index_ != nullptr) {
    return decoded.paths.empty() && decoded.configs.empty() ? index_->candidates(decoded.keys)
                                                            : index_->all();
  }
  std::vector<ExternalSecret> out;
  for (const auto& scope : settings_.scopes) {
    ++counters_.lists;
    auto listed = api_.list_external_secrets(scope);
    if (!listed) return listed.error();
    std::move(listed->begin(), listed->end(), std::back_inserter(out));
  }
  if (settings_.cluster_external_secrets && !settings_.scopes.empty()) {
    ++counters_.lists;
    auto listed = api_.list_cluster_external_secrets(settings_.scopes.front());
    if (!listed) return listed.error();
    std::move(listed->begin(), listed->end(), std::back_inserter(out));
  }
  return out;
}

WebhookResponse WebhookService::handle(const EventRequest& request, std::string_view source,
                                       std::string_view store, std::string_view provider) {
  auto decoded = decode_events(request, source, settings_.decode);
  if (!decoded) {
    const Error& e = decoded.error();
    const int status = e.code == ErrorCode::kNotFound       ? 404
                       : e.code == ErrorCode::kUnauthorized ? 401
                       : e.code == ErrorCode::kMalformed    ? 400
                                                            : 422;
    return error_response(status, e.message);
  }
  counters_.events += decoded->events;
  if (observer_ != nullptr) observer_->decoded(*decoded);
  counters_.ignored_events += decoded->ignored.size();
  if (decoded->reply) return WebhookResponse{decoded->reply->status, decoded->reply->body, {}};
  if (!store.empty() && !decoded->store.empty() && store != decoded->store) {
    return error_response(
        422, fmt::format("the route names store \"{}\", the body \"{}\"", store, decoded->store));
  }
  if (index_ != nullptr && !index_ready_()) {
    return error_response(503, "the index of ExternalSecrets is not synced yet; retry",
                          {{"Retry-After", "5"}});
  }
  auto objects = candidates(*decoded);
  if (!objects) {
    return error_response(503, "cannot read ExternalSecrets: " + objects.error().message,
                          {{"Retry-After", "5"}});
  }
  MatchScope scope;
  scope.store_name = store.empty() ? decoded->store : std::string(store);
  scope.provider = !provider.empty()             ? std::string(provider)
                   : !settings_.provider.empty() ? settings_.provider
                                                 : decoded->provider;
  scope.environment = decoded->environment;
  scope.event_rule = decoded->key_rule;
  // Kept alive for the match below: the lookup points into it.
  const auto stores = stores_ ? stores_() : nullptr;
  if (stores_ && !stores) {
    return error_response(503, "the SecretStores are not listed yet; retry",
                          {{"Retry-After", "5"}});
  }
  if (stores) scope.stores = store_lookup(stores.get());
  if (!scope.provider.empty() && !stores) {
    return error_response(
        422, "scoping to provider \"" + scope.provider + "\" needs serve --stores (or --provider)");
  }
  if (!decoded->configs.empty() && !scope.stores && scope.store_name.empty()) {
    for (const auto& c : decoded->configs) {
      decoded->ignored.push_back(
          {c.provider, "config " + c.config +
                           " changed without secret names: serve --stores (or ?store=) finds "
                           "the stores that read it"});
    }
    decoded->configs.clear();
  }
  const MatchResult matched =
      match_keys(*objects, decoded->keys, scope, decoded->paths, decoded->configs);
  counters_.matches += matched.matches.size();
  counters_.match_problems += matched.problems.size();
  if (observer_ != nullptr) {
    for (const auto& p : matched.problems) observer_->problem(p);
  }
  TriggerOptions options;
  options.annotation = settings_.annotation;
  options.force = settings_.force;
  options.include_possible = settings_.include_possible;
  options.patch_children = settings_.patch_children;
  const TriggerPlan plan = plan_trigger(matched.matches, options);
  const auto reports = run_coalesced(coalescer_, plan, settings_.concurrency);
  if (observer_ != nullptr) {
    for (const auto& r : reports) {
      observer_->patched(r.plan->target, r.plan->annotation, r.done.joined, r.latency,
                         r.done.outcome ? nullptr : &r.done.outcome.error());
    }
  }

  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  write_events(w, *decoded);
  write_matches(w, matched);
  int status = 200;
  w.Key("patched");
  w.StartArray();
  for (const auto& r : reports) {
    if (!r.done.outcome) continue;
    ++counters_.patches_ok;
    if (r.done.joined) ++counters_.patches_joined;
    w.StartObject();
    write_object_ref(w, r.plan->target);
    w.Key("annotation");
    w.String(r.plan->annotation);
    w.Key("value");
    w.String(r.done.value);
    w.Key("joined");
    w.Bool(r.done.joined);
    w.EndObject();
  }
  w.EndArray();
  w.Key("failed");
  w.StartArray();
  for (const auto& r : reports) {
    if (r.done.outcome) continue;
    ++counters_.patches_failed;
    status = std::max(status, retryable(r.done.outcome.error()) ? 503 : 500);
    w.StartObject();
    write_object_ref(w, r.plan->target);
    w.Key("error");
    w.String(r.done.outcome.error().message);
    w.EndObject();
  }
  w.EndArray();
  w.Key("skipped");
  w.StartArray();
  for (const auto& s : plan.skipped) {
    w.StartObject();
    write_object_ref(w, s.target);
    w.Key("reason");
    w.String(skip_text(s));
    w.EndObject();
  }
  w.EndArray();
  // The same problems schema as `match`/`trigger -o json` (core/json_report.h).
  write_problems(w, matched.problems);
  w.EndObject();
  // Decoded text is valid UTF-8 already; this also covers what the API server said.
  WebhookResponse response{status, http::valid_utf8(buffer.GetString()), {}};
  if (status == 503) response.headers.emplace_back("Retry-After", "5");
  return response;
}

}  // namespace eso
