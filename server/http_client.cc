#include "server/http_client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string_view>

#include <fmt/format.h>

namespace eso::http {
namespace {

using Clock = std::chrono::steady_clock;
using Failure = ClientOutcome::Failure;

constexpr size_t kMaxHead = 64 * 1024;  // an answer's head (status line and headers)
constexpr int kMaxInterim = 8;          // 1xx heads before the answer

struct Problem {
  Failure failure;
  std::string detail;
};

/// The parts of the URL a request needs.
struct Target {
  bool tls = false;
  std::string host;       ///< without brackets
  std::string port;       ///< digits
  std::string authority;  ///< for the Host header, as the URL wrote it
  std::string path;       ///< "/..." with nothing left out
  bool ip_literal = false;
};

bool starts_with_nocase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() &&
         std::equal(prefix.begin(), prefix.end(), s.begin(), [](unsigned char a, unsigned char b) {
           return std::tolower(a) == std::tolower(b);
         });
}

bool valid_port(std::string_view port) {
  if (port.empty() || port.size() > 5) return false;
  if (!std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return false;
  }
  const long n = std::strtol(std::string(port).c_str(), nullptr, 10);
  return n >= 1 && n <= 65535;
}

// host[:port] or [v6][:port] into the target; false when it is neither.
bool split_authority(std::string_view authority, Target& t) {
  std::string_view port;
  unsigned char address[sizeof(in6_addr)];
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return false;
    t.host = std::string(authority.substr(1, close - 1));
    const auto rest = authority.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') return false;
    if (!rest.empty()) port = rest.substr(1);
    if (::inet_pton(AF_INET6, t.host.c_str(), address) != 1) return false;
    t.ip_literal = true;
  } else {
    const auto colon = authority.rfind(':');
    t.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
    t.ip_literal = ::inet_pton(AF_INET, t.host.c_str(), address) == 1;
    // The resolver reads "127.1" or "2130706433" as addresses too, but the certificate check
    // would take them for names: only the dotted form of an IPv4 address is accepted.
    const bool numeric = t.host.find_first_not_of("0123456789.") == std::string::npos ||
                         starts_with_nocase(t.host, "0x");
    if (numeric && !t.ip_literal) return false;
  }
  if (t.host.empty()) return false;
  if (port.empty()) {
    t.port = t.tls ? "443" : "80";
    return true;
  }
  t.port = std::string(port);
  return valid_port(port);
}

std::optional<Target> parse_url(std::string_view url, std::string& why) {
  Target t;
  if (starts_with_nocase(url, "https://")) {
    t.tls = true;
    url.remove_prefix(8);
  } else if (starts_with_nocase(url, "http://")) {
    url.remove_prefix(7);
  } else {
    why = "not an http:// or https:// URL";
    return std::nullopt;
  }
  // What a request line cannot carry as it is, and what --server has no use for.
  if (std::any_of(url.begin(), url.end(),
                  [](unsigned char c) { return c <= 0x20 || c >= 0x7f || c == '#'; })) {
    why = "the URL holds a space, a control character, a non-ASCII byte or a fragment";
    return std::nullopt;
  }
  const auto slash = url.find_first_of("/?");
  const std::string_view authority = url.substr(0, slash);
  if (authority.find('@') != std::string_view::npos) {
    why = "credentials in the URL are not used: the trigger token goes in --token-file";
    return std::nullopt;
  }
  if (!split_authority(authority, t)) {
    why =
        "no host, a host that is not a name or an IP address in its usual form, or a port "
        "that is not a number from 1 to 65535";
    return std::nullopt;
  }
  t.authority = std::string(authority);
  const std::string_view path = slash == std::string_view::npos ? "" : url.substr(slash);
  if (path.empty() || path.front() == '?') t.path.push_back('/');  // "?a" asks for "/?a"
  t.path.append(path);
  return t;
}

int remaining_ms(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return static_cast<int>(std::clamp<int64_t>(left.count(), 0, 24 * 3600 * 1000));
}

// Waits until `fd` is ready for `events`; false when the deadline passed first.
bool wait_for(int fd, short events, Clock::time_point deadline) {
  // The deadline first: a socket that is always ready must not keep a loop going past it.
  while (Clock::now() < deadline) {
    pollfd p{fd, events, 0};
    const int rc = ::poll(&p, 1, remaining_ms(deadline));
    if (rc > 0) return true;
    if (rc < 0 && errno != EINTR) return true;  // the next read or write reports what is wrong
  }
  return false;
}

/// Holds SIGPIPE off for this thread while in scope (a write to a closed TLS connection raises
/// it: OpenSSL writes with write(2)), and swallows one raised meanwhile.
class SigpipeHeld {
 public:
  SigpipeHeld() {
    sigset_t pipe_only;
    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    sigset_t pending;
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe_only, &old_);
  }
  ~SigpipeHeld() {
    sigset_t pending;
    sigpending(&pending);
    if (!was_pending_ && sigismember(&pending, SIGPIPE) == 1) {
      sigset_t pipe_only;
      sigemptyset(&pipe_only);
      sigaddset(&pipe_only, SIGPIPE);
      const timespec now{0, 0};
      sigtimedwait(&pipe_only, nullptr, &now);
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  SigpipeHeld(const SigpipeHeld&) = delete;
  SigpipeHeld& operator=(const SigpipeHeld&) = delete;

 private:
  sigset_t old_{};
  bool was_pending_ = false;
};

std::string address_text(const addrinfo& a) {
  char host[NI_MAXHOST] = "?";
  char port[NI_MAXSERV] = "?";
  ::getnameinfo(a.ai_addr, a.ai_addrlen, host, sizeof host, port, sizeof port,
                NI_NUMERICHOST | NI_NUMERICSERV);
  return fmt::format("{} port {}", host, port);
}

// A connected non-blocking socket to one address, or -1 with `why` (errno's text).
int connect_one(const addrinfo& a, Clock::time_point deadline, Problem& why) {
  const int fd = ::socket(a.ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    why = {Failure::kConnect, fmt::format("socket: {}", std::strerror(errno))};
    return -1;
  }
  int err = ::connect(fd, a.ai_addr, a.ai_addrlen) == 0 ? 0 : errno;
  if (err == EINPROGRESS || err == EINTR) {
    if (!wait_for(fd, POLLOUT, deadline)) {
      ::close(fd);
      why = {Failure::kTimeout, fmt::format("connect to {} timed out", address_text(a))};
      return -1;
    }
    socklen_t size = sizeof err;
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &size);
  }
  if (err != 0) {
    ::close(fd);
    why = {Failure::kConnect,
           fmt::format("connect to {}: {}", address_text(a), std::strerror(err))};
    return -1;
  }
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

/// One name lookup in glibc's resolver thread (getaddrinfo_a), so that it ends by the
/// deadline as libcurl's threaded resolver does: a cluster's DNS with ndots:5 and a search list
/// can take tens of seconds to say no.
struct Lookup {
  std::string host, port;
  addrinfo hints{};
  gaicb request{};
};

// The addresses of the host, or nullptr with `why`. An IP address is not looked up.
addrinfo* resolve(const Target& t, Clock::time_point deadline, Problem& why) {
  auto* lookup = new Lookup{t.host, t.port, {}, {}};
  lookup->hints.ai_socktype = SOCK_STREAM;
  lookup->hints.ai_flags = t.ip_literal ? AI_NUMERICHOST : 0;
  lookup->request.ar_name = lookup->host.c_str();
  lookup->request.ar_service = lookup->port.c_str();
  lookup->request.ar_request = &lookup->hints;
  gaicb* list[] = {&lookup->request};
  int rc = ::getaddrinfo_a(GAI_NOWAIT, list, 1, nullptr);
  if (rc == 0) rc = ::gai_error(&lookup->request);
  for (int left; rc == EAI_INPROGRESS && (left = remaining_ms(deadline)) > 0;) {
    const timespec wait{left / 1000, (left % 1000) * 1000000L};
    ::gai_suspend(list, 1, &wait);  // returns early on a signal too: the error is read again
    rc = ::gai_error(&lookup->request);
  }
  if (rc == EAI_INPROGRESS) {
    why = {Failure::kTimeout, fmt::format("looking up host {} timed out", t.host)};
    // A lookup that cannot be cancelled still writes into `lookup`: left to it (the command
    // is about to exit with this error).
    if (::gai_cancel(&lookup->request) == EAI_CANCELED) delete lookup;
    return nullptr;
  }
  addrinfo* found = lookup->request.ar_result;
  delete lookup;
  if (rc != 0) {
    why = {Failure::kConnect, fmt::format("cannot resolve host {}: {}", t.host, gai_strerror(rc))};
    return nullptr;
  }
  return found;
}

// Tries each address of the host in turn, each with an equal share of the time left (an
// address that swallows packets leaves the next one time to answer); -1 with the last one's
// reason.
int connect_host(const Target& t, Clock::time_point deadline, Problem& why) {
  addrinfo* found = resolve(t, deadline, why);
  if (found == nullptr) return -1;
  int left = 0;
  for (const addrinfo* a = found; a != nullptr; a = a->ai_next) ++left;
  int fd = -1;
  for (const addrinfo* a = found; a != nullptr && fd < 0 && Clock::now() < deadline;
       a = a->ai_next, --left) {
    fd = connect_one(*a, Clock::now() + (deadline - Clock::now()) / left, why);
  }
  ::freeaddrinfo(found);
  if (fd < 0 && why.failure == Failure::kNone) {
    why = {Failure::kTimeout, fmt::format("connecting to {} timed out", t.host)};
  }
  return fd;
}

std::string openssl_error() {
  const unsigned long e = ERR_peek_last_error();
  if (e == 0) return "the connection closed during the handshake";
  char text[256];
  ERR_error_string_n(e, text, sizeof text);
  return text;
}

/// One connection: a socket, TLS over it for https://.
class Connection {
 public:
  Connection() = default;
  /// Adopts a connected socket (plain), made non-blocking.
  explicit Connection(int fd) : fd_(fd) {
    ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) | O_NONBLOCK);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection() {
    if (ssl_ != nullptr) SSL_free(ssl_);
    if (ctx_ != nullptr) SSL_CTX_free(ctx_);
    if (fd_ >= 0) ::close(fd_);
  }

  std::optional<Problem> open(const Target& t, const ClientRequest& r, Clock::time_point by) {
    Problem why{Failure::kNone, ""};
    fd_ = connect_host(t, by, why);
    if (fd_ < 0) return why;
    if (!t.tls) return std::nullopt;
    if (auto problem = make_session(t, r.ca_file)) return problem;
    return handshake(by);
  }

  /// Writes all of `data`; `sent` turns true once any byte left.
  std::optional<Problem> write_all(std::string_view data, Clock::time_point by, bool& sent) {
    while (!data.empty()) {
      errno = 0;
      const ssize_t n = write_some(data);
      if (n > 0) {
        sent = true;
        data.remove_prefix(static_cast<size_t>(n));
        continue;
      }
      if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        // A failed SSL_write may have sent part of a record: count it as sent, to be safe.
        if (ssl_ != nullptr) sent = true;
        return Problem{Failure::kLost,
                       fmt::format("sending the request: {}",
                                   errno == 0 ? "the connection closed" : std::strerror(errno))};
      }
      if (!wait_for(fd_, want_, by)) return Problem{Failure::kTimeout, "timed out sending"};
    }
    return std::nullopt;
  }

  /// Appends what arrives to `into`: false at the connection's end (`why` stays kNone) or on
  /// an error or timeout (`why` says which).
  bool read_more(std::string& into, Clock::time_point by, Problem& why) {
    char buf[16384];
    for (;;) {
      errno = 0;
      const ssize_t n = read_some(buf, sizeof buf);
      if (n > 0) {
        into.append(buf, static_cast<size_t>(n));
        return true;
      }
      if (n == 0) return false;
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        why = {Failure::kLost, fmt::format("reading the answer: {}", read_error())};
        return false;
      }
      if (!wait_for(fd_, want_, by)) {
        why = {Failure::kTimeout, "timed out waiting for the answer"};
        return false;
      }
    }
  }

 private:
  std::optional<Problem> make_session(const Target& t, const std::string& ca_file) {
    ctx_ = SSL_CTX_new(TLS_client_method());
    if (ctx_ == nullptr) return Problem{Failure::kTls, openssl_error()};
    SSL_CTX_set_min_proto_version(ctx_, TLS1_2_VERSION);
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    // SSL_write reports each record written, so `sent` turns true as bytes leave.
    SSL_CTX_set_mode(ctx_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    const bool loaded = ca_file.empty()
                            ? SSL_CTX_set_default_verify_paths(ctx_) == 1
                            : SSL_CTX_load_verify_locations(ctx_, ca_file.c_str(), nullptr) == 1;
    if (!loaded) {
      return Problem{Failure::kCaFile,
                     fmt::format("cannot use the CA file {}: {}",
                                 ca_file.empty() ? "(system)" : ca_file, openssl_error())};
    }
    ssl_ = SSL_new(ctx_);
    if (ssl_ == nullptr || SSL_set_fd(ssl_, fd_) != 1)
      return Problem{Failure::kTls, openssl_error()};
    static const unsigned char kAlpn[] = "\x08http/1.1";
    SSL_set_alpn_protos(ssl_, kAlpn, sizeof kAlpn - 1);
    // The certificate must name the host (or IP address) the URL gives; without either set,
    // OpenSSL would check the chain only.
    const bool named =
        t.ip_literal ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), t.host.c_str()) == 1
                     : SSL_set_tlsext_host_name(ssl_, t.host.c_str()) == 1 &&
                           SSL_set1_host(ssl_, t.host.c_str()) == 1;
    if (!named) return Problem{Failure::kTls, "cannot check the certificate's name: " + t.host};
    SSL_set_hostflags(ssl_, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    return std::nullopt;
  }

  std::optional<Problem> handshake(Clock::time_point by) {
    ERR_clear_error();
    for (;;) {
      const int rc = SSL_connect(ssl_);
      if (rc == 1) return std::nullopt;
      const int e = SSL_get_error(ssl_, rc);
      if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) break;
      if (!wait_for(fd_, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, by)) {
        return Problem{Failure::kTimeout, "the TLS handshake timed out"};
      }
    }
    const long verify = SSL_get_verify_result(ssl_);
    if (verify != X509_V_OK) {
      return Problem{Failure::kTlsVerify, fmt::format("the server's certificate is not trusted: {}",
                                                      X509_verify_cert_error_string(verify))};
    }
    return Problem{Failure::kTls, fmt::format("TLS handshake failed: {}", openssl_error())};
  }

  // One write or read; < 0 with errno EAGAIN when the socket must be waited for (want_ says
  // for what), else errno or ssl_error_ say what broke.
  ssize_t write_some(std::string_view data) {
    want_ = POLLOUT;
    if (ssl_ == nullptr) return ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    ERR_clear_error();  // SSL_get_error reads the queue: an old entry would look like this call's
    return ssl_result(SSL_write(ssl_, data.data(), static_cast<int>(data.size())));
  }
  ssize_t read_some(char* buf, size_t size) {
    want_ = POLLIN;
    if (ssl_ == nullptr) return ::recv(fd_, buf, size, 0);
    ERR_clear_error();
    return ssl_result(SSL_read(ssl_, buf, static_cast<int>(size)));
  }
  ssize_t ssl_result(int rc) {
    if (rc > 0) return rc;
    ssl_error_ = SSL_get_error(ssl_, rc);
    switch (ssl_error_) {
      case SSL_ERROR_ZERO_RETURN:
        return 0;
      case SSL_ERROR_WANT_READ:
      case SSL_ERROR_WANT_WRITE:
        want_ = ssl_error_ == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
        errno = EAGAIN;
        return -1;
      case SSL_ERROR_SYSCALL:
        if (errno == 0 || errno == EAGAIN || errno == EINTR) errno = EPROTO;
        return -1;
      default:
        errno = EPROTO;
        return -1;
    }
  }
  std::string read_error() const {
    if (ssl_ != nullptr && ssl_error_ == SSL_ERROR_SSL) return openssl_error();
    return std::strerror(errno);
  }

  int fd_ = -1;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  short want_ = POLLIN;
  int ssl_error_ = 0;
};

/// The parts of an answer's head that frame its body.
struct Head {
  int status = 0;
  std::optional<uint64_t> length;  ///< Content-Length
  bool chunked = false;            ///< Transfer-Encoding ends in chunked
  bool until_close = false;        ///< another transfer coding: the body runs to the end
};

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool parse_status_line(std::string_view line, Head& head) {
  // RFC 9112 §4: HTTP-version SP 3DIGIT SP [reason]
  if (line.size() < 12 || line.substr(0, 7) != "HTTP/1." || line[8] != ' ') return false;
  const auto code = line.substr(9, 3);
  if (!std::all_of(code.begin(), code.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return false;
  }
  if (line.size() > 12 && line[12] != ' ') return false;
  head.status = std::atoi(std::string(code).c_str());
  return head.status >= 100;
}

bool parse_header(std::string_view line, Head& head) {
  const auto colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  const std::string name = lower(line.substr(0, colon));
  const std::string_view value = trim(line.substr(colon + 1));
  if (name == "content-length") {
    if (value.empty() || value.size() > 18 ||
        !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return false;
    }
    const uint64_t n = std::strtoull(std::string(value).c_str(), nullptr, 10);
    if (head.length && *head.length != n) return false;  // RFC 9112 §6.3: differing lengths
    head.length = n;
  } else if (name == "transfer-encoding") {
    const std::string codings = lower(value);
    const auto last = trim(std::string_view(codings).substr(codings.rfind(',') + 1));
    head.chunked = last == "chunked";
    head.until_close = !head.chunked;
  }
  return true;
}

std::optional<Head> parse_head(std::string_view text) {
  Head head;
  auto eol = text.find("\r\n");
  if (!parse_status_line(text.substr(0, eol), head)) return std::nullopt;
  while (eol != std::string_view::npos && eol + 2 < text.size()) {
    const auto start = eol + 2;
    eol = text.find("\r\n", start);
    const auto line = text.substr(start, eol - start);
    if (!line.empty() && !parse_header(line, head)) return std::nullopt;
  }
  return head;
}

/// Reads one answer from a connection, within the deadline and the size limit.
class AnswerReader {
 public:
  AnswerReader(Connection& c, Clock::time_point by, size_t max) : c_(c), by_(by), max_(max) {}

  std::optional<Problem> read(int& status, std::string& body) {
    std::optional<Head> head;
    for (int interim = 0; interim <= kMaxInterim; ++interim) {
      std::string text;
      if (auto problem = read_head(text)) return problem;
      head = parse_head(text);
      if (!head) return Problem{Failure::kLost, "the answer is not HTTP/1.1"};
      if (head->status >= 200 || head->status == 101) break;  // 1xx: another head follows
    }
    if (head->status < 200) return Problem{Failure::kLost, "no final answer after 1xx answers"};
    status = head->status;
    if (status == 204 || status == 304) return std::nullopt;
    if (head->chunked) return read_chunked(body);
    if (head->length && !head->until_close) return read_exactly(*head->length, body);
    return read_to_end(body);
  }

 private:
  // Has at least `n` unread bytes; false at the end (why: kLost) or on an error or timeout.
  bool fill(size_t n, Problem& why) {
    while (buf_.size() - pos_ < n) {
      if (c_.read_more(buf_, by_, why)) continue;
      if (why.failure == Failure::kNone) {
        why = {Failure::kLost, "the connection closed in the middle of the answer"};
      }
      return false;
    }
    return true;
  }

  // The bytes up to the next CRLF (consumed with it), at most `max` long.
  std::optional<Problem> read_line(std::string& line, size_t max) {
    size_t eol;
    Problem why{Failure::kNone, ""};
    while ((eol = buf_.find("\r\n", pos_)) == std::string::npos) {
      if (buf_.size() - pos_ > max) return Problem{Failure::kLost, "an answer line is too long"};
      if (!fill(buf_.size() - pos_ + 1, why)) return why;
    }
    line = buf_.substr(pos_, eol - pos_);
    pos_ = eol + 2;
    return std::nullopt;
  }

  std::optional<Problem> read_head(std::string& text) {
    Problem why{Failure::kNone, ""};
    size_t end;
    while ((end = buf_.find("\r\n\r\n", pos_)) == std::string::npos) {
      if (buf_.size() - pos_ > kMaxHead) {
        return Problem{Failure::kLost, "the answer's head is longer than 64 KiB"};
      }
      if (fill(buf_.size() - pos_ + 1, why)) continue;
      if (buf_.size() == pos_ && why.failure == Failure::kLost) {
        why.detail = "the connection closed without an answer";
      }
      return why;
    }
    text = buf_.substr(pos_, end + 2 - pos_);
    pos_ = end + 4;
    return std::nullopt;
  }

  std::optional<Problem> read_exactly(uint64_t n, std::string& body) {
    if (n > max_) return too_large();
    Problem why{Failure::kNone, ""};
    if (!fill(static_cast<size_t>(n), why)) return why;
    body = buf_.substr(pos_, static_cast<size_t>(n));
    return std::nullopt;
  }

  std::optional<Problem> read_to_end(std::string& body) {
    Problem why{Failure::kNone, ""};
    do {
      if (buf_.size() - pos_ > max_) return too_large();
    } while (c_.read_more(buf_, by_, why));
    if (why.failure != Failure::kNone) return why;
    body = buf_.substr(pos_);
    return std::nullopt;
  }

  // RFC 9112 §7.1: chunk-size [ext] CRLF data CRLF ... 0 CRLF [trailers] CRLF.
  std::optional<Problem> read_chunked(std::string& body) {
    for (;;) {
      std::string line;
      if (auto problem = read_line(line, 1024)) return problem;
      const auto digits = trim(std::string_view(line).substr(0, line.find(';')));
      if (digits.empty() || digits.size() > 15 ||
          !std::all_of(digits.begin(), digits.end(),
                       [](unsigned char c) { return std::isxdigit(c) != 0; })) {
        return Problem{Failure::kLost, "a chunk's size is not hexadecimal"};
      }
      const uint64_t size = std::strtoull(std::string(digits).c_str(), nullptr, 16);
      if (size == 0) return read_trailers();
      if (size > max_ - body.size()) return too_large();
      Problem why{Failure::kNone, ""};
      if (!fill(static_cast<size_t>(size) + 2, why)) return why;
      body.append(buf_, pos_, static_cast<size_t>(size));
      pos_ += static_cast<size_t>(size);
      if (buf_.compare(pos_, 2, "\r\n") != 0)
        return Problem{Failure::kLost, "a chunk does not end in CRLF"};
      pos_ += 2;
      buf_.erase(0, pos_);
      pos_ = 0;
    }
  }

  std::optional<Problem> read_trailers() {
    for (size_t total = 0; total <= kMaxHead;) {
      std::string line;
      if (auto problem = read_line(line, kMaxHead)) return problem;
      if (line.empty()) return std::nullopt;
      total += line.size() + 2;
    }
    return Problem{Failure::kLost, "the answer's trailers are longer than 64 KiB"};
  }

  Problem too_large() const {
    return {Failure::kTooLarge, fmt::format("the answer is longer than {} MiB", max_ >> 20)};
  }

  Connection& c_;
  Clock::time_point by_;
  size_t max_;
  std::string buf_;
  size_t pos_ = 0;
};

std::string request_text(const Target& t, const ClientRequest& r) {
  std::string text = fmt::format("POST {} HTTP/1.1\r\nHost: {}\r\n", t.path, t.authority);
  for (const auto& h : r.headers) text += h + "\r\n";
  text += fmt::format("Content-Length: {}\r\nConnection: close\r\n\r\n", r.body.size());
  text += r.body;
  return text;
}

ClientOutcome failed(ClientOutcome out, const Problem& problem) {
  out.failure = problem.failure;
  out.detail = problem.detail;
  out.status = 0;
  out.body.clear();
  return out;
}

bool env_set(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0';
}

}  // namespace

ClientOutcome post(const ClientRequest& r) {
  ClientOutcome out;
  std::string why;
  const auto target = parse_url(r.url, why);
  if (!target) return failed(out, {Failure::kUrl, why});
  for (const auto& h : r.headers) {
    if (h.find_first_of("\r\n") != std::string::npos) {
      return failed(out, {Failure::kUrl, "a request header holds a line break"});
    }
  }
  const auto start = Clock::now();
  const auto by = start + r.timeout;
  const auto connect_by = std::min(by, start + r.connect_timeout);
  const SigpipeHeld held;
  Connection c;
  if (auto problem = c.open(*target, r, connect_by)) return failed(out, *problem);
  if (auto problem = c.write_all(request_text(*target, r), by, out.request_sent)) {
    return failed(out, *problem);
  }
  AnswerReader reader(c, by, r.max_answer);
  if (auto problem = reader.read(out.status, out.body)) return failed(out, *problem);
  return out;
}

ClientOutcome read_answer(int fd, std::chrono::milliseconds timeout, size_t max_answer) {
  ClientOutcome out;
  out.request_sent = true;
  Connection c(fd);
  AnswerReader reader(c, Clock::now() + timeout, max_answer);
  if (auto problem = reader.read(out.status, out.body)) return failed(out, *problem);
  return out;
}

bool proxy_applies(const std::string& url) {
  // libcurl's own reading (lib/url.c): http_proxy in lower case only (CGI sets HTTP_PROXY from
  // a request header), https_proxy in either case, then all_proxy.
  if (env_set("all_proxy") || env_set("ALL_PROXY")) return true;
  if (starts_with_nocase(url, "https://")) return env_set("https_proxy") || env_set("HTTPS_PROXY");
  return env_set("http_proxy");
}

}  // namespace eso::http
