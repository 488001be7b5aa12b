#include "webhook/metrics.h"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include "core/http/escape.h"

namespace eso::webhook {
namespace {

std::tm utc_now() {
  return fmt::gmtime(std::chrono::system_clock::to_time_t(std::chrono::system_clock::now()));
}

void counter(std::string& out, std::string_view name, uint64_t value) {
  out += fmt::format("# TYPE {0} counter\n{0} {1}\n", name, value);
}

}  // namespace

void Metrics::Histogram::add(std::chrono::microseconds d) {
  const double seconds = static_cast<double>(d.count()) / 1e6;
  for (size_t i = 0; i < kBuckets.size(); ++i) {
    if (seconds <= kBuckets[i]) ++buckets[i];
  }
  ++count;
  sum += seconds;
}

void Metrics::Histogram::render(std::string& out, std::string_view name) const {
  out += fmt::format("# TYPE {} histogram\n", name);
  for (size_t i = 0; i < kBuckets.size(); ++i) {
    out += fmt::format("{}_bucket{{le=\"{}\"}} {}\n", name, kBuckets[i], buckets[i]);
  }
  out += fmt::format("{}_bucket{{le=\"+Inf\"}} {}\n", name, count);
  out += fmt::format("{}_sum {}\n", name, sum);
  out += fmt::format("{}_count {}\n", name, count);
}

void Metrics::request(const std::string& route, int status, std::chrono::microseconds duration) {
  std::lock_guard lock(mu_);
  ++requests_[{route, status}];
  if (route == "/webhook") webhook_.add(duration);
}

void Metrics::overloaded(std::string_view limit) {
  std::lock_guard lock(mu_);
  ++overloaded_[std::string(limit)];
}

void Metrics::auth_failure(std::string_view reason) {
  std::lock_guard lock(mu_);
  ++auth_failures_[std::string(reason)];
}

void Metrics::redelivery(std::string_view result) {
  std::lock_guard lock(mu_);
  ++redeliveries_[std::string(result)];
}

void Metrics::events(const DecodedEvents& decoded) {
  std::lock_guard lock(mu_);
  for (const auto& [type, n] : decoded.types) {
    // Senders choose the types: escaped for the text format, and a bounded set of series.
    std::pair<std::string, std::string> key{decoded.source, type.empty() ? "untyped" : type};
    if (events_.size() >= kMaxTypeSeries && events_.count(key) == 0) key.second = "other";
    events_[key] += n;
  }
}

void Metrics::patch(bool ok, std::chrono::microseconds latency) {
  std::lock_guard lock(mu_);
  patch_.add(latency);
  ++patches_[ok ? "succeeded" : "failed"];
}

void Metrics::render_requests(std::string& out) const {
  out += "# TYPE eso_updater_http_requests_total counter\n";
  for (const auto& [key, n] : requests_) {
    out += fmt::format("eso_updater_http_requests_total{{route=\"{}\",code=\"{}\"}} {}\n",
                       key.first, key.second, n);
  }
  webhook_.render(out, "eso_updater_webhook_duration_seconds");
  out += "# TYPE eso_updater_events_by_type_total counter\n";
  for (const auto& [key, n] : events_) {
    out += fmt::format("eso_updater_events_by_type_total{{source=\"{}\",type=\"{}\"}} {}\n",
                       key.first, http::prometheus_label_escape(key.second), n);
  }
  out += "# TYPE eso_updater_http_overloaded_total counter\n";
  for (const auto& [limit, n] : overloaded_) {
    out += fmt::format("eso_updater_http_overloaded_total{{limit=\"{}\"}} {}\n", limit, n);
  }
  out += "# TYPE eso_updater_auth_failures_by_reason_total counter\n";
  for (const auto& [reason, n] : auth_failures_) {
    out +=
        fmt::format("eso_updater_auth_failures_by_reason_total{{reason=\"{}\"}} {}\n", reason, n);
  }
  out += "# TYPE eso_updater_redeliveries_total counter\n";
  for (const auto& [result, n] : redeliveries_) {
    out += fmt::format("eso_updater_redeliveries_total{{result=\"{}\"}} {}\n", result, n);
  }
  out += "# TYPE eso_updater_patches_total counter\n";
  for (const auto& [result, n] : patches_) {
    out += fmt::format("eso_updater_patches_total{{result=\"{}\"}} {}\n", result, n);
  }
  patch_.render(out, "eso_updater_patch_duration_seconds");
}

std::string Metrics::render(const WebhookCounters& c, const IndexStats& index) const {
  std::string out;
  uint64_t auth_failures = 0;
  {
    std::lock_guard lock(mu_);
    render_requests(out);
    for (const auto& entry : auth_failures_) auth_failures += entry.second;
  }
  counter(out, "eso_updater_events_total", c.events.load());
  counter(out, "eso_updater_events_ignored_total", c.ignored_events.load());
  counter(out, "eso_updater_matches_total", c.matches.load());
  counter(out, "eso_updater_patches_succeeded_total", c.patches_ok.load());
  counter(out, "eso_updater_patches_failed_total", c.patches_failed.load());
  counter(out, "eso_updater_patches_joined_total", c.patches_joined.load());
  counter(out, "eso_updater_event_lists_total", c.lists.load());
  counter(out, "eso_updater_match_problems_total", c.match_problems.load());
  counter(out, "eso_updater_auth_failures_total", auth_failures);
  out += fmt::format("# TYPE eso_updater_index_objects gauge\neso_updater_index_objects {}\n",
                     index.objects);
  counter(out, "eso_updater_index_lists_total", static_cast<uint64_t>(index.lists));
  counter(out, "eso_updater_watch_restarts_total", static_cast<uint64_t>(index.watch_restarts));
  return out;
}

std::string log_object(const ObjectRef& ref) {
  return ref.kind + "/" + (ref.namespace_name.empty() ? "" : ref.namespace_name + "/") + ref.name;
}

void LogObserver::problem(const MatchProblem& p) {
  const std::string object = log_object(p.object->ref);
  const auto now = utc_now();
  std::lock_guard lock(mu_);
  if (format_ == "json") {
    fmt::print(
        stderr, "{{\"time\":\"{:%FT%TZ}\",\"problem\":\"{}\",\"field\":\"{}\",\"error\":\"{}\"}}\n",
        now, http::json_escape(object), http::json_escape(p.field), http::json_escape(p.message));
    return;
  }
  fmt::print(stderr, "{:%FT%TZ} problem {} {}: {}\n", now, object, p.field,
             http::log_escape(p.message));
}

void LogObserver::patched(const ObjectRef& target, const std::string& annotation, bool joined,
                          std::chrono::microseconds latency, const Error* error) {
  metrics_.patch(error == nullptr, latency);
  const std::string object = log_object(target);
  const std::string result = error == nullptr ? (joined ? "joined" : "patched") : "failed";
  const double ms = static_cast<double>(latency.count()) / 1000.0;
  const auto now = utc_now();
  std::lock_guard lock(mu_);
  if (format_ == "json") {
    // fmt, not operator+ on a temporary: GCC 12 at -O3 warns (-Wrestrict) on the inlined copy.
    const std::string error_field =
        error == nullptr ? std::string()
                         : fmt::format(",\"error\":\"{}\"", http::json_escape(error->message));
    fmt::print(stderr,
               "{{\"time\":\"{:%FT%TZ}\",\"patch\":\"{}\",\"annotation\":\"{}\","
               "\"result\":\"{}\",\"durationMs\":{:.3f}{}}}\n",
               now, object, annotation, result, ms, error_field);
    return;
  }
  const std::string error_text =
      error == nullptr ? std::string() : fmt::format(" {}", http::log_escape(error->message));
  fmt::print(stderr, "{:%FT%TZ} patch {} {} {} {:.3f}ms{}\n", now, object, annotation, result, ms,
             error_text);
}

}  // namespace eso::webhook
