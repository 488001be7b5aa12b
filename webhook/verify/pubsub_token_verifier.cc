#include "webhook/verify/pubsub_token_verifier.h"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <utility>

#include <fmt/format.h>
#include <rapidjson/document.h>

#include "core/json_fields.h"
#include "webhook/verify/base64url.h"

namespace eso::webhook {
namespace {

// A token far larger than Google's (about 1 KiB) is not one of theirs; no need to decode it.
constexpr size_t kMaxTokenBytes = size_t{16} * 1024;
// Sender-chosen claim values quoted in a log line are cut to this length.
constexpr size_t kMaxQuoted = 128;

constexpr std::array<std::string_view, 2> kGoogleIssuers = {"https://accounts.google.com",
                                                            "accounts.google.com"};

using Outcome = TokenVerdict::Outcome;

TokenVerdict reject(TokenFailure reason, std::string detail) {
  TokenVerdict v;
  v.outcome = Outcome::kRejected;
  v.reason = reason;
  v.detail = std::move(detail);
  return v;
}

// fmt, not operator+ on a temporary: GCC 12 at -O3 warns (-Wrestrict) on the inlined copy.
std::string quoted(std::string_view s) {
  return fmt::format("\"{}{}\"", s.substr(0, kMaxQuoted), s.size() > kMaxQuoted ? "..." : "");
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Decodes a base64url JWT part into `doc`; false unless it is a JSON object.
bool decode_json_part(std::string_view part, rapidjson::Document& doc) {
  auto bytes = base64url_decode(part);
  if (!bytes) return false;
  doc.Parse(bytes->data(), bytes->size());
  return !doc.HasParseError() && doc.IsObject();
}

// `aud` is a string or an array of strings (RFC 7519 §4.1.3).
bool audience_matches(const rapidjson::Value* aud, std::string_view audience) {
  if (aud == nullptr) return false;
  if (aud->IsString())
    return std::string_view(aud->GetString(), aud->GetStringLength()) == audience;
  if (!aud->IsArray()) return false;
  return std::any_of(aud->Begin(), aud->End(), [&](const rapidjson::Value& a) {
    return a.IsString() && std::string_view(a.GetString(), a.GetStringLength()) == audience;
  });
}

struct TokenParts {
  std::string_view header, payload, signature, signed_part;
};

// The three dot-separated parts of a compact JWS (RFC 7515 §7.1).
std::optional<TokenParts> split_token(std::string_view token) {
  const auto first = token.find('.');
  if (first == std::string_view::npos) return std::nullopt;
  const auto second = token.find('.', first + 1);
  if (second == std::string_view::npos || token.find('.', second + 1) != std::string_view::npos) {
    return std::nullopt;
  }
  return TokenParts{token.substr(0, first), token.substr(first + 1, second - first - 1),
                    token.substr(second + 1), token.substr(0, second)};
}

// The token of a `Bearer` credential (RFC 6750 §2.1), or "" when there is none.
std::string_view bearer_token(std::string_view authorization) {
  authorization = trim(authorization);
  const auto space = authorization.find(' ');
  if (space == std::string_view::npos || !iequals(authorization.substr(0, space), "bearer")) {
    return {};
  }
  return trim(authorization.substr(space + 1));
}

// The service account the token names: allowed, and its email verified by Google.
TokenVerdict check_identity(const rapidjson::Value& claims,
                            const std::vector<std::string>& allowed_emails) {
  const std::string email = json_string(claims, "email");
  const bool allowed =
      !email.empty() && std::any_of(allowed_emails.begin(), allowed_emails.end(),
                                    [&](const std::string& a) { return iequals(a, email); });
  if (!allowed) {
    return reject(TokenFailure::kEmailNotAllowed,
                  email.empty() ? "the token has no email claim"
                                : "email " + quoted(email) + " is not an allowed service account");
  }
  const auto* verified = json_member(claims, "email_verified");
  if (verified == nullptr || !verified->IsBool() || !verified->GetBool()) {
    return reject(TokenFailure::kEmailNotVerified,
                  "email " + quoted(email) + " is not marked email_verified");
  }
  TokenVerdict v;
  v.outcome = Outcome::kOk;
  v.claims = TokenClaims{email, json_string(claims, "sub")};
  return v;
}

}  // namespace

std::string_view to_string(TokenFailure reason) {
  switch (reason) {
    case TokenFailure::kMissingToken:
      return "missing_token";
    case TokenFailure::kMalformedToken:
      return "malformed_token";
    case TokenFailure::kUnknownKey:
      return "unknown_key";
    case TokenFailure::kBadSignature:
      return "bad_signature";
    case TokenFailure::kWrongIssuer:
      return "wrong_issuer";
    case TokenFailure::kWrongAudience:
      return "wrong_audience";
    case TokenFailure::kExpired:
      return "expired";
    case TokenFailure::kNotYetValid:
      return "not_yet_valid";
    case TokenFailure::kEmailNotAllowed:
      return "email_not_allowed";
    case TokenFailure::kEmailNotVerified:
      return "email_not_verified";
  }
  return "unknown";
}

Result<std::unique_ptr<PubSubTokenVerifier>> PubSubTokenVerifier::create(
    PubSubTokenConfig config, std::shared_ptr<HttpsFetcher> fetcher, WallClock clock,
    KeySetOptions key_options) {
  if (config.audience.empty()) {
    return Error{ErrorCode::kConfig,
                 "Pub/Sub push verification needs the audience the subscription's tokens carry"};
  }
  if (config.allowed_emails.empty()) {
    return Error{ErrorCode::kConfig,
                 "Pub/Sub push verification needs the service accounts allowed to push"};
  }
  if (!fetcher) fetcher = std::make_shared<CurlHttpsFetcher>(CurlFetcherOptions{config.ca_file});
  clock = or_system_clock(std::move(clock));
  key_options.url = config.keys_url;
  auto keys = std::make_unique<GoogleKeySet>(std::move(key_options), std::move(fetcher), clock);
  return std::unique_ptr<PubSubTokenVerifier>(
      new PubSubTokenVerifier(std::move(config), std::move(keys), std::move(clock)));
}

PubSubTokenVerifier::PubSubTokenVerifier(PubSubTokenConfig config,
                                         std::unique_ptr<GoogleKeySet> keys, WallClock clock)
    : config_(std::move(config)), keys_(std::move(keys)), clock_(std::move(clock)) {}

TokenVerdict PubSubTokenVerifier::verify(std::string_view authorization) const {
  const std::string_view token = bearer_token(authorization);
  if (token.empty()) {
    return reject(TokenFailure::kMissingToken, "no Authorization: Bearer token");
  }
  if (token.size() > kMaxTokenBytes) {
    return reject(TokenFailure::kMalformedToken, "the token is larger than 16 KiB");
  }
  const auto parts = split_token(token);
  rapidjson::Document header;
  if (!parts || !decode_json_part(parts->header, header)) {
    return reject(TokenFailure::kMalformedToken, "the token is not a JWT (three base64url parts)");
  }
  if (json_string(header, "alg") != "RS256") {
    return reject(TokenFailure::kMalformedToken, "the token's alg is not RS256");
  }
  const std::string kid = json_string(header, "kid");
  auto signature = base64url_decode(parts->signature);
  if (kid.empty() || !signature) {
    return reject(TokenFailure::kMalformedToken, "the token has no kid or no base64url signature");
  }
  auto key = keys_->find(kid);
  if (key.status == GoogleKeySet::Lookup::Status::kUnavailable) {
    TokenVerdict v;
    v.outcome = Outcome::kKeysUnavailable;
    v.detail = std::move(key.detail);
    return v;
  }
  if (key.status == GoogleKeySet::Lookup::Status::kUnknownKid) {
    return reject(TokenFailure::kUnknownKey, std::move(key.detail));
  }
  if (!rsa_pkcs1_verify(key.key.get(), EVP_sha256(), parts->signed_part, *signature)) {
    return reject(TokenFailure::kBadSignature, "the token's signature does not verify");
  }
  return check_claims(parts->payload);
}

TokenVerdict PubSubTokenVerifier::check_claims(std::string_view payload_part) const {
  rapidjson::Document claims;
  if (!decode_json_part(payload_part, claims)) {
    return reject(TokenFailure::kMalformedToken, "the token's claims are not a JSON object");
  }
  const std::string iss = json_string(claims, "iss");
  if (std::find(kGoogleIssuers.begin(), kGoogleIssuers.end(), iss) == kGoogleIssuers.end()) {
    return reject(TokenFailure::kWrongIssuer, "iss " + quoted(iss) + " is not Google's");
  }
  if (!audience_matches(json_member(claims, "aud"), config_.audience)) {
    return reject(TokenFailure::kWrongAudience,
                  "aud is not the configured audience " + quoted(config_.audience));
  }
  const auto* exp = json_member(claims, "exp");
  const auto* iat = json_member(claims, "iat");
  const auto* nbf = json_member(claims, "nbf");
  if (exp == nullptr || !exp->IsNumber() || iat == nullptr || !iat->IsNumber() ||
      (nbf != nullptr && !nbf->IsNumber())) {
    return reject(TokenFailure::kMalformedToken, "exp and iat must be numbers (and nbf if any)");
  }
  const double now = std::chrono::duration<double>(clock_().time_since_epoch()).count();
  const auto skew = static_cast<double>(config_.clock_skew.count());
  if (now > exp->GetDouble() + skew) {
    return reject(TokenFailure::kExpired,
                  fmt::format("the token expired {:.0f} s ago", now - exp->GetDouble()));
  }
  if (iat->GetDouble() - skew > now || (nbf != nullptr && nbf->GetDouble() - skew > now)) {
    return reject(TokenFailure::kNotYetValid, "the token's iat or nbf is in the future");
  }
  return check_identity(claims, config_.allowed_emails);
}

}  // namespace eso::webhook
