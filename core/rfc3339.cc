#include "core/rfc3339.h"

namespace eso {
namespace {

using Seconds = std::chrono::sys_seconds;
using Clock = std::chrono::system_clock;

// system_clock counts nanoseconds in 64 bits: 1677-09-21T00:12:44Z to 2262-04-11T23:47:16Z.
// The latest whole second that any fraction may follow is one before the end.
constexpr Seconds kEarliest = std::chrono::ceil<std::chrono::seconds>(Clock::time_point::min());
constexpr Seconds kLatest =
    std::chrono::floor<std::chrono::seconds>(Clock::time_point::max()) - std::chrono::seconds(1);

// A reader of fixed-width decimal fields; any miss leaves it failed.
struct Fields {
  std::string_view text;
  bool ok = true;

  int digits(size_t n) {
    if (!ok || text.size() < n) return fail();
    int value = 0;
    for (size_t i = 0; i < n; ++i) {
      const char c = text[i];
      if (c < '0' || c > '9') return fail();
      value = value * 10 + (c - '0');
    }
    text.remove_prefix(n);
    return value;
  }
  bool take(char c) {
    if (!ok || text.empty() || text.front() != c) return ok = false;
    text.remove_prefix(1);
    return true;
  }
  bool next_is(char c) const { return ok && !text.empty() && text.front() == c; }
  int fail() {
    ok = false;
    return 0;
  }
};

// ".123456789" (any count of digits, at least one; those past the ninth are dropped, as Go does).
std::chrono::nanoseconds fraction(Fields& in) {
  if (!in.next_is('.')) return {};
  in.take('.');
  int64_t nanos = 0;
  size_t count = 0;
  while (!in.text.empty() && in.text.front() >= '0' && in.text.front() <= '9') {
    if (count < 9) nanos = nanos * 10 + (in.text.front() - '0');
    ++count;
    in.text.remove_prefix(1);
  }
  if (count == 0) in.fail();
  for (size_t i = count; i < 9; ++i) nanos *= 10;
  return std::chrono::nanoseconds(nanos);
}

// "Z" or "+hh:mm" / "-hh:mm": the offset east of UTC.
std::chrono::minutes zone(Fields& in) {
  if (in.next_is('Z') || in.next_is('z')) {
    in.text.remove_prefix(1);
    return {};
  }
  const int sign = in.next_is('+') ? 1 : in.next_is('-') ? -1 : 0;
  if (sign == 0) return std::chrono::minutes(in.fail());
  in.text.remove_prefix(1);
  const int hours = in.digits(2);
  in.take(':');
  const int minutes = in.digits(2);
  if (hours > 23 || minutes > 59) in.fail();
  return std::chrono::minutes(sign * (hours * 60 + minutes));
}

}  // namespace

std::optional<std::chrono::system_clock::time_point> parse_rfc3339(std::string_view text) {
  using namespace std::chrono;
  Fields in{text};
  const int y = in.digits(4);
  in.take('-');
  const int mo = in.digits(2);
  in.take('-');
  const int d = in.digits(2);
  if (!in.next_is('T') && !in.next_is('t')) return std::nullopt;
  in.text.remove_prefix(1);
  const int h = in.digits(2);
  in.take(':');
  const int mi = in.digits(2);
  in.take(':');
  const int s = in.digits(2);
  const nanoseconds frac = fraction(in);
  const minutes offset = zone(in);
  if (!in.ok || !in.text.empty() || h > 23 || mi > 59 || s > 59) return std::nullopt;
  const year_month_day date{year{y}, month{static_cast<unsigned>(mo)},
                            day{static_cast<unsigned>(d)}};
  if (!date.ok()) return std::nullopt;
  const Seconds utc = sys_days{date} + hours{h} + minutes{mi} + seconds{s} - offset;
  if (utc < kEarliest) return Clock::time_point::min();
  if (utc > kLatest) return Clock::time_point::max();
  return Clock::time_point(utc) + duration_cast<Clock::duration>(frac);
}

}  // namespace eso
