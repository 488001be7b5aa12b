#pragma once

#include <string>

#include "core/event_service.h"
#include "core/result.h"
#include "server/http_server.h"
#include "webhook/verify/pubsub_token_verifier.h"
#include "webhook/verify/sns_verifier.h"

namespace eso::webhook {

/// The one table from domain outcomes to HTTP: what status an input or API error answers with.
/// kMalformed 400, kInvalidArgument 422, kUnauthorized 401, kForbidden 403, kNotFound 404;
/// failures worth retrying (the API server unreachable, 5xx, 429, not synced yet) 503, the rest
/// 500.
int http_status(ErrorCode code);

/// Whether the sender should retry an error of this kind (503 with Retry-After).
bool retryable(ErrorCode code);

/// `{"error": message}` with `status`; Retry-After for a 503.
http::Response error_response(int status, const std::string& message);

/// The answer to a Pub/Sub push whose token was refused: 401 with `WWW-Authenticate: Bearer` for
/// a token that is missing or not a valid Google token (malformed, unknown key, bad signature,
/// issuer, expired, not yet valid); 403 for a valid token not meant for serve (audience, service
/// account, unverified email); 503 with Retry-After when Google's keys could not be fetched.
/// The body names the reason, never the token.
http::Response token_refusal(const TokenVerdict& verdict);

/// The answer to an SNS message that failed verification: 403 for a topic not allowed, 401 for
/// the rest (malformed, signature version, certificate URL or chain, signature); 503 with
/// Retry-After when the signing certificate could not be fetched.
http::Response sns_refusal(const SnsVerdict& verdict);

/// The answer to a verified SubscriptionConfirmation: 200 once confirmed, 403 when refused
/// (topic or SubscribeURL not allowed), 503 with Retry-After when the GET of SubscribeURL
/// failed (SNS resends the confirmation).
http::Response subscription_response(const SubscriptionOutcome& outcome, const SnsMessage& message);

/// The answer to a redelivery of a delivery already processed in full: 200, `"duplicate": true`,
/// nothing patched.
EventReply duplicate_reply(const DecodedEvents& decoded);

/// The answer to a notification (DESIGN.md §6 "Response"): the decoded events, the matches,
/// what was patched, failed and skipped, and the match problems; 200 when every patch
/// succeeded or nothing matched, 503 with Retry-After when one failed in a way worth retrying.
http::Response event_response(const EventOutcome& outcome);

}  // namespace eso::webhook
