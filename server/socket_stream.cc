#include "server/socket_stream.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace eso::http {

bool set_non_blocking(int fd) {
  const int flags = ::fcntl(fd, F_GETFL);
  return flags >= 0 && ((flags & O_NONBLOCK) != 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0);
}

SocketTransport::SocketTransport(int fd) : fd_(fd) { set_non_blocking(fd_); }

SocketTransport::~SocketTransport() {
  if (fd_ >= 0) ::close(fd_);
}

Io SocketTransport::read(std::string& into, size_t max) {
  char buf[16384];
  for (;;) {
    const ssize_t n = ::recv(fd_, buf, std::min(sizeof buf, max), 0);
    if (n > 0) {
      into.append(buf, static_cast<size_t>(n));
      return Io::kOk;
    }
    if (n == 0) return Io::kClosed;
    if (errno == EINTR) continue;
    return errno == EAGAIN || errno == EWOULDBLOCK ? Io::kWantRead : Io::kError;
  }
}

Io SocketTransport::write(std::string_view data, size_t& written) {
  written = 0;
  for (;;) {
    // MSG_NOSIGNAL: a peer that went away is an error here, never a SIGPIPE.
    const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    if (n >= 0) {
      written = static_cast<size_t>(n);
      return Io::kOk;
    }
    if (errno == EINTR) continue;
    return errno == EAGAIN || errno == EWOULDBLOCK ? Io::kWantWrite : Io::kError;
  }
}

bool SocketTransport::shutdown_write() { return ::shutdown(fd_, SHUT_WR) == 0; }

}  // namespace eso::http
