// The listener over real sockets on 127.0.0.1:0, with a handler that stands in for the webhook.
#include "server/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include "core/http/basic_auth.h"

namespace eso::http {
namespace {

using namespace std::chrono_literals;

// Admits POST /hook with Basic hook:pw; its handler can be made slow, or held until released.
class TestHandler final : public Handler {
 public:
  std::atomic<int> entered{0};  ///< requests a worker has begun to handle
  std::atomic<int> handled{0};
  std::atomic<int> delay_ms{0};
  std::atomic<bool> hold{false};        ///< while true, handle() waits (10 s at most)
  std::atomic<size_t> limit{SIZE_MAX};  ///< body_limit() for every request

  std::optional<Response> admit(const RequestHead& head) override {
    if (head.target == "/probe" || head.target == "/big") return std::nullopt;  // anyone may ask
    if (head.target != "/hook") return Response{404, "application/json", "{}", {}};
    const std::string* auth = head.header("authorization");
    if (auth == nullptr || !authorized(*auth, ExpectedCredentials{"hook", "pw", ""})) {
      return Response{401, "application/json", "{}", {{"WWW-Authenticate", "Basic"}}};
    }
    return std::nullopt;
  }
  size_t body_limit(const RequestHead&) override { return limit.load(); }
  std::optional<Response> answer_at_once(const RequestHead& head) override {
    if (head.target == "/big") {  // a /metrics-sized answer
      ++at_once;
      return Response{200, "text/plain", std::string(16384, 'm'), {}};
    }
    if (head.target != "/probe") return std::nullopt;
    ++at_once;
    return Response{200, "text/plain", "up", {}};
  }
  std::atomic<int> at_once{0};  ///< answers made on the event loop
  Response handle(const Request& request) override {
    ++entered;
    for (int i = 0; i < 1000 && hold.load(); ++i) std::this_thread::sleep_for(10ms);
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms.load()));
    ++handled;
    return Response{200, "text/plain", "got " + std::to_string(request.body.size()), {}};
  }
  void answered(const RequestHead&, int, std::chrono::microseconds) override {}
  void overloaded(std::string_view) override { ++overloads; }
  std::atomic<int> overloads{0};
};

// A server on a thread for the length of a test.
struct RunningServer {
  TestHandler handler;
  std::atomic<bool> stop{false};
  std::unique_ptr<HttpServer> server;
  std::thread thread;
  int port = 0;

  std::vector<int> ports;

  explicit RunningServer(ServerOptions options, std::chrono::milliseconds drain = 2000ms,
                         std::vector<std::string> listen = {"127.0.0.1:0"}) {
    options.listen = std::move(listen);
    server = std::make_unique<HttpServer>(options, handler);
    auto bound = server->bind();
    REQUIRE_MESSAGE(bound.ok(), (bound.ok() ? "" : bound.error().message));
    ports = *bound;
    port = ports.front();
    thread = std::thread([this, drain] { server->serve(stop, drain); });
  }
  ~RunningServer() {
    stop = true;
    thread.join();
  }
};

// Waits up to 10 s for `condition`.
bool eventually(const std::function<bool()>& condition) {
  for (int i = 0; i < 1000; ++i) {
    if (condition()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return condition();
}

int connect_to(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  return fd;
}

// A connection to `port`, or -1 when it is refused.
int try_connect(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) return fd;
  ::close(fd);
  return -1;
}

// Connects to [::1]:port; -1 when the connection is refused.
int connect_to_v6(int port) {
  const int fd = ::socket(AF_INET6, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in6 addr{};
  addr.sin6_family = AF_INET6;
  addr.sin6_port = htons(static_cast<uint16_t>(port));
  addr.sin6_addr = in6addr_loopback;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

void send_all(int fd, const std::string& data) {
  REQUIRE(::send(fd, data.data(), data.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(data.size()));
}

// Everything the server sends until it closes or `limit` passes.
std::string read_until_close(int fd, std::chrono::milliseconds limit = 15000ms) {
  std::string out;
  const auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    char buf[4096];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

const std::string kAuth = "Authorization: Basic aG9vazpwdw==\r\n";  // hook:pw

}  // namespace

TEST_CASE("a request is served and keep-alive carries a second one") {
  RunningServer s({});
  const int fd = connect_to(s.port);
  send_all(fd, "POST /hook HTTP/1.1\r\nHost: h\r\n" + kAuth + "Content-Length: 3\r\n\r\nabc" +
                   "POST /hook HTTP/1.1\r\nHost: h\r\n" + kAuth +
                   "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n2\r\nab\r\n0\r\n\r\n");
  const std::string out = read_until_close(fd);
  ::close(fd);
  CHECK(out.find("HTTP/1.1 200 OK") != std::string::npos);
  CHECK(out.find("got 3") != std::string::npos);
  CHECK(out.find("got 2") != std::string::npos);
  CHECK(s.handler.handled == 2);
}

TEST_CASE("the handler's body limit applies to chunked bodies as they are decoded") {
  RunningServer s({});
  s.handler.limit = 10;
  const std::string head = "POST /hook HTTP/1.1\r\nHost: h\r\n" + kAuth;
  int fd = connect_to(s.port);
  send_all(fd, head + "Transfer-Encoding: chunked\r\n\r\n8\r\n01234567\r\n8\r\n01234567\r\n");
  std::string out = read_until_close(fd);
  ::close(fd);
  CHECK(out.rfind("HTTP/1.1 413 ", 0) == 0);
  fd = connect_to(s.port);
  send_all(fd, head + "Content-Length: 11\r\n\r\n");
  out = read_until_close(fd);
  ::close(fd);
  CHECK(out.rfind("HTTP/1.1 413 ", 0) == 0);
  fd = connect_to(s.port);
  send_all(
      fd,
      head + "Connection: close\r\nTransfer-Encoding: chunked\r\n\r\na\r\n0123456789\r\n0\r\n\r\n");
  out = read_until_close(fd);
  ::close(fd);
  CHECK(out.find("got 10") != std::string::npos);
  CHECK(s.handler.handled == 1);
}

TEST_CASE("a client trickling a byte every 500 ms is cut off at the head deadline") {
  ServerOptions options;
  options.phase_timeout = 1500ms;
  RunningServer s(options);
  const int fd = connect_to(s.port);
  const std::string head =
      "POST /hook HTTP/1.1\r\nHost: h\r\n" + kAuth + "Content-Length: 1\r\n\r\nx";
  const auto start = std::chrono::steady_clock::now();
  std::string out;
  for (char c : head) {  // bounded: the head is ~80 bytes, the server stops it after ~3
    if (::send(fd, &c, 1, MSG_NOSIGNAL) != 1) break;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 500) > 0) {
      out = read_until_close(fd, 2000ms);
      break;
    }
  }
  const auto took = std::chrono::steady_clock::now() - start;
  ::close(fd);
  CHECK(out.find("HTTP/1.1 408") == 0);
  CHECK(took < 4s);
  CHECK(s.handler.handled == 0);
}

TEST_CASE("Expect: 100-continue with bad credentials gets 401 and no 100") {
  RunningServer s({});
  const int fd = connect_to(s.port);
  send_all(fd,
           "POST /hook HTTP/1.1\r\nHost: h\r\nAuthorization: Basic aG9vazpubw==\r\n"
           "Expect: 100-continue\r\nContent-Length: 5\r\n\r\n");
  const std::string out = read_until_close(fd);
  ::close(fd);
  CHECK(out.find("HTTP/1.1 401") == 0);
  CHECK(out.find("100 Continue") == std::string::npos);
  CHECK(out.find("WWW-Authenticate: Basic") != std::string::npos);

  const int ok = connect_to(s.port);
  send_all(ok, "POST /hook HTTP/1.1\r\nHost: h\r\n" + kAuth +
                   "Expect: 100-continue\r\nContent-Length: 2\r\nConnection: close\r\n\r\n");
  char buf[64] = {};
  pollfd p{ok, POLLIN, 0};
  REQUIRE(::poll(&p, 1, 5000) == 1);
  const ssize_t n = ::recv(ok, buf, sizeof buf - 1, 0);
  CHECK(std::string(buf, n > 0 ? static_cast<size_t>(n) : 0) == "HTTP/1.1 100 Continue\r\n\r\n");
  send_all(ok, "hi");
  CHECK(read_until_close(ok).find("got 2") != std::string::npos);
  ::close(ok);
}

TEST_CASE("malformed requests get their status and a closed connection") {
  RunningServer s({});
  const std::pair<std::string, std::string> cases[] = {
      {"GET /hook HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
       "HTTP/1.1 400"},
      {"GET /nowhere HTTP/1.1\r\nHost: h\r\n\r\n", "HTTP/1.1 404"},
      {"POST /hook HTTP/1.1\r\nHost: h\r\n" + kAuth + "Content-Length: 2000000\r\n\r\n",
       "HTTP/1.1 413"},
      {"GET / HTTP/3.0\r\nHost: h\r\n\r\n", "HTTP/1.1 505"},
      {"GET /" + std::string(3000, 'a') + " HTTP/1.1\r\nHost: h\r\n\r\n", "HTTP/1.1 414"},
      {"GET / HTTP/1.1\r\nHost: h\r\nX: " + std::string(20000, 'a') + "\r\n\r\n", "HTTP/1.1 431"},
  };
  for (const auto& [request, want] : cases) {
    CAPTURE(want);
    const int fd = connect_to(s.port);
    ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
    const std::string out = read_until_close(fd);
    ::close(fd);
    CHECK(out.rfind(want, 0) == 0);
    CHECK(out.find("Content-Length: ") != std::string::npos);
    CHECK(out.find("Connection: close") != std::string::npos);
  }
  CHECK(s.handler.handled == 0);
}

TEST_CASE("a full worker pool and queue answer 503 at once") {
  ServerOptions options;
  options.workers = 1;
  options.queue = 1;
  RunningServer s(options);
  s.handler.delay_ms = 1500;
  const std::string request = "POST /hook HTTP/1.1\r\nHost: h\r\n" + kAuth +
                              "Content-Length: 1\r\nConnection: close\r\n\r\nx";
  const int busy = connect_to(s.port);
  send_all(busy, request);
  REQUIRE(eventually([&] { return s.handler.entered == 1; }));  // the worker is in the handler
  const int queued = connect_to(s.port);
  send_all(queued, request);
  std::this_thread::sleep_for(200ms);
  // A complete request with the worker busy and the queue full: 503 with Retry-After, at once.
  const int refused = connect_to(s.port);
  const auto asked = std::chrono::steady_clock::now();
  send_all(refused, request);
  const std::string out = read_until_close(refused, 3000ms);
  CHECK(out.rfind("HTTP/1.1 503", 0) == 0);
  CHECK(out.find("Retry-After: 1") != std::string::npos);
  CHECK(std::chrono::steady_clock::now() - asked < 1000ms);
  CHECK(s.handler.overloads == 1);
  CHECK(read_until_close(busy).find("200 OK") != std::string::npos);
  CHECK(read_until_close(queued).find("200 OK") != std::string::npos);
  ::close(busy);
  ::close(queued);
  ::close(refused);
}

TEST_CASE("a client that never reads does not hold a worker past the write deadline") {
  ServerOptions options;
  options.workers = 1;
  options.phase_timeout = 1000ms;
  RunningServer s(options);
  // Pipeline many requests and never read: the responses fill the socket buffers.
  std::string many;
  for (int i = 0; i < 2000; ++i) {
    many += "POST /hook HTTP/1.1\r\nHost: h\r\n" + kAuth + "Content-Length: 1\r\n\r\nx";
  }
  const int stuck = connect_to(s.port);
  const int small = 4096;
  ::setsockopt(stuck, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  ::send(stuck, many.data(), many.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  std::this_thread::sleep_for(3000ms);
  // The single worker must be free again for someone else.
  const int fd = connect_to(s.port);
  send_all(fd, "POST /hook HTTP/1.1\r\nHost: h\r\n" + kAuth +
                   "Content-Length: 1\r\nConnection: close\r\n\r\ny");
  CHECK(read_until_close(fd, 5000ms).find("200 OK") != std::string::npos);
  ::close(fd);
  ::close(stuck);
}

TEST_CASE(
    "a client that pipelines and never reads gets few answers made, not a connection's worth") {
  ServerOptions options;
  options.phase_timeout = 1000ms;
  RunningServer s(options);
  // 99 pipelined requests for 16 KiB answers (under the 100 a connection may carry), never read:
  // the answers stop once 64 KiB are unsent (TCP_NOTSENT_LOWAT) beside what the client's receive
  // buffer took, and the write deadline closes it.
  std::string many;
  for (int i = 0; i < 99; ++i) many += "GET /big HTTP/1.1\r\nHost: h\r\n\r\n";
  const int stuck = connect_to(s.port);
  const int small = 4096;
  ::setsockopt(stuck, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  send_all(stuck, many);
  std::this_thread::sleep_for(2000ms);  // past the write deadline: the server has given up
  CAPTURE(s.handler.at_once.load());
  CHECK(s.handler.at_once >= 1);
  CHECK(s.handler.at_once <= 20);  // ~8 answers (all 99 without a bound)
  ::close(stuck);
}

TEST_CASE("stop lets an in-flight request finish and refuses new connections") {
  auto s = std::make_unique<RunningServer>(ServerOptions{}, 5000ms);
  TestHandler& handler = s->handler;
  handler.hold = true;
  const int fd = connect_to(s->port);
  send_all(fd, "POST /hook HTTP/1.1\r\nHost: h\r\n" + kAuth +
                   "Content-Length: 1\r\nConnection: close\r\n\r\nx");
  REQUIRE(eventually([&] { return handler.entered == 1; }));
  const int port = s->port;
  std::thread stopper([&] { s.reset(); });  // stops, drains, joins
  // While the request is still held in the handler, the listener is closed.
  CHECK(eventually([&] {
    const int late = try_connect(port);
    if (late >= 0) ::close(late);
    return late < 0;
  }));
  CHECK(handler.handled == 0);
  handler.hold = false;
  CHECK(read_until_close(fd).find("200 OK") != std::string::npos);
  stopper.join();
  ::close(fd);
}

}  // namespace eso::http

namespace eso::http {

TEST_CASE("one server listens on IPv4 and IPv6 loopback, each on its own port 0") {
  RunningServer running({}, 2000ms, {"127.0.0.1:0", "[::1]:0"});
  REQUIRE(running.ports.size() == 2);
  CHECK(running.ports[0] > 0);
  CHECK(running.ports[1] > 0);
  const int v6 = connect_to_v6(running.ports[1]);
  REQUIRE(v6 >= 0);
  send_all(v6, "POST /hook HTTP/1.1\r\nHost: [::1]\r\n" + kAuth +
                   "Content-Length: 2\r\nConnection: close\r\n\r\nhi");
  const std::string reply = read_until_close(v6);
  ::close(v6);
  CHECK(reply.rfind("HTTP/1.1 200", 0) == 0);
  CHECK(reply.find("got 2") != std::string::npos);
  const int v4 = connect_to(running.ports[0]);
  send_all(v4, "POST /hook HTTP/1.1\r\nHost: x\r\n" + kAuth +
                   "Content-Length: 0\r\nConnection: close\r\n\r\n");
  CHECK(read_until_close(v4).rfind("HTTP/1.1 200", 0) == 0);
  ::close(v4);
  CHECK(running.handler.handled == 2);
}

TEST_CASE("a listen address that cannot be bound is a clear error") {
  TestHandler handler;
  for (const char* address : {"127.0.0.1", "[::1]:notaport", "256.1.1.1:0", "203.0.113.7:0"}) {
    CAPTURE(address);
    ServerOptions options;
    options.listen = {address};
    HttpServer server(options, handler);
    auto bound = server.bind();
    REQUIRE_FALSE(bound.ok());
    CHECK(bound.error().message.find(address) != std::string::npos);
  }
}

}  // namespace eso::http

namespace eso::http {
namespace {

const std::string kKeepAlive =
    "POST /hook HTTP/1.1\r\nHost: h\r\n" + kAuth + "Content-Length: 1\r\n\r\nx";

// Reads one response (headers and its Content-Length body) without waiting for a close.
std::string read_response(int fd, std::chrono::milliseconds limit = 5000ms) {
  std::string out;
  const auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    const auto end = out.find("\r\n\r\n");
    if (end != std::string::npos) {
      const auto cl = out.find("Content-Length: ");
      const size_t body = cl == std::string::npos ? 0 : std::stoul(out.substr(cl + 16));
      if (out.size() >= end + 4 + body) return out;
    }
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    char buf[4096];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

}  // namespace

TEST_CASE("idle keep-alive connections do not hold workers") {
  ServerOptions options;
  options.workers = 2;
  RunningServer s(options);
  std::vector<int> idle;
  for (int i = 0; i < 6; ++i) {  // three times the workers, each served once, then silent
    idle.push_back(connect_to(s.port));
    send_all(idle.back(), kKeepAlive);
    CHECK(read_response(idle.back()).rfind("HTTP/1.1 200", 0) == 0);
  }
  const auto start = std::chrono::steady_clock::now();
  const int fresh = connect_to(s.port);
  send_all(fresh, kKeepAlive);
  CHECK(read_response(fresh).rfind("HTTP/1.1 200", 0) == 0);
  CHECK(std::chrono::steady_clock::now() - start < 2000ms);
  // And an idle one, spoken to again, is served again on the same connection.
  send_all(idle.front(), kKeepAlive);
  CHECK(read_response(idle.front()).rfind("HTTP/1.1 200", 0) == 0);
  CHECK(s.handler.handled == 8);
  for (int fd : idle) ::close(fd);
  ::close(fresh);
}

TEST_CASE("past max_connections the longest-idle connection makes room") {
  ServerOptions options;
  options.max_connections = 2;
  RunningServer s(options);
  const int oldest = connect_to(s.port);
  send_all(oldest, kKeepAlive);
  REQUIRE(read_response(oldest).rfind("HTTP/1.1 200", 0) == 0);
  std::this_thread::sleep_for(50ms);
  const int newer = connect_to(s.port);
  send_all(newer, kKeepAlive);
  REQUIRE(read_response(newer).rfind("HTTP/1.1 200", 0) == 0);
  const int third = connect_to(s.port);
  send_all(third, kKeepAlive);
  CHECK(read_response(third).rfind("HTTP/1.1 200", 0) == 0);
  CHECK(read_until_close(oldest, 2000ms).empty());  // closed by the server, nothing sent
  send_all(newer, kKeepAlive);
  CHECK(read_response(newer).rfind("HTTP/1.1 200", 0) == 0);
  ::close(oldest);
  ::close(newer);
  ::close(third);
}

TEST_CASE("past max_connections a stalled head makes room before a kept-alive sender") {
  ServerOptions options;
  options.max_connections = 2;
  RunningServer s(options);
  const int sender = connect_to(s.port);
  send_all(sender, kKeepAlive);
  REQUIRE(read_response(sender).rfind("HTTP/1.1 200", 0) == 0);
  const int stalled = connect_to(s.port);
  send_all(stalled, "POST /ho");
  std::this_thread::sleep_for(100ms);
  const int third = connect_to(s.port);
  send_all(third, kKeepAlive);
  CHECK(read_response(third).rfind("HTTP/1.1 200", 0) == 0);
  CHECK(read_until_close(stalled, 2000ms).empty());  // closed without a word
  send_all(sender, kKeepAlive);                      // the idle sender was kept
  CHECK(read_response(sender).rfind("HTTP/1.1 200", 0) == 0);
  ::close(sender);
  ::close(stalled);
  ::close(third);
}

TEST_CASE("stop closes idle connections at once and answers in-flight requests with close") {
  auto s = std::make_unique<RunningServer>(ServerOptions{}, 10000ms);
  const int idle = connect_to(s->port);
  send_all(idle, kKeepAlive);
  REQUIRE(read_response(idle).rfind("HTTP/1.1 200", 0) == 0);
  s->handler.delay_ms = 800;
  const int busy = connect_to(s->port);
  send_all(busy, kKeepAlive);  // keep-alive asked for, but the server is stopping
  TestHandler& handler = s->handler;
  REQUIRE(eventually([&] { return handler.entered == 2; }));  // the first request, then this
  const auto start = std::chrono::steady_clock::now();
  std::thread stopper([&] { s.reset(); });
  const std::string reply = read_until_close(busy);
  CHECK(reply.rfind("HTTP/1.1 200", 0) == 0);
  CHECK(reply.find("Connection: close") != std::string::npos);
  CHECK(read_until_close(idle, 2000ms).empty());
  stopper.join();
  // Well inside the 10 s drain window: nothing waited for the idle client.
  CHECK(std::chrono::steady_clock::now() - start < 3000ms);
  ::close(idle);
  ::close(busy);
}

}  // namespace eso::http

namespace eso::http {

TEST_CASE("a parked connection that wakes with half a request holds a worker one phase at most") {
  ServerOptions options;
  options.workers = 1;
  options.phase_timeout = 1000ms;
  options.idle_timeout = 30000ms;
  RunningServer s(options);
  const int staller = connect_to(s.port);
  send_all(staller, kKeepAlive);
  REQUIRE(read_response(staller).rfind("HTTP/1.1 200", 0) == 0);
  send_all(staller, "P");  // wakes from idle, then nothing more
  std::this_thread::sleep_for(100ms);
  const auto start = std::chrono::steady_clock::now();
  const int other = connect_to(s.port);
  send_all(other, kKeepAlive);
  CHECK(read_response(other).rfind("HTTP/1.1 200", 0) == 0);
  CHECK(std::chrono::steady_clock::now() - start < 3000ms);  // a phase, not the idle timeout
  ::close(staller);
  ::close(other);
}

TEST_CASE("out of file descriptors, the accept loop neither spins nor stops serving") {
  ServerOptions options;
  options.workers = 2;
  RunningServer s(options);
  {
    // The server thread has made its pipe and workers before descriptors run short.
    const int warm = connect_to(s.port);
    send_all(warm, "POST /hook HTTP/1.1\r\nHost: h\r\n" + kAuth +
                       "Content-Length: 1\r\nConnection: close\r\n\r\nx");
    REQUIRE(read_until_close(warm).rfind("HTTP/1.1 200", 0) == 0);
    ::close(warm);
  }
  rlimit saved{};
  REQUIRE(::getrlimit(RLIMIT_NOFILE, &saved) == 0);
  size_t open_now = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) {
    ++open_now;
  }
  // Room for a few connections on both sides (the client sockets live in this process too).
  rlimit tight = saved;
  tight.rlim_cur = open_now + 12;
  REQUIRE(::setrlimit(RLIMIT_NOFILE, &tight) == 0);
  std::vector<int> clients;
  for (int i = 0; i < 40; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (fd < 0) break;  // the client side ran out first
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(s.port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);  // completes in the backlog
    clients.push_back(fd);
  }
  rusage before{};
  ::getrusage(RUSAGE_SELF, &before);
  std::this_thread::sleep_for(1500ms);
  rusage after{};
  ::getrusage(RUSAGE_SELF, &after);
  const auto cpu_ms = [](const rusage& r) {
    return r.ru_utime.tv_sec * 1000 + r.ru_utime.tv_usec / 1000 + r.ru_stime.tv_sec * 1000 +
           r.ru_stime.tv_usec / 1000;
  };
  CHECK(cpu_ms(after) - cpu_ms(before) < 600);  // a spinning accept loop burns ~1500
  for (int fd : clients) ::close(fd);
  REQUIRE(::setrlimit(RLIMIT_NOFILE, &saved) == 0);
  std::this_thread::sleep_for(300ms);
  const int fd = connect_to(s.port);
  send_all(fd, "POST /hook HTTP/1.1\r\nHost: h\r\n" + kAuth +
                   "Content-Length: 1\r\nConnection: close\r\n\r\nx");
  CHECK(read_until_close(fd).rfind("HTTP/1.1 200", 0) == 0);
  ::close(fd);
}

}  // namespace eso::http

namespace eso::http {

TEST_CASE("slow heads, slow bodies and non-reading clients hold no worker") {
  for (const bool portable : {false, true}) {
    CAPTURE(portable);
    ServerOptions options;
    options.workers = 1;
    options.phase_timeout = 5000ms;
    options.portable_event_loop = portable;
    RunningServer s(options);
    std::vector<int> hostile;
    // Half a request line, half a head, and a head whose body never comes: ten of each.
    for (int i = 0; i < 10; ++i) {
      hostile.push_back(connect_to(s.port));
      send_all(hostile.back(), "POST /ho");
      hostile.push_back(connect_to(s.port));
      send_all(hostile.back(), "POST /hook HTTP/1.1\r\nHost: h\r\n" + kAuth);
      hostile.push_back(connect_to(s.port));
      send_all(hostile.back(),
               "POST /hook HTTP/1.1\r\nHost: h\r\n" + kAuth + "Content-Length: 100\r\n\r\nab");
    }
    // Five clients pipeline far more requests than their socket buffers take answers for,
    // and never read.
    std::string many;
    for (int i = 0; i < 2000; ++i) many += kKeepAlive;
    for (int i = 0; i < 5; ++i) {
      const int fd = connect_to(s.port);
      const int small = 4096;
      ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
      ::send(fd, many.data(), many.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      hostile.push_back(fd);
    }
    std::this_thread::sleep_for(300ms);
    for (int round = 0; round < 3; ++round) {
      const auto start = std::chrono::steady_clock::now();
      const int fd = connect_to(s.port);
      send_all(fd, "POST /hook HTTP/1.1\r\nHost: h\r\n" + kAuth +
                       "Content-Length: 1\r\nConnection: close\r\n\r\ny");
      CHECK(read_until_close(fd, 5000ms).find("got 1") != std::string::npos);
      // Milliseconds, not the 5 s phase the hostile clients are held to.
      CHECK(std::chrono::steady_clock::now() - start < 1000ms);
      ::close(fd);
    }
    for (int fd : hostile) ::close(fd);
  }
}

TEST_CASE("a head or body past its phase deadline is answered 408 and closed") {
  ServerOptions options;
  options.phase_timeout = 500ms;
  RunningServer s(options);
  const int head = connect_to(s.port);
  send_all(head, "POST /hook HTTP/1.1\r\nHo");
  const int body = connect_to(s.port);
  send_all(body, "POST /hook HTTP/1.1\r\nHost: h\r\n" + kAuth + "Content-Length: 5\r\n\r\nab");
  const int silent = connect_to(s.port);
  const auto start = std::chrono::steady_clock::now();
  CHECK(read_until_close(head, 3000ms).rfind("HTTP/1.1 408", 0) == 0);
  CHECK(read_until_close(body, 3000ms).rfind("HTTP/1.1 408", 0) == 0);
  CHECK(read_until_close(silent, 3000ms).empty());  // nothing sent: closed without a word
  CHECK(std::chrono::steady_clock::now() - start < 2000ms);
  ::close(head);
  ::close(body);
  ::close(silent);
}

TEST_CASE("past the buffered-bytes limit a reading connection is answered 503") {
  ServerOptions options;
  options.max_buffered_bytes = 64 * 1024;
  options.limits.max_body_bytes = 1 << 20;
  RunningServer s(options);
  std::vector<int> fillers;
  std::string refused;
  // Bodies of 1 MiB announced, 40 KiB sent: the second one takes the total past 64 KiB.
  for (int i = 0; i < 3; ++i) {
    const int fd = connect_to(s.port);
    send_all(fd, "POST /hook HTTP/1.1\r\nHost: h\r\n" + kAuth + "Content-Length: 1048576\r\n\r\n" +
                     std::string(40 * 1024, 'x'));
    fillers.push_back(fd);
  }
  int busy = 0;
  for (int fd : fillers) {
    const std::string out = read_until_close(fd, 1500ms);
    if (out.rfind("HTTP/1.1 503", 0) == 0 && out.find("Retry-After") != std::string::npos) ++busy;
  }
  CHECK(busy >= 1);
  CHECK(s.handler.overloads >= 1);
  // And the server goes on serving.
  const int fd = connect_to(s.port);
  send_all(fd, "POST /hook HTTP/1.1\r\nHost: h\r\n" + kAuth +
                   "Content-Length: 1\r\nConnection: close\r\n\r\ny");
  CHECK(read_until_close(fd, 5000ms).find("got 1") != std::string::npos);
  ::close(fd);
  for (int f : fillers) ::close(f);
}

TEST_CASE("bodies queued for a worker count toward the buffered-bytes limit") {
  ServerOptions options;
  options.workers = 1;
  options.queue = 8;
  options.max_buffered_bytes = 64 * 1024;
  options.limits.max_body_bytes = 1 << 20;
  RunningServer s(options);
  s.handler.delay_ms = 1500;
  const auto post = [](size_t size) {
    return "POST /hook HTTP/1.1\r\nHost: h\r\n" + kAuth +
           "Content-Length: " + std::to_string(size) + "\r\nConnection: close\r\n\r\n" +
           std::string(size, 'x');
  };
  // 40 KiB in the worker's hands, then 40 KiB more while it still holds them: past 64 KiB.
  const int first = connect_to(s.port);
  send_all(first, post(40 * 1024));
  const auto until = std::chrono::steady_clock::now() + 5s;
  while (s.server->busy_workers() == 0 && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(5ms);
  }
  REQUIRE(s.server->busy_workers() == 1);
  const int second = connect_to(s.port);
  send_all(second, post(40 * 1024));
  const std::string refused = read_until_close(second, 5000ms);
  CHECK(refused.rfind("HTTP/1.1 503", 0) == 0);
  CHECK(refused.find("too much buffered") != std::string::npos);
  CHECK(read_until_close(first).find("got 40960") != std::string::npos);
  // Once the worker is done with it, the same body fits again.
  s.handler.delay_ms = 0;
  const int third = connect_to(s.port);
  send_all(third, post(40 * 1024));
  CHECK(read_until_close(third).find("got 40960") != std::string::npos);
  for (int fd : {first, second, third}) ::close(fd);
}

TEST_CASE("probes are answered without a worker while every worker is busy and the queue full") {
  ServerOptions options;
  options.workers = 1;
  options.queue = 1;
  RunningServer s(options);
  s.handler.delay_ms = 2000;
  const std::string hook = "POST /hook HTTP/1.1\r\nHost: h\r\n" + kAuth +
                           "Content-Length: 1\r\nConnection: close\r\n\r\nx";
  const int busy = connect_to(s.port);
  send_all(busy, hook);
  const auto until = std::chrono::steady_clock::now() + 5s;
  while (s.server->busy_workers() == 0 && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(5ms);
  }
  REQUIRE(s.server->busy_workers() == 1);
  const int queued = connect_to(s.port);
  send_all(queued, hook);
  // 20 pipelined probes on one connection: all answered while the worker is still busy.
  const int prober = connect_to(s.port);
  std::string probes;
  for (int i = 0; i < 19; ++i) probes += "GET /probe HTTP/1.1\r\nHost: h\r\n\r\n";
  probes += "GET /probe HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n";
  send_all(prober, probes);
  const std::string out = read_until_close(prober, 1500ms);
  size_t answers = 0;
  for (size_t at = out.find("HTTP/1.1 200"); at != std::string::npos;
       at = out.find("HTTP/1.1 200", at + 1)) {
    ++answers;
  }
  CHECK(answers == 20);
  CHECK(s.server->busy_workers() == 1);  // the slow webhook still holds the only worker
  CHECK(s.handler.handled == 0);
  CHECK(read_until_close(busy).find("200 OK") != std::string::npos);
  CHECK(read_until_close(queued).find("200 OK") != std::string::npos);
  for (int fd : {busy, queued, prober}) ::close(fd);
}

}  // namespace eso::http
