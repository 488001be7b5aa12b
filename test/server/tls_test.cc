// HTTPS on 127.0.0.1:0: curl as the client, certificates made with the openssl command.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include "server/http_server.h"
#include "test/loopback_socket.h"
#include "test/server/test_pki.h"

namespace eso::http {
namespace {

using namespace std::chrono_literals;

// Echoes the client certificate's subject the server saw.
class EchoHandler final : public Handler {
 public:
  std::optional<Response> admit(const RequestHead&) override { return std::nullopt; }
  Response handle(const Request& request) override {
    return Response{200, "text/plain", "peer=[" + request.head.peer_certificate + "]", {}};
  }
  void answered(const RequestHead&, int, std::chrono::microseconds) override {}
};

using TlsServer = TlsTestServer<EchoHandler>;

using SslCtxPtr = std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)>;
using SessionPtr = std::unique_ptr<SSL_SESSION, decltype(&SSL_SESSION_free)>;

// An OpenSSL client trusting `ca`, limited to `version` (TLS1_2_VERSION or TLS1_3_VERSION),
// presenting `cert`/`key` when given. Its own session cache is off: only the session a test
// hands over is offered.
SslCtxPtr client_context(const std::string& ca, int version, const std::string& cert = "",
                         const std::string& key = "") {
  SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()), SSL_CTX_free);
  REQUIRE(ctx != nullptr);
  SSL_CTX_set_min_proto_version(ctx.get(), version);
  SSL_CTX_set_max_proto_version(ctx.get(), version);
  SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
  REQUIRE(SSL_CTX_load_verify_locations(ctx.get(), ca.c_str(), nullptr) == 1);
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  if (!cert.empty()) {
    REQUIRE(SSL_CTX_use_certificate_file(ctx.get(), cert.c_str(), SSL_FILETYPE_PEM) == 1);
    REQUIRE(SSL_CTX_use_PrivateKey_file(ctx.get(), key.c_str(), SSL_FILETYPE_PEM) == 1);
  }
  return ctx;
}

// One request on a new TLS connection that offers `offer` (nullptr: a full handshake).
struct TlsExchange {
  bool handshake_ok = false;
  bool resumed = false;  // SSL_session_reused: the server accepted the offered session
  std::string body;      // the whole response body
  SessionPtr session{nullptr, SSL_SESSION_free};  // to offer next time
};

TlsExchange exchange(SSL_CTX* ctx, int port, SSL_SESSION* offer) {
  TlsExchange out;
  const int fd = test::connect_loopback(port);
  REQUIRE(fd >= 0);
  SSL* ssl = SSL_new(ctx);
  REQUIRE(ssl != nullptr);
  SSL_set_fd(ssl, fd);
  if (offer != nullptr) REQUIRE(SSL_set_session(ssl, offer) == 1);
  out.handshake_ok = SSL_connect(ssl) == 1;
  if (out.handshake_ok) {
    out.resumed = SSL_session_reused(ssl) == 1;
    const std::string request = "GET /x HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    REQUIRE(SSL_write(ssl, request.data(), static_cast<int>(request.size())) ==
            static_cast<int>(request.size()));
    // Read the whole response (Content-Length); TLS 1.3 tickets arrive on the way.
    std::string in;
    char buf[4096];
    for (int i = 0; i < 1000; ++i) {
      const auto end = in.find("\r\n\r\n");
      if (end != std::string::npos) {
        const auto at = in.find("Content-Length: ");
        REQUIRE(at != std::string::npos);
        const size_t length = std::strtoul(in.c_str() + at + 16, nullptr, 10);
        if (in.size() >= end + 4 + length) {
          out.body = in.substr(end + 4, length);
          break;
        }
      }
      const int n = SSL_read(ssl, buf, sizeof buf);
      if (n <= 0) break;
      in.append(buf, static_cast<size_t>(n));
    }
    out.session.reset(SSL_get1_session(ssl));
    SSL_shutdown(ssl);
  }
  SSL_free(ssl);
  ::close(fd);
  return out;
}
}  // namespace

TEST_CASE("HTTPS: served with the certificate, plain HTTP and strangers refused") {
  Pki pki("basic");
  auto tls = TlsContext::create({pki.file("server.crt"), pki.file("server.key"), ""});
  REQUIRE_MESSAGE(tls.ok(), (tls.ok() ? "" : tls.error().message));
  TlsServer s(*tls);
  const std::string ok = run("curl -sS --max-time 10 --cacert " + pki.file("ca.crt") + " " +
                             s.url() + " " + s.url());  // two requests, one connection
  CHECK(ok == "peer=[]peer=[]");
  // An untrusted CA on the client side: the handshake fails, nothing is served.
  CHECK(run("curl -sS --max-time 10 --cacert " + pki.file("other-ca.crt") + " " + s.url())
            .find("peer=") == std::string::npos);
  // Plain HTTP to the TLS port gets no HTTP answer.
  const std::string plain =
      run("curl -sS --max-time 10 http://127.0.0.1:" + std::to_string(s.port) + "/x");
  CHECK(plain.find("peer=") == std::string::npos);
  // Still serving after the failures.
  CHECK(run("curl -sS --max-time 10 --cacert " + pki.file("ca.crt") + " " + s.url()) == "peer=[]");
}

TEST_CASE("HTTPS: half ClientHellos hold no worker and delay no real request") {
  Pki pki("slow");
  auto tls = TlsContext::create({pki.file("server.crt"), pki.file("server.key"), ""});
  REQUIRE(tls.ok());
  TlsServer s(*tls);
  // Twenty connections send the first bytes of a ClientHello record (type 22, TLS 1.0, 512
  // bytes announced) and nothing more: five times the workers.
  std::vector<int> stalled;
  for (int i = 0; i < 20; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(s.port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    const char partial[] = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01};
    REQUIRE(::send(fd, partial, sizeof partial, MSG_NOSIGNAL) == sizeof partial);
    stalled.push_back(fd);
  }
  std::this_thread::sleep_for(200ms);  // the server has read what they sent
  const auto start = std::chrono::steady_clock::now();
  CHECK(run("curl -sS --max-time 10 --cacert " + pki.file("ca.crt") + " " + s.url()) == "peer=[]");
  // Well under the 2 s handshake deadline the stalled connections are held to.
  CHECK(std::chrono::steady_clock::now() - start < 1500ms);
  for (int fd : stalled) ::close(fd);
}

TEST_CASE("HTTPS: a burst of handshakes is served in turns, none lost") {
  Pki pki("burst");
  auto tls = TlsContext::create({pki.file("server.crt"), pki.file("server.key"), ""});
  REQUIRE(tls.ok());
  TlsServer s(*tls);
  // 48 clients at once, each its own connection: more handshakes than one turn takes.
  const std::string out = run("for i in $(seq 1 48); do curl -sS --max-time 20 --cacert " +
                              pki.file("ca.crt") + " " + s.url() + " & done; wait");
  size_t served = 0;
  for (size_t at = out.find("peer=[]"); at != std::string::npos; at = out.find("peer=[]", at + 1)) {
    ++served;
  }
  CAPTURE(out.substr(0, 400));
  CHECK(served == 48);
}

TEST_CASE("HTTPS: a client certificate from the client CA is the request's identity") {
  Pki pki("client");
  auto tls =
      TlsContext::create({pki.file("server.crt"), pki.file("server.key"), pki.file("ca.crt")});
  REQUIRE(tls.ok());
  TlsServer s(*tls);
  const std::string with_cert =
      run("curl -sS --max-time 10 --cacert " + pki.file("ca.crt") + " --cert " +
          pki.file("client.crt") + " --key " + pki.file("client.key") + " " + s.url());
  CHECK(with_cert == "peer=[/CN=akeyless-forwarder]");
  // Three connections from one curl: the second and third resume the first one's session.
  CHECK(run("curl -sS --max-time 10 -H 'Connection: close' --cacert " + pki.file("ca.crt") + " " +
            s.url() + " " + s.url() + " " + s.url()) == "peer=[]peer=[]peer=[]");
  // No certificate: still served (probes, Basic-auth senders), with no identity.
  CHECK(run("curl -sS --max-time 10 --cacert " + pki.file("ca.crt") + " " + s.url()) == "peer=[]");
  // A certificate from another CA fails the handshake.
  CHECK(run("curl -sS --max-time 10 --cacert " + pki.file("ca.crt") + " --cert " +
            pki.file("stranger.crt") + " --key " + pki.file("stranger.key") + " " + s.url())
            .find("peer=") == std::string::npos);
}

TEST_CASE("HTTPS: a second connection resumes the first one's session, with a client CA too") {
  Pki pki("resume");
  struct Setup {
    const char* name;
    bool client_ca;
    bool client_cert;
    const char* peer;
  };
  const Setup setups[] = {
      {"no client CA", false, false, "peer=[]"},
      {"client CA, no certificate", true, false, "peer=[]"},
      {"client CA and a certificate", true, true, "peer=[/CN=akeyless-forwarder]"},
  };
  for (const auto& setup : setups) {
    auto tls = TlsContext::create({pki.file("server.crt"), pki.file("server.key"),
                                   setup.client_ca ? pki.file("ca.crt") : ""});
    REQUIRE(tls.ok());
    TlsServer s(*tls);
    for (const int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
      const std::string name = setup.name;
      CAPTURE(name);
      CAPTURE(version);
      const auto ctx = client_context(pki.file("ca.crt"), version,
                                      setup.client_cert ? pki.file("client.crt") : "",
                                      setup.client_cert ? pki.file("client.key") : "");
      const auto first = exchange(ctx.get(), s.port, nullptr);
      REQUIRE(first.handshake_ok);
      CHECK_FALSE(first.resumed);
      CHECK(first.body == setup.peer);
      REQUIRE(first.session != nullptr);
      REQUIRE(SSL_SESSION_is_resumable(first.session.get()) == 1);
      const auto second = exchange(ctx.get(), s.port, first.session.get());
      REQUIRE(second.handshake_ok);  // was a fatal alert with a client CA and no ID context
      CHECK(second.resumed);
      // The resumed session still carries the identity the full handshake verified.
      CHECK(second.body == setup.peer);
    }
  }
}

TEST_CASE("HTTPS: a rotated certificate is served without a restart, a broken one is not") {
  Pki pki("rotate");
  auto tls = TlsContext::create({pki.file("server.crt"), pki.file("server.key"), ""});
  REQUIRE(tls.ok());
  TlsServer s(*tls);
  const std::string probe = "openssl s_client -connect 127.0.0.1:" + std::to_string(s.port) +
                            " -CAfile " + pki.file("ca.crt") + " </dev/null";
  CHECK(run(probe).find("CN = server-one") != std::string::npos);
  std::this_thread::sleep_for(1100ms);
  pki.issue("server", "server-two", "-addext subjectAltName=IP:127.0.0.1");
  std::string seen;
  for (int i = 0; i < 30 && seen.find("CN = server-two") == std::string::npos; ++i) {
    std::this_thread::sleep_for(200ms);
    seen = run(probe);
  }
  CHECK(seen.find("CN = server-two") != std::string::npos);
  // A certificate that does not match the key: the previous one stays.
  std::this_thread::sleep_for(1100ms);
  std::filesystem::copy_file(pki.file("client.crt"), pki.file("server.crt"),
                             std::filesystem::copy_options::overwrite_existing);
  std::this_thread::sleep_for(1100ms);
  CHECK(run(probe).find("CN = server-two") != std::string::npos);
  CHECK(run(probe).find("CN = server-two") != std::string::npos);
}

TEST_CASE("HTTPS: bad certificate files are clear errors") {
  Pki pki("errors");
  auto missing = TlsContext::create({pki.file("nope.crt"), pki.file("server.key"), ""});
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().message.find("nope.crt") != std::string::npos);
  auto mismatch = TlsContext::create({pki.file("server.crt"), pki.file("client.key"), ""});
  REQUIRE_FALSE(mismatch.ok());
  CHECK(mismatch.error().message.find("client.key") != std::string::npos);
  CHECK(mismatch.error().message.find("mismatch") != std::string::npos);
  auto bad_ca =
      TlsContext::create({pki.file("server.crt"), pki.file("server.key"), pki.file("nope-ca.crt")});
  REQUIRE_FALSE(bad_ca.ok());
  CHECK(bad_ca.error().message.find("client CA") != std::string::npos);
}

}  // namespace eso::http
