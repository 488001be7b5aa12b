#include "core/go_duration.h"

#include <array>
#include <cmath>
#include <string>
#include <utility>

namespace eso {
namespace {

struct UnitScale {
  std::string_view name;
  double nanos;
};

// Longest names first so "ms" is not read as "m" followed by garbage.
constexpr std::array<UnitScale, 8> kUnits{{{"ns", 1},
                                           {"us", 1e3},
                                           {"\xC2\xB5s", 1e3},
                                           {"\xCE\xBCs", 1e3},
                                           {"ms", 1e6},
                                           {"s", 1e9},
                                           {"m", 60e9},
                                           {"h", 3600e9}}};

Error duration_error(std::string_view text) {
  return Error{ErrorCode::kInvalidArgument,
               "invalid duration \"" + std::string(text) + "\" (expected e.g. 1h, 15m30s, 0)"};
}

}  // namespace

Result<std::chrono::nanoseconds> parse_go_duration(std::string_view text) {
  std::string_view s = text;
  bool negative = false;
  if (!s.empty() && (s.front() == '-' || s.front() == '+')) {
    negative = s.front() == '-';
    s.remove_prefix(1);
  }
  if (s == "0") return std::chrono::nanoseconds(0);
  if (s.empty()) return duration_error(text);
  double total = 0;
  while (!s.empty()) {
    size_t i = 0;
    while (i < s.size() && ((s[i] >= '0' && s[i] <= '9') || s[i] == '.')) ++i;
    if (i == 0) return duration_error(text);
    std::string number(s.substr(0, i));
    if (number == "." || number.find('.') != number.rfind('.')) return duration_error(text);
    s.remove_prefix(i);
    const UnitScale* unit = nullptr;
    for (const auto& u : kUnits) {
      if (s.substr(0, u.name.size()) == u.name &&
          (unit == nullptr || u.name.size() > unit->name.size())) {
        unit = &u;
      }
    }
    if (unit == nullptr) return duration_error(text);
    s.remove_prefix(unit->name.size());
    total += std::stod(number) * unit->nanos;
  }
  if (!std::isfinite(total) || total > 9.2e18) return duration_error(text);
  auto ns = static_cast<int64_t>(std::llround(total));
  return std::chrono::nanoseconds(negative ? -ns : ns);
}

}  // namespace eso
