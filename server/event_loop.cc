#include "server/event_loop.h"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <unordered_map>

#if defined(__linux__)
#include <sys/epoll.h>
#endif

namespace eso::http {
namespace {

#if defined(__linux__)
class EpollLoop final : public EventLoop {
 public:
  explicit EpollLoop(int fd) : epoll_(fd) {}
  ~EpollLoop() override { ::close(epoll_); }

  bool watch(int fd, uint32_t events) override {
    epoll_event e{};
    e.events =
        ((events & kReadable) != 0 ? EPOLLIN : 0u) | ((events & kWritable) != 0 ? EPOLLOUT : 0u);
    e.data.fd = fd;
    auto known = interest_.find(fd);
    if (known != interest_.end()) {
      if (known->second == events) return true;
      if (::epoll_ctl(epoll_, EPOLL_CTL_MOD, fd, &e) != 0) return false;
      known->second = events;
      return true;
    }
    if (::epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &e) != 0) return false;
    interest_.emplace(fd, events);
    return true;
  }

  void forget(int fd) override {
    if (interest_.erase(fd) != 0) ::epoll_ctl(epoll_, EPOLL_CTL_DEL, fd, nullptr);
  }

  void wait(std::chrono::milliseconds timeout, std::vector<Ready>& ready) override {
    ready.clear();
    epoll_event events[256];
    const int n = ::epoll_wait(epoll_, events, 256, static_cast<int>(timeout.count()));
    for (int i = 0; i < n; ++i) {
      const uint32_t e = events[i].events;
      ready.push_back(
          Ready{events[i].data.fd, ((e & EPOLLIN) != 0 ? kReadable : 0u) |
                                       ((e & EPOLLOUT) != 0 ? kWritable : 0u) |
                                       ((e & (EPOLLHUP | EPOLLERR)) != 0 ? kHangup : 0u)});
    }
  }

 private:
  int epoll_;
  std::unordered_map<int, uint32_t> interest_;
};
#endif

// Any POSIX system: one poll() over every registered descriptor.
class PollLoop final : public EventLoop {
 public:
  bool watch(int fd, uint32_t events) override {
    interest_[fd] = events;
    return true;
  }
  void forget(int fd) override { interest_.erase(fd); }
  void wait(std::chrono::milliseconds timeout, std::vector<Ready>& ready) override {
    ready.clear();
    fds_.clear();
    for (const auto& [fd, events] : interest_) {
      fds_.push_back(pollfd{fd,
                            static_cast<short>(((events & kReadable) != 0 ? POLLIN : 0) |
                                               ((events & kWritable) != 0 ? POLLOUT : 0)),
                            0});
    }
    if (::poll(fds_.data(), fds_.size(), static_cast<int>(timeout.count())) <= 0) return;
    for (const auto& p : fds_) {
      if (p.revents == 0) continue;
      ready.push_back(
          Ready{p.fd, ((p.revents & POLLIN) != 0 ? kReadable : 0u) |
                          ((p.revents & POLLOUT) != 0 ? kWritable : 0u) |
                          ((p.revents & (POLLHUP | POLLERR | POLLNVAL)) != 0 ? kHangup : 0u)});
    }
  }

 private:
  std::unordered_map<int, uint32_t> interest_;
  std::vector<pollfd> fds_;
};

}  // namespace

std::unique_ptr<EventLoop> EventLoop::create() {
#if defined(__linux__)
  const int fd = ::epoll_create1(EPOLL_CLOEXEC);
  if (fd < 0) return nullptr;
  return std::make_unique<EpollLoop>(fd);
#else
  return create_portable();
#endif
}

std::unique_ptr<EventLoop> EventLoop::create_portable() { return std::make_unique<PollLoop>(); }

}  // namespace eso::http
