#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

namespace eso::http {

/// Readiness of descriptors, for one thread (DESIGN.md §6), after Redis's ae.c: register what a
/// descriptor waits for, then wait for any of them. epoll behind it on Linux, poll() elsewhere;
/// level-triggered either way, so a descriptor not fully drained is reported again.
class EventLoop {
 public:
  static constexpr uint32_t kReadable = 1;
  static constexpr uint32_t kWritable = 2;
  /// Reported only: the peer hung up or the descriptor failed.
  static constexpr uint32_t kHangup = 4;

  struct Ready {
    int fd;
    uint32_t events;
  };

  /// The best backend for this system; nullptr when it cannot be made (out of descriptors).
  static std::unique_ptr<EventLoop> create();
  /// The poll() backend every POSIX system has (macOS), also on Linux, for tests.
  static std::unique_ptr<EventLoop> create_portable();
  virtual ~EventLoop() = default;

  /// Waits for `events` (kReadable | kWritable) on `fd`, replacing what it waited for; 0 keeps
  /// it registered but quiet. False when the descriptor cannot be watched.
  virtual bool watch(int fd, uint32_t events) = 0;
  /// Forgets `fd`; call before closing it.
  virtual void forget(int fd) = 0;
  /// Waits up to `timeout` and fills `ready` (cleared first) with what happened; EINTR is
  /// an empty round.
  virtual void wait(std::chrono::milliseconds timeout, std::vector<Ready>& ready) = 0;
};

}  // namespace eso::http
