#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "webhook/verify/https_fetcher.h"
#include "webhook/verify/public_key.h"
#include "webhook/verify/sns_message.h"
#include "webhook/verify/wall_clock.h"

namespace eso::webhook {

/// The hosts SNS serves signing certificates and subscription URLs from: sns.<region>.amazonaws.com
/// (and .com.cn in China).
inline constexpr std::string_view kSnsHostPattern = R"(^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$)";

/// Why an SNS message was refused.
enum class SnsFailure {
  kMalformedMessage,             ///< not an SNS message (parse_sns_message's error)
  kTopicNotAllowed,              ///< TopicArn is not in the allow-list
  kUnsupportedSignatureVersion,  ///< SignatureVersion is not 1 or 2
  kCertUrlNotAllowed,            ///< SigningCertURL is not https on an SNS host (never fetched)
  kBadCertificate,               ///< the certificate does not parse, or its chain does not verify
  kBadSignature,                 ///< the signature does not verify with the certificate's key
  kStale,  ///< Timestamp is older than SNS retries a delivery, or ahead of the clock: a replay
};

/// A short snake_case name, for a metric label: "topic_not_allowed", ...
std::string_view to_string(SnsFailure reason);

struct SnsConfig {
  /// Topics whose messages are accepted and whose subscriptions are confirmed.
  std::vector<std::string> allowed_topic_arns;
  /// PEM CAs the signing certificates' chains end in, and the HTTPS fetches trust; empty: the
  /// system's. Intermediate CAs in it are trusted as anchors too.
  std::string ca_file;
  /// Hosts (ECMAScript regex, matched against the whole lower-case host) certificates and
  /// SubscribeURLs may come from. Only tests change it, to reach a local server.
  std::string host_pattern_for_tests{kSnsHostPattern};
  /// Bounds both the signing certificate cache and the cache of issuers fetched from AIA URLs.
  size_t cert_cache_entries = 32;
  std::chrono::seconds cert_cache_ttl{std::chrono::hours(24)};
  /// A certificate URL whose fetch failed is not fetched again for this long, and at most
  /// `failed_fetch_budget` fetches may fail within it (then no uncached certificate is fetched
  /// until one of those failures is older): a stream of forged messages naming made-up
  /// certificate URLs costs a few fetches per interval, not one per message, and cannot stop
  /// a genuine certificate from being fetched with a single failure.
  std::chrono::seconds failed_fetch_interval{10};
  size_t failed_fetch_budget = 4;
  /// Slack for the gap between serve's clock and SNS's, and for the time SNS's attempts take
  /// beyond its retry policy's hour (kSnsRetryLimit). A retry keeps the signed Timestamp of the
  /// first try: a message older than the hour plus this, or ahead of now by more, is refused.
  std::chrono::seconds clock_tolerance{std::chrono::minutes(5)};
};

/// The longest SNS retries a delivery to an HTTP/S endpoint ("cannot be greater than 3,600
/// seconds. This is a hard limit": Amazon SNS message delivery retries).
inline constexpr std::chrono::seconds kSnsRetryLimit{3600};

/// The verdict on one SNS message.
struct SnsVerdict {
  enum class Outcome {
    kOk,               ///< `message` is authentic
    kRejected,         ///< `reason` says why: answer 401/403
    kCertUnavailable,  ///< the signing certificate could not be fetched: answer 503
  } outcome = Outcome::kRejected;
  SnsMessage message;  ///< the parsed message (when it parsed)
  SnsFailure reason = SnsFailure::kMalformedMessage;
  std::string detail;  ///< what failed, for a log line

  bool ok() const { return outcome == Outcome::kOk; }
};

/// The outcome of confirming a subscription.
struct SubscriptionOutcome {
  enum class Status {
    kConfirmed,
    kRefused,  ///< not a confirmation, topic not allowed, or SubscribeURL not an SNS https URL
    kFailed,   ///< the GET of SubscribeURL failed (SNS will resend; answer 503)
  } status = Status::kRefused;
  std::string detail;
};

/// Verifies Amazon SNS HTTPS messages: the topic allowed, a Timestamp within SNS's retries (so a
/// captured message replayed later is refused), SignatureVersion 1 (SHA1withRSA) or
/// 2 (SHA256withRSA) over the canonical string, by the key of a certificate fetched over HTTPS
/// from an SNS host whose chain verifies. When the chain lacks an issuer the trusted CAs do not
/// hold (SNS sends the leaf alone, issued by an Amazon intermediate CA), the issuer is fetched
/// from the certificate's Authority Information Access "CA Issuers" URL (http or https, at most
/// two hops), as browsers do. Certificates and issuers are cached by URL (bounded, expiring).
/// Thread-safe.
class SnsVerifier {
 public:
  /// kConfig when no topic is allowed or the host pattern is not a regex. `fetcher` GETs
  /// signing certificates and SubscribeURLs (https only); `issuer_fetcher` GETs issuers named by
  /// AIA, and may fetch plain http (default: libcurl with allow_plain_http). Tests pass fakes.
  static Result<std::unique_ptr<SnsVerifier>> create(
      SnsConfig config, std::shared_ptr<HttpsFetcher> fetcher = nullptr, WallClock clock = nullptr,
      std::shared_ptr<HttpsFetcher> issuer_fetcher = nullptr);
  ~SnsVerifier();

  /// The verdict on a request body.
  SnsVerdict verify(std::string_view body);

  /// For a verified SubscriptionConfirmation of an allowed topic: GETs its SubscribeURL when it
  /// is https on an SNS host. The caller verifies first; this checks again what it relies on.
  SubscriptionOutcome confirm_subscription(const SnsMessage& verified);

  /// Signing certificate fetches so far (issuers fetched from AIA URLs not counted).
  size_t cert_fetches() const;

 private:
  struct Impl;
  explicit SnsVerifier(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace eso::webhook
