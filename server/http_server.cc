#include "server/http_server.h"

#include <arpa/inet.h>
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
bool HttpServer::others_waiting() {
  std::lock_guard lock(mu_);
  return !queue_.empty() || closing_;
}

bool HttpServer::serve_request(Stream& stream, std::string& buffer, bool first, bool last) {
  const auto started = Clock::now();
  // Wait for the first byte (idle on keep-alive), then the whole head within one phase.
  if (buffer.empty()) {
    const auto idle = first ? options_.phase_timeout : options_.idle_timeout;
    if (stream.read_some(buffer, options_.limits.max_head_bytes + 1, started + idle) !=
        ReadEnd::kData) {
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
  // A worker serves one connection at a time: hand it over when others wait, or at the cap.
  const bool keep = head.keep_alive && !last && !others_waiting();
  const bool written = stream.write_all(format_response(response.status, response.content_type,
                                                        response.body, response.headers, !keep),
                                        Clock::now() + options_.phase_timeout);
  handler_.answered(head, response.status,
                    std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started));
  return written && keep;
}

void HttpServer::serve_connection(Stream& stream) {
  std::string buffer;
  const int cap = std::max(options_.max_requests_per_connection, 1);
  for (int n = 0; n < cap; ++n) {
    if (!serve_request(stream, buffer, n == 0, n + 1 == cap)) return;
  }
}

void HttpServer::worker() {
  for (;;) {
    int fd = -1;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return closing_ || !queue_.empty(); });
      if (queue_.empty()) return;  // closing, and nothing left to serve
      fd = queue_.front();
      queue_.pop_front();
      active_.push_back(fd);
    }
    ++busy_;
    {
      SocketStream stream(fd);
      serve_connection(stream);
      std::lock_guard lock(mu_);
      active_.erase(std::find(active_.begin(), active_.end(), fd));
    }
    --busy_;
  }
}

void HttpServer::serve(const std::atomic<bool>& stop, std::chrono::milliseconds drain) {
  for (int i = 0; i < std::max(options_.workers, 1); ++i)
    workers_.emplace_back([this] { worker(); });
  std::vector<pollfd> fds;
  for (int fd : listeners_) fds.push_back(pollfd{fd, POLLIN, 0});
  while (!stop.load()) {
    if (::poll(fds.data(), fds.size(), 200) <= 0) continue;
    for (const auto& p : fds) {
      if ((p.revents & POLLIN) == 0) continue;
      const int fd = ::accept4(p.fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      std::unique_lock lock(mu_);
      if (queue_.size() >= static_cast<size_t>(options_.queue)) {
        lock.unlock();
        SocketStream busy(fd);
        const Response r = plain_error(503, "server busy; retry");
        busy.write_all(format_response(503, r.content_type, r.body, {{"Retry-After", "1"}}, true),
                       Clock::now() + std::chrono::milliseconds(200));
        handler_.answered(RequestHead{}, 503, {});
        continue;
      }
      queue_.push_back(fd);
      cv_.notify_one();
    }
  }
  // Stop accepting (new connections are refused), then drain what was accepted.
  for (int fd : listeners_) ::close(fd);
  listeners_.clear();
  const auto until = Clock::now() + drain;
  while (Clock::now() < until) {
    {
      std::lock_guard lock(mu_);
      if (queue_.empty() && busy_.load() == 0) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  {
    std::lock_guard lock(mu_);
    closing_ = true;
    for (int fd : queue_) ::close(fd);
    queue_.clear();
    // Past the drain window: cut what is still open, so every worker returns promptly.
    for (int fd : active_) ::shutdown(fd, SHUT_RDWR);
  }
  cv_.notify_all();
  for (auto& t : workers_) t.join();
  workers_.clear();
}

}  // namespace eso::http
