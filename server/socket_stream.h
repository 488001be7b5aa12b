#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

namespace eso::http {

using Deadline = std::chrono::steady_clock::time_point;

/// How a read ended when it returned no data.
enum class ReadEnd { kData, kClosed, kTimeout, kError };

/// Waits until `fd` has one of `events` or `deadline` passes (false); EINTR is retried.
bool wait_for_fd(int fd, short events, Deadline deadline);

/// The one seam for socket I/O (STYLE.md "Seams"): EINTR, partial reads and writes, deadlines
/// and SIGPIPE are handled here and nowhere else. Tests put faults behind it.
class Stream {
 public:
  virtual ~Stream() = default;
  /// Appends what is available (waiting until `deadline` for something) to `into`.
  virtual ReadEnd read_some(std::string& into, size_t max, Deadline deadline) = 0;
  /// Writes all of `data` before `deadline`; false if the peer is gone or too slow.
  virtual bool write_all(std::string_view data, Deadline deadline) = 0;
  /// The subject of a verified client certificate (TLS), or "".
  virtual std::string peer_identity() const { return ""; }
};

/// A connected socket; closes it when destroyed.
class SocketStream final : public Stream {
 public:
  explicit SocketStream(int fd) : fd_(fd) {}
  ~SocketStream() override;
  SocketStream(const SocketStream&) = delete;
  SocketStream& operator=(const SocketStream&) = delete;

  ReadEnd read_some(std::string& into, size_t max, Deadline deadline) override;
  bool write_all(std::string_view data, Deadline deadline) override;
  /// Gives the socket up without closing it (it lives on, parked, for the next request).
  void release() { fd_ = -1; }

 private:
  bool wait(short events, Deadline deadline);
  int fd_;
};

}  // namespace eso::http
