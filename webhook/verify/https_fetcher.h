#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"

namespace eso::webhook {

/// A document fetched over HTTPS.
struct FetchedDocument {
  std::string body;
  /// From the response's Cache-Control (`max-age`; `no-store`/`no-cache` give 0), if any.
  std::optional<std::chrono::seconds> max_age;
};

/// The one way the verifiers reach the network: a GET of an https:// URL. The seam tests fill
/// with a fake; CurlHttpsFetcher is the real one.
class HttpsFetcher {
 public:
  virtual ~HttpsFetcher() = default;
  /// The body of a 200 answer to a GET of `url`, or an Error (kUnreachable for the network,
  /// kTlsVerification for a certificate, kServer for another status or an oversized body,
  /// kInvalidArgument for a URL that is not https).
  virtual Result<FetchedDocument> get(const std::string& url) = 0;
};

struct CurlFetcherOptions {
  std::string ca_file;  ///< PEM CAs to trust instead of the system's; empty: the system's
  std::chrono::milliseconds connect_timeout{3000};
  std::chrono::milliseconds timeout{5000};  ///< the whole exchange
  size_t max_body_bytes = size_t{1} << 20;
  /// Also GET plain http:// URLs. Only for CA certificates named by a certificate's Authority
  /// Information Access, which are verified against the trusted CAs after the fetch; everything
  /// else (keys, signing certificates, SubscribeURLs) is fetched over https only.
  bool allow_plain_http = false;
};

/// HttpsFetcher over libcurl: https only unless `allow_plain_http` (redirects are not followed, so
/// a 3xx is an error), the server's certificate verified, bounded in time and size. A proxy named
/// by the environment (https_proxy, no_proxy) is used as curl uses it. Thread-safe: each call uses
/// its own handle.
class CurlHttpsFetcher final : public HttpsFetcher {
 public:
  explicit CurlHttpsFetcher(CurlFetcherOptions options);
  Result<FetchedDocument> get(const std::string& url) override;

 private:
  CurlFetcherOptions options_;
};

/// An https (or, when asked for, http) URL taken apart by libcurl's own parser, the parser that
/// will fetch it, so the host we check is the host we connect to.
struct HttpsUrl {
  std::string url;   ///< normalised by libcurl
  std::string host;  ///< lower case; an IPv6 address without brackets
  int port = 443;    ///< 80 for an http URL without a port
};

/// Parses `url`, refusing anything but an absolute https URL with a host and without user
/// information (`https://sns.x.amazonaws.com@evil.example/` names the host evil.example).
/// `allow_plain_http` accepts http URLs too (for CurlFetcherOptions::allow_plain_http).
Result<HttpsUrl> parse_https_url(std::string_view url, bool allow_plain_http = false);

/// The max-age a Cache-Control header value allows: `max-age=N` (N decimal, capped at one
/// year), 0 for `no-store` or `no-cache`, nullopt when it says neither.
std::optional<std::chrono::seconds> parse_cache_max_age(std::string_view cache_control);

}  // namespace eso::webhook
