#pragma once

#include <string>

#include "core/event_service.h"
#include "core/result.h"
#include "server/http_server.h"

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

/// The answer to a notification (DESIGN.md §6 "Response"): the decoded events, the matches,
/// what was patched, failed and skipped, and the match problems; 200 when every patch
/// succeeded or nothing matched, 503 with Retry-After when one failed in a way worth retrying.
http::Response event_response(const EventOutcome& outcome);

}  // namespace eso::webhook
