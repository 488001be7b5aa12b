#include "webhook/trigger_api.h"

#include <algorithm>
#include <map>

#include <fmt/format.h>
#include <rapidjson/document.h>

#include "core/go_duration.h"
#include "core/http/escape.h"
#include "core/match_report.h"
#include "core/sync_wait.h"
#include "core/trigger_report.h"
#include "webhook/responses.h"

namespace eso::webhook {
namespace {

using Json = rapidjson::Value;

Error invalid(std::string message) {
  return Error{ErrorCode::kInvalidArgument, std::move(message)};
}

Status read_strings(const Json& value, const char* field, std::vector<std::string>& out) {
  if (!value.IsArray()) return invalid(fmt::format("\"{}\" must be an array of strings", field));
  for (const auto& item : value.GetArray()) {
    if (!item.IsString() || item.GetStringLength() == 0 || item.GetStringLength() > 2048) {
      return invalid(fmt::format("\"{}\" must hold non-empty strings (at most 2048 bytes)", field));
    }
    out.emplace_back(item.GetString(), item.GetStringLength());
  }
  return ok_status();
}

Status read_string(const Json& value, const char* field, std::string& out) {
  if (!value.IsString()) return invalid(fmt::format("\"{}\" must be a string", field));
  out.assign(value.GetString(), value.GetStringLength());
  return ok_status();
}

Status read_bool(const Json& value, const char* field, bool& out) {
  if (!value.IsBool()) return invalid(fmt::format("\"{}\" must be true or false", field));
  out = value.GetBool();
  return ok_status();
}

Status read_wait(const Json& value, const TriggerApiOptions& options, TriggerRequest& out) {
  std::string text;
  if (auto s = read_string(value, "wait", text); !s) return s;
  const auto d = parse_go_duration(text);
  if (!d) return invalid("\"wait\": " + d.error().message);
  if (d->count() <= 0) return invalid("\"wait\" must be positive (leave it out not to wait)");
  out.wait = std::chrono::ceil<std::chrono::milliseconds>(*d);  // "500us" still waits
  if (out.wait > options.max_wait) {
    return invalid(
        fmt::format("\"wait\" {} is longer than this server allows ({} s; serve "
                    "--trigger-max-wait)",
                    text, options.max_wait.count() / 1000));
  }
  return ok_status();
}

Status read_field(std::string_view name, const Json& value, const TriggerApiOptions& options,
                  TriggerRequest& out, bool match) {
  if (match && name != "keys" && name != "namespaces" && name != "store" && name != "storeKind" &&
      name != "provider") {
    return invalid(
        fmt::format("unknown field \"{}\"; known: keys, namespaces, store, storeKind, "
                    "provider",
                    name.substr(0, 64)));
  }
  if (name == "keys") return read_strings(value, "keys", out.keys);
  if (name == "namespaces") return read_strings(value, "namespaces", out.namespaces);
  if (name == "store") return read_string(value, "store", out.store);
  if (name == "storeKind") return read_string(value, "storeKind", out.store_kind);
  if (name == "provider") return read_string(value, "provider", out.provider);
  if (name == "dryRun") return read_bool(value, "dryRun", out.dry_run);
  if (name == "force") return read_bool(value, "force", out.force);
  if (name == "includePossible") return read_bool(value, "includePossible", out.include_possible);
  if (name == "wait") return read_wait(value, options, out);
  return invalid(
      fmt::format("unknown field \"{}\"; known: keys, namespaces, store, storeKind, "
                  "provider, dryRun, wait, force, includePossible",
                  name.substr(0, 64)));
}

// The states of the objects a wait will follow, read before the patch: a sync error that was
// there before the trigger is not the answer to it (check_sync).
std::map<ObjectRef, std::optional<ReadyCondition>> states_before(KubeApi& api,
                                                                 const TriggerRun& run) {
  std::vector<PatchResult> planned(run.plan().patches.size());
  for (size_t i = 0; i < planned.size(); ++i) planned[i].outcome = PatchOutcome{};
  std::vector<WaitResult> ignored;
  std::map<ObjectRef, std::optional<ReadyCondition>> states;
  for (const auto& target : wait_targets(run.plan(), planned, ignored)) {
    if (auto state = api.get_sync_state(target.ref)) states[target.ref] = state->ready;
  }
  return states;
}

std::vector<WaitResult> wait_for(KubeApi& api, const TriggerRun& run,
                                 const std::map<ObjectRef, std::optional<ReadyCondition>>& before,
                                 std::chrono::milliseconds wait,
                                 const std::atomic<bool>* stopping) {
  const auto started = std::chrono::steady_clock::now();
  std::vector<WaitResult> waits;
  auto targets = wait_targets(run.plan(), run.results(), waits);
  for (auto& t : targets) {
    const auto found = before.find(t.ref);
    t.ready_before = found != before.end() ? found->second : std::nullopt;
  }
  auto answered = wait_for_sync(api, targets, started, wait, std::chrono::milliseconds(500),
                                system_clock(), stopping);
  waits.insert(waits.end(), answered.begin(), answered.end());
  return waits;
}

// 200 when every patch succeeded (and, with a wait, every object synced); 207 would hide
// failures from simple clients, so: 500/503 when a patch failed, 504 when a wait did not end
// in a sync. The body is the report either way.
int report_status(const TriggerRun& run, const std::optional<std::vector<WaitResult>>& waits) {
  int status = 200;
  for (const auto& r : run.results()) {
    if (!r.outcome) status = std::max(status, retryable(r.outcome.error().code) ? 503 : 500);
  }
  if (status == 200 && waits && !std::all_of(waits->begin(), waits->end(), wait_succeeded)) {
    status = 504;
  }
  return status;
}

}  // namespace

Result<TriggerRequest> parse_trigger_request(std::string_view body,
                                             const TriggerApiOptions& options, bool match) {
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseIterativeFlag>(body.data(), body.size());
  if (doc.HasParseError()) return Error{ErrorCode::kMalformed, "malformed JSON"};
  if (!doc.IsObject()) return invalid("the body must be a JSON object");
  TriggerRequest request;
  std::set<std::string_view> seen;
  for (const auto& member : doc.GetObject()) {
    const std::string_view name(member.name.GetString(), member.name.GetStringLength());
    if (!seen.insert(name).second) {
      return invalid(fmt::format("field \"{}\" appears twice", name.substr(0, 64)));
    }
    if (auto s = read_field(name, member.value, options, request, match); !s) return s.error();
  }
  if (request.keys.empty()) return invalid("\"keys\" must name at least one key");
  if (request.keys.size() > options.max_keys) {
    return invalid(
        fmt::format("{} keys; at most {} per request", request.keys.size(), options.max_keys));
  }
  if (!request.store_kind.empty() && request.store_kind != "SecretStore" &&
      request.store_kind != "ClusterSecretStore") {
    return invalid("\"storeKind\" is SecretStore or ClusterSecretStore");
  }
  const std::set<std::string> allowed(options.namespaces.begin(), options.namespaces.end());
  for (const auto& ns : request.namespaces) {
    if (!allowed.empty() && allowed.count(ns) == 0) {
      return Error{ErrorCode::kForbidden,
                   fmt::format("namespace \"{}\" is not one the trigger API may reach (serve "
                               "--trigger-namespaces)",
                               ns.substr(0, 253))};
    }
  }
  return request;
}

http::Response TriggerApi::handle(std::string_view body) {
  auto request = parse_trigger_request(body, options_);
  if (!request) return error_response(http_status(request.error().code), request.error().message);
  if (request->wait.count() == 0 || request->dry_run) return run(*request);
  // A wait holds a worker: at most max_waiting at once, so webhooks keep the others.
  if (waiting_.fetch_add(1) >= options_.max_waiting) {
    --waiting_;
    if (options_.max_waiting <= 0) {  // not a moment's refusal: no 503, no Retry-After
      return error_response(422,
                            "this serve runs one worker (--workers 1), which a waiting trigger "
                            "would take from the webhooks: trigger without \"wait\"");
    }
    return error_response(503, fmt::format("{} trigger request(s) are already waiting for ESO; "
                                           "retry, or trigger without \"wait\"",
                                           options_.max_waiting));
  }
  http::Response response = run(*request);
  --waiting_;
  return response;
}

http::Response TriggerApi::handle_match(std::string_view body) {
  auto request = parse_trigger_request(body, options_, true);
  if (!request) return error_response(http_status(request.error().code), request.error().message);
  request->dry_run = true;
  KeySet keys;
  keys.keys = request->keys;
  keys.scope.store_name = request->store;
  keys.scope.store_kind = request->store_kind;
  TriggerOptions options = service_.settings().run;
  options.dry_run = true;
  options.confined = !options_.namespaces.empty();
  const std::vector<std::string>& namespaces =
      request->namespaces.empty() ? options_.namespaces : request->namespaces;
  EventOutcome outcome = service_.plan(std::move(keys), options, request->provider,
                                       std::set<std::string>(namespaces.begin(), namespaces.end()));
  if (outcome.status != EventStatus::kDone) return event_response(outcome);
  return http::Response{
      200,
      "application/json",
      http::valid_utf8(match_json(outcome.run->matched(), request->keys, group_version_, false)),
      {}};
}

http::Response TriggerApi::run(const TriggerRequest& request) {
  KeySet keys;
  keys.keys = request.keys;
  keys.scope.store_name = request.store;
  keys.scope.store_kind = request.store_kind;
  TriggerOptions options = service_.settings().run;
  options.value = trigger_stamp(std::chrono::system_clock::now());
  options.dry_run = request.dry_run;
  options.force = options.force || request.force;
  options.include_possible = options.include_possible || request.include_possible;
  options.confined = !options_.namespaces.empty();
  const std::vector<std::string>& namespaces =
      request.namespaces.empty() ? options_.namespaces : request.namespaces;
  EventOutcome outcome = service_.plan(std::move(keys), options, request.provider,
                                       std::set<std::string>(namespaces.begin(), namespaces.end()));
  if (outcome.status != EventStatus::kDone) return event_response(outcome);
  TriggerRun& run = *outcome.run;
  std::optional<std::vector<WaitResult>> waits;
  const bool wait = request.wait.count() > 0 && !request.dry_run;
  const auto before = wait ? states_before(api_, run) : decltype(states_before(api_, run)){};
  service_.patch(run);
  if (wait) waits = wait_for(api_, run, before, request.wait, options_.stopping);
  const TriggerReport report{run.plan().value, request.dry_run,
                             build_reports(run.plan(), run.results(), request.dry_run),
                             run.matched().problems, waits};
  const int status = report_status(run, waits);
  http::Response response{
      status, "application/json", http::valid_utf8(report_json(report, false)), {}};
  if (status == 503) response.headers.emplace_back("Retry-After", "5");
  return response;
}

}  // namespace eso::webhook
