#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/http/request_parser.h"
#include "core/result.h"
#include "server/socket_stream.h"
#include "server/tls_stream.h"

namespace eso::http {

struct Request {
  RequestHead head;
  std::string body;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

/// What the server asks of the application, one protocol step per call.
class Handler {
 public:
  virtual ~Handler() = default;
  /// Route and authentication check on the head, before any body byte is read (and before
  /// `100 Continue`): nullopt to go on, or the response to send before closing.
  virtual std::optional<Response> admit(const RequestHead& head) = 0;
  /// The largest body an admitted request may have, decoded (a chunked body is counted as it
  /// is decoded): e.g. smaller for a request admitted without credentials. The server applies
  /// the smaller of this and its own limit, answering 413 beyond it.
  virtual size_t body_limit(const RequestHead& /*head*/) { return SIZE_MAX; }
  /// A cheap answer the server gives itself to an admitted request without a body (a probe,
  /// /metrics), on its own thread and without a worker: nullopt sends it to a worker. Requests
  /// anyone may send must not queue for the workers that serve webhooks.
  virtual std::optional<Response> answer_at_once(const RequestHead& /*head*/) {
    return std::nullopt;
  }
  /// The response to a complete request.
  virtual Response handle(const Request& request) = 0;
  /// Called once per request answered (also for rejected ones), for the access log and metrics.
  virtual void answered(const RequestHead& head, int status,
                        std::chrono::microseconds duration) = 0;
  /// The server answered 503 itself, because of `limit`: "queue" (every worker busy and the
  /// queue full), "connections" (max_connections) or "buffered" (max_buffered_bytes). Called
  /// besides answered(), from the server's thread, for a log line and a metric.
  virtual void overloaded(std::string_view /*limit*/) {}
};

struct ServerOptions {
  std::vector<std::string> listen{"127.0.0.1:8080"};  ///< HOST:PORT, [V6]:PORT; port 0 picks one
  int workers = 4;
  /// Complete requests waiting for a worker; one more gets 503 with Retry-After.
  int queue = 64;
  /// Open connections at most (being read, served, written and idle); beyond it the one that
  /// has waited longest for a handshake or head it never completed is closed to make room,
  /// else the longest-idle one; with neither, the new one gets 503 (plain text) or is closed
  /// (TLS, which cannot answer before a handshake).
  int max_connections = 4096;
  /// Bytes held for all connections together (requests being read, bodies queued for or held
  /// by a worker, responses being written); a connection that would go past it while reading is
  /// answered 503.
  size_t max_buffered_bytes = 64u << 20;
  Limits limits;
  /// The TLS handshake, the head, the body and the write, each absolute from its start.
  std::chrono::milliseconds phase_timeout{10000};
  std::chrono::milliseconds idle_timeout{30000};  ///< keep-alive wait for the next request
  int max_requests_per_connection = 100;
  std::shared_ptr<TlsContext> tls;  ///< HTTPS when set
  /// Tests: the poll() backend instead of epoll.
  bool portable_event_loop = false;
};

/// A minimal HTTP/1.1 server (DESIGN.md §6). One thread runs an event loop that owns every
/// connection on non-blocking sockets: it accepts, runs TLS handshakes, reads heads and bodies,
/// asks the handler to admit each head, and writes responses, every phase under an absolute
/// deadline. A fixed pool of workers gets only complete, admitted requests, through a bounded
/// queue: a client that sends slowly, handshakes slowly or never reads costs a buffer and a
/// descriptor, never a worker. A full queue is answered 503 with Retry-After. Keep-alive with
/// an idle timeout and a request cap, and a drain on stop.
class HttpServer {
 public:
  HttpServer(ServerOptions options, Handler& handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  /// Binds every listen address; returns the bound ports in order (port 0 resolved).
  Result<std::vector<int>> bind();

  /// Accepts and serves until `stop` is set, then stops accepting, closes idle connections,
  /// lets requests already being read or served finish for up to `drain` (answering them with
  /// `Connection: close`), and returns.
  void serve(const std::atomic<bool>& stop, std::chrono::milliseconds drain);

  int busy_workers() const { return busy_.load(); }

 private:
  class Loop;

  ServerOptions options_;
  Handler& handler_;
  std::vector<int> listeners_;
  std::atomic<int> busy_{0};
};

}  // namespace eso::http
