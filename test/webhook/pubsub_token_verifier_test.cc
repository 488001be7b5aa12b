// Pub/Sub push OIDC tokens: every failure reason, the skew, the key cache, and a real fetch of
// the key set from a local HTTPS server.
#include "webhook/verify/pubsub_token_verifier.h"

#include <map>
#include <set>
#include <thread>

#include <doctest/doctest.h>

#include "test/webhook/fakes.h"
#include "test/webhook/test_pki.h"
#include "webhook/verify/base64url.h"

namespace eso::webhook {
namespace {

using namespace std::chrono_literals;
using test::FakeClock;
using test::FakeFetcher;

constexpr const char* kAudience = "https://eso.example.com/webhook/pubsub";
constexpr const char* kPusher = "pusher@project.iam.gserviceaccount.com";

// Claims as JSON members (name -> raw JSON value), so a case can change or drop one.
using Claims = std::map<std::string, std::string>;

std::string to_json(const Claims& claims) {
  std::string out = "{";
  for (const auto& [name, value] : claims) {
    if (out.size() > 1) out += ',';
    out.append("\"").append(name).append("\":").append(value);
  }
  return out + "}";
}

std::string quote(std::string_view s) { return "\"" + std::string(s) + "\""; }

struct PubSub {
  FakeClock time;
  std::shared_ptr<FakeFetcher> fetcher = std::make_shared<FakeFetcher>();
  std::unique_ptr<PubSubTokenVerifier> verifier;

  explicit PubSub(PubSubTokenConfig config = base_config()) {
    fetcher->answer(std::string(kGoogleCertsUrl),
                    test::jwk_set({test::jwk(test::rsa_key(2).get(), "k1"),
                                   test::jwk(test::rsa_key(3).get(), "k2")}),
                    3600s);
    auto v = PubSubTokenVerifier::create(std::move(config), fetcher, time.clock());
    REQUIRE(v.ok());
    verifier = std::move(*v);
  }
  static PubSubTokenConfig base_config() {
    PubSubTokenConfig config;
    config.audience = kAudience;
    config.allowed_emails = {kPusher};
    return config;
  }
  Claims claims() const {
    return {{"iss", quote("https://accounts.google.com")},
            {"aud", quote(kAudience)},
            {"azp", quote("1234567890")},
            {"sub", quote("1234567890")},
            {"email", quote(kPusher)},
            {"email_verified", "true"},
            {"iat", std::to_string(time.seconds() - 10)},
            {"exp", std::to_string(time.seconds() + 3590)}};
  }
  // "Bearer <JWT>" signed by key `key` with header {"alg":"RS256","kid":kid,"typ":"JWT"}.
  std::string bearer(const Claims& claims, const std::string& kid = "k1", int key = 2) const {
    const std::string header = R"({"alg":"RS256","kid":")" + kid + R"(","typ":"JWT"})";
    return "Bearer " + test::make_jwt(test::rsa_key(key).get(), header, to_json(claims));
  }
  std::string with(const std::string& name, const std::string& value) const {
    Claims c = claims();
    c[name] = value;
    return bearer(c);
  }
  std::string without(const std::string& name) const {
    Claims c = claims();
    c.erase(name);
    return bearer(c);
  }
};

std::string unsigned_token(std::string_view header, std::string_view claims) {
  return "Bearer " + base64url_encode(header) + "." + base64url_encode(claims) + ".c2ln";
}

}  // namespace

TEST_CASE("Pub/Sub token: a valid token yields its email and subject") {
  PubSub p;
  const auto verdict = p.verifier->verify(p.bearer(p.claims()));
  REQUIRE_MESSAGE(verdict.ok(), verdict.detail);
  CHECK(verdict.claims.email == kPusher);
  CHECK(verdict.claims.subject == "1234567890");
  // The scheme is case-insensitive (RFC 9110 §11.1) and the issuer may lack its scheme.
  CHECK(p.verifier->verify("bearer " + p.bearer(p.claims()).substr(7)).ok());
  CHECK(p.verifier->verify(p.with("iss", quote("accounts.google.com"))).ok());
  CHECK(p.verifier->verify(p.with("aud", "[\"other\"," + quote(kAudience) + "]")).ok());
}

TEST_CASE("Pub/Sub token: every failure has its reason and no message holds the token") {
  PubSub p;
  const int64_t now = p.time.seconds();
  const std::string other_key = p.bearer(p.claims(), "k1", 3);  // k1 names key 2
  std::string tampered = p.bearer(p.claims());
  tampered[tampered.find('.') + 5] ^= 1;  // a flipped bit in the claims part
  struct Case {
    const char* what;
    std::string authorization;
    TokenFailure reason;
  };
  const std::vector<Case> cases = {
      {"no header", "", TokenFailure::kMissingToken},
      {"Basic credentials", "Basic dXNlcjpwYXNz", TokenFailure::kMissingToken},
      {"Bearer without a token", "Bearer ", TokenFailure::kMissingToken},
      {"one part", "Bearer abc", TokenFailure::kMalformedToken},
      {"four parts", p.bearer(p.claims()) + ".x", TokenFailure::kMalformedToken},
      {"header not base64url", "Bearer a+b.c.d", TokenFailure::kMalformedToken},
      {"header not JSON", unsigned_token("not json", "{}"), TokenFailure::kMalformedToken},
      {"alg none", unsigned_token(R"({"alg":"none","kid":"k1"})", "{}"),
       TokenFailure::kMalformedToken},
      {"alg HS256", unsigned_token(R"({"alg":"HS256","kid":"k1"})", "{}"),
       TokenFailure::kMalformedToken},
      {"no kid", unsigned_token(R"({"alg":"RS256"})", "{}"), TokenFailure::kMalformedToken},
      {"signature not base64url", p.bearer(p.claims()) + "=", TokenFailure::kMalformedToken},
      {"exp missing", p.without("exp"), TokenFailure::kMalformedToken},
      {"exp a string", p.with("exp", quote("soon")), TokenFailure::kMalformedToken},
      {"unknown kid", p.bearer(p.claims(), "k9", 2), TokenFailure::kUnknownKey},
      {"signed by another key", other_key, TokenFailure::kBadSignature},
      {"claims tampered with", tampered, TokenFailure::kBadSignature},
      {"issuer not Google", p.with("iss", quote("https://evil.example.com")),
       TokenFailure::kWrongIssuer},
      {"issuer missing", p.without("iss"), TokenFailure::kWrongIssuer},
      {"another audience", p.with("aud", quote("https://other.example.com")),
       TokenFailure::kWrongAudience},
      {"audience missing", p.without("aud"), TokenFailure::kWrongAudience},
      {"expired beyond the skew", p.with("exp", std::to_string(now - 61)), TokenFailure::kExpired},
      {"issued beyond the skew ahead", p.with("iat", std::to_string(now + 61)),
       TokenFailure::kNotYetValid},
      {"nbf ahead", p.with("nbf", std::to_string(now + 300)), TokenFailure::kNotYetValid},
      {"email not allowed", p.with("email", quote("intruder@evil.iam.gserviceaccount.com")),
       TokenFailure::kEmailNotAllowed},
      {"email missing", p.without("email"), TokenFailure::kEmailNotAllowed},
      {"email_verified false", p.with("email_verified", "false"), TokenFailure::kEmailNotVerified},
      {"email_verified a string", p.with("email_verified", quote("true")),
       TokenFailure::kEmailNotVerified},
      {"email_verified missing", p.without("email_verified"), TokenFailure::kEmailNotVerified},
  };
  for (const auto& c : cases) {
    CAPTURE(c.what);
    const auto verdict = p.verifier->verify(c.authorization);
    CHECK(verdict.outcome == TokenVerdict::Outcome::kRejected);
    CHECK(verdict.reason == c.reason);
    CHECK(to_string(verdict.reason) == to_string(c.reason));
    CHECK(!verdict.detail.empty());
    const auto space = c.authorization.find(' ');
    if (space != std::string::npos && c.authorization.size() > space + 8) {
      CHECK(verdict.detail.find(c.authorization.substr(space + 1)) == std::string::npos);
    }
  }
}

TEST_CASE("Pub/Sub token: exp and iat are allowed the configured skew") {
  PubSub p;
  const int64_t now = p.time.seconds();
  CHECK(p.verifier->verify(p.with("exp", std::to_string(now - 59))).ok());
  CHECK(p.verifier->verify(p.with("iat", std::to_string(now + 59))).ok());
  // The token expires as the clock moves on.
  const std::string token = p.bearer(p.claims());
  p.time.advance(3590s + 60s);
  CHECK(p.verifier->verify(token).ok());
  p.time.advance(2s);
  CHECK(p.verifier->verify(token).reason == TokenFailure::kExpired);

  PubSubTokenConfig strict = PubSub::base_config();
  strict.clock_skew = 0s;
  PubSub q(strict);
  CHECK(q.verifier->verify(q.with("exp", std::to_string(q.time.seconds() - 1))).reason ==
        TokenFailure::kExpired);
}

TEST_CASE("Pub/Sub token: each reason has its own metric label") {
  std::set<std::string_view> labels;
  for (int r = 0; r <= static_cast<int>(TokenFailure::kEmailNotVerified); ++r) {
    labels.insert(to_string(static_cast<TokenFailure>(r)));
  }
  CHECK(labels.size() == 10);
  CHECK(labels.count("unknown") == 0);
}

TEST_CASE("Pub/Sub keys: concurrent first verifications fetch the keys once") {
  PubSub p;
  const std::string token = p.bearer(p.claims());
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  threads.reserve(8);
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10; ++i) ok += p.verifier->verify(token).ok() ? 1 : 0;
    });
  }
  for (auto& t : threads) t.join();
  CHECK(ok == 80);
  CHECK(p.fetcher->count() == 1);
}

TEST_CASE("Pub/Sub token: the allowed emails compare without case") {
  PubSub p;
  CHECK(p.verifier->verify(p.with("email", quote("Pusher@Project.iam.gserviceaccount.com"))).ok());
}

TEST_CASE("Pub/Sub token: a configuration without audience or allowed emails is refused") {
  PubSubTokenConfig no_audience = PubSub::base_config();
  no_audience.audience.clear();
  auto a = PubSubTokenVerifier::create(no_audience, std::make_shared<FakeFetcher>());
  REQUIRE(!a.ok());
  CHECK(a.error().code == ErrorCode::kConfig);
  PubSubTokenConfig no_emails = PubSub::base_config();
  no_emails.allowed_emails.clear();
  CHECK(!PubSubTokenVerifier::create(no_emails, std::make_shared<FakeFetcher>()).ok());
}

TEST_CASE("Pub/Sub keys: a second verification does not refetch") {
  PubSub p;
  REQUIRE(p.verifier->verify(p.bearer(p.claims())).ok());
  REQUIRE(p.verifier->verify(p.bearer(p.claims(), "k2", 3)).ok());
  CHECK(p.fetcher->count() == 1);
  CHECK(p.verifier->key_fetches() == 1);
}

TEST_CASE("Pub/Sub keys: an unknown kid refetches once and junk kids do not refetch in a loop") {
  PubSub p;
  REQUIRE(p.verifier->verify(p.bearer(p.claims())).ok());
  p.time.advance(40s);
  // Google rotated in k3: the first token naming it refetches and verifies.
  p.fetcher->answer(std::string(kGoogleCertsUrl),
                    test::jwk_set({test::jwk(test::rsa_key(2).get(), "k1"),
                                   test::jwk(test::rsa_key(4).get(), "k3")}),
                    3600s);
  CHECK(p.verifier->verify(p.bearer(p.claims(), "k3", 4)).ok());
  CHECK(p.fetcher->count() == 2);
  // A burst of made-up kids within the fetch interval: no fetch at all.
  for (int i = 0; i < 20; ++i) {
    CHECK(p.verifier->verify(p.bearer(p.claims(), "junk" + std::to_string(i), 2)).reason ==
          TokenFailure::kUnknownKey);
  }
  CHECK(p.fetcher->count() == 2);
  // After the interval, one more fetch for the next unknown kid.
  p.time.advance(31s);
  CHECK(p.verifier->verify(p.bearer(p.claims(), "junk", 2)).reason == TokenFailure::kUnknownKey);
  CHECK(p.fetcher->count() == 3);
}

TEST_CASE("Pub/Sub keys: refetched after their max-age and kept stale while fetches fail") {
  PubSub p;
  REQUIRE(p.verifier->verify(p.bearer(p.claims())).ok());
  p.time.advance(3601s);
  REQUIRE(p.verifier->verify(p.bearer(p.claims())).ok());
  CHECK(p.fetcher->count() == 2);  // max-age 3600 passed: refetched
  // The key server goes down: the stale keys still verify, for at most an hour.
  p.fetcher->fail(std::string(kGoogleCertsUrl));
  p.time.advance(3601s);
  CHECK(p.verifier->verify(p.bearer(p.claims())).ok());
  CHECK(p.fetcher->count() == 3);
  // A kid not held while the fetch fails is "keys unavailable" (503), not a rejection.
  p.time.advance(31s);
  CHECK(p.verifier->verify(p.bearer(p.claims(), "k7", 4)).outcome ==
        TokenVerdict::Outcome::kKeysUnavailable);
  p.time.advance(3600s);
  const auto verdict = p.verifier->verify(p.bearer(p.claims()));
  CHECK(verdict.outcome == TokenVerdict::Outcome::kKeysUnavailable);
  CHECK(verdict.detail.find("connection refused") != std::string::npos);
}

TEST_CASE("Pub/Sub keys: no keys at all is keys unavailable and fetches are spaced") {
  FakeClock time;
  auto fetcher = std::make_shared<FakeFetcher>();
  fetcher->fail(std::string(kGoogleCertsUrl));
  auto v = PubSubTokenVerifier::create(PubSub::base_config(), fetcher, time.clock());
  REQUIRE(v.ok());
  PubSub signer;  // only to make tokens
  for (int i = 0; i < 5; ++i) {
    CHECK((*v)->verify(signer.bearer(signer.claims())).outcome ==
          TokenVerdict::Outcome::kKeysUnavailable);
  }
  CHECK(fetcher->count() == 1);
  // A key set that is not a JWK set is no better than none.
  fetcher->answer(std::string(kGoogleCertsUrl), R"({"keys":[{"kty":"EC","kid":"k1"}]})");
  time.advance(30s);
  CHECK((*v)->verify(signer.bearer(signer.claims())).outcome ==
        TokenVerdict::Outcome::kKeysUnavailable);
  CHECK(fetcher->count() == 2);
}

TEST_CASE("Pub/Sub keys: a JWK set keeps only RSA signing keys of 2048 bits or more") {
  const std::string good = test::jwk(test::rsa_key(2).get(), "good");
  EVP_PKEY* small = EVP_RSA_gen(1024);
  REQUIRE(small != nullptr);
  const std::string weak = test::jwk(small, "weak");
  EVP_PKEY_free(small);
  auto keys = parse_jwk_set(
      test::jwk_set({good, weak, R"({"kty":"RSA","kid":"enc","use":"enc","n":"AQAB","e":"AQAB"})",
                     R"({"kty":"EC","kid":"ec"})", R"({"kty":"RSA","n":"AQAB","e":"AQAB"})"}));
  REQUIRE(keys.ok());
  CHECK(keys->size() == 1);
  CHECK(keys->count("good") == 1);
  CHECK(!parse_jwk_set("[]").ok());
  CHECK(!parse_jwk_set(R"({"keys":[]})").ok());
  CHECK(!parse_jwk_set("not json").ok());
}

TEST_CASE("Pub/Sub keys: fetched over HTTPS from a local server and cached by Cache-Control") {
  test::LocalHttpsServer server("jwks");
  server.set("/oauth2/v3/certs", {200, test::jwk_set({test::jwk(test::rsa_key(2).get(), "k1")}),
                                  "public, max-age=21600, must-revalidate, no-transform", ""});
  PubSubTokenConfig config = PubSub::base_config();
  config.keys_url = server.url("/oauth2/v3/certs");
  config.ca_file = server.ca_file();
  auto v = PubSubTokenVerifier::create(config);
  REQUIRE(v.ok());
  PubSub signer;
  const auto verdict = (*v)->verify(signer.bearer(signer.claims()));
  REQUIRE_MESSAGE(verdict.ok(), verdict.detail);
  CHECK((*v)->verify(signer.bearer(signer.claims())).ok());
  CHECK(server.hits("/oauth2/v3/certs") == 1);

  // The same server without its CA configured: the keys are unavailable, not wrong.
  config.ca_file.clear();
  auto untrusted = PubSubTokenVerifier::create(config);
  REQUIRE(untrusted.ok());
  const auto refused = (*untrusted)->verify(signer.bearer(signer.claims()));
  CHECK(refused.outcome == TokenVerdict::Outcome::kKeysUnavailable);
  CHECK(server.hits("/oauth2/v3/certs") == 1);
}

}  // namespace eso::webhook
