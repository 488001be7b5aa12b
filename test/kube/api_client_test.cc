// The API client against a scripted API server on 127.0.0.1:0 (test/kube/loopback_api_server.h):
// which failures are retried, how often, how far apart and for how long; what a watch asks
// for and where it resumes after a bookmark.
#include "kube/api_client.h"

#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <thread>

#include <doctest/doctest.h>

#include "test/kube/loopback_api_server.h"

namespace eso::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

kube::ClientConfig loopback_config(const std::string& server) {
  kube::ClientConfig config;
  config.source = "test";
  config.server = server;
  config.token = "t";
  return config;
}

std::unique_ptr<kube::ApiClient> connect_to(const LoopbackApiServer& server) {
  auto client = kube::ApiClient::connect(loopback_config(server.url()));
  REQUIRE_MESSAGE(client.ok(), (client.ok() ? "" : client.error().message));
  return std::move(*client);
}

// The time between the arrival of request `i - 1` and request `i`.
std::chrono::milliseconds gap(const std::vector<LoopbackApiServer::Seen>& seen, size_t i) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(seen.at(i).at - seen.at(i - 1).at);
}

class CountingSink final : public InventorySink {
 public:
  void replace(const std::string&, const std::string&, std::vector<ExternalSecret> o) override {
    replaced += static_cast<int>(o.size());
  }
  void upsert(ExternalSecret) override { ++upserts; }
  void remove(const ObjectRef&) override { ++removes; }
  int replaced = 0;
  int upserts = 0;
  int removes = 0;
};

std::string bookmark(int resource_version) {
  return R"({"type":"BOOKMARK","object":{"kind":"ExternalSecret","apiVersion":)"
         R"("external-secrets.io/v1","metadata":{"resourceVersion":")" +
         std::to_string(resource_version) + "\"}}}\n";
}

}  // namespace

TEST_CASE("503 answers are retried with growing backoff until the API server answers") {
  LoopbackApiServer server([](int n, const std::string&, const LoopbackApiServer::Send& send) {
    send(n < 3 ? LoopbackApiServer::response(503, R"({"message":"etcd leader changed"})")
               : LoopbackApiServer::response(200, LoopbackApiServer::discovery()));
  });
  auto client = connect_to(server);
  CHECK(client->group_version() == "external-secrets.io/v1");
  const auto seen = server.seen();
  REQUIRE(seen.size() == 4);  // three 503s, then the answer
  // Attempt k waits at least half its cap of 200 ms * 2^k (jitter spreads the rest).
  CHECK(gap(seen, 1) >= 200ms);
  CHECK(gap(seen, 2) >= 400ms);
  CHECK(gap(seen, 3) >= 800ms);
}

TEST_CASE("5xx retries end within the retry budget, with the last status and the attempts") {
  LoopbackApiServer server([](int n, const std::string&, const LoopbackApiServer::Send& send) {
    send(n == 0 ? LoopbackApiServer::response(200, LoopbackApiServer::discovery())
                : LoopbackApiServer::response(503, R"({"message":"overloaded"})"));
  });
  auto client = connect_to(server);
  client->set_retry_budget(2s);
  ListScope scope;
  scope.namespace_name = "ns";
  const auto start = Clock::now();
  auto listed = client->list_external_secrets(scope);
  const auto took = Clock::now() - start;
  REQUIRE_FALSE(listed.ok());
  CHECK(listed.error().code == ErrorCode::kServer);
  CHECK(listed.error().message.find("HTTP 503") != std::string::npos);
  CHECK(listed.error().message.find("overloaded") != std::string::npos);
  const int attempts = static_cast<int>(server.seen().size()) - 1;
  CHECK(listed.error().message.find("after " + std::to_string(attempts) + " attempts") !=
        std::string::npos);
  // 200-400, 400-800, 800-1600 ms apart: three or four attempts fit in 2 s, never eight.
  CHECK(attempts >= 3);
  CHECK(attempts <= 4);
  // No wait starts that would end past the budget; 8 attempts would take at least 14 s.
  CHECK(took < 2s + 2s);
}

TEST_CASE("a client error is not retried") {
  LoopbackApiServer server([](int n, const std::string&, const LoopbackApiServer::Send& send) {
    send(n == 0 ? LoopbackApiServer::response(200, LoopbackApiServer::discovery())
                : LoopbackApiServer::response(404, R"({"message":"namespaces \"ns\" not found"})"));
  });
  auto client = connect_to(server);
  ListScope scope;
  scope.namespace_name = "ns";
  auto listed = client->list_external_secrets(scope);
  REQUIRE_FALSE(listed.ok());
  CHECK(listed.error().code == ErrorCode::kNotFound);
  CHECK(server.seen().size() == 2);
}

TEST_CASE("a connection dropped without an answer is retried briefly, with backoff") {
  LoopbackApiServer server([](int n, const std::string&, const LoopbackApiServer::Send& send) {
    if (n == 0) send(LoopbackApiServer::response(200, LoopbackApiServer::discovery()));
    // Later requests: read, then the connection closes with no answer.
  });
  auto client = connect_to(server);
  ListScope scope;
  scope.namespace_name = "ns";
  auto listed = client->list_external_secrets(scope);
  REQUIRE_FALSE(listed.ok());
  CHECK(listed.error().code == ErrorCode::kUnreachable);
  CHECK(listed.error().message.find(server.url()) != std::string::npos);
  const auto seen = server.seen();
  REQUIRE(seen.size() == 1 + 3);  // three attempts for a connection failure
  CHECK(gap(seen, 2) >= 200ms);
  CHECK(gap(seen, 3) >= 400ms);
}

TEST_CASE("connection refused is retried with backoff within the budget, then reported") {
  // Bound but not listening: every connect is refused.
  const int holder = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(holder, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  socklen_t size = sizeof addr;
  REQUIRE(::getsockname(holder, reinterpret_cast<sockaddr*>(&addr), &size) == 0);
  const std::string url = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  const auto start = Clock::now();
  auto client = kube::ApiClient::connect(loopback_config(url));
  const auto took = Clock::now() - start;
  ::close(holder);
  REQUIRE_FALSE(client.ok());
  CHECK(client.error().code == ErrorCode::kUnreachable);
  CHECK(client.error().message.find("cannot reach " + url) != std::string::npos);
  // Two waits (200-400 ms, then 400-800 ms) between three attempts, as a restarting API
  // server needs; then the user hears of it, long before the 30 s budget.
  CHECK(took >= 600ms);
  CHECK(took < 10s);
}

TEST_CASE("a watch asks for bookmarks and resumes from a bookmark's resourceVersion") {
  LoopbackApiServer server([](int n, const std::string&, const LoopbackApiServer::Send& send) {
    switch (n) {
      case 0:
        send(LoopbackApiServer::response(200, LoopbackApiServer::discovery()));
        return;
      case 1:
        send(LoopbackApiServer::response(
            200,
            R"({"kind":"ExternalSecretList","metadata":{"resourceVersion":"10"},"items":[]})"));
        return;
      case 2:  // a bookmark, then the server ends the watch (its timeout)
        send(LoopbackApiServer::stream_head() + bookmark(25));
        return;
      default:
        send(LoopbackApiServer::stream_head());
    }
  });
  auto client = connect_to(server);
  CountingSink sink;
  ListScope scope;
  scope.namespace_name = "ns";
  auto version = client->list_into("ExternalSecret", scope, sink);
  REQUIRE(version.ok());
  CHECK(*version == "10");
  std::string resource_version = *version;
  std::atomic<bool> stop{false};
  auto first = client->watch_into("ExternalSecret", scope, resource_version, 10s, sink, stop);
  REQUIRE(first.ok());
  CHECK(*first == kube::ApiClient::WatchEnd::kClosed);
  CHECK(resource_version == "25");
  CHECK(sink.upserts == 0);  // a bookmark is a position, not an object
  auto second = client->watch_into("ExternalSecret", scope, resource_version, 10s, sink, stop);
  REQUIRE(second.ok());
  const auto seen = server.seen();
  REQUIRE(seen.size() == 4);
  for (size_t i : {2, 3}) {
    CAPTURE(seen[i].line);
    CHECK(seen[i].line.find("/namespaces/ns/externalsecrets?watch=1") != std::string::npos);
    CHECK(seen[i].line.find("allowWatchBookmarks=true") != std::string::npos);
  }
  CHECK(seen[2].line.find("resourceVersion=10 ") != std::string::npos);
  CHECK(seen[3].line.find("resourceVersion=25 ") != std::string::npos);
}

TEST_CASE("bookmarks keep a quiet watch alive, and silence past the idle timeout ends it") {
  // Bookmarks every 100 ms for 2.5 s against a 1 s idle timeout (ten times the interval), then
  // the same time in silence.
  LoopbackApiServer server([](int n, const std::string&, const LoopbackApiServer::Send& send) {
    if (n == 0) {
      send(LoopbackApiServer::response(200, LoopbackApiServer::discovery()));
      return;
    }
    if (!send(LoopbackApiServer::stream_head())) return;
    const auto until = Clock::now() + 2500ms;
    for (int rv = 100; Clock::now() < until; ++rv) {
      if (n == 1 && !send(bookmark(rv))) return;
      std::this_thread::sleep_for(100ms);
    }
  });
  auto client = connect_to(server);
  CountingSink sink;
  ListScope scope;
  scope.namespace_name = "ns";
  std::atomic<bool> stop{false};
  std::string resource_version = "99";
  auto kept = client->watch_into("ExternalSecret", scope, resource_version, 1s, sink, stop);
  REQUIRE(kept.ok());
  CHECK(*kept == kube::ApiClient::WatchEnd::kClosed);
  CHECK(std::stoi(resource_version) >= 110);  // it followed the bookmarks
  auto silent = client->watch_into("ExternalSecret", scope, resource_version, 1s, sink, stop);
  REQUIRE(silent.ok());
  CHECK(*silent == kube::ApiClient::WatchEnd::kQuiet);
  CHECK(sink.upserts == 0);
}

}  // namespace eso::test
