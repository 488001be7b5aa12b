// serve's handler with a memory of deliveries, over a fake API server: a redelivery of a
// delivery processed in full patches nothing, one whose first try is still running is answered
// 503, and one whose first try failed is processed again.
#include <condition_variable>
#include <future>
#include <mutex>

#include <doctest/doctest.h>

#include "test/core/es_json.h"
#include "test/core/fake_kube.h"
#include "webhook/handler.h"

namespace eso::webhook {
namespace {

using namespace std::chrono_literals;

// A fake API server whose patches wait while `hold` is set.
class HeldKube final : public test::EmptyKube {
 public:
  Result<SyncState> get_sync_state(const ObjectRef&) override {
    return Error{ErrorCode::kNotFound, "not found"};
  }
  Result<PatchOutcome> patch_annotation(const ObjectRef& target, std::string_view, std::string_view,
                                        AnnotationPlace) override {
    std::unique_lock lock(mu_);
    ++started_;
    changed_.notify_all();
    changed_.wait_for(lock, 10s, [&] { return !hold_; });
    if (fail_) return Error{ErrorCode::kForbidden, "denied " + target.name};
    ++patched_;
    return PatchOutcome{"rv"};
  }
  void hold(bool on) {
    std::lock_guard lock(mu_);
    hold_ = on;
    changed_.notify_all();
  }
  void fail(bool on) {
    std::lock_guard lock(mu_);
    fail_ = on;
  }
  bool await_started(int n) {
    std::unique_lock lock(mu_);
    return changed_.wait_for(lock, 10s, [&] { return started_ >= n; });
  }
  int patched() {
    std::lock_guard lock(mu_);
    return patched_;
  }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  bool hold_ = false;
  bool fail_ = false;
  int started_ = 0;
  int patched_ = 0;
};

struct Serve {
  HeldKube kube;
  KeyIndex index;
  WebhookCounters counters;
  Metrics metrics;
  Credentials credentials{""};
  DeliveryMemory deliveries;
  HandlerOptions options;
  std::unique_ptr<EventService> service;
  std::unique_ptr<WebhookHandler> handler;

  Serve() {
    index.replace("ExternalSecret", "a", {test::es_from_json(R"({"metadata": {"namespace": "a",
        "name": "db"}, "spec": {"secretStoreRef": {"name": "s"},
        "data": [{"secretKey": "k", "remoteRef": {"key": "/prod/db"}}]}})")});
    options.insecure_no_auth = true;
    service = std::make_unique<EventService>(
        kube, &index, [] { return true; }, EventSettings{}, counters);
    HandlerHooks hooks{[] { return true; }, [] { return std::string(); }, nullptr, {}};
    hooks.senders.deliveries = &deliveries;
    handler = std::make_unique<WebhookHandler>(options, RouteScopes{}, RouteScopes{}, *service,
                                               credentials, metrics, hooks);
  }

  http::Response post(const std::string& body) {
    http::Request request;
    request.head.method = "POST";
    request.head.target = "/webhook/akeyless";
    request.head.version = "HTTP/1.1";
    request.body = body;
    return handler->handle(request);
  }
  std::string metrics_text() { return metrics.render(counters, IndexStats{}); }
};

constexpr const char* kEvent =
    R"({"item_name": "/prod/db", "event_type": "static-secret-updated", "event_id": 7})";

bool has_retry_after(const http::Response& r) {
  for (const auto& [name, value] : r.headers) {
    if (name == "Retry-After") return true;
  }
  return false;
}

}  // namespace

TEST_CASE("a redelivery while the first try runs is 503, and after it succeeded a duplicate") {
  Serve serve;
  serve.kube.hold(true);
  auto first = std::async(std::launch::async, [&] { return serve.post(kEvent); });
  REQUIRE(serve.kube.await_started(1));
  const http::Response concurrent = serve.post(kEvent);
  CHECK(concurrent.status == 503);
  CHECK(has_retry_after(concurrent));
  serve.kube.hold(false);
  CHECK(first.get().status == 200);
  CHECK(serve.kube.patched() == 1);

  const http::Response again = serve.post(kEvent);
  CHECK(again.status == 200);
  CHECK(again.body.find(R"("duplicate":true)") != std::string::npos);
  CHECK(serve.kube.patched() == 1);
  const std::string text = serve.metrics_text();
  CHECK(text.find(R"(eso_updater_redeliveries_total{result="in_flight"} 1)") != std::string::npos);
  CHECK(text.find(R"(eso_updater_redeliveries_total{result="duplicate"} 1)") != std::string::npos);
  // Another event id is another delivery; without an id there is nothing to remember.
  CHECK(serve.post(R"({"item_name": "/prod/db", "event_id": 8})").body.find("duplicate") ==
        std::string::npos);
  CHECK(serve.post(R"({"item_name": "/prod/db"})").body.find("duplicate") == std::string::npos);
  CHECK(serve.kube.patched() == 3);
}

TEST_CASE("a delivery whose first try failed is processed again when redelivered") {
  Serve serve;
  serve.kube.fail(true);
  CHECK(serve.post(kEvent).status != 200);
  serve.kube.fail(false);
  const http::Response retried = serve.post(kEvent);
  CHECK(retried.status == 200);
  CHECK(retried.body.find("duplicate") == std::string::npos);
  CHECK(serve.kube.patched() == 1);
  CHECK(serve.post(kEvent).body.find(R"("duplicate":true)") != std::string::npos);
  CHECK(serve.kube.patched() == 1);
}

}  // namespace eso::webhook
