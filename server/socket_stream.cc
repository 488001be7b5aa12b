#include "server/socket_stream.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace eso::http {

SocketStream::~SocketStream() {
  if (fd_ >= 0) ::close(fd_);
}

bool wait_for_fd(int fd, short events, Deadline deadline) {
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, events, 0};
    const int rc = ::poll(&p, 1, static_cast<int>(std::min<long>(left.count(), 1000)));
    if (rc > 0) return true;
    if (rc < 0 && errno != EINTR) return false;
  }
}

bool SocketStream::wait(short events, Deadline deadline) {
  return wait_for_fd(fd_, events, deadline);
}

ReadEnd SocketStream::read_some(std::string& into, size_t max, Deadline deadline) {
  char buf[16384];
  for (;;) {
    if (!wait(POLLIN, deadline)) return ReadEnd::kTimeout;
    const ssize_t n = ::recv(fd_, buf, std::min(sizeof buf, max), 0);
    if (n > 0) {
      into.append(buf, static_cast<size_t>(n));
      return ReadEnd::kData;
    }
    if (n == 0) return ReadEnd::kClosed;
    if (errno == EINTR || errno == EAGAIN) continue;
    return ReadEnd::kError;
  }
}

bool SocketStream::write_all(std::string_view data, Deadline deadline) {
  while (!data.empty()) {
    if (!wait(POLLOUT, deadline)) return false;
    // MSG_NOSIGNAL: a peer that went away is an error here, never a SIGPIPE.
    const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      data.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    return false;
  }
  return true;
}

}  // namespace eso::http
