#include "webhook/verify/https_fetcher.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <memory>
#include <mutex>

#include <fmt/format.h>

namespace eso::webhook {
namespace {

constexpr size_t kMaxUrlBytes = 2048;
constexpr long kOneYear = 365L * 24 * 3600;

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

// One part of a parsed URL, or nullopt when it is absent.
std::optional<std::string> url_part(CURLU* u, CURLUPart part, unsigned flags = 0) {
  char* value = nullptr;
  if (curl_url_get(u, part, &value, flags) != CURLUE_OK || value == nullptr) return std::nullopt;
  std::string out(value);
  curl_free(value);
  return out;
}

struct Exchange {
  std::string body;
  std::string cache_control;
  size_t max_body = 0;
  bool too_big = false;
};

size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto* ex = static_cast<Exchange*>(user);
  const size_t n = size * count;
  if (ex->body.size() + n > ex->max_body) {
    ex->too_big = true;
    return 0;  // aborts the transfer
  }
  ex->body.append(data, n);
  return n;
}

size_t on_header(char* data, size_t size, size_t count, void* user) {
  auto* ex = static_cast<Exchange*>(user);
  const size_t n = size * count;
  const std::string_view line(data, n);
  const auto colon = line.find(':');
  if (colon != std::string_view::npos && lower(line.substr(0, colon)) == "cache-control") {
    // Several Cache-Control fields combine as one list (RFC 9110 §5.3).
    if (!ex->cache_control.empty()) ex->cache_control += ',';
    ex->cache_control += trim(line.substr(colon + 1));
  }
  return n;
}

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

}  // namespace

Result<HttpsUrl> parse_https_url(std::string_view url, bool allow_plain_http) {
  if (url.size() > kMaxUrlBytes) {
    return Error{ErrorCode::kInvalidArgument, "the URL is longer than 2048 bytes"};
  }
  const size_t prefix = lower(url.substr(0, 8)) == "https://"                      ? 8
                        : allow_plain_http && lower(url.substr(0, 7)) == "http://" ? 7
                                                                                   : 0;
  // libcurl reads "https:///host/path" as host "host"; a URL like that is no SNS URL.
  if (prefix == 0 || url.substr(prefix, 1) == "/" || url.substr(prefix, 1) == "\\") {
    return Error{ErrorCode::kInvalidArgument, allow_plain_http ? "the URL is not http(s)://HOST/..."
                                                               : "the URL is not https://HOST/..."};
  }
  std::unique_ptr<CURLU, decltype(&curl_url_cleanup)> u(curl_url(), curl_url_cleanup);
  if (!u) return Error{ErrorCode::kInternal, "libcurl could not allocate a URL"};
  const std::string text(url);
  if (curl_url_set(u.get(), CURLUPART_URL, text.c_str(), 0) != CURLUE_OK) {
    return Error{ErrorCode::kInvalidArgument, "the URL does not parse"};
  }
  const auto scheme = url_part(u.get(), CURLUPART_SCHEME);
  if (!scheme || (lower(*scheme) != "https" && !(allow_plain_http && lower(*scheme) == "http"))) {
    return Error{ErrorCode::kInvalidArgument, "the URL is not https"};
  }
  if (url_part(u.get(), CURLUPART_USER) || url_part(u.get(), CURLUPART_PASSWORD)) {
    return Error{ErrorCode::kInvalidArgument, "the URL carries user information"};
  }
  auto host = url_part(u.get(), CURLUPART_HOST);
  const auto port = url_part(u.get(), CURLUPART_PORT, CURLU_DEFAULT_PORT);
  auto normalised = url_part(u.get(), CURLUPART_URL);
  if (!host || host->empty() || !port || !normalised) {
    return Error{ErrorCode::kInvalidArgument, "the URL has no host"};
  }
  HttpsUrl out;
  out.host = lower(*host);
  if (out.host.size() > 2 && out.host.front() == '[' && out.host.back() == ']') {
    out.host = out.host.substr(1, out.host.size() - 2);
  }
  out.port = std::atoi(port->c_str());
  out.url = std::move(*normalised);
  return out;
}

std::optional<std::chrono::seconds> parse_cache_max_age(std::string_view cache_control) {
  std::optional<std::chrono::seconds> out;
  while (!cache_control.empty()) {
    const auto comma = cache_control.find(',');
    const std::string directive = lower(trim(cache_control.substr(0, comma)));
    cache_control = comma == std::string_view::npos ? "" : cache_control.substr(comma + 1);
    if (directive == "no-store" || directive == "no-cache") return std::chrono::seconds(0);
    if (directive.rfind("max-age=", 0) != 0) continue;
    std::string_view digits = std::string_view(directive).substr(8);
    if (digits.size() >= 2 && digits.front() == '"' && digits.back() == '"') {
      digits = digits.substr(1, digits.size() - 2);
    }
    if (digits.empty() || !std::all_of(digits.begin(), digits.end(), ::isdigit)) continue;
    long value = 0;
    for (const char c : digits) {
      value = std::min(kOneYear, value * 10 + (c - '0'));
    }
    out = std::chrono::seconds(value);
  }
  return out;
}

CurlHttpsFetcher::CurlHttpsFetcher(CurlFetcherOptions options) : options_(std::move(options)) {
  global_init();
}

Result<FetchedDocument> CurlHttpsFetcher::get(const std::string& url) {
  auto parsed = parse_https_url(url, options_.allow_plain_http);
  if (!parsed) return parsed.error();
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> h(curl_easy_init(), curl_easy_cleanup);
  if (!h) return Error{ErrorCode::kInternal, "libcurl could not make a handle"};
  Exchange ex;
  ex.max_body = options_.max_body_bytes;
  char errbuf[CURL_ERROR_SIZE] = {};
  CURL* c = h.get();
  curl_easy_setopt(c, CURLOPT_URL, parsed->url.c_str());
  // https only, for the request and (were one followed) any redirect: keys and certificates
  // read over plain HTTP could be anyone's. The exception is a CA certificate named by AIA,
  // which is verified against the trusted CAs once fetched (allow_plain_http).
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, options_.allow_plain_http ? "http,https" : "https");
  curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "https");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(options_.connect_timeout.count()));
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.timeout.count()));
  curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(options_.max_body_bytes));
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
  if (!options_.ca_file.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, options_.ca_file.c_str());
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &ex);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &ex);
  const CURLcode rc = curl_easy_perform(c);
  if (ex.too_big || rc == CURLE_FILESIZE_EXCEEDED) {
    return Error{ErrorCode::kServer, fmt::format("GET {}: the answer is larger than {} bytes",
                                                 parsed->url, options_.max_body_bytes)};
  }
  if (rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE) {
    return Error{ErrorCode::kTlsVerification,
                 fmt::format("GET {}: the server's certificate does not verify ({})", parsed->url,
                             errbuf[0] != 0 ? errbuf : curl_easy_strerror(rc))};
  }
  if (rc != CURLE_OK) {
    return Error{
        ErrorCode::kUnreachable,
        fmt::format("GET {}: {}", parsed->url, errbuf[0] != 0 ? errbuf : curl_easy_strerror(rc))};
  }
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  if (status != 200) {
    return Error{ErrorCode::kServer,
                 fmt::format("GET {}: HTTP {} (expected 200)", parsed->url, status)};
  }
  return FetchedDocument{std::move(ex.body), parse_cache_max_age(ex.cache_control)};
}

}  // namespace eso::webhook
