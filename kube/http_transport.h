#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "core/result.h"
#include "kube/client_config.h"

namespace eso::kube {

struct HttpRequest {
  std::string method = "GET";
  std::string path;  ///< path and query, starting with '/'
  std::string body;
  std::string content_type;
  std::chrono::seconds timeout{60};
};

struct HttpResponse {
  long status = 0;
  std::string body;
  std::string retry_after;  ///< the Retry-After header, if any
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

 private:
  struct Impl;
  explicit HttpTransport(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// `eso-updater/VERSION (linux/ARCH)`.
std::string user_agent();

}  // namespace eso::kube
