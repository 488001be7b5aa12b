#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace eso::http {

/// What a non-blocking I/O call achieved.
enum class Io {
  kOk,         ///< progress: bytes moved, or the handshake is complete
  kWantRead,   ///< nothing now; call again when the socket is readable
  kWantWrite,  ///< nothing now; call again when the socket is writable
  kClosed,     ///< the peer closed the connection in order
  kError,      ///< the connection is broken
};

/// The one seam for socket I/O (STYLE.md "Seams"), for the event loop: every call returns at
/// once, never waits. EINTR, partial reads and writes and SIGPIPE are handled here and nowhere
/// else. Closes the connection when destroyed.
class Transport {
 public:
  virtual ~Transport() = default;
  /// Advances the TLS handshake; kOk once complete (at once for plain sockets).
  virtual Io handshake() { return Io::kOk; }
  /// Appends at most `max` bytes available now to `into`; kOk when any were read.
  virtual Io read(std::string& into, size_t max) = 0;
  /// Writes what it can of `data` now, `written` bytes; kOk when any were written.
  virtual Io write(std::string_view data, size_t& written) = 0;
  /// The subject of a verified client certificate (TLS), or "".
  virtual std::string peer_identity() const { return ""; }
  /// Ends the sending side (FIN) but keeps reading, for a lingering close; false when the
  /// transport cannot (TLS: the connection is closed at once instead).
  virtual bool shutdown_write() { return false; }
  virtual int fd() const = 0;
};

/// A connected, non-blocking plain-text socket.
class SocketTransport final : public Transport {
 public:
  /// Takes over `fd` and makes it non-blocking.
  explicit SocketTransport(int fd);
  ~SocketTransport() override;
  SocketTransport(const SocketTransport&) = delete;
  SocketTransport& operator=(const SocketTransport&) = delete;

  Io read(std::string& into, size_t max) override;
  Io write(std::string_view data, size_t& written) override;
  bool shutdown_write() override;
  int fd() const override { return fd_; }

 private:
  int fd_;
};

/// Makes `fd` non-blocking; false on failure.
bool set_non_blocking(int fd);

}  // namespace eso::http
