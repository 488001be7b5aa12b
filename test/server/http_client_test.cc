// The client of `trigger --server` (server/http_client.h) against loopback servers: a scripted
// plain one for every framing and failure, serve's own HTTPS listener for TLS.
#include "server/http_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <thread>

#include <doctest/doctest.h>

#include "server/http_server.h"
#include "test/kube/loopback_api_server.h"
#include "test/loopback_socket.h"
#include "test/server/test_pki.h"

namespace eso::http {
namespace {

using namespace std::chrono_literals;
using Failure = ClientOutcome::Failure;
using test::LoopbackApiServer;

// A server that answers every request with `bytes`, then closes.
LoopbackApiServer::Answer sends(std::string bytes) {
  return [bytes = std::move(bytes)](int, const std::string&, const LoopbackApiServer::Send& send) {
    send(bytes);
  };
}

// A trigger request to `url`, trusting the CAs in `ca_file` (empty: the system's) for HTTPS.
ClientRequest request_to(const std::string& url, const std::string& ca_file = "") {
  ClientRequest r;
  r.url = url;
  r.ca_file = ca_file;
  r.headers = {"Content-Type: application/json", "Authorization: Bearer t0ken"};
  r.body = R"({"keys":["/a"]})";
  r.timeout = 5s;
  return r;
}

// A port nothing listens on: bound, then closed.
int closed_port() {
  int port = 0;
  const int fd = test::bind_loopback(port, false);
  REQUIRE(fd >= 0);
  ::close(fd);
  return port;
}

TEST_CASE("the client sends one POST with its headers and body and reads a Content-Length answer") {
  LoopbackApiServer server(sends(LoopbackApiServer::response(422, R"({"error":"no"})")));
  const auto out = post(request_to(server.url() + "/base/v1/trigger"));
  REQUIRE(out.failure == Failure::kNone);
  CHECK(out.status == 422);
  CHECK(out.body == R"({"error":"no"})");
  CHECK(out.request_sent);
  const auto seen = server.seen();
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].line == "POST /base/v1/trigger HTTP/1.1");
  CHECK(seen[0].head.find("\r\nHost: 127.0.0.1:") != std::string::npos);
  CHECK(seen[0].head.find("\r\nAuthorization: Bearer t0ken\r\n") != std::string::npos);
  CHECK(seen[0].head.find("\r\nContent-Length: 15\r\n") != std::string::npos);
  CHECK(seen[0].head.find("\r\nConnection: close\r\n") != std::string::npos);
  CHECK(seen[0].body == R"({"keys":["/a"]})");
}

TEST_CASE("answers framed by chunks, by the connection's end, after 1xx, or empty are read whole") {
  struct Case {
    std::string name;
    std::string bytes;
    int status;
    std::string body;
  };
  const Case cases[] = {
      {"chunked, with an extension and a trailer",
       "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n7\r\n, world"
       "\r\n0\r\nX-Trailer: 1\r\n\r\n",
       200, "hello, world"},
      {"Transfer-Encoding wins over Content-Length",
       "HTTP/1.1 200 OK\r\nContent-Length: 99\r\nTransfer-Encoding: chunked\r\n\r\n"
       "2\r\nok\r\n0\r\n\r\n",
       200, "ok"},
      {"to the connection's end", "HTTP/1.0 200 OK\r\n\r\n{\"a\":1}", 200, "{\"a\":1}"},
      {"100 Continue first",
       "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\n"
       "Content-Length: 2\r\n\r\n{}",
       201, "{}"},
      {"204 has no body", "HTTP/1.1 204 No Content\r\n\r\n", 204, ""},
      {"no reason phrase", "HTTP/1.1 503\r\nContent-Length: 1\r\n\r\nx", 503, "x"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    LoopbackApiServer server(sends(c.bytes));
    const auto out = post(request_to(server.url() + "/v1/trigger"));
    CHECK(out.failure == Failure::kNone);
    CHECK(out.status == c.status);
    CHECK(out.body == c.body);
  }
}

TEST_CASE("a broken, cut or oversized answer is an error that says the request was sent") {
  struct Case {
    std::string name;
    std::string bytes;
    Failure failure;
    const char* detail;
  };
  const std::string big(2000, 'x');
  const Case cases[] = {
      {"closed at once", "", Failure::kLost, "closed without an answer"},
      {"not HTTP", "hello there\r\n\r\n", Failure::kLost, "not HTTP"},
      {"cut in the body", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", Failure::kLost,
       "in the middle of the answer"},
      {"cut in the head", "HTTP/1.1 200 OK\r\nContent-Le", Failure::kLost, "in the middle"},
      {"a chunk size that is not hex",
       "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
       "zz\r\n",
       Failure::kLost, "not hexadecimal"},
      {"a chunk without its CRLF",
       "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
       "2\r\nokXX0\r\n\r\n",
       Failure::kLost, "CRLF"},
      {"differing lengths", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
       Failure::kLost, "not HTTP"},
      {"a negative length", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", Failure::kLost,
       "not HTTP"},
      {"too long by its length", "HTTP/1.1 200 OK\r\nContent-Length: 1001\r\n\r\n",
       Failure::kTooLarge, "longer than"},
      {"too long in chunks", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n7d0\r\n" + big,
       Failure::kTooLarge, "longer than"},
      {"too long to the end", "HTTP/1.1 200 OK\r\n\r\n" + big, Failure::kTooLarge, "longer than"},
      {"a head longer than 64 KiB", "HTTP/1.1 200 OK\r\nX: " + std::string(70000, 'h'),
       Failure::kLost, "64 KiB"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    LoopbackApiServer server(sends(c.bytes));
    auto r = request_to(server.url() + "/v1/trigger");
    r.max_answer = 1000;
    const auto out = post(r);
    CHECK(out.failure == c.failure);
    CHECK(out.detail.find(c.detail) != std::string::npos);
    CHECK(out.request_sent);
    CHECK(out.status == 0);
  }
}

TEST_CASE("a silent server is a timeout within the request's timeout") {
  LoopbackApiServer server([](int, const std::string&, const LoopbackApiServer::Send&) {
    std::this_thread::sleep_for(1500ms);  // holds the connection open, answers nothing
  });
  auto r = request_to(server.url() + "/v1/trigger");
  r.timeout = 300ms;
  const auto began = std::chrono::steady_clock::now();
  const auto out = post(r);
  const auto took = std::chrono::steady_clock::now() - began;
  CHECK(out.failure == Failure::kTimeout);
  CHECK(out.request_sent);
  CHECK(took >= 290ms);
  CHECK(took < 1400ms);
}

TEST_CASE("no server, no name and unusable URLs fail before anything is sent") {
  const auto refused = post(request_to("http://127.0.0.1:" + std::to_string(closed_port())));
  CHECK(refused.failure == Failure::kConnect);
  CHECK(refused.detail.find("Connection refused") != std::string::npos);
  CHECK_FALSE(refused.request_sent);

  const auto unknown = post(request_to("http://no-such-host.invalid:80/v1/trigger"));
  CHECK(unknown.failure == Failure::kConnect);
  CHECK(unknown.detail.find("cannot resolve host no-such-host.invalid") != std::string::npos);

  for (const char* url :
       {"ftp://127.0.0.1/", "http://", "http://127.0.0.1:0/", "http://h:99999", "http://h:8o/",
        "http://user:pw@h/", "http://h/a b", "http://[::1/", "http://h/#frag", "https://h/\x7f",
        "https://127.1/", "https://2130706433/", "https://0x7f.0.0.1/", "https://[localhost]/",
        "https://[1.2.3.4]/"}) {
    CAPTURE(url);
    const auto out = post(request_to(url));
    CHECK(out.failure == Failure::kUrl);
    CHECK_FALSE(out.request_sent);
  }
  auto injected = request_to("http://127.0.0.1:1/");
  injected.headers.push_back("X: a\r\nEvil: b");
  CHECK(post(injected).failure == Failure::kUrl);
}

TEST_CASE("an IPv6 literal URL is connected to and named in Host with its brackets") {
  const int fd = ::socket(AF_INET6, SOCK_STREAM, 0);
  sockaddr_in6 addr{};
  addr.sin6_family = AF_INET6;
  addr.sin6_addr = in6addr_loopback;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    MESSAGE("no IPv6 loopback here");
    if (fd >= 0) ::close(fd);
    return;
  }
  socklen_t size = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &size);
  REQUIRE(::listen(fd, 4) == 0);
  const std::string port = std::to_string(ntohs(addr.sin6_port));
  std::string head;
  std::thread peer([&] {
    pollfd ready{fd, POLLIN, 0};
    if (::poll(&ready, 1, 5000) != 1) return;  // the client never came: the checks below say so
    const int c = ::accept(fd, nullptr, nullptr);
    char buf[4096];
    const ssize_t n = ::recv(c, buf, sizeof buf, 0);
    if (n > 0) head.assign(buf, static_cast<size_t>(n));
    const std::string answer = LoopbackApiServer::response(200, "{}");
    ::send(c, answer.data(), answer.size(), MSG_NOSIGNAL);
    ::close(c);
  });
  const auto out = post(request_to("http://[::1]:" + port + "/v1/trigger"));
  peer.join();
  ::close(fd);
  CHECK(out.failure == Failure::kNone);
  CHECK(out.status == 200);
  CHECK(head.find("\r\nHost: [::1]:" + port + "\r\n") != std::string::npos);
}

TEST_CASE("the proxy variables libcurl reads send the request to libcurl") {
  const char* names[] = {"http_proxy", "https_proxy", "HTTPS_PROXY",
                         "all_proxy",  "ALL_PROXY",   "HTTP_PROXY"};
  for (const char* name : names) ::unsetenv(name);
  CHECK_FALSE(proxy_applies("http://serve:8080"));
  CHECK_FALSE(proxy_applies("https://serve"));
  struct Case {
    const char* name;
    bool http;
    bool https;
  };
  // libcurl ignores HTTP_PROXY in capitals (a CGI request header could set it).
  const Case cases[] = {{"http_proxy", true, false},  {"HTTP_PROXY", false, false},
                        {"https_proxy", false, true}, {"HTTPS_PROXY", false, true},
                        {"all_proxy", true, true},    {"ALL_PROXY", true, true}};
  for (const auto& c : cases) {
    CAPTURE(c.name);
    ::setenv(c.name, "http://proxy:3128", 1);
    CHECK(proxy_applies("http://serve:8080") == c.http);
    CHECK(proxy_applies("HTTPS://serve") == c.https);
    ::setenv(c.name, "", 1);
    CHECK_FALSE(proxy_applies("http://serve:8080"));
    ::unsetenv(c.name);
  }
}

// serve's HTTPS listener answering with what it received.
class EchoBody final : public Handler {
 public:
  std::optional<Response> admit(const RequestHead&) override { return std::nullopt; }
  Response handle(const Request& request) override {
    return Response{200, "application/json", request.body, {}};
  }
  void answered(const RequestHead&, int, std::chrono::microseconds) override {}
};

using HttpsServer = TlsTestServer<EchoBody>;

TEST_CASE("HTTPS: the server's certificate is verified against the CA file and its name") {
  Pki pki("client-of-serve");
  auto tls = TlsContext::create({pki.file("server.crt"), pki.file("server.key"), ""});
  REQUIRE(tls.ok());
  HttpsServer s(*tls);

  auto r = request_to(s.url(), pki.file("ca.crt"));
  const auto ok = post(r);
  CHECK(ok.failure == Failure::kNone);
  CHECK(ok.status == 200);
  CHECK(ok.body == r.body);

  r.ca_file = pki.file("other-ca.crt");
  const auto stranger = post(r);
  CHECK(stranger.failure == Failure::kTlsVerify);
  CHECK(stranger.detail.find("not trusted") != std::string::npos);
  CHECK_FALSE(stranger.request_sent);

  // The certificate names IP 127.0.0.1 only: "localhost" is not its name.
  const auto wrong_name = post(request_to(s.url("localhost"), pki.file("ca.crt")));
  CHECK(wrong_name.failure == Failure::kTlsVerify);
  CHECK(wrong_name.detail.find("hostname mismatch") != std::string::npos);

  // A certificate for the name "localhost" only: by name it is trusted, by IP it is not.
  pki.issue("dns-only", "serve", "-addext subjectAltName=DNS:localhost");
  auto dns_tls = TlsContext::create({pki.file("dns-only.crt"), pki.file("dns-only.key"), ""});
  REQUIRE(dns_tls.ok());
  HttpsServer dns_only(*dns_tls);
  const auto ip_refused = post(request_to(dns_only.url(), pki.file("ca.crt")));
  CHECK(ip_refused.failure == Failure::kTlsVerify);
  CHECK(ip_refused.detail.find("IP address mismatch") != std::string::npos);
  CHECK(post(request_to(dns_only.url("localhost"), pki.file("ca.crt"))).status == 200);

  // The system's CAs do not know the test CA.
  CHECK(post(request_to(s.url())).failure == Failure::kTlsVerify);

  const auto no_file = post(request_to(s.url(), pki.file("no-such-ca.crt")));
  CHECK(no_file.failure == Failure::kCaFile);
  CHECK(no_file.detail.find("no-such-ca.crt") != std::string::npos);
}

TEST_CASE(
    "HTTPS: to a plain-HTTP port is a TLS error, and a large body to a closing server no "
    "SIGPIPE") {
  // A plain-HTTP server answers the ClientHello as the junk it is.
  int port = 0;
  const int listener = test::bind_loopback(port, true);
  REQUIRE(listener >= 0);
  std::thread plain([listener] {
    pollfd ready{listener, POLLIN, 0};
    if (::poll(&ready, 1, 5000) != 1) return;
    const int c = ::accept(listener, nullptr, nullptr);
    char buf[4096];
    (void)::recv(c, buf, sizeof buf, 0);
    const std::string answer = "HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n";
    (void)::send(c, answer.data(), answer.size(), MSG_NOSIGNAL);
    ::close(c);
  });
  auto r = request_to("https://127.0.0.1:" + std::to_string(port) + "/");
  const auto to_plain = post(r);
  plain.join();
  ::close(listener);
  CHECK(to_plain.failure == Failure::kTls);
  CHECK(to_plain.detail.find("TLS handshake failed") != std::string::npos);
  CHECK_FALSE(to_plain.request_sent);

  Pki pki("client-big");
  auto tls = TlsContext::create({pki.file("server.crt"), pki.file("server.key"), ""});
  REQUIRE(tls.ok());
  HttpsServer s(*tls);
  auto big = request_to(s.url(), pki.file("ca.crt"));
  big.body.assign(size_t{32} << 20, 'x');  // far past serve's body limit: it answers and closes
  const auto out = post(big);
  INFO(static_cast<int>(out.failure), " ", out.detail);
  CHECK(out.request_sent);
  // serve's 413 may arrive before the reset, or the reset first: an answer or a lost one, and
  // this process still alive.
  CHECK((out.status == 413 || out.failure == Failure::kLost));
}

}  // namespace
}  // namespace eso::http
