// The one table from the verifiers' verdicts to HTTP: every refusal reason answers 401 or 403
// (with a Bearer challenge where RFC 6750 wants one), a fetch failure 503 with Retry-After.
#include <doctest/doctest.h>

#include "webhook/responses.h"

namespace eso::webhook {
namespace {

const std::string* header(const http::Response& r, std::string_view name) {
  for (const auto& [n, v] : r.headers) {
    if (n == name) return &v;
  }
  return nullptr;
}

TokenVerdict refused(TokenFailure reason) {
  TokenVerdict v;
  v.outcome = TokenVerdict::Outcome::kRejected;
  v.reason = reason;
  v.detail = "claims";
  return v;
}

}  // namespace

TEST_CASE("a refused push token answers 401 with a Bearer challenge, or 403 when not for serve") {
  struct Case {
    TokenFailure reason;
    int status;
  };
  const Case cases[] = {
      {TokenFailure::kMissingToken, 401},    {TokenFailure::kMalformedToken, 401},
      {TokenFailure::kUnknownKey, 401},      {TokenFailure::kBadSignature, 401},
      {TokenFailure::kWrongIssuer, 401},     {TokenFailure::kExpired, 401},
      {TokenFailure::kNotYetValid, 401},     {TokenFailure::kWrongAudience, 403},
      {TokenFailure::kEmailNotAllowed, 403}, {TokenFailure::kEmailNotVerified, 403},
  };
  for (const auto& c : cases) {
    CAPTURE(to_string(c.reason));
    const http::Response r = token_refusal(refused(c.reason));
    CHECK(r.status == c.status);
    CHECK(r.body.find(to_string(c.reason)) != std::string::npos);
    CHECK(r.body.find("claims") == std::string::npos);  // details are for the log
    const std::string* challenge = header(r, "WWW-Authenticate");
    CHECK((challenge != nullptr) == (c.status == 401));
    if (challenge == nullptr) continue;
    CHECK(challenge->rfind("Bearer ", 0) == 0);
    CHECK((challenge->find("invalid_token") != std::string::npos) ==
          (c.reason != TokenFailure::kMissingToken));
  }
  TokenVerdict unavailable;
  unavailable.outcome = TokenVerdict::Outcome::kKeysUnavailable;
  const http::Response r = token_refusal(unavailable);
  CHECK(r.status == 503);
  CHECK(header(r, "Retry-After") != nullptr);
}

TEST_CASE("a refused SNS message answers 403 for its topic, 401 otherwise, 503 without a cert") {
  struct Case {
    SnsFailure reason;
    int status;
  };
  const Case cases[] = {
      {SnsFailure::kMalformedMessage, 401},
      {SnsFailure::kTopicNotAllowed, 403},
      {SnsFailure::kUnsupportedSignatureVersion, 401},
      {SnsFailure::kCertUrlNotAllowed, 401},
      {SnsFailure::kBadCertificate, 401},
      {SnsFailure::kBadSignature, 401},
  };
  for (const auto& c : cases) {
    CAPTURE(to_string(c.reason));
    SnsVerdict v;
    v.reason = c.reason;
    CHECK(sns_refusal(v).status == c.status);
  }
  SnsVerdict unavailable;
  unavailable.outcome = SnsVerdict::Outcome::kCertUnavailable;
  CHECK(sns_refusal(unavailable).status == 503);
  CHECK(header(sns_refusal(unavailable), "Retry-After") != nullptr);
}

TEST_CASE("a subscription answers 200 once confirmed, 403 refused, 503 when SNS should resend") {
  SnsMessage m;
  m.topic_arn = "arn:aws:sns:us-east-1:1:t";
  using Status = SubscriptionOutcome::Status;
  CHECK(subscription_response({Status::kConfirmed, ""}, m).status == 200);
  CHECK(subscription_response({Status::kRefused, "topic"}, m).status == 403);
  const http::Response failed = subscription_response({Status::kFailed, "GET"}, m);
  CHECK(failed.status == 503);
  CHECK(header(failed, "Retry-After") != nullptr);
}

TEST_CASE("a duplicate delivery is answered 200 with duplicate true and nothing patched") {
  DecodedEvents decoded;
  decoded.source = "gcp";
  decoded.events = 1;
  const EventReply reply = duplicate_reply(decoded);
  CHECK(reply.status == 200);
  CHECK(reply.body == R"({"duplicate":true,"source":"gcp","events":1,"patched":[],"failed":[]})");
}

}  // namespace eso::webhook
