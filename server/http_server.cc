#include "server/http_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <unordered_map>

#include <fmt/format.h>

#include "server/event_loop.h"

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

Response busy_response(const std::string& message) {
  Response r = plain_error(503, message);
  r.headers.emplace_back("Retry-After", "1");
  return r;
}

constexpr size_t kMaxChunkMetadata = 4096;  // chunk extensions and trailers, per request
constexpr int kMaxStepsPerTurn = 64;        // then other connections get their turn
constexpr int kMaxAcceptsPerTurn = 64;
// A TLS handshake step costs a key exchange and a signature (~1 ms): a burst of new connections
// (a slowloris reconnecting 1,000 heads at once) must not hold up requests already under way.
// Each turn serves every other ready connection first, then this many handshakes; the rest wait
// for the next turn, in arrival order.
constexpr int kMaxHandshakesPerTurn = 4;
// Bytes of answers a connection may hold in the kernel not yet sent (TCP_NOTSENT_LOWAT): past
// it the socket stops being writable. Without a bound, autotuned send buffers let a client that
// pipelines requests and never reads take megabytes of answers (100 /metrics renders per
// connection) before its write deadline stops it. Bytes in flight are not bounded: the send
// buffer still grows with the path's bandwidth-delay product, so a large answer to a distant
// client that reads moves at the path's speed (a capped SO_SNDBUF turned autotuning off: ~128
// KiB per round trip).
constexpr int kMaxUnsentBytes = 64 * 1024;
constexpr auto kTick = std::chrono::milliseconds(20);  // deadline resolution
constexpr auto kLingerTime = std::chrono::seconds(2);  // after an answer that closes
constexpr size_t kMaxLingerBytes = 4u << 20;

// One connection: a state machine fed by readiness (nginx's request reading). Owned by the
// loop thread; workers never touch it.
struct Connection {
  enum class Phase { kHandshake, kIdle, kHead, kBody, kWorking, kWriting, kLinger };
  uint64_t id = 0;
  std::unique_ptr<Transport> io;
  Phase phase = Phase::kHead;
  Clock::time_point deadline;  ///< of the current phase (idle: of the keep-alive wait)
  Clock::time_point started;   ///< when the current request's first byte was due
  std::string in;              ///< received and not yet consumed (may hold the next request)
  std::string out;             ///< to send, from `sent` on
  size_t sent = 0;
  RequestHead head;
  bool has_head = false;
  std::string body;
  std::optional<ChunkedDecoder> chunked;
  int served = 0;
  int status = 0;  ///< of the response being written
  bool close_after = false;
  bool answer_pending = false;    ///< answered() is due when the write ends, however it ends
  size_t charged = 0;             ///< bytes counted in the loop's buffered total
  bool handshake_queued = false;  ///< waits in the loop's handshake queue for its turn
  size_t held = 0;       ///< the body handed to a worker, counted until its response comes back
  size_t discarded = 0;  ///< read and dropped while lingering
  uint32_t interest = 0;
  bool watched = false;
};

using Phase = Connection::Phase;

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
    set_non_blocking(*fd);
    listeners_.push_back(*fd);
    ports.push_back(bound_port(*fd));
  }
  return ports;
}

// The loop of one serve() call: connections, the worker pool and the queue between them.
class HttpServer::Loop {
 public:
  Loop(HttpServer& server, std::unique_ptr<EventLoop> events)
      : server_(server),
        options_(server.options_),
        handler_(server.handler_),
        events_(std::move(events)) {}

  void run(const std::atomic<bool>& stop, std::chrono::milliseconds drain);

 private:
  enum class Next { kProgress, kWait, kClosed };
  struct Job {
    int fd;
    uint64_t id;
    Request request;
  };
  struct Done {
    int fd;
    uint64_t id;
    Response response;
  };

  // Workers.
  void worker();
  void wake();
  void take_done();
  // Connections.
  void accept_from(int listener);
  void refuse(int fd);
  bool make_room(bool stalled_too);
  void drive(Connection& c);
  void drive_ready(Connection& c);
  void run_handshakes();
  Next step(Connection& c);
  Next handshake(Connection& c);
  Next read_head(Connection& c);
  Next on_head(Connection& c, HeadParse& parsed);
  Next read_body(Connection& c);
  Next dispatch(Connection& c);
  Next respond(Connection& c, const Response& r, bool close);
  Next reject(Connection& c, int status, const std::string& message);
  Next write(Connection& c);
  Next linger(Connection& c);
  Next wait_for(Connection& c, Io io, uint32_t also = 0);
  void begin_request(Connection& c);
  void finish_answer(Connection& c);
  void account(Connection& c);
  void close(Connection& c);
  void expire(Connection& c);
  void sweep();
  void begin_drain();
  bool is_listener(int fd) const;
  void pause_accepting(Clock::duration how_long);

  HttpServer& server_;
  const ServerOptions& options_;
  Handler& handler_;
  std::unique_ptr<EventLoop> events_;
  std::unordered_map<int, std::unique_ptr<Connection>> connections_;
  std::vector<int> again_;  ///< connections with progress left after their turn
  std::deque<std::pair<int, uint64_t>> handshakes_;  ///< fd and id, waiting for a handshake turn
  uint64_t next_id_ = 1;
  size_t buffered_ = 0;
  bool stopping_ = false;
  bool accepting_ = true;
  Clock::time_point accept_resumes_{};
  Clock::time_point last_sweep_{};
  int wake_read_ = -1;
  int wake_write_ = -1;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> jobs_;
  std::vector<Done> done_;
  bool closing_ = false;
  std::vector<std::thread> workers_;
};

void HttpServer::Loop::worker() {
  for (;;) {
    Job job;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return closing_ || !jobs_.empty(); });
      if (closing_) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
      ++server_.busy_;
    }
    Response response = handler_.handle(job.request);
    {
      std::lock_guard lock(mu_);
      done_.push_back(Done{job.fd, job.id, std::move(response)});
      --server_.busy_;
    }
    wake();
  }
}

void HttpServer::Loop::wake() {
  const char byte = 1;
  [[maybe_unused]] const auto n = ::write(wake_write_, &byte, 1);
}

void HttpServer::Loop::take_done() {
  char drained[256];
  while (::read(wake_read_, drained, sizeof drained) > 0) {
  }
  std::vector<Done> done;
  {
    std::lock_guard lock(mu_);
    done.swap(done_);
  }
  for (auto& d : done) {
    const auto found = connections_.find(d.fd);
    // Closed meanwhile (drain cut-off), and maybe its number given to a new connection.
    if (found == connections_.end() || found->second->id != d.id) continue;
    Connection& c = *found->second;
    if (c.phase != Phase::kWorking) continue;
    c.held = 0;  // the worker is done with the request
    const bool keep = c.head.keep_alive && !stopping_ &&
                      c.served + 1 < std::max(options_.max_requests_per_connection, 1);
    respond(c, d.response, !keep);
    drive(c);
  }
}

bool HttpServer::Loop::is_listener(int fd) const {
  return std::find(server_.listeners_.begin(), server_.listeners_.end(), fd) !=
         server_.listeners_.end();
}

void HttpServer::Loop::pause_accepting(Clock::duration how_long) {
  for (int fd : server_.listeners_) events_->forget(fd);
  accepting_ = false;
  accept_resumes_ = Clock::now() + how_long;
}

// No worker, no handshake: a plain-text client gets a 503 if its socket takes it at once.
void HttpServer::Loop::refuse(int fd) {
  if (!options_.tls) {
    const Response r = busy_response("too many connections; retry");
    const std::string text = format_response(503, r.content_type, r.body, r.headers, true);
    [[maybe_unused]] const auto n =
        ::send(fd, text.data(), text.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  }
  ::close(fd);
  handler_.overloaded("connections");
  handler_.answered(RequestHead{}, 503, {});
}

// To make room at the connection limit (`stalled_too`): the connection that has waited longest
// for a handshake or a head it never completed goes first (a client that means well sends its
// head within milliseconds: slowloris' connections go, a sender's kept-alive one stays), else
// the longest-idle keep-alive connection. Out of descriptors, only idle ones go: closing
// stalled ones to accept more of the backlog would churn.
bool HttpServer::Loop::make_room(bool stalled_too) {
  Connection* idle = nullptr;
  Connection* stalled = nullptr;
  for (auto& [fd, c] : connections_) {
    if (c->phase == Phase::kIdle && (idle == nullptr || c->deadline < idle->deadline)) {
      idle = c.get();
    }
    const bool waiting = c->phase == Phase::kHandshake || c->phase == Phase::kHead;
    if (waiting && (stalled == nullptr || c->started < stalled->started)) stalled = c.get();
  }
  Connection* victim = stalled_too && stalled != nullptr ? stalled : idle;
  if (victim == nullptr) return false;
  close(*victim);
  return true;
}

void HttpServer::Loop::accept_from(int listener) {
  for (int i = 0; i < kMaxAcceptsPerTurn; ++i) {
    const int fd = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        // Out of descriptors: the connection stays in the backlog. Free the longest-idle
        // one, or stop accepting for a moment; never spin on a readable listener.
        if (!make_room(false)) pause_accepting(std::chrono::milliseconds(100));
      }
      return;
    }
    ::setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &kMaxUnsentBytes, sizeof kMaxUnsentBytes);
    if (connections_.size() >= static_cast<size_t>(options_.max_connections) && !make_room(true)) {
      refuse(fd);
      continue;
    }
    auto c = std::make_unique<Connection>();
    c->id = next_id_++;
    if (options_.tls) {
      c->io = std::make_unique<TlsTransport>(fd, options_.tls);
      c->phase = Phase::kHandshake;
    } else {
      c->io = std::make_unique<SocketTransport>(fd);
      c->phase = Phase::kHead;
    }
    c->started = Clock::now();
    c->deadline = c->started + options_.phase_timeout;
    Connection& added = *connections_.emplace(fd, std::move(c)).first->second;
    drive_ready(added);
  }
}

// A connection with something to do: driven now, or, when it is a TLS handshake, queued for
// one of the turn's handshake slots.
void HttpServer::Loop::drive_ready(Connection& c) {
  if (c.phase != Phase::kHandshake) {
    drive(c);
    return;
  }
  if (c.handshake_queued) return;
  c.handshake_queued = true;
  handshakes_.emplace_back(c.io->fd(), c.id);
}

void HttpServer::Loop::run_handshakes() {
  for (int n = 0; n < kMaxHandshakesPerTurn && !handshakes_.empty();) {
    const auto [fd, id] = handshakes_.front();
    handshakes_.pop_front();
    const auto found = connections_.find(fd);
    if (found == connections_.end() || found->second->id != id) continue;  // closed meanwhile
    found->second->handshake_queued = false;
    drive(*found->second);
    ++n;
  }
}

// Progress on `c` until it must wait for its socket or a worker, for a bounded number of
// steps; then what it waits for is registered. May close `c`.
void HttpServer::Loop::drive(Connection& c) {
  Next next = Next::kProgress;
  for (int i = 0; i < kMaxStepsPerTurn && next == Next::kProgress; ++i) next = step(c);
  if (next == Next::kClosed) {
    close(c);
    return;
  }
  account(c);
  if (buffered_ > options_.max_buffered_bytes &&
      (c.phase == Phase::kHead || c.phase == Phase::kBody || c.phase == Phase::kIdle)) {
    c.in.clear();
    c.body.clear();
    handler_.overloaded("buffered");
    next = respond(c, busy_response("too much buffered; retry"), true);
    next = step(c);
    if (next == Next::kClosed) {
      close(c);
      return;
    }
    account(c);
  }
  if (next == Next::kProgress) again_.push_back(c.io->fd());
  const uint32_t wanted = c.phase == Phase::kWorking ? 0 : c.interest;
  if (wanted == 0) {
    // Waiting for a worker: not watched at all (a hang-up would be reported over and over).
    if (c.watched) events_->forget(c.io->fd());
    c.watched = false;
    return;
  }
  if (!events_->watch(c.io->fd(), wanted)) {
    close(c);
    return;
  }
  c.watched = true;
}

HttpServer::Loop::Next HttpServer::Loop::step(Connection& c) {
  switch (c.phase) {
    case Phase::kHandshake:
      return handshake(c);
    case Phase::kIdle:
    case Phase::kHead:
      return read_head(c);
    case Phase::kBody:
      return read_body(c);
    case Phase::kWorking:
      return Next::kWait;
    case Phase::kWriting:
      return write(c);
    case Phase::kLinger:
      return linger(c);
  }
  return Next::kClosed;
}

HttpServer::Loop::Next HttpServer::Loop::wait_for(Connection& c, Io io, uint32_t also) {
  if (io == Io::kWantRead) c.interest = EventLoop::kReadable | also;
  if (io == Io::kWantWrite) c.interest = EventLoop::kWritable | also;
  if (io == Io::kWantRead || io == Io::kWantWrite) return Next::kWait;
  return Next::kClosed;
}

// The handshake is the first phase of a TLS connection, due within one phase of accept.
HttpServer::Loop::Next HttpServer::Loop::handshake(Connection& c) {
  const Io io = c.io->handshake();
  if (io != Io::kOk) return wait_for(c, io);
  c.phase = Phase::kHead;
  c.started = Clock::now();
  c.deadline = c.started + options_.phase_timeout;
  return Next::kProgress;
}

void HttpServer::Loop::begin_request(Connection& c) {
  c.phase = Phase::kHead;
  c.started = Clock::now();
  c.deadline = c.started + options_.phase_timeout;
}

HttpServer::Loop::Next HttpServer::Loop::read_head(Connection& c) {
  if (!c.in.empty()) {
    if (c.phase == Phase::kIdle) begin_request(c);
    HeadParse parsed = parse_head(c.in, options_.limits);
    if (parsed.state == HeadParse::State::kComplete) return on_head(c, parsed);
    if (parsed.state == HeadParse::State::kError) {
      return reject(c, parsed.error.status, parsed.error.message);
    }
  }
  const size_t room =
      options_.limits.max_head_bytes + 1 - std::min(c.in.size(), options_.limits.max_head_bytes);
  const Io io = c.io->read(c.in, room);
  if (io == Io::kOk) return Next::kProgress;
  return wait_for(c, io);
}

HttpServer::Loop::Next HttpServer::Loop::on_head(Connection& c, HeadParse& parsed) {
  c.in.erase(0, parsed.consumed);
  c.head = std::move(parsed.head);
  c.has_head = true;
  c.head.peer_certificate = c.io->peer_identity();
  if (auto refused = handler_.admit(c.head)) return respond(c, *refused, true);
  const size_t limit = std::min(options_.limits.max_body_bytes, handler_.body_limit(c.head));
  if (c.head.framing == BodyFraming::kContentLength && c.head.content_length > limit) {
    return reject(c, 413, fmt::format("body larger than {} bytes", limit));
  }
  // RFC 9110 §10.1.1: 100 Continue only once the request is admitted and within its limits.
  if (c.head.expect_continue && c.head.framing != BodyFraming::kNone) {
    c.out += "HTTP/1.1 100 Continue\r\n\r\n";
  }
  c.body.clear();
  c.chunked.reset();
  if (c.head.framing == BodyFraming::kChunked) c.chunked.emplace(limit, kMaxChunkMetadata);
  c.phase = Phase::kBody;
  c.deadline = Clock::now() + options_.phase_timeout;
  return Next::kProgress;
}

HttpServer::Loop::Next HttpServer::Loop::read_body(Connection& c) {
  uint32_t also = 0;
  if (c.sent < c.out.size()) {  // 100 Continue, sent while the body is read
    size_t n = 0;
    const Io io = c.io->write(std::string_view(c.out).substr(c.sent), n);
    if (io == Io::kClosed || io == Io::kError) return Next::kClosed;
    c.sent += n;
    if (c.sent < c.out.size()) also = EventLoop::kWritable;
  }
  if (c.head.framing == BodyFraming::kNone) return dispatch(c);
  if (c.head.framing == BodyFraming::kContentLength) {
    const size_t take = std::min(c.head.content_length - c.body.size(), c.in.size());
    c.body.append(c.in, 0, take);
    c.in.erase(0, take);
    if (c.body.size() == c.head.content_length) return dispatch(c);
  } else {
    size_t consumed = 0;
    const auto state = c.chunked->feed(c.in, c.body, consumed);
    c.in.erase(0, consumed);
    if (state == ChunkedDecoder::State::kDone) return dispatch(c);
    if (state == ChunkedDecoder::State::kError) {
      return reject(c, c.chunked->error().status, c.chunked->error().message);
    }
  }
  const size_t want = c.head.framing == BodyFraming::kContentLength
                          ? std::min<size_t>(c.head.content_length - c.body.size(), 65536)
                          : 65536;
  const Io io = c.io->read(c.in, want);
  if (io == Io::kOk) return Next::kProgress;
  return wait_for(c, io, also);
}

// A complete, admitted request goes to a worker, or, with the queue full, is answered 503 at
// once: never dropped without an answer.
HttpServer::Loop::Next HttpServer::Loop::dispatch(Connection& c) {
  if (c.body.empty()) {
    if (auto r = handler_.answer_at_once(c.head)) {
      const bool keep = c.head.keep_alive && !stopping_ &&
                        c.served + 1 < std::max(options_.max_requests_per_connection, 1);
      return respond(c, *r, !keep);
    }
  }
  // The body stays counted while a worker has it: it may not take the total past the limit.
  account(c);
  if (buffered_ > options_.max_buffered_bytes) {
    c.in.clear();
    c.body.clear();
    handler_.overloaded("buffered");
    return respond(c, busy_response("too much buffered; retry"), true);
  }
  {
    std::lock_guard lock(mu_);
    if (jobs_.size() < static_cast<size_t>(std::max(options_.queue, 1))) {
      c.held = c.body.size();
      jobs_.push_back(Job{c.io->fd(), c.id, Request{c.head, std::move(c.body)}});
      c.body.clear();
      c.phase = Phase::kWorking;
      c.interest = 0;
      cv_.notify_one();
      return Next::kWait;
    }
  }
  handler_.overloaded("queue");
  return respond(c, busy_response("every worker is busy; retry"), true);
}

HttpServer::Loop::Next HttpServer::Loop::respond(Connection& c, const Response& r, bool close) {
  c.out.erase(0, c.sent);
  c.sent = 0;
  c.out += format_response(r.status, r.content_type, r.body, r.headers, close);
  c.status = r.status;
  c.close_after = close;
  c.answer_pending = true;
  c.phase = Phase::kWriting;
  c.deadline = Clock::now() + options_.phase_timeout;
  return Next::kProgress;
}

// Every early error closes the connection after its response (DESIGN.md §6).
HttpServer::Loop::Next HttpServer::Loop::reject(Connection& c, int status,
                                                const std::string& message) {
  return respond(c, plain_error(status, message), true);
}

HttpServer::Loop::Next HttpServer::Loop::write(Connection& c) {
  while (c.sent < c.out.size()) {
    size_t n = 0;
    const Io io = c.io->write(std::string_view(c.out).substr(c.sent), n);
    if (io != Io::kOk) return wait_for(c, io);
    c.sent += n;
  }
  finish_answer(c);
  c.out.clear();
  c.sent = 0;
  ++c.served;
  if (c.close_after) {
    // A lingering close (nginx's lingering_close): a client still sending the body of a
    // refused request would get a reset that can destroy the answer it has not read yet. So
    // send FIN, then read and drop what still comes, for a moment and a bounded amount.
    if (stopping_ || !c.io->shutdown_write()) return Next::kClosed;
    c.phase = Phase::kLinger;
    c.in.clear();
    c.deadline = Clock::now() + std::min<Clock::duration>(options_.phase_timeout, kLingerTime);
    return Next::kProgress;
  }
  c.phase = Phase::kIdle;
  c.has_head = false;
  c.head = RequestHead{};
  c.deadline = Clock::now() + options_.idle_timeout;
  return Next::kProgress;  // a pipelined request may be waiting in `in`
}

HttpServer::Loop::Next HttpServer::Loop::linger(Connection& c) {
  c.in.clear();
  const Io io = c.io->read(c.in, 65536);
  c.discarded += c.in.size();
  c.in.clear();
  if (io == Io::kOk) return c.discarded > kMaxLingerBytes ? Next::kClosed : Next::kProgress;
  return wait_for(c, io);
}

void HttpServer::Loop::finish_answer(Connection& c) {
  if (!c.answer_pending) return;
  c.answer_pending = false;
  handler_.answered(
      c.has_head ? c.head : RequestHead{}, c.status,
      std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - c.started));
}

void HttpServer::Loop::account(Connection& c) {
  const size_t now = c.in.size() + c.body.size() + c.out.size() + c.held;
  buffered_ = buffered_ - c.charged + now;
  c.charged = now;
}

void HttpServer::Loop::close(Connection& c) {
  finish_answer(c);  // a response cut off still counts, with its status
  const int fd = c.io->fd();
  if (c.watched) events_->forget(fd);
  buffered_ -= c.charged;
  connections_.erase(fd);  // the transport closes the socket
}

// A phase past its deadline: a request under way gets 408 (one more phase to write it), an
// idle or half-handshaken connection is closed without a word, as is a write that is late.
void HttpServer::Loop::expire(Connection& c) {
  switch (c.phase) {
    case Phase::kHead:
      if (c.in.empty()) break;
      reject(c, 408, "request head not received in time");
      drive(c);
      return;
    case Phase::kBody:
      reject(c, 408, "request body not received in time");
      drive(c);
      return;
    case Phase::kWorking:
      return;
    case Phase::kHandshake:
    case Phase::kIdle:
    case Phase::kWriting:
    case Phase::kLinger:
      break;
  }
  close(c);
}

void HttpServer::Loop::sweep() {
  const auto now = Clock::now();
  if (now - last_sweep_ < kTick) return;
  last_sweep_ = now;
  std::vector<int> late;
  for (const auto& [fd, c] : connections_) {
    if (c->phase != Phase::kWorking && now >= c->deadline) late.push_back(fd);
  }
  for (int fd : late) {
    const auto found = connections_.find(fd);
    if (found != connections_.end()) expire(*found->second);
  }
}

// Stop accepting; close what carries no request; what is being read, served or written goes on.
void HttpServer::Loop::begin_drain() {
  stopping_ = true;
  for (int fd : server_.listeners_) {
    events_->forget(fd);
    ::close(fd);
  }
  server_.listeners_.clear();
  std::vector<int> quiet;
  for (const auto& [fd, c] : connections_) {
    if (c->phase == Phase::kIdle || c->phase == Phase::kHandshake || c->phase == Phase::kLinger ||
        (c->phase == Phase::kHead && c->in.empty())) {
      quiet.push_back(fd);
    }
  }
  for (int fd : quiet) close(*connections_.at(fd));
}

void HttpServer::Loop::run(const std::atomic<bool>& stop, std::chrono::milliseconds drain) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC | O_NONBLOCK) != 0) {
    fmt::print(stderr, "error: serve: cannot create a pipe: {}\n", std::strerror(errno));
    return;
  }
  wake_read_ = pipe_fds[0];
  wake_write_ = pipe_fds[1];
  events_->watch(wake_read_, EventLoop::kReadable);
  for (int fd : server_.listeners_) events_->watch(fd, EventLoop::kReadable);
  for (int i = 0; i < std::max(options_.workers, 1); ++i)
    workers_.emplace_back([this] { worker(); });
  std::vector<EventLoop::Ready> ready;
  Clock::time_point drain_until{};
  for (;;) {
    if (!stopping_ && stop.load()) {
      begin_drain();
      drain_until = Clock::now() + drain;
    }
    if (stopping_ && (connections_.empty() || Clock::now() >= drain_until)) break;
    if (!accepting_ && !stopping_ && Clock::now() >= accept_resumes_) {
      for (int fd : server_.listeners_) events_->watch(fd, EventLoop::kReadable);
      accepting_ = true;
    }
    const bool pending = !again_.empty() || !handshakes_.empty();
    events_->wait(pending ? std::chrono::milliseconds(0) : kTick, ready);
    for (const auto& r : ready) {
      if (r.fd == wake_read_) {
        take_done();
      } else if (is_listener(r.fd)) {
        if (accepting_) accept_from(r.fd);
      } else if (const auto found = connections_.find(r.fd); found != connections_.end()) {
        drive_ready(*found->second);
      }
    }
    std::vector<int> again;
    again.swap(again_);
    for (int fd : again) {
      if (const auto found = connections_.find(fd); found != connections_.end()) {
        drive(*found->second);
      }
    }
    run_handshakes();
    sweep();
  }
  // Past the drain window (or drained): close the rest; workers finish what they hold.
  while (!connections_.empty()) close(*connections_.begin()->second);
  {
    std::lock_guard lock(mu_);
    closing_ = true;
    jobs_.clear();
  }
  cv_.notify_all();
  for (auto& t : workers_) t.join();
  workers_.clear();
  events_->forget(wake_read_);
  ::close(wake_read_);
  ::close(wake_write_);
}

void HttpServer::serve(const std::atomic<bool>& stop, std::chrono::milliseconds drain) {
  auto events = options_.portable_event_loop ? EventLoop::create_portable() : EventLoop::create();
  if (events == nullptr) {
    fmt::print(stderr, "error: serve: cannot create an event loop: {}\n", std::strerror(errno));
    return;
  }
  Loop loop(*this, std::move(events));
  loop.run(stop, drain);
}

}  // namespace eso::http
