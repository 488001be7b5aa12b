#include "core/rfc3339.h"

#include <doctest/doctest.h>

namespace eso {

using std::chrono::microseconds;
using std::chrono::nanoseconds;
using std::chrono::system_clock;

TEST_CASE("RFC 3339 times with fractions and offsets") {
  const auto base = system_clock::from_time_t(1795835045);  // 2026-11-28T03:04:05Z
  const std::pair<const char*, system_clock::time_point> cases[] = {
      {"2026-11-28T03:04:05Z", base},
      {"2026-11-28t03:04:05z", base},
      {"2026-11-28T03:04:05.123456Z", base + microseconds(123456)},
      {"2026-11-28T03:04:05.1Z", base + microseconds(100000)},
      {"2026-11-28T03:04:05.1234567891Z", base + nanoseconds(123456789)},  // past ns: dropped
      {"2026-11-28T04:04:05+01:00", base},
      {"2026-11-28T01:34:05-01:30", base},
      {"2026-11-29T02:04:05+23:00", base},
      {"2024-02-29T00:00:00Z", system_clock::from_time_t(1709164800)},
      {"1970-01-01T00:00:00Z", system_clock::from_time_t(0)},
      {"1678-01-01T00:00:00Z", system_clock::from_time_t(-9214560000)},
      {"2261-12-31T23:59:59Z", system_clock::from_time_t(9214646399)},
      // The ends of what system_clock's 64-bit nanoseconds hold, and past them.
      {"1677-09-21T00:12:44Z", system_clock::from_time_t(-9223372036)},
      {"1677-09-21T00:12:43.999Z", system_clock::time_point::min()},
      {"1678-01-01T00:00:00+23:59", system_clock::from_time_t(-9214560000 - 86340)},
      {"0000-01-01T00:00:00Z", system_clock::time_point::min()},
      {"2262-04-11T23:47:15.999999999Z",
       system_clock::from_time_t(9223372035) + nanoseconds(999999999)},
      {"2262-04-11T23:47:16Z", system_clock::time_point::max()},
      {"9999-12-31T23:59:59.999999999-23:59", system_clock::time_point::max()},
  };
  for (const auto& [text, want] : cases) {
    CAPTURE(text);
    const auto got = parse_rfc3339(text);
    REQUIRE(got.has_value());
    CHECK(*got == want);
  }
}

TEST_CASE(
    "RFC 3339: a field out of its range or its digits, or anything after the zone, is refused") {
  const char* refused[] = {
      "",
      "soon",
      "2026-11-28 03:04:05Z",   // space for T
      "2026-11-28T03:04:05",    // no zone
      "2026-11-28T03:04Z",      // no seconds
      "2026-11-28T03:04:05.Z",  // a point without digits
      "2026-11-28T03:04:05ZZ",  // after the zone
      "2026-11-28T03:04:05+0100",
      "2026-11-28T03:04:05+24:00",
      "2026-11-28T03:04:05+01:60",
      "2026-11-28T24:00:00Z",
      "2026-11-28T03:60:05Z",
      "2026-11-28T03:04:60Z",  // Go refuses leap seconds too
      "2026-13-28T03:04:05Z",
      "2026-00-28T03:04:05Z",
      "2026-02-29T03:04:05Z",  // not a leap year
      "2026-11-00T03:04:05Z",
      "2026-11-31T03:04:05Z",
      "2026-1-28T03:04:05Z",  // one digit
      "2026-11-28T3:04:05Z",
      "+026-11-28T03:04:05Z",
      "2026-11-28T 3:04:05Z",  // sscanf's %2d read this
      "2026-11-28T03:04:05.12a3Z",
  };
  for (const char* text : refused) {
    CAPTURE(text);
    CHECK_FALSE(parse_rfc3339(text).has_value());
  }
}

}  // namespace eso
