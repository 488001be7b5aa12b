#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/result.h"
#include "kube/client_config.h"

namespace eso::kube {

struct HttpRequest {
  std::string method = "GET";
  std::string path;  ///< path and query, starting with '/'
  std::string body;
  std::string content_type;
  std::chrono::seconds timeout{60};  ///< whole request; 0 for none (watches)
  /// Streaming: a 200 response body is handed over as it arrives instead of being collected;
  /// returning false ends the request. Other statuses are collected into the body as usual.
  std::function<bool(std::string_view)> on_data;
  /// With on_data: end the request when no byte arrives for this long (0: never).
  std::chrono::seconds idle_timeout{0};
  /// When set and true, the request ends as soon as possible (checked about once a second).
  const std::atomic<bool>* cancel = nullptr;
};

/// A plain (non-streaming) request.
inline HttpRequest make_request(std::string method, std::string path, std::chrono::seconds timeout,
                                std::string body = "", std::string content_type = "") {
  HttpRequest r;
  r.method = std::move(method);
  r.path = std::move(path);
  r.timeout = timeout;
  r.body = std::move(body);
  r.content_type = std::move(content_type);
  return r;
}

struct HttpResponse {
  long status = 0;
  std::string body;
  std::string retry_after;  ///< the Retry-After header, if any
  /// A stream (on_data) ended because no byte came for idle_timeout, not by the server.
  bool went_quiet = false;
};

/// HTTPS to one API server with one identity, over libcurl. Connections, TLS sessions and DNS
/// results are shared by all threads; each request borrows an idle handle so a connection is
/// reused. Key material is handed to libcurl as in-memory blobs, never written to disk.
/// Server `Warning:` headers are printed to stderr once each.
class HttpTransport {
 public:
  static Result<std::unique_ptr<HttpTransport>> create(ClientConfig config);
  ~HttpTransport();
  HttpTransport(const HttpTransport&) = delete;
  HttpTransport& operator=(const HttpTransport&) = delete;

  /// One request, no retries. Network failures become kUnreachable errors, certificate failures
  /// kTlsVerification, with messages that name the server and the context; any HTTP status is a
  /// successful Result.
  Result<HttpResponse> send(const HttpRequest& request);

  const ClientConfig& config() const;

  /// Connections opened so far (libcurl's count per transfer): how well they are reused.
  uint64_t connections_opened() const;

 private:
  struct Impl;
  explicit HttpTransport(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// `eso-updater/VERSION (linux/ARCH)`.
std::string user_agent();

}  // namespace eso::kube
