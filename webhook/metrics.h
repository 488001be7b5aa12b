#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include "core/event_service.h"

namespace eso::webhook {

/// The index's figures for /metrics.
struct IndexStats {
  size_t objects = 0;
  int lists = 0;
  int watch_restarts = 0;
};

/// Prometheus counters and histograms of serve (DESIGN.md §6 "Observability"). Thread-safe.
class Metrics {
 public:
  void request(const std::string& route, int status, std::chrono::microseconds duration);
  void overloaded(std::string_view limit);
  void events(const DecodedEvents& decoded);
  void patch(bool ok, std::chrono::microseconds latency);
  /// A request refused for its credentials; `reason` is a fixed word (never sender text).
  void auth_failure(std::string_view reason = "credentials");
  /// A delivery seen before (issue 16): `result` is "duplicate" (answered, not processed) or
  /// "in_flight" (the first try still running: answered 503).
  void redelivery(std::string_view result);

  /// The text exposition format.
  std::string render(const WebhookCounters& c, const IndexStats& index) const;

 private:
  static constexpr size_t kMaxTypeSeries = 200;
  static constexpr std::array<double, 10> kBuckets{0.001, 0.0025, 0.005, 0.01, 0.025,
                                                   0.05,  0.1,    0.25,  1,    5};
  struct Histogram {
    std::array<uint64_t, kBuckets.size()> buckets{};
    uint64_t count = 0;
    double sum = 0;
    void add(std::chrono::microseconds d);
    void render(std::string& out, std::string_view name) const;
  };
  void render_requests(std::string& out) const;

  mutable std::mutex mu_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;
  Histogram webhook_;
  std::map<std::pair<std::string, std::string>, uint64_t> events_;
  std::map<std::string, uint64_t> patches_;
  std::map<std::string, uint64_t> overloaded_;  ///< 503s the server gave itself, by limit
  std::map<std::string, uint64_t> auth_failures_;
  std::map<std::string, uint64_t> redeliveries_;
  Histogram patch_;
};

/// One log line per patch and per match problem, and the event and patch metrics.
class LogObserver final : public WebhookObserver {
 public:
  LogObserver(Metrics& metrics, std::string format)
      : metrics_(metrics), format_(std::move(format)) {}

  void decoded(const DecodedEvents& events) override { metrics_.events(events); }
  void problem(const MatchProblem& p) override;
  void patched(const ObjectRef& target, const std::string& annotation, bool joined,
               std::chrono::microseconds latency, const Error* error) override;

 private:
  Metrics& metrics_;
  std::string format_;
  std::mutex mu_;
};

/// `kind/namespace/name` (or `kind/name`) for log lines.
std::string log_object(const ObjectRef& ref);

}  // namespace eso::webhook
