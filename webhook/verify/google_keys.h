#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "core/result.h"
#include "webhook/verify/https_fetcher.h"
#include "webhook/verify/public_key.h"
#include "webhook/verify/wall_clock.h"

namespace eso::webhook {

/// Where Google publishes the keys that sign its OIDC tokens, as a JWK set (RFC 7517).
inline constexpr std::string_view kGoogleCertsUrl = "https://www.googleapis.com/oauth2/v3/certs";

/// The RSA keys of a JWK set by `kid`. Keys of another type or use, or shorter than 2048 bits,
/// are skipped; a set with no usable key, or that is not a JWK set, is an error (kMalformed).
Result<std::map<std::string, PublicKey, std::less<>>> parse_jwk_set(std::string_view json);

struct KeySetOptions {
  std::string url{kGoogleCertsUrl};
  /// How long a fetched set is fresh when its answer has no Cache-Control max-age.
  std::chrono::seconds default_max_age{300};
  /// The longest a set stays fresh whatever its Cache-Control says.
  std::chrono::seconds longest_max_age{std::chrono::hours(24)};
  /// Fetches are at least this far apart after the first, so a stream of tokens with made-up
  /// `kid`s, or a key server that is down, costs one fetch per interval, not one per request.
  std::chrono::seconds min_fetch_interval{30};
  /// How long keys past their freshness are still used while fetches fail.
  std::chrono::seconds stale_for{std::chrono::hours(1)};
};

/// Google's signing keys, fetched on first use and kept for their Cache-Control max-age; an
/// unknown `kid` refetches at once (keys rotate), within the fetch interval. When a fetch fails
/// the keys held go on being used for `stale_for`. Thread-safe; a lookup that needs a fetch
/// waits for it (bounded by the fetcher's timeout), and so do lookups meanwhile.
class GoogleKeySet {
 public:
  GoogleKeySet(KeySetOptions options, std::shared_ptr<HttpsFetcher> fetcher, WallClock clock);

  struct Lookup {
    enum class Status {
      kFound,
      kUnknownKid,   ///< the keys are known, and `kid` is not one of them
      kUnavailable,  ///< no usable keys, or the refetch for an unknown kid failed
    } status = Status::kUnavailable;
    PublicKey key;       ///< set when kFound
    std::string detail;  ///< why, for a log line (the fetch error when kUnavailable)
  };
  Lookup find(std::string_view kid);

  /// Fetch attempts so far, successful or not.
  size_t fetch_count() const;

 private:
  bool fresh(std::chrono::system_clock::time_point now) const;
  bool usable(std::chrono::system_clock::time_point now) const;
  bool may_fetch(std::chrono::system_clock::time_point now) const;
  void fetch(std::chrono::system_clock::time_point now);
  Lookup found_or_why(std::string_view kid, std::chrono::system_clock::time_point now) const;

  KeySetOptions options_;
  std::shared_ptr<HttpsFetcher> fetcher_;
  WallClock clock_;
  mutable std::mutex mu_;
  std::map<std::string, PublicKey, std::less<>> keys_;
  std::chrono::system_clock::time_point fresh_until_{};
  std::chrono::system_clock::time_point last_attempt_{};
  size_t attempts_ = 0;
  std::string last_error_;  ///< empty when the last fetch succeeded
};

}  // namespace eso::webhook
