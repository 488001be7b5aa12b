#pragma once
// A fake Kubernetes API server on 127.0.0.1:0 for the client's unit tests: plain HTTP, one
// connection at a time, every answer scripted by the test. It records each request it read
// (line and arrival time) so a test can count attempts and measure the gaps between them.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

namespace eso::test {

class LoopbackApiServer {
 public:
  struct Seen {
    std::string line;  ///< e.g. "GET /apis/external-secrets.io HTTP/1.1"
    std::chrono::steady_clock::time_point at;
    std::string head;  ///< the whole request head, headers included
    std::string body;  ///< as long as its Content-Length said
  };
  /// Writes to the client; false once it is gone. A handler may call it many times (a watch).
  using Send = std::function<bool(const std::string&)>;
  /// Answers the n-th request (0-based) with request line `line`; returning without sending
  /// anything closes the connection unanswered.
  using Answer = std::function<void(int n, const std::string& line, const Send& send)>;

  explicit LoopbackApiServer(Answer answer) : answer_(std::move(answer)) {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(listener_ >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(listener_, 16) == 0);
    socklen_t size = sizeof addr;
    REQUIRE(::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &size) == 0);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { run(); });
  }
  ~LoopbackApiServer() {
    stop_ = true;
    thread_.join();
    ::close(listener_);
  }
  LoopbackApiServer(const LoopbackApiServer&) = delete;
  LoopbackApiServer& operator=(const LoopbackApiServer&) = delete;

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  bool stopping() const { return stop_.load(); }
  std::vector<Seen> seen() const {
    std::lock_guard lock(mu_);
    return seen_;
  }

  /// A complete response with Content-Length, closing the connection after it.
  static std::string response(int status, const std::string& body,
                              const std::string& extra_headers = "") {
    return "HTTP/1.1 " + std::to_string(status) +
           " X\r\nContent-Type: application/json\r\nConnection: close\r\n" + extra_headers +
           "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  }
  /// The head of a streamed 200 (a watch): the body runs until the connection closes.
  static std::string stream_head() {
    return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n";
  }
  /// The discovery document of external-secrets.io serving v1.
  static std::string discovery() {
    return R"({"kind":"APIGroup","name":"external-secrets.io","versions":[{"groupVersion":)"
           R"("external-secrets.io/v1","version":"v1"}]})";
  }

 private:
  void run() {
    for (int n = 0; !stop_.load();) {
      pollfd p{listener_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      const int fd = ::accept(listener_, nullptr, nullptr);
      if (fd < 0) continue;
      timeval timeout{5, 0};
      ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
      ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
      std::string body;
      const std::string head = read_request(fd, body);
      if (!head.empty()) {
        const std::string line = head.substr(0, head.find("\r\n"));
        {
          std::lock_guard lock(mu_);
          seen_.push_back({line, std::chrono::steady_clock::now(), head, body});
        }
        answer_(n++, line, [fd](const std::string& bytes) {
          return ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
                 static_cast<ssize_t>(bytes.size());
        });
      }
      ::close(fd);
    }
  }

  // The request head, and into `body` as much as its Content-Length says (read whole, so the
  // close after the answer is not a reset that could take the answer with it).
  static std::string read_request(int fd, std::string& body) {
    std::string in;
    char buf[4096];
    while (in.find("\r\n\r\n") == std::string::npos && in.size() < 65536) {
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) return "";
      in.append(buf, static_cast<size_t>(n));
    }
    const size_t end = in.find("\r\n\r\n") + 4;
    body = in.substr(end);
    in.resize(end);
    const auto at = in.find("\r\nContent-Length: ");
    const size_t length =
        at == std::string::npos ? 0 : std::strtoul(in.c_str() + at + 18, nullptr, 10);
    while (body.size() < length && body.size() < (size_t{16} << 20)) {
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      body.append(buf, static_cast<size_t>(n));
    }
    return in;
  }

  Answer answer_;
  int listener_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  mutable std::mutex mu_;
  std::vector<Seen> seen_;
};

}  // namespace eso::test
