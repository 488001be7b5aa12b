// The libcurl fetcher against serve's TLS server on 127.0.0.1:0, and its pure parsers.
#include "webhook/verify/https_fetcher.h"

#include <optional>
#include <vector>

#include <doctest/doctest.h>

#include "test/webhook/test_pki.h"

namespace eso::webhook {

using namespace std::chrono_literals;

TEST_CASE("HTTPS URL: only absolute https URLs with a host and no user information") {
  struct Case {
    const char* url;
    bool ok;
    const char* host;
    int port;
  };
  const std::vector<Case> cases = {
      {"https://sns.us-east-1.amazonaws.com/x.pem", true, "sns.us-east-1.amazonaws.com", 443},
      {"HTTPS://SNS.US-EAST-1.AMAZONAWS.COM/x.pem", true, "sns.us-east-1.amazonaws.com", 443},
      {"https://127.0.0.1:8443/certs", true, "127.0.0.1", 8443},
      {"https://[::1]:8443/certs", true, "::1", 8443},
      {"http://sns.us-east-1.amazonaws.com/x.pem", false, "", 0},
      {"ftp://sns.us-east-1.amazonaws.com/x.pem", false, "", 0},
      {"sns.us-east-1.amazonaws.com/x.pem", false, "", 0},
      {"https://sns.us-east-1.amazonaws.com@evil.example.com/", false, "", 0},
      {"https://user:pw@sns.us-east-1.amazonaws.com/", false, "", 0},
      {"https:///x.pem", false, "", 0},
      {"https://sns.us-east-1.amazonaws.com/a b", false, "", 0},
      {"", false, "", 0},
  };
  for (const auto& c : cases) {
    const std::string url = c.url;
    CAPTURE(url);
    auto parsed = parse_https_url(c.url);
    REQUIRE(parsed.ok() == c.ok);
    if (!c.ok) continue;
    CHECK(parsed->host == c.host);
    CHECK(parsed->port == c.port);
  }
  CHECK(!parse_https_url("https://x.example.com/" + std::string(3000, 'a')).ok());
}

TEST_CASE("Cache-Control: max-age read and no-store or no-cache meaning zero") {
  const std::vector<std::pair<const char*, std::optional<long>>> cases = {
      {"public, max-age=21600, must-revalidate, no-transform", 21600},
      {"MAX-AGE=60", 60},
      {"max-age=\"120\"", 120},
      {"private", std::nullopt},
      {"", std::nullopt},
      {"max-age=", std::nullopt},
      {"max-age=-5", std::nullopt},
      {"max-age=12x", std::nullopt},
      {"no-store", 0},
      {"max-age=600, no-cache", 0},
      {"max-age=99999999999999999999", 365L * 24 * 3600},
  };
  for (const auto& c : cases) {
    const std::string value = c.first;
    const std::optional<long> seconds = c.second;
    CAPTURE(value);
    const auto got = parse_cache_max_age(value);
    REQUIRE(got.has_value() == seconds.has_value());
    if (seconds) CHECK(got->count() == *seconds);
  }
}

TEST_CASE("HTTPS fetch: the body and max-age of a 200 from a server the CA file trusts") {
  test::LocalHttpsServer server("fetch");
  server.set("/ok", {200, "{\"keys\":[]}", "public, max-age=300", ""});
  server.set("/redirect", {302, "", "", "https://127.0.0.1:1/elsewhere"});
  server.set("/missing", {404, "no", "", ""});
  server.set("/big", {200, std::string(4096, 'x'), "", ""});
  CurlHttpsFetcher fetcher({server.ca_file(), 3000ms, 5000ms, 1024});
  auto ok = fetcher.get(server.url("/ok"));
  REQUIRE_MESSAGE(ok.ok(), (ok.ok() ? "" : ok.error().message));
  CHECK(ok->body == "{\"keys\":[]}");
  REQUIRE(ok->max_age.has_value());
  CHECK(ok->max_age->count() == 300);

  struct Case {
    const char* what;
    std::string url;
    ErrorCode code;
  };
  const std::vector<Case> cases = {
      {"a redirect is not followed", server.url("/redirect"), ErrorCode::kServer},
      {"a 404", server.url("/missing"), ErrorCode::kServer},
      {"a body over the limit", server.url("/big"), ErrorCode::kServer},
      {"plain http is never fetched", "http://127.0.0.1:" + std::to_string(server.port()) + "/ok",
       ErrorCode::kInvalidArgument},
  };
  for (const auto& c : cases) {
    CAPTURE(c.what);
    auto got = fetcher.get(c.url);
    REQUIRE(!got.ok());
    CHECK(got.error().code == c.code);
  }
  CHECK(server.hits("/redirect") == 1);
  CHECK(server.hits("/big") == 1);

  // Without the CA the server's certificate does not verify.
  CurlHttpsFetcher system_cas({"", 3000ms, 5000ms, 1024});
  auto untrusted = system_cas.get(server.url("/ok"));
  REQUIRE(!untrusted.ok());
  CHECK(untrusted.error().code == ErrorCode::kTlsVerification);
  CHECK(server.hits("/ok") == 1);
}

TEST_CASE("HTTP fetch: plain http only when allowed and still without redirects") {
  CHECK(!parse_https_url("http://crt.example.com/m02.cer").ok());
  auto http = parse_https_url("http://crt.example.com/m02.cer", /*allow_plain_http=*/true);
  REQUIRE(http.ok());
  CHECK(http->port == 80);
  for (const char* url : {"ftp://crt.example.com/x", "http:///x", "file:///etc/passwd",
                          "http://user@crt.example.com/x", "ldap://crt.example.com/x"}) {
    CAPTURE(url);
    CHECK(!parse_https_url(url, true).ok());
  }
  test::LocalHttpsServer server("plain", test::LocalHttpsServer::Transport::kPlainHttp);
  server.set("/ca.cer", {200, "DER bytes", "", ""});
  server.set("/moved", {302, "", "", server.url("/ca.cer")});
  server.set("/big", {200, std::string(4096, 'x'), "", ""});
  CurlFetcherOptions options{"", 3000ms, 5000ms, 1024};
  CHECK(CurlHttpsFetcher(options).get(server.url("/ca.cer")).error().code ==
        ErrorCode::kInvalidArgument);
  CHECK(server.hits("/ca.cer") == 0);
  options.allow_plain_http = true;
  CurlHttpsFetcher fetcher(options);
  auto got = fetcher.get(server.url("/ca.cer"));
  REQUIRE_MESSAGE(got.ok(), (got.ok() ? "" : got.error().message));
  CHECK(got->body == "DER bytes");
  CHECK(fetcher.get(server.url("/moved")).error().code == ErrorCode::kServer);
  CHECK(fetcher.get(server.url("/big")).error().code == ErrorCode::kServer);
  CHECK(server.hits("/ca.cer") == 1);
}

TEST_CASE("HTTPS fetch: a closed port is unreachable") {
  int port = 0;
  {
    test::LocalHttpsServer server("closed");
    port = server.port();
  }
  CurlHttpsFetcher fetcher({"", 1000ms, 2000ms, 1024});
  auto got = fetcher.get("https://127.0.0.1:" + std::to_string(port) + "/x");
  REQUIRE(!got.ok());
  CHECK(got.error().code == ErrorCode::kUnreachable);
}

}  // namespace eso::webhook
