#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
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
  /// The response to a complete request.
  virtual Response handle(const Request& request) = 0;
  /// Called once per request answered (also for rejected ones), for the access log and metrics.
  virtual void answered(const RequestHead& head, int status,
                        std::chrono::microseconds duration) = 0;
};

struct ServerOptions {
  std::vector<std::string> listen{"127.0.0.1:8080"};  ///< HOST:PORT, [V6]:PORT; port 0 picks one
  int workers = 4;
  /// Connections with a request waiting for a worker; a new connection while it is full gets
  /// 503 and is closed at once.
  int queue = 64;
  /// Open connections at most (served, queued and idle); beyond it the longest-idle connection
  /// is closed to make room, or, with none idle, the new one gets 503.
  int max_connections = 1024;
  Limits limits;
  std::chrono::milliseconds phase_timeout{10000};  ///< head, body and write, each absolute
  std::chrono::milliseconds idle_timeout{30000};   ///< keep-alive wait for the next request
  int max_requests_per_connection = 100;
  std::shared_ptr<TlsContext> tls;  ///< HTTPS when set
};

/// A minimal HTTP/1.1 server on blocking sockets and poll(): one accept thread, a fixed worker
/// pool behind a bounded queue, absolute per-phase deadlines (so a byte-at-a-time client is cut
/// off), keep-alive with an idle timeout and a request cap, and a drain on stop. A connection
/// holds a worker only while it has a request: new and idle keep-alive connections wait in the
/// accept thread's poll() until they send something, so idle clients cannot starve the pool.
class HttpServer {
 public:
  HttpServer(ServerOptions options, Handler& handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  /// Binds every listen address; returns the bound ports in order (port 0 resolved).
  Result<std::vector<int>> bind();

  /// Accepts and serves until `stop` is set, then stops accepting, closes idle connections,
  /// lets in-flight requests finish for up to `drain` (answering them with `Connection:
  /// close`), and returns.
  void serve(const std::atomic<bool>& stop, std::chrono::milliseconds drain);

  int busy_workers() const { return busy_.load(); }

 private:
  /// An open connection between requests: its socket, what it has sent beyond the last
  /// request (pipelining), and how many requests it has had.
  struct Connection {
    int fd = -1;
    std::string buffer;
    int served = 0;
    std::chrono::steady_clock::time_point idle_until;
    SSL* ssl = nullptr;  ///< the TLS session, kept while the connection is parked
  };
  static void close_connection(Connection& c);

  void worker();
  /// Serves requests on `c` while they come without waiting; true to park it for the next.
  bool serve_connection(Connection& c);
  bool serve_request(Stream& stream, std::string& buffer, bool last);
  void reject(Stream& stream, const RequestHead* head, int status, const std::string& message);
  void busy(int fd);
  /// False when out of file descriptors with nothing idle to close: pause accepting.
  bool accept_from(int listener);
  void wake();

  ServerOptions options_;
  Handler& handler_;
  std::vector<int> listeners_;
  int wake_read_ = -1;   ///< a pipe that interrupts the accept thread's poll() when a
  int wake_write_ = -1;  ///< worker parks a connection
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Connection> queue_;  ///< readable, waiting for a worker
  std::deque<Connection> idle_;   ///< parked until readable or idle_until, oldest first
  std::vector<int> active_;       ///< connections being served, to cut after the drain window
  bool stopping_ = false;         ///< draining: answer with Connection: close, park nothing
  bool closing_ = false;
  std::atomic<int> busy_{0};
  std::vector<std::thread> workers_;
};

}  // namespace eso::http
