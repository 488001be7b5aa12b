#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

namespace eso::http {

/// One POST to an http:// or https:// URL, for `trigger --server` (DESIGN.md §11).
///
/// Its own small HTTP/1.1 client over POSIX sockets and OpenSSL, not libcurl: libcurl's 27
/// shared libraries took longer to load than serve takes to answer (kube/libcurl_loader.cc).
/// It speaks only what a request to serve needs: one request per connection
/// (`Connection: close`), answers framed by Content-Length, chunked coding or the connection's
/// end, TLS 1.2 or later with the peer verified against a CA file or the system's CAs and its
/// name checked. Proxies are not its business: see `proxy_applies`.
struct ClientRequest {
  std::string url;                                   ///< the whole URL, path included
  std::vector<std::string> headers;                  ///< "Name: value" lines, without CRLF
  std::string body;                                  ///< sent with Content-Length
  std::string ca_file;                               ///< PEM CAs for https://; empty: the system's
  std::chrono::milliseconds connect_timeout{10000};  ///< to connect (and shake hands)
  std::chrono::milliseconds timeout{60000};          ///< for the whole exchange
  size_t max_answer = size_t{64} << 20;              ///< a longer body is an error
};

/// What came back: an answer (any status), or why none did.
struct ClientOutcome {
  enum class Failure {
    kNone,       ///< an answer came: status and body
    kUrl,        ///< the URL cannot be used
    kConnect,    ///< no connection: name unknown, refused, unreachable
    kTls,        ///< the TLS handshake failed for another reason than the certificate
    kTlsVerify,  ///< the server's certificate is not trusted or not for this name
    kCaFile,     ///< the CA file cannot be read
    kTimeout,    ///< the connect timeout or the whole exchange's timeout passed
    kLost,       ///< the connection broke, or the answer is not HTTP
    kTooLarge,   ///< the answer is longer than max_answer
  };
  Failure failure = Failure::kNone;
  /// Whether any byte of the request left: then the server may have acted on it.
  bool request_sent = false;
  std::string detail;  ///< why, when failure is not kNone (names the address, never headers)
  int status = 0;
  std::string body;
};

/// Sends `request` as a POST and reads the answer. Never throws; every wait is bounded by the
/// request's timeouts. SIGPIPE is held off for the calling thread while it writes.
ClientOutcome post(const ClientRequest& request);

/// Reads one answer from the connected plain socket `fd` (taken over and closed), as `post`
/// does after sending: for the fuzz target (test/fuzz/http_answer_fuzz.cc).
ClientOutcome read_answer(int fd, std::chrono::milliseconds timeout, size_t max_answer);

/// Whether libcurl would send a request to `url` through a proxy from the environment
/// (http_proxy for http://, https_proxy or HTTPS_PROXY for https://, all_proxy or ALL_PROXY),
/// before no_proxy: the caller then leaves the request to libcurl, which knows proxies.
bool proxy_applies(const std::string& url);

}  // namespace eso::http
