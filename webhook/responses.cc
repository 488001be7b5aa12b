#include "webhook/responses.h"

#include <algorithm>

#include <fmt/format.h>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "core/http/escape.h"
#include "core/json_report.h"
#include "webhook/verify/pubsub_token_verifier.h"
#include "webhook/verify/sns_verifier.h"

namespace eso::webhook {
namespace {

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

void write_events(JsonWriter& w, const DecodedEvents& decoded) {
  w.Key("source");
  w.String(decoded.source);
  w.Key("events");
  w.Uint64(decoded.events);
  w.Key("keys");
  w.StartArray();
  for (const auto& k : decoded.keys) w.String(k);
  w.EndArray();
  if (!decoded.paths.empty()) {
    w.Key("paths");
    w.StartArray();
    for (const auto& p : decoded.paths) w.String(p);
    w.EndArray();
  }
  w.Key("ignored");
  w.StartArray();
  for (const auto& i : decoded.ignored) {
    w.StartObject();
    w.Key("eventType");
    w.String(i.event_type);
    w.Key("reason");
    w.String(i.reason);
    w.EndObject();
  }
  w.EndArray();
}

void write_matches(JsonWriter& w, const MatchResult& matched) {
  w.Key("matched");
  w.StartArray();
  for (const auto& m : matched.matches) {
    w.StartObject();
    write_match_fields(w, m);
    w.EndObject();
  }
  w.EndArray();
}

// "patched" and "failed"; returns the status the failures call for (200 without any).
int write_patches(JsonWriter& w, const TriggerRun& run) {
  const auto& results = run.results();
  const auto& patches = run.plan().patches;
  w.Key("patched");
  w.StartArray();
  for (size_t i = 0; i < results.size(); ++i) {
    if (!results[i].outcome) continue;
    w.StartObject();
    write_object_ref(w, results[i].target);
    w.Key("annotation");
    w.String(patches[i].annotation);
    w.Key("value");
    w.String(results[i].value);
    w.Key("joined");
    w.Bool(results[i].joined);
    w.EndObject();
  }
  w.EndArray();
  int status = 200;
  w.Key("failed");
  w.StartArray();
  for (const auto& r : results) {
    if (r.outcome) continue;
    status = std::max(status, retryable(r.outcome.error().code) ? 503 : 500);
    w.StartObject();
    write_object_ref(w, r.target);
    w.Key("error");
    w.String(r.outcome.error().message);
    w.EndObject();
  }
  w.EndArray();
  return status;
}

void write_skipped(JsonWriter& w, const TriggerPlan& plan) {
  w.Key("skipped");
  w.StartArray();
  for (const auto& s : plan.skipped) {
    w.StartObject();
    write_object_ref(w, s.target);
    w.Key("reason");
    w.String(skip_text(s));
    w.EndObject();
  }
  w.EndArray();
}

}  // namespace

bool retryable(ErrorCode code) {
  return code == ErrorCode::kUnreachable || code == ErrorCode::kServer ||
         code == ErrorCode::kTooManyRequests;
}

int http_status(ErrorCode code) {
  switch (code) {
    case ErrorCode::kMalformed:
      return 400;
    case ErrorCode::kInvalidArgument:
      return 422;
    case ErrorCode::kUnauthorized:
      return 401;
    case ErrorCode::kForbidden:
      return 403;
    case ErrorCode::kNotFound:
      return 404;
    default:
      return retryable(code) ? 503 : 500;
  }
}

http::Response error_response(int status, const std::string& message) {
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  w.Key("error");
  const std::string valid = http::valid_utf8(message);  // it may quote a query value
  w.String(valid.data(), static_cast<rapidjson::SizeType>(valid.size()));
  w.EndObject();
  http::Response r{status, "application/json", buffer.GetString(), {}};
  if (status == 503) r.headers.emplace_back("Retry-After", "5");
  return r;
}

// RFC 6750 §3: a request without a token gets the scheme alone, an invalid token the error code.
http::Response token_refusal(const TokenVerdict& verdict) {
  if (verdict.outcome == TokenVerdict::Outcome::kKeysUnavailable) {
    return error_response(503, "Google's token signing keys cannot be fetched right now; retry");
  }
  const TokenFailure reason = verdict.reason;
  const bool forbidden = reason == TokenFailure::kWrongAudience ||
                         reason == TokenFailure::kEmailNotAllowed ||
                         reason == TokenFailure::kEmailNotVerified;
  http::Response r = error_response(
      forbidden ? 403 : 401,
      fmt::format(
          "Pub/Sub push token refused: {}{}", to_string(reason),
          forbidden ? " (see serve's --pubsub-audience and --pubsub-service-account)" : ""));
  if (forbidden) return r;
  r.headers.emplace_back("WWW-Authenticate", reason == TokenFailure::kMissingToken
                                                 ? "Bearer realm=\"eso-updater\""
                                                 : "Bearer realm=\"eso-updater\", "
                                                   "error=\"invalid_token\"");
  return r;
}

http::Response sns_refusal(const SnsVerdict& verdict) {
  if (verdict.outcome == SnsVerdict::Outcome::kCertUnavailable) {
    return error_response(503, "the SNS signing certificate cannot be fetched right now; retry");
  }
  if (verdict.reason == SnsFailure::kTopicNotAllowed) {
    return error_response(403,
                          "SNS message refused: topic_not_allowed (see serve's "
                          "--sns-topic-arn)");
  }
  http::Response r =
      error_response(401, fmt::format("SNS message refused: {}", to_string(verdict.reason)));
  // The signature in the body is the credential; RFC 9110 §15.5.2 still wants a challenge.
  r.headers.emplace_back("WWW-Authenticate", "SNS-Signature realm=\"eso-updater\"");
  return r;
}

http::Response subscription_response(const SubscriptionOutcome& outcome,
                                     const SnsMessage& message) {
  switch (outcome.status) {
    case SubscriptionOutcome::Status::kConfirmed: {
      rapidjson::StringBuffer buffer;
      JsonWriter w(buffer);
      w.StartObject();
      w.Key("confirmed");
      w.Bool(true);
      w.Key("topicArn");
      const std::string topic = http::valid_utf8(message.topic_arn);
      w.String(topic.data(), static_cast<rapidjson::SizeType>(topic.size()));
      w.EndObject();
      return http::Response{200, "application/json", buffer.GetString(), {}};
    }
    case SubscriptionOutcome::Status::kRefused:
      return error_response(403, "subscription not confirmed: " + outcome.detail);
    case SubscriptionOutcome::Status::kFailed:
      break;
  }
  return error_response(503,
                        "subscription not confirmed yet: the SubscribeURL could not be "
                        "fetched; SNS will resend the confirmation");
}

EventReply duplicate_reply(const DecodedEvents& decoded) {
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  w.Key("duplicate");
  w.Bool(true);
  w.Key("source");
  w.String(decoded.source);
  w.Key("events");
  w.Uint64(decoded.events);
  w.Key("patched");
  w.StartArray();
  w.EndArray();
  w.Key("failed");
  w.StartArray();
  w.EndArray();
  w.EndObject();
  return EventReply{200, buffer.GetString()};
}

http::Response event_response(const EventOutcome& outcome) {
  switch (outcome.status) {
    case EventStatus::kReply:
      return http::Response{
          outcome.decoded.reply->status, "application/json", outcome.decoded.reply->body, {}};
    case EventStatus::kRejected:
      return error_response(http_status(outcome.error.code), outcome.error.message);
    case EventStatus::kNotReady:
    case EventStatus::kUnavailable:
      return error_response(503, outcome.error.message);
    case EventStatus::kDone:
      break;
  }
  const TriggerRun& run = *outcome.run;
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  write_events(w, outcome.decoded);
  write_matches(w, run.matched());
  const int status = write_patches(w, run);
  write_skipped(w, run.plan());
  // The same problems schema as `match`/`trigger -o json` (core/json_report.h).
  write_problems(w, run.matched().problems);
  w.EndObject();
  // Decoded text is valid UTF-8 already; this also covers what the API server said.
  http::Response response{status, "application/json", http::valid_utf8(buffer.GetString()), {}};
  if (status == 503) response.headers.emplace_back("Retry-After", "5");
  return response;
}

}  // namespace eso::webhook
