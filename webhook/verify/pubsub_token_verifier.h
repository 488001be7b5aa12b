#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "webhook/verify/google_keys.h"
#include "webhook/verify/https_fetcher.h"
#include "webhook/verify/wall_clock.h"

namespace eso::webhook {

/// Why a Pub/Sub push token was refused.
enum class TokenFailure {
  kMissingToken,      ///< no Authorization header, or not a Bearer one
  kMalformedToken,    ///< not three base64url parts of JSON, not RS256, no kid, or bad claims
  kUnknownKey,        ///< signed with a key Google does not publish
  kBadSignature,      ///< the signature does not verify with the key its kid names
  kWrongIssuer,       ///< iss is not Google's
  kWrongAudience,     ///< aud is not the configured audience
  kExpired,           ///< exp (plus the skew) has passed
  kNotYetValid,       ///< iat or nbf (less the skew) is still ahead
  kEmailNotAllowed,   ///< email is not one of the allowed service accounts
  kEmailNotVerified,  ///< email_verified is not true
};

/// A short snake_case name, for a metric label: "missing_token", "bad_signature", ...
std::string_view to_string(TokenFailure reason);

struct PubSubTokenConfig {
  /// The `aud` the push subscription was given (its audience, or by default its endpoint URL).
  std::string audience;
  /// Service accounts whose tokens are accepted (the subscription's push auth account).
  std::vector<std::string> allowed_emails;
  /// Where the signing keys are fetched; another URL exists for tests and private deployments.
  std::string keys_url{kGoogleCertsUrl};
  /// PEM CAs to trust for the keys URL instead of the system's; empty: the system's.
  std::string ca_file;
  /// Allowance for clocks that disagree, on exp, iat and nbf.
  std::chrono::seconds clock_skew{60};
};

/// What the subject of a verified token is.
struct TokenClaims {
  std::string email;
  std::string subject;  ///< `sub`: the service account's unique id
};

/// The verdict on one push request's token. Never holds the token or any part of it.
struct TokenVerdict {
  enum class Outcome {
    kOk,
    kRejected,         ///< `reason` says why: answer 401 (or 403, see the reason)
    kKeysUnavailable,  ///< Google's keys could not be fetched: answer 503 with Retry-After
  } outcome = Outcome::kRejected;
  TokenClaims claims;                                 ///< when kOk
  TokenFailure reason = TokenFailure::kMissingToken;  ///< when kRejected
  std::string detail;  ///< what failed, for a log line (claims and fetch errors, no token)

  bool ok() const { return outcome == Outcome::kOk; }
};

/// Verifies Google Cloud Pub/Sub push requests' OIDC tokens (an `Authorization: Bearer` JWT):
/// RS256 signature by one of Google's published keys, `iss` Google's, `aud` the configured
/// audience, `exp`/`iat`/`nbf` within the skew, `email` allowed and `email_verified` true.
/// Thread-safe.
class PubSubTokenVerifier {
 public:
  /// A verifier for `config`, fetching keys with `fetcher` (default: libcurl with the config's
  /// CA file) and reading `clock` (default: the system's). kConfig when the audience or the
  /// allowed emails are missing.
  static Result<std::unique_ptr<PubSubTokenVerifier>> create(
      PubSubTokenConfig config, std::shared_ptr<HttpsFetcher> fetcher = nullptr,
      WallClock clock = nullptr, KeySetOptions key_options = {});

  /// The verdict on an Authorization header value ("" when the header is absent).
  TokenVerdict verify(std::string_view authorization) const;

  /// Fetches of the key set so far.
  size_t key_fetches() const { return keys_->fetch_count(); }

 private:
  PubSubTokenVerifier(PubSubTokenConfig config, std::unique_ptr<GoogleKeySet> keys,
                      WallClock clock);
  TokenVerdict check_claims(std::string_view payload_json) const;

  PubSubTokenConfig config_;
  std::unique_ptr<GoogleKeySet> keys_;
  WallClock clock_;
};

}  // namespace eso::webhook
