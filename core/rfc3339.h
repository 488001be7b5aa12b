#pragma once

#include <chrono>
#include <optional>
#include <string_view>

namespace eso {

/// Parses an RFC 3339 date-time (§5.6): `2026-11-28T03:04:05Z`, with optional fractional
/// seconds (kept to the nanosecond) and `Z` or a `+hh:mm`/`-hh:mm` offset; `t` and `z` may be
/// lower case (Go's time.Parse wants them upper case). Every field must have its exact digits and
/// lie in its range (February 30th, hour 24, second 60 and a missing zone are refused); nothing
/// may follow the zone. A time before 1677-09-21 or after 2262-04-11, which system_clock's 64-bit
/// nanoseconds cannot hold, reads as its earliest or latest time (`9999-12-31T23:59:59Z`, "never
/// expires", stays in the future).
std::optional<std::chrono::system_clock::time_point> parse_rfc3339(std::string_view text);

}  // namespace eso
