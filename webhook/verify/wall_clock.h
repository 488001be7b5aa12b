#pragma once

#include <chrono>
#include <functional>

namespace eso::webhook {

/// The wall clock the verifiers read: token lifetimes are Unix times, and key and certificate
/// caches expire by it. Tests substitute one they move by hand; empty means the system clock.
using WallClock = std::function<std::chrono::system_clock::time_point()>;

/// `clock`, or the system clock when it is empty.
inline WallClock or_system_clock(WallClock clock) {
  if (clock) return clock;
  return [] { return std::chrono::system_clock::now(); };
}

}  // namespace eso::webhook
