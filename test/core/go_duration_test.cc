#include "core/go_duration.h"

#include <doctest/doctest.h>

namespace eso {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::nanoseconds;
using std::chrono::seconds;

TEST_CASE("Go durations as metav1.Duration serialises them") {
  const std::pair<const char*, nanoseconds> cases[] = {
      {"0", nanoseconds(0)},
      {"0s", nanoseconds(0)},
      {"1h", hours(1)},
      {"24h0m0s", hours(24)},
      {"15m30s", minutes(15) + seconds(30)},
      {"1.5h", minutes(90)},
      {"300ms", milliseconds(300)},
      {"-2s", seconds(-2)},
      {"+5m", minutes(5)},
      {"1us", nanoseconds(1000)},
      {"1\xC2\xB5s", nanoseconds(1000)},
      {"7ns", nanoseconds(7)},
      {"1h1m1s1ms", hours(1) + minutes(1) + seconds(1) + milliseconds(1)},
  };
  for (const auto& [text, want] : cases) {
    CAPTURE(text);
    auto got = parse_go_duration(text);
    REQUIRE(got.ok());
    CHECK(got->count() == want.count());
  }
}

TEST_CASE("invalid Go durations are errors naming the text") {
  for (const char* bad : {"", "1", "h", "1x", "1.2.3s", ".s", "1h 2m", "-", "99999999999999h"}) {
    CAPTURE(bad);
    auto got = parse_go_duration(bad);
    REQUIRE_FALSE(got.ok());
    CHECK(got.error().message.find("invalid duration") != std::string::npos);
  }
}

}  // namespace eso
