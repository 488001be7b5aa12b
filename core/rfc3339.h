#pragma once

#include <chrono>
#include <optional>
#include <string_view>

namespace eso {

/// Parses an RFC 3339 date-time as Go's time.RFC3339Nano reads it: `2026-11-28T03:04:05Z`, with
/// optional fractional seconds (kept to the nanosecond) and `Z` or a `+hh:mm`/`-hh:mm` offset.
/// Every field must have its exact digits and lie in its range (February 30th, hour 24, second
/// 60 and a missing zone are refused); nothing may follow the zone. Years 1678 to 2261 only: the
/// span system_clock's 64-bit nanoseconds hold (Go reads 0000 to 9999).
std::optional<std::chrono::system_clock::time_point> parse_rfc3339(std::string_view text);

}  // namespace eso
