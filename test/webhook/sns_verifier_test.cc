// SNS signatures: versions 1 and 2, each failure reason, the certificate cache, subscription
// confirmation, and real fetches from a local HTTPS server standing in for an SNS host.
#include "webhook/verify/sns_verifier.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <cstdio>
#include <functional>
#include <set>
#include <vector>

#include <doctest/doctest.h>

#include "core/base64.h"
#include "test/webhook/fakes.h"
#include "test/webhook/test_pki.h"

namespace eso::webhook {
namespace {

using namespace std::chrono_literals;
using test::Cert;
using test::CertSpec;
using test::FakeClock;
using test::FakeFetcher;

constexpr const char* kTopic = "arn:aws:sns:us-east-1:123456789012:eso-updater";
constexpr const char* kCertUrl =
    "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0123456789abcdef.pem";

CertSpec spec(std::string cn, bool is_ca, std::chrono::seconds not_after = 2 * 86400s) {
  return CertSpec{std::move(cn), is_ca, "", -3600s, not_after};
}

std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

// `m` as SNS posts it.
std::string to_json(const SnsMessage& m) {
  std::string out = "{\"Type\":" + json_string(m.type_name);
  auto add = [&out](const char* name, const std::string& value) {
    out += std::string(",\"") + name + "\":" + json_string(value);
  };
  add("MessageId", m.message_id);
  add("TopicArn", m.topic_arn);
  if (m.subject) add("Subject", *m.subject);
  add("Message", m.message);
  add("Timestamp", m.timestamp);
  add("SignatureVersion", m.signature_version);
  add("Signature", m.signature);
  add("SigningCertURL", m.signing_cert_url);
  if (!m.subscribe_url.empty()) add("SubscribeURL", m.subscribe_url);
  if (!m.token.empty()) add("Token", m.token);
  return out + "}";
}

// `m` signed by `key` as its SignatureVersion says (SHA-256 for anything but "1").
std::string signed_body(SnsMessage m, EVP_PKEY* key) {
  const EVP_MD* md = m.signature_version == "1" ? EVP_sha1() : EVP_sha256();
  m.signature = base64_encode(test::sign(key, md, sns_string_to_sign(m)));
  return to_json(m);
}

// Published at `at` (default: now, as serve's clock reads it in these tests).
SnsMessage notification(std::string version = "2", std::chrono::system_clock::time_point at =
                                                       std::chrono::system_clock::now()) {
  SnsMessage m;
  m.type = SnsMessageType::kNotification;
  m.type_name = "Notification";
  m.message_id = "da41e39f-ea4d-435a-b922-c6aae3915ebe";
  m.topic_arn = kTopic;
  m.subject = "Secret changed";
  m.message =
      R"({"detail-type":"AWS API Call via CloudTrail","detail":{"eventName":"PutSecretValue"}})";
  m.timestamp = test::sns_time(at);
  m.signature_version = std::move(version);
  m.signing_cert_url = kCertUrl;
  return m;
}

SnsMessage confirmation(std::string subscribe_url) {
  SnsMessage m = notification();
  m.type = SnsMessageType::kSubscriptionConfirmation;
  m.type_name = "SubscriptionConfirmation";
  m.subject.reset();
  m.message = "You have chosen to subscribe to the topic.\nTo confirm, visit the SubscribeURL.";
  m.subscribe_url = std::move(subscribe_url);
  m.token = "2336412f37fb687f5d51e6e2425dacbba4";
  return m;
}

// A CA, an SNS signing certificate it issued, and a verifier that fetches it from a fake.
struct Sns {
  FakeClock time;
  std::shared_ptr<FakeFetcher> fetcher = std::make_shared<FakeFetcher>();
  std::shared_ptr<FakeFetcher> issuers = std::make_shared<FakeFetcher>();  ///< CA Issuers URLs
  test::TempDir dir{"sns"};
  Cert ca = test::make_cert(spec("test Amazon root", true), test::rsa_key(5), nullptr);
  Cert signer = test::make_cert(spec("sns.amazonaws.com", false), test::rsa_key(6), &ca);
  std::unique_ptr<SnsVerifier> verifier;

  explicit Sns(SnsConfig config = base_config()) {
    if (config.ca_file == "<test CA>") config.ca_file = dir.write("ca.pem", ca.pem());
    fetcher->answer(kCertUrl, signer.pem());
    auto v = SnsVerifier::create(std::move(config), fetcher, time.clock(), issuers);
    REQUIRE_MESSAGE(v.ok(), (v.ok() ? "" : v.error().message));
    verifier = std::move(*v);
  }
  static SnsConfig base_config() {
    SnsConfig config;
    config.allowed_topic_arns = {kTopic};
    config.ca_file = "<test CA>";
    return config;
  }
  std::string body(const SnsMessage& m) const { return signed_body(m, signer.key.get()); }
};

// `cert` in DER, as CA Issuers URLs usually serve it.
std::string der(const Cert& cert) {
  unsigned char* out = nullptr;
  const int n = i2d_X509(cert.x509.get(), &out);
  REQUIRE(n > 0);
  std::string bytes(reinterpret_cast<const char*>(out), static_cast<size_t>(n));
  OPENSSL_free(out);
  return bytes;
}

constexpr const char* kIssuerUrl = "http://crt.m02.amazontrust.example/m02.cer";

std::string replaced(std::string text, std::string_view from, std::string_view to) {
  const auto at = text.find(from);
  REQUIRE(at != std::string::npos);
  return text.replace(at, from.size(), to);
}

}  // namespace

TEST_CASE("SNS: notifications signed with version 1 and 2 verify") {
  Sns s;
  for (const char* version : {"1", "2"}) {
    CAPTURE(version);
    const auto verdict = s.verifier->verify(s.body(notification(version)));
    REQUIRE_MESSAGE(verdict.ok(), verdict.detail);
    CHECK(verdict.message.message_id == "da41e39f-ea4d-435a-b922-c6aae3915ebe");
    CHECK(verdict.message.message == notification().message);
  }
  SnsMessage bare = notification("1");
  bare.subject.reset();
  CHECK(s.verifier->verify(s.body(bare)).ok());
  CHECK(s.verifier->verify(s.body(confirmation("https://sns.us-east-1.amazonaws.com/?x"))).ok());
  CHECK(s.fetcher->count() == 1);  // one certificate, fetched once
}

TEST_CASE("SNS: every failure has its reason") {
  Sns s;
  const std::string good = s.body(notification());
  SnsMessage other_topic = notification();
  other_topic.topic_arn = "arn:aws:sns:us-east-1:999999999999:someone-else";
  SnsMessage v3 = notification("3");
  const std::string v1_as_v2 = replaced(signed_body(notification("2"), s.signer.key.get()),
                                        R"("SignatureVersion":"2")", R"("SignatureVersion":"1")");
  const Cert stranger = test::make_cert(spec("stranger", false), test::rsa_key(7), nullptr);
  SnsMessage bad_time = notification();
  bad_time.timestamp = "2026-12-01 07:00:00";
  SnsMessage long_ago = notification();
  long_ago.timestamp = "0001-01-01T00:00:00.000Z";  // before system_clock's earliest time
  SnsMessage far_ahead = notification();
  far_ahead.timestamp = "9999-12-31T23:59:59.999Z";
  struct Case {
    const char* what;
    std::string body;
    SnsFailure reason;
  };
  const std::vector<Case> cases = {
      {"not JSON", "hello", SnsFailure::kMalformedMessage},
      {"topic not allowed", s.body(other_topic), SnsFailure::kTopicNotAllowed},
      {"Timestamp not RFC 3339", s.body(bad_time), SnsFailure::kMalformedMessage},
      {"published two hours ago", s.body(notification("2", std::chrono::system_clock::now() - 2h)),
       SnsFailure::kStale},
      {"published in year 1", s.body(long_ago), SnsFailure::kStale},
      {"published in 9999", s.body(far_ahead), SnsFailure::kStale},
      {"version 3", s.body(v3), SnsFailure::kUnsupportedSignatureVersion},
      {"Message tampered with", replaced(good, "PutSecretValue", "DeleteSecret"),
       SnsFailure::kBadSignature},
      {"Subject tampered with", replaced(good, "Secret changed", "Secret changes"),
       SnsFailure::kBadSignature},
      {"Type changed to a confirmation",
       replaced(replaced(good, R"("Type":"Notification")", R"("Type":"UnsubscribeConfirmation")"),
                R"("Subject":"Secret changed")", R"("SubscribeURL":"https://x","Token":"t")"),
       SnsFailure::kBadSignature},
      {"version 2 signature labelled 1", v1_as_v2, SnsFailure::kBadSignature},
      {"signed by another key", signed_body(notification(), stranger.key.get()),
       SnsFailure::kBadSignature},
      {"Signature not base64", replaced(good, R"("Signature":")", R"("Signature":"*)"),
       SnsFailure::kBadSignature},
  };
  for (const auto& c : cases) {
    CAPTURE(c.what);
    const auto verdict = s.verifier->verify(c.body);
    CHECK(verdict.outcome == SnsVerdict::Outcome::kRejected);
    CHECK(verdict.reason == c.reason);
    CHECK(to_string(verdict.reason) == to_string(c.reason));
    CHECK(!verdict.detail.empty());
  }
}

TEST_CASE("SNS: each reason has its own metric label") {
  std::set<std::string_view> labels;
  for (int r = 0; r <= static_cast<int>(SnsFailure::kStale); ++r) {
    labels.insert(to_string(static_cast<SnsFailure>(r)));
  }
  CHECK(labels.size() == 7);
  CHECK(labels.count("unknown") == 0);
}

TEST_CASE(
    "SNS: a message past SNS's hour of retries, or ahead of the clock, is refused unfetched") {
  using std::chrono::system_clock;
  Sns s;
  const auto now = s.time.clock()();
  struct Case {
    const char* what;
    system_clock::time_point published;
    bool ok;
  };
  const Case cases[] = {
      {"retried for an hour, clocks 4 min apart", now - kSnsRetryLimit - 240s, true},
      {"an hour and 6 minutes old", now - kSnsRetryLimit - 360s, false},
      {"4 minutes ahead", now + 240s, true},
      {"6 minutes ahead", now + 360s, false},
  };
  for (const auto& c : cases) {
    CAPTURE(c.what);
    const auto verdict = s.verifier->verify(s.body(notification("2", c.published)));
    if (c.ok) {
      CHECK_MESSAGE(verdict.ok(), verdict.detail);
      continue;
    }
    CHECK(verdict.outcome == SnsVerdict::Outcome::kRejected);
    CHECK(verdict.reason == SnsFailure::kStale);
    CHECK_MESSAGE(verdict.detail.find(verdict.message.timestamp) != std::string::npos,
                  verdict.detail);
  }
  CHECK(s.fetcher->count() == 1);  // the certificate, for the fresh ones; none for the stale

  // A genuine message captured and replayed once SNS can no longer be retrying it.
  const std::string captured = s.body(notification("2", now));
  CHECK(s.verifier->verify(captured).ok());
  s.time.advance(kSnsRetryLimit + 301s);
  const auto replayed = s.verifier->verify(captured);
  CHECK(replayed.reason == SnsFailure::kStale);
  CHECK(replayed.outcome == SnsVerdict::Outcome::kRejected);

  SnsConfig strict = Sns::base_config();
  strict.clock_tolerance = 0s;
  Sns exact(strict);
  const auto at = exact.time.clock()();
  CHECK(exact.verifier->verify(exact.body(notification("2", at - kSnsRetryLimit))).ok());
  CHECK(exact.verifier->verify(exact.body(notification("2", at - kSnsRetryLimit - 2s))).reason ==
        SnsFailure::kStale);
  CHECK(exact.verifier->verify(exact.body(notification("2", at + 2s))).reason ==
        SnsFailure::kStale);
}

TEST_CASE("SNS: a certificate URL that is not https on an SNS host is refused without a fetch") {
  Sns s;
  const std::vector<std::string> urls = {
      "http://sns.us-east-1.amazonaws.com/SimpleNotificationService-0123.pem",
      "https://evil.example.com/SimpleNotificationService-0123.pem",
      "https://sns.us-east-1.amazonaws.com.evil.example.com/cert.pem",
      "https://sns.us-east-1.amazonaws.com@evil.example.com/cert.pem",
      "https://user:pw@sns.us-east-1.amazonaws.com/cert.pem",
      "https://s3.us-east-1.amazonaws.com/cert.pem",
      "https://sns.us-east-1.amazonaws.co/cert.pem",
      "https://127.0.0.1/cert.pem",
      "file:///etc/passwd",
      "sns.us-east-1.amazonaws.com/cert.pem",
  };
  for (const auto& url : urls) {
    CAPTURE(url);
    SnsMessage m = notification();
    m.signing_cert_url = url;
    const auto verdict = s.verifier->verify(s.body(m));
    CHECK(verdict.reason == SnsFailure::kCertUrlNotAllowed);
  }
  CHECK(s.fetcher->count() == 0);
  // China's regions are SNS hosts too.
  SnsMessage china = notification();
  china.signing_cert_url =
      "https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-1.pem";
  CHECK(s.verifier->verify(s.body(china)).outcome == SnsVerdict::Outcome::kCertUnavailable);
  CHECK(s.fetcher->count() == 1);
}

TEST_CASE("SNS: a certificate whose chain does not verify is refused") {
  struct Case {
    const char* what;
    std::function<std::string(const Sns&)> pem;
  };
  const std::vector<Case> cases = {
      {"self-signed",
       [](const Sns& s) {
         return test::make_cert(spec("sns.amazonaws.com", false), s.signer.key, nullptr).pem();
       }},
      {"issued by another CA",
       [](const Sns& s) {
         const Cert other = test::make_cert(spec("other CA", true), test::rsa_key(7), nullptr);
         return test::make_cert(spec("sns.amazonaws.com", false), s.signer.key, &other).pem();
       }},
      {"expired",
       [](const Sns& s) {
         return test::make_cert(spec("sns.amazonaws.com", false, -60s), s.signer.key, &s.ca).pem();
       }},
      {"not PEM", [](const Sns&) { return std::string("<html>not a certificate</html>"); }},
  };
  for (const auto& c : cases) {
    CAPTURE(c.what);
    Sns s;
    s.fetcher->answer(kCertUrl, c.pem(s));
    const auto verdict = s.verifier->verify(s.body(notification()));
    CHECK(verdict.outcome == SnsVerdict::Outcome::kRejected);
    CHECK(verdict.reason == SnsFailure::kBadCertificate);
  }
  // The system's CAs do not know the test CA.
  SnsConfig system = Sns::base_config();
  system.ca_file.clear();
  Sns s(system);
  CHECK(s.verifier->verify(s.body(notification())).reason == SnsFailure::kBadCertificate);
}

TEST_CASE("SNS: an intermediate CA sent with the certificate completes the chain") {
  SnsConfig config = Sns::base_config();
  Sns s(config);
  const Cert intermediate = test::make_cert(spec("intermediate", true), test::rsa_key(8), &s.ca);
  const Cert leaf =
      test::make_cert(spec("sns.amazonaws.com", false), test::rsa_key(9), &intermediate);
  s.fetcher->answer(kCertUrl, leaf.pem() + intermediate.pem());
  const auto verdict = s.verifier->verify(signed_body(notification(), leaf.key.get()));
  CHECK_MESSAGE(verdict.ok(), verdict.detail);
}

TEST_CASE("SNS: an intermediate CA not sent is fetched from the leaf's AIA URL") {
  Sns s;  // the root alone in the CA file
  const Cert intermediate = test::make_cert(spec("intermediate", true), test::rsa_key(8), &s.ca);
  const Cert leaf = test::make_cert(spec("sns.amazonaws.com", false), test::rsa_key(9),
                                    &intermediate, kIssuerUrl);
  s.fetcher->answer(kCertUrl, leaf.pem());
  for (const std::string& served : {der(intermediate), intermediate.pem()}) {
    CAPTURE(served.size());
    Sns fresh;
    fresh.fetcher->answer(kCertUrl, leaf.pem());
    fresh.issuers->answer(kIssuerUrl, served);
    const auto verdict = fresh.verifier->verify(signed_body(notification(), leaf.key.get()));
    CHECK_MESSAGE(verdict.ok(), verdict.detail);
    CHECK(fresh.issuers->count(kIssuerUrl) == 1);
  }
  // Without the AIA fetch the chain lacks its issuer: the same leaf with no URL is refused.
  const Cert bare = test::make_cert(spec("sns.amazonaws.com", false), leaf.key, &intermediate);
  s.fetcher->answer(kCertUrl, bare.pem());
  const auto refused = s.verifier->verify(signed_body(notification(), bare.key.get()));
  CHECK(refused.reason == SnsFailure::kBadCertificate);
  CHECK(s.issuers->count() == 0);
}

TEST_CASE("SNS: two AIA hops complete a chain and a third is refused") {
  Sns s;
  const std::string upper_url = "http://crt.example/upper.cer";
  const std::string lower_url = "http://crt.example/lower.cer";
  const Cert upper = test::make_cert(spec("upper", true), test::rsa_key(8), &s.ca);
  const Cert lower = test::make_cert(spec("lower", true), test::rsa_key(10), &upper, upper_url);
  const Cert leaf =
      test::make_cert(spec("sns.amazonaws.com", false), test::rsa_key(9), &lower, lower_url);
  s.issuers->answer(upper_url, der(upper));
  s.issuers->answer(lower_url, der(lower));
  s.fetcher->answer(kCertUrl, leaf.pem());
  const auto verdict = s.verifier->verify(signed_body(notification(), leaf.key.get()));
  CHECK_MESSAGE(verdict.ok(), verdict.detail);
  CHECK(s.issuers->count() == 2);

  Sns deep;
  const std::string top_url = "http://crt.example/top.cer";
  const Cert top = test::make_cert(spec("top", true), test::rsa_key(11), &deep.ca);
  const Cert mid = test::make_cert(spec("upper", true), test::rsa_key(8), &top, top_url);
  const Cert low = test::make_cert(spec("lower", true), test::rsa_key(10), &mid, upper_url);
  const Cert leaf3 =
      test::make_cert(spec("sns.amazonaws.com", false), test::rsa_key(9), &low, lower_url);
  deep.issuers->answer(top_url, der(top));
  deep.issuers->answer(upper_url, der(mid));
  deep.issuers->answer(lower_url, der(low));
  deep.fetcher->answer(kCertUrl, leaf3.pem());
  const auto refused = deep.verifier->verify(signed_body(notification(), leaf3.key.get()));
  CHECK(refused.reason == SnsFailure::kBadCertificate);
  CHECK(deep.issuers->count(top_url) == 0);
}

TEST_CASE("SNS: an AIA fetch that fails makes the certificate unavailable") {
  Sns s;
  const Cert intermediate = test::make_cert(spec("intermediate", true), test::rsa_key(8), &s.ca);
  const Cert leaf = test::make_cert(spec("sns.amazonaws.com", false), test::rsa_key(9),
                                    &intermediate, kIssuerUrl);
  s.fetcher->answer(kCertUrl, leaf.pem());
  s.issuers->fail(kIssuerUrl);
  const auto verdict = s.verifier->verify(signed_body(notification(), leaf.key.get()));
  CHECK(verdict.outcome == SnsVerdict::Outcome::kCertUnavailable);
  CHECK(verdict.detail.find("AIA") != std::string::npos);
  // Spaced like a failed certificate fetch, then verified once the issuer is served.
  s.issuers->answer(kIssuerUrl, der(intermediate));
  CHECK(s.verifier->verify(signed_body(notification(), leaf.key.get())).outcome ==
        SnsVerdict::Outcome::kCertUnavailable);
  CHECK(s.fetcher->count() == 1);
  s.time.advance(10s);
  CHECK(s.verifier->verify(signed_body(notification(), leaf.key.get())).ok());
}

TEST_CASE("SNS: an AIA URL serving an unrelated certificate or no certificate is refused") {
  struct Case {
    const char* what;
    std::function<std::string(const Sns&)> served;
  };
  const std::vector<Case> cases = {
      {"an unrelated CA",
       [](const Sns& s) {
         return der(test::make_cert(spec("unrelated", true), test::rsa_key(10), &s.ca));
       }},
      {"the intermediate signed by an untrusted root",
       [](const Sns&) {
         const Cert other = test::make_cert(spec("other root", true), test::rsa_key(7), nullptr);
         return der(test::make_cert(spec("intermediate", true), test::rsa_key(8), &other));
       }},
      {"not a certificate", [](const Sns&) { return std::string("<html>moved</html>"); }},
  };
  for (const auto& c : cases) {
    CAPTURE(c.what);
    Sns s;
    const Cert intermediate = test::make_cert(spec("intermediate", true), test::rsa_key(8), &s.ca);
    const Cert leaf = test::make_cert(spec("sns.amazonaws.com", false), test::rsa_key(9),
                                      &intermediate, kIssuerUrl);
    s.fetcher->answer(kCertUrl, leaf.pem());
    s.issuers->answer(kIssuerUrl, c.served(s));
    const auto verdict = s.verifier->verify(signed_body(notification(), leaf.key.get()));
    CHECK(verdict.outcome == SnsVerdict::Outcome::kRejected);
    CHECK(verdict.reason == SnsFailure::kBadCertificate);
    CHECK(s.issuers->count(kIssuerUrl) == 1);
  }
}

TEST_CASE("SNS: an intermediate fetched from an AIA URL is fetched once for two messages") {
  Sns s;
  const Cert intermediate = test::make_cert(spec("intermediate", true), test::rsa_key(8), &s.ca);
  s.issuers->answer(kIssuerUrl, der(intermediate));
  // Two signing certificates (two URLs, each fetched) with the same issuer.
  const std::vector<std::string> urls = {kCertUrl, std::string(kCertUrl) + "?rotated"};
  for (size_t i = 0; i < urls.size(); ++i) {
    const Cert leaf =
        test::make_cert(spec("sns.amazonaws.com", false), test::rsa_key(9 + static_cast<int>(i)),
                        &intermediate, kIssuerUrl);
    s.fetcher->answer(urls[i], leaf.pem());
    SnsMessage m = notification();
    m.signing_cert_url = urls[i];
    const auto verdict = s.verifier->verify(signed_body(m, leaf.key.get()));
    CHECK_MESSAGE(verdict.ok(), verdict.detail);
  }
  CHECK(s.fetcher->count() == 2);
  CHECK(s.issuers->count(kIssuerUrl) == 1);
  s.time.advance(std::chrono::hours(25));  // past the cache's TTL: fetched again
  const Cert leaf = test::make_cert(spec("sns.amazonaws.com", false), test::rsa_key(11),
                                    &intermediate, kIssuerUrl);
  s.fetcher->answer(kCertUrl + std::string("?third"), leaf.pem());
  SnsMessage m = notification("2", s.time.clock()());
  m.signing_cert_url = kCertUrl + std::string("?third");
  CHECK(s.verifier->verify(signed_body(m, leaf.key.get())).ok());
  CHECK(s.issuers->count(kIssuerUrl) == 2);
}

TEST_CASE("SNS: certificates are cached by URL with a bound and an expiry") {
  SnsConfig config = Sns::base_config();
  config.cert_cache_entries = 2;
  config.cert_cache_ttl = 3600s;
  Sns s(config);
  const std::vector<std::string> urls = {kCertUrl, std::string(kCertUrl) + "?b",
                                         std::string(kCertUrl) + "?c"};
  for (const auto& url : urls) s.fetcher->answer(url, s.signer.pem());
  auto verify_with = [&s](const std::string& url) {
    SnsMessage m = notification("2", s.time.clock()());
    m.signing_cert_url = url;
    return s.verifier->verify(s.body(m)).ok();
  };
  CHECK(verify_with(urls[0]));
  CHECK(verify_with(urls[0]));
  CHECK(s.fetcher->count() == 1);
  CHECK(verify_with(urls[1]));
  CHECK(verify_with(urls[2]));  // the cache holds two: urls[0] goes
  CHECK(s.fetcher->count() == 3);
  CHECK(verify_with(urls[2]));
  CHECK(s.fetcher->count() == 3);
  CHECK(verify_with(urls[0]));
  CHECK(s.fetcher->count(urls[0]) == 2);
  s.time.advance(3601s);  // expired: fetched again
  CHECK(verify_with(urls[0]));
  CHECK(s.fetcher->count(urls[0]) == 3);
  CHECK(s.verifier->cert_fetches() == s.fetcher->count());
}

TEST_CASE("SNS: a certificate that cannot be fetched is unavailable and fetches are spaced") {
  Sns s;
  s.fetcher->fail(kCertUrl);
  auto verdict = s.verifier->verify(s.body(notification()));
  CHECK(verdict.outcome == SnsVerdict::Outcome::kCertUnavailable);
  CHECK(verdict.detail.find("connection refused") != std::string::npos);
  s.fetcher->answer(kCertUrl, s.signer.pem());
  for (int i = 0; i < 10; ++i) {
    CHECK(s.verifier->verify(s.body(notification())).outcome ==
          SnsVerdict::Outcome::kCertUnavailable);
  }
  CHECK(s.fetcher->count() == 1);
  s.time.advance(10s);
  CHECK(s.verifier->verify(s.body(notification())).ok());
  CHECK(s.fetcher->count() == 2);
}

TEST_CASE("SNS: forged certificate URLs that fail cost a bounded number of fetches") {
  SnsConfig config = Sns::base_config();
  config.failed_fetch_budget = 3;
  Sns s(config);
  auto verify_with = [&s](const std::string& url) {
    SnsMessage m = notification("2", s.time.clock()());
    m.signing_cert_url = url;
    return s.verifier->verify(s.body(m)).outcome;
  };
  const std::string made_up = "https://sns.us-east-1.amazonaws.com/made-up-";
  // One failure does not keep a genuine certificate from being fetched.
  CHECK(verify_with(made_up + "0.pem") == SnsVerdict::Outcome::kCertUnavailable);
  CHECK(verify_with(kCertUrl) == SnsVerdict::Outcome::kOk);
  CHECK(s.fetcher->count() == 2);
  // A burst of made-up URLs: three fetches fail, then none is tried until they age.
  for (int i = 1; i <= 20; ++i) {
    CHECK(verify_with(made_up + std::to_string(i) + ".pem") ==
          SnsVerdict::Outcome::kCertUnavailable);
  }
  CHECK(s.fetcher->count() == 4);
  CHECK(verify_with(kCertUrl) == SnsVerdict::Outcome::kOk);  // cached: no fetch needed
  s.time.advance(10s);
  CHECK(verify_with(made_up + "21.pem") == SnsVerdict::Outcome::kCertUnavailable);
  CHECK(s.fetcher->count() == 5);
}

TEST_CASE("SNS: a configuration without topics or with a bad host pattern is refused") {
  SnsConfig none;
  auto a = SnsVerifier::create(none, std::make_shared<FakeFetcher>());
  REQUIRE(!a.ok());
  CHECK(a.error().code == ErrorCode::kConfig);
  SnsConfig bad = Sns::base_config();
  bad.ca_file.clear();
  bad.host_pattern_for_tests = "(";
  CHECK(!SnsVerifier::create(bad, std::make_shared<FakeFetcher>()).ok());
  SnsConfig missing_ca = Sns::base_config();
  missing_ca.ca_file = "/nonexistent/ca.pem";
  CHECK(!SnsVerifier::create(missing_ca, std::make_shared<FakeFetcher>()).ok());
}

TEST_CASE("SNS: a subscription is confirmed only for an allowed topic and an SNS https URL") {
  const std::string subscribe =
      "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=" +
      std::string(kTopic) + "&Token=2336412f37fb687f5d51e6e2425dacbba4";
  Sns s;
  s.fetcher->answer(subscribe, "<ConfirmSubscriptionResponse/>");
  using Status = SubscriptionOutcome::Status;
  struct Case {
    const char* what;
    SnsMessage message;
    Status status;
  };
  SnsMessage other_topic = confirmation(subscribe);
  other_topic.topic_arn = "arn:aws:sns:us-east-1:999999999999:someone-else";
  const std::vector<Case> cases = {
      {"allowed", confirmation(subscribe), Status::kConfirmed},
      {"a notification", notification(), Status::kRefused},
      {"topic not allowed", other_topic, Status::kRefused},
      {"http", confirmation("http://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription"),
       Status::kRefused},
      {"another host", confirmation("https://evil.example.com/?Action=ConfirmSubscription"),
       Status::kRefused},
      {"GET fails", confirmation("https://sns.us-east-1.amazonaws.com/?Action=Gone"),
       Status::kFailed},
  };
  for (const auto& c : cases) {
    CAPTURE(c.what);
    CHECK(s.verifier->confirm_subscription(c.message).status == c.status);
  }
  CHECK(s.fetcher->count(subscribe) == 1);
  CHECK(s.fetcher->count() == 2);  // the allowed one and the one that fails
}

TEST_CASE("SNS: the certificate and the SubscribeURL fetched from a local HTTPS server") {
  test::LocalHttpsServer server("sns");
  const Cert signer =
      test::make_cert(spec("sns.amazonaws.com", false), test::rsa_key(6), &server.ca());
  server.set("/SimpleNotificationService-local.pem", {200, signer.pem(), "", ""});
  server.set("/?Action=ConfirmSubscription&Token=abc",
             {200, "<ConfirmSubscriptionResponse/>", "", ""});
  SnsConfig config;
  config.allowed_topic_arns = {kTopic};
  config.ca_file = server.ca_file();
  config.host_pattern_for_tests = R"(^127\.0\.0\.1$)";
  auto verifier = SnsVerifier::create(config);
  REQUIRE(verifier.ok());
  SnsMessage m = notification("2");
  m.signing_cert_url = server.url("/SimpleNotificationService-local.pem");
  auto verdict = (*verifier)->verify(signed_body(m, signer.key.get()));
  REQUIRE_MESSAGE(verdict.ok(), verdict.detail);
  CHECK((*verifier)->verify(signed_body(m, signer.key.get())).ok());
  CHECK(server.hits("/SimpleNotificationService-local.pem") == 1);

  SnsMessage c = confirmation(server.url("/?Action=ConfirmSubscription&Token=abc"));
  c.signing_cert_url = m.signing_cert_url;
  REQUIRE((*verifier)->verify(signed_body(c, signer.key.get())).ok());
  const auto confirmed = (*verifier)->confirm_subscription(c);
  CHECK_MESSAGE(confirmed.status == SubscriptionOutcome::Status::kConfirmed, confirmed.detail);
  CHECK(server.hits("/?Action=ConfirmSubscription&Token=abc") == 1);
  // A missing certificate (404) is unavailable (503), not a forgery.
  m.signing_cert_url = server.url("/gone.pem");
  CHECK((*verifier)->verify(signed_body(m, signer.key.get())).outcome ==
        SnsVerdict::Outcome::kCertUnavailable);

  // With the real SNS host pattern the local server is not an SNS host: nothing is fetched.
  config.host_pattern_for_tests = std::string(kSnsHostPattern);
  auto strict = SnsVerifier::create(config);
  REQUIRE(strict.ok());
  m.signing_cert_url = server.url("/SimpleNotificationService-local.pem");
  CHECK((*strict)->verify(signed_body(m, signer.key.get())).reason ==
        SnsFailure::kCertUrlNotAllowed);
  CHECK(server.hits("/SimpleNotificationService-local.pem") == 1);
}

TEST_CASE(
    "SNS: the intermediate served over plain HTTP by a local AIA server completes the chain") {
  test::LocalHttpsServer sns("sns-aia");
  test::LocalHttpsServer aia("aia", test::LocalHttpsServer::Transport::kPlainHttp);
  const Cert intermediate =
      test::make_cert(spec("intermediate", true), test::rsa_key(8), &sns.ca());
  aia.set("/m02.cer", {200, der(intermediate), "", ""});
  aia.set("/moved.cer", {302, "", "", aia.url("/m02.cer")});
  const Cert leaf = test::make_cert(spec("sns.amazonaws.com", false), test::rsa_key(9),
                                    &intermediate, aia.url("/m02.cer"));
  const Cert moved = test::make_cert(spec("sns.amazonaws.com", false), test::rsa_key(10),
                                     &intermediate, aia.url("/moved.cer"));
  sns.set("/a.pem", {200, leaf.pem(), "", ""});
  sns.set("/b.pem", {200, leaf.pem(), "", ""});
  sns.set("/moved.pem", {200, moved.pem(), "", ""});
  SnsConfig config;
  config.allowed_topic_arns = {kTopic};
  config.ca_file = sns.ca_file();  // the root only
  config.host_pattern_for_tests = R"(^127\.0\.0\.1$)";
  auto verifier = SnsVerifier::create(config);  // the default fetchers: libcurl
  REQUIRE(verifier.ok());
  for (const char* path : {"/a.pem", "/b.pem"}) {
    SnsMessage m = notification();
    m.signing_cert_url = sns.url(path);
    const auto verdict = (*verifier)->verify(signed_body(m, leaf.key.get()));
    CHECK_MESSAGE(verdict.ok(), verdict.detail);
  }
  CHECK(aia.hits("/m02.cer") == 1);
  // A redirect is not followed: the issuer is unavailable (503), not forged.
  SnsMessage m = notification();
  m.signing_cert_url = sns.url("/moved.pem");
  CHECK((*verifier)->verify(signed_body(m, moved.key.get())).outcome ==
        SnsVerdict::Outcome::kCertUnavailable);
  CHECK(aia.hits("/moved.cer") == 1);
  CHECK(aia.hits("/m02.cer") == 1);
}

}  // namespace eso::webhook
