#include "server/http_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

namespace eso::http {
namespace {

using Clock = std::chrono::steady_clock;

Result<int> bind_one(const std::string& address) {
  const auto colon = address.rfind(':');
  if (colon == std::string::npos) {
    return Error{ErrorCode::kInvalidArgument, "listen address \"" + address + "\" needs :PORT"};
  }
  std::string host = address.substr(0, colon);
  const std::string port = address.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (const int rc =
          ::getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(), &hints, &found);
      rc != 0) {
    return Error{ErrorCode::kInvalidArgument,
                 fmt::format("listen address \"{}\": {}", address, gai_strerror(rc))};
  }
  const int fd = ::socket(found->ai_family, found->ai_socktype | SOCK_CLOEXEC, 0);
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  // [::]:8080 next to 0.0.0.0:8080 must not collide: each socket takes its own family only.
  if (found->ai_family == AF_INET6) ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  const int rc = fd < 0 ? -1 : ::bind(fd, found->ai_addr, found->ai_addrlen);
  ::freeaddrinfo(found);
  if (rc != 0 || ::listen(fd, 512) != 0) {
    const std::string why = std::strerror(errno);
    if (fd >= 0) ::close(fd);
    return Error{ErrorCode::kInvalidArgument, fmt::format("cannot listen on {}: {}", address, why)};
  }
  return fd;
}

int bound_port(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  if (addr.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
  return ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
}

Response plain_error(int status, const std::string& message) {
  return Response{status, "application/json", fmt::format("{{\"error\":\"{}\"}}", message), {}};
}

}  // namespace

HttpServer::HttpServer(ServerOptions options, Handler& handler)
    : options_(std::move(options)), handler_(handler) {
  ::signal(SIGPIPE, SIG_IGN);
}

HttpServer::~HttpServer() {
  for (int fd : listeners_) ::close(fd);
}

Result<std::vector<int>> HttpServer::bind() {
  std::vector<int> ports;
  for (const auto& address : options_.listen) {
    auto fd = bind_one(address);
    if (!fd) return fd.error();
    listeners_.push_back(*fd);
    ports.push_back(bound_port(*fd));
  }
  return ports;
}

void HttpServer::reject(Stream& stream, const RequestHead* head, int status,
                        const std::string& message) {
  const Response r = plain_error(status, message);
  stream.write_all(format_response(status, r.content_type, r.body, {}, true),
                   Clock::now() + options_.phase_timeout);
  if (head != nullptr) handler_.answered(*head, status, {});
  if (head == nullptr) handler_.answered(RequestHead{}, status, {});
}

// One request on a connection: head → admit → (100 Continue) → body → handle → write.
// Returns true when the connection may carry another request.
bool HttpServer::serve_request(Stream& stream, std::string& buffer, bool last) {
  const auto started = Clock::now();
  // A connection reaches a worker only when it is readable (idle waits happen in the accept
  // thread), so its first byte is due within one phase too: a TLS record that never completes
  // holds a worker no longer than a plain-text head that never does.
  if (buffer.empty()) {
    if (stream.read_some(buffer, options_.limits.max_head_bytes + 1,
                         started + options_.phase_timeout) != ReadEnd::kData) {
      return false;
    }
  }
  const Deadline head_deadline = Clock::now() + options_.phase_timeout;
  HeadParse parsed = parse_head(buffer, options_.limits);
  while (parsed.state == HeadParse::State::kIncomplete) {
    const ReadEnd end = stream.read_some(buffer, options_.limits.max_head_bytes + 1, head_deadline);
    if (end == ReadEnd::kTimeout) {
      reject(stream, nullptr, 408, "request head not received in time");
      return false;
    }
    if (end != ReadEnd::kData) return false;
    parsed = parse_head(buffer, options_.limits);
  }
  if (parsed.state == HeadParse::State::kError) {
    reject(stream, nullptr, parsed.error.status, parsed.error.message);
    return false;
  }
  buffer.erase(0, parsed.consumed);
  RequestHead& head = parsed.head;
  head.peer_certificate = stream.peer_identity();
  if (auto refused = handler_.admit(head)) {
    stream.write_all(format_response(refused->status, refused->content_type, refused->body,
                                     refused->headers, true),
                     Clock::now() + options_.phase_timeout);
    handler_.answered(head, refused->status, {});
    return false;
  }
  if (head.expect_continue && head.framing != BodyFraming::kNone) {
    stream.write_all("HTTP/1.1 100 Continue\r\n\r\n", Clock::now() + options_.phase_timeout);
  }

  Request request{head, {}};
  const Deadline body_deadline = Clock::now() + options_.phase_timeout;
  if (head.framing == BodyFraming::kContentLength) {
    while (buffer.size() < head.content_length) {
      const ReadEnd end =
          stream.read_some(buffer, head.content_length - buffer.size(), body_deadline);
      if (end == ReadEnd::kTimeout) {
        reject(stream, &head, 408, "request body not received in time");
        return false;
      }
      if (end != ReadEnd::kData) return false;
    }
    request.body = buffer.substr(0, head.content_length);
    buffer.erase(0, head.content_length);
  } else if (head.framing == BodyFraming::kChunked) {
    ChunkedDecoder decoder(options_.limits.max_body_bytes);
    for (;;) {
      size_t consumed = 0;
      const auto state = decoder.feed(buffer, request.body, consumed);
      buffer.erase(0, consumed);
      if (state == ChunkedDecoder::State::kDone) break;
      if (state == ChunkedDecoder::State::kError) {
        reject(stream, &head, decoder.error().status, decoder.error().message);
        return false;
      }
      const ReadEnd end = stream.read_some(buffer, 65536, body_deadline);
      if (end == ReadEnd::kTimeout) {
        reject(stream, &head, 408, "request body not received in time");
        return false;
      }
      if (end != ReadEnd::kData) return false;
    }
  }

  const Response response = handler_.handle(request);
  bool stopping = false;
  {
    std::lock_guard lock(mu_);
    stopping = stopping_;
  }
  const bool keep = head.keep_alive && !last && !stopping;
  const bool written = stream.write_all(format_response(response.status, response.content_type,
                                                        response.body, response.headers, !keep),
                                        Clock::now() + options_.phase_timeout);
  handler_.answered(head, response.status,
                    std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started));
  return written && keep;
}

void HttpServer::close_connection(Connection& c) {
  if (c.fd < 0) return;
  if (c.ssl != nullptr) {
    shutdown_tls(c.ssl);
    close_tls(c.fd, c.ssl);
  } else {
    ::close(c.fd);
  }
  c.fd = -1;
  c.ssl = nullptr;
}

// The streams never close the socket here: the worker does, after taking it off active_, so
// a drain's shutdown() cannot hit a number another thread has since been given.
bool HttpServer::serve_connection(Connection& c) {
  std::unique_ptr<SocketStream> plain;
  std::unique_ptr<TlsStream> tls;
  Stream* stream = nullptr;
  auto release = [&] {
    if (tls) tls->release();
    if (plain) plain->release();
  };
  if (options_.tls) {
    const bool fresh = c.ssl == nullptr;
    if (fresh) c.ssl = options_.tls->new_session();
    if (c.ssl == nullptr) return false;
    tls = std::make_unique<TlsStream>(c.fd, c.ssl);
    // The handshake is the first phase of a new connection.
    if (fresh && !tls->handshake(Clock::now() + options_.phase_timeout)) {
      release();
      return false;
    }
    stream = tls.get();
  } else {
    plain = std::make_unique<SocketStream>(c.fd);
    stream = plain.get();
  }
  const int cap = std::max(options_.max_requests_per_connection, 1);
  // Serve what the connection has already sent; wait for more only in the accept thread.
  do {
    ++c.served;
    if (!serve_request(*stream, c.buffer, c.served >= cap)) {
      release();
      return false;
    }
  } while (!c.buffer.empty() || (tls && tls->pending()));
  release();
  return true;
}

void HttpServer::worker() {
  for (;;) {
    Connection c;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return closing_ || !queue_.empty(); });
      if (queue_.empty()) return;  // closing, and nothing left to serve
      c = std::move(queue_.front());
      queue_.pop_front();
      active_.push_back(c.fd);
      ++busy_;  // under the lock: a drain never sees the queue empty and this one not busy
    }
    const int fd = c.fd;
    const bool keep = serve_connection(c);
    {
      std::lock_guard lock(mu_);
      active_.erase(std::find(active_.begin(), active_.end(), fd));
      if (keep && !stopping_) {
        c.idle_until = Clock::now() + options_.idle_timeout;
        idle_.push_back(std::move(c));
      } else {
        close_connection(c);
      }
      --busy_;
    }
    if (keep) wake();
  }
}

void HttpServer::wake() {
  const char byte = 1;
  [[maybe_unused]] const auto n = ::write(wake_write_, &byte, 1);
}

void HttpServer::busy(int fd) {
  if (options_.tls) {  // no handshake on the accept thread: closing says as much
    ::close(fd);
    handler_.answered(RequestHead{}, 503, {});
    return;
  }
  SocketStream stream(fd);
  const Response r = plain_error(503, "server busy; retry");
  stream.write_all(format_response(503, r.content_type, r.body, {{"Retry-After", "1"}}, true),
                   Clock::now() + std::chrono::milliseconds(200));
  handler_.answered(RequestHead{}, 503, {});
}

bool HttpServer::accept_from(int listener) {
  const int fd = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
  if (fd < 0) {
    if (errno != EMFILE && errno != ENFILE && errno != ENOBUFS && errno != ENOMEM) return true;
    // Out of descriptors: the pending connection stays in the backlog and the listener stays
    // readable. Free the longest-idle connection, or stop accepting for a moment; never spin.
    std::lock_guard lock(mu_);
    if (!idle_.empty()) {
      close_connection(idle_.front());
      idle_.pop_front();
      return true;
    }
    return false;
  }
  std::unique_lock lock(mu_);
  const size_t open = queue_.size() + idle_.size() + active_.size();
  if (queue_.size() >= static_cast<size_t>(options_.queue) ||
      (open >= static_cast<size_t>(options_.max_connections) && idle_.empty())) {
    lock.unlock();
    busy(fd);
    return true;
  }
  if (open >= static_cast<size_t>(options_.max_connections)) {
    close_connection(idle_.front());  // make room: the longest-idle connection goes
    idle_.pop_front();
  }
  // Until it sends its first byte, a new connection waits like an idle one, within one phase.
  Connection c;
  c.fd = fd;
  c.idle_until = Clock::now() + options_.phase_timeout;
  idle_.push_back(std::move(c));
  return true;
}

void HttpServer::serve(const std::atomic<bool>& stop, std::chrono::milliseconds drain) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC | O_NONBLOCK) == 0) {
    wake_read_ = pipe_fds[0];
    wake_write_ = pipe_fds[1];
  }
  for (int i = 0; i < std::max(options_.workers, 1); ++i)
    workers_.emplace_back([this] { worker(); });
  std::vector<pollfd> fds;
  Clock::time_point accept_paused_until{};
  while (!stop.load()) {
    // Listeners, the wake pipe, then every idle connection in the order of idle_.
    fds.clear();
    const bool accepting = Clock::now() >= accept_paused_until;
    for (int fd : listeners_)
      fds.push_back(pollfd{fd, static_cast<short>(accepting ? POLLIN : 0), 0});
    fds.push_back(pollfd{wake_read_, POLLIN, 0});
    const size_t first_idle = fds.size();
    auto timeout = std::chrono::milliseconds(accepting ? 200 : 100);
    {
      std::lock_guard lock(mu_);
      const auto now = Clock::now();
      for (const auto& c : idle_) {
        fds.push_back(pollfd{c.fd, POLLIN, 0});
        timeout = std::min(
            timeout,
            std::max(std::chrono::duration_cast<std::chrono::milliseconds>(c.idle_until - now),
                     std::chrono::milliseconds(0)));
      }
    }
    const int ready = ::poll(fds.data(), fds.size(), static_cast<int>(timeout.count()) + 1);
    if (ready < 0 && errno != EINTR) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));  // never spin on an error
      continue;
    }
    if (fds[first_idle - 1].revents & POLLIN) {
      char drained[64];
      while (::read(wake_read_, drained, sizeof drained) > 0) {
      }
    }
    {
      // Readable idle connections go to the workers; expired ones are closed. Connections
      // parked since the poll started are after the polled ones and wait for the next round.
      std::lock_guard lock(mu_);
      const auto now = Clock::now();
      const size_t polled = fds.size() - first_idle;
      std::deque<Connection> still_idle;
      for (size_t i = 0; i < idle_.size(); ++i) {
        Connection& c = idle_[i];
        const short events = i < polled ? fds[first_idle + i].revents : 0;
        if (events != 0) {
          if (queue_.size() >= static_cast<size_t>(options_.queue)) {
            ::shutdown(c.fd, SHUT_RDWR);  // no worker will come in time; the client retries
            close_connection(c);
            continue;
          }
          queue_.push_back(std::move(c));
          cv_.notify_one();
        } else if (now >= c.idle_until) {
          close_connection(c);
        } else {
          still_idle.push_back(std::move(c));
        }
      }
      idle_ = std::move(still_idle);
    }
    for (size_t i = 0; i + 1 < first_idle; ++i) {
      if ((fds[i].revents & POLLIN) != 0 && !accept_from(fds[i].fd)) {
        accept_paused_until = Clock::now() + std::chrono::milliseconds(100);
      }
    }
  }
  // Stop accepting (new connections are refused), close the idle ones, then drain.
  for (int fd : listeners_) ::close(fd);
  listeners_.clear();
  const auto until = Clock::now() + drain;
  for (;;) {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
      for (auto& c : idle_) close_connection(c);
      idle_.clear();
      if ((queue_.empty() && busy_.load() == 0) || Clock::now() >= until) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  {
    std::lock_guard lock(mu_);
    closing_ = true;
    for (auto& c : queue_) close_connection(c);
    queue_.clear();
    // Past the drain window: cut what is still open, so every worker returns promptly.
    for (int fd : active_) ::shutdown(fd, SHUT_RDWR);
  }
  cv_.notify_all();
  for (auto& t : workers_) t.join();
  workers_.clear();
  {
    std::lock_guard lock(mu_);
    for (auto& c : idle_) close_connection(c);
    idle_.clear();
  }
  ::close(wake_read_);
  ::close(wake_write_);
}

}  // namespace eso::http
