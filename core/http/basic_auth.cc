#include "core/http/basic_auth.h"

#include <algorithm>

#include "core/base64.h"

namespace eso::http {
namespace {

bool starts_with_ci(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  return std::equal(prefix.begin(), prefix.end(), s.begin(), [](char a, char b) {
    return std::tolower(static_cast<unsigned char>(a)) ==
           std::tolower(static_cast<unsigned char>(b));
  });
}

}  // namespace

bool constant_time_equal(std::string_view a, std::string_view b) {
  // Compare over the expected (second) length, folding in the length difference.
  unsigned diff = a.size() == b.size() ? 0U : 1U;
  for (size_t i = 0; i < b.size(); ++i) {
    const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    diff |= x ^ static_cast<unsigned char>(b[i]);
  }
  return diff == 0;
}

bool authorized(std::string_view authorization, const ExpectedCredentials& expected) {
  if (expected.basic() && starts_with_ci(authorization, "Basic ")) {
    auto decoded = base64_decode(authorization.substr(6));
    if (!decoded) return false;
    const auto colon = decoded->find(':');
    if (colon == std::string::npos) return false;
    // Both parts are compared whatever the first says, so timing tells nothing of which failed.
    const bool user_ok =
        constant_time_equal(std::string_view(*decoded).substr(0, colon), expected.user);
    const bool password_ok =
        constant_time_equal(std::string_view(*decoded).substr(colon + 1), expected.password);
    return user_ok & password_ok;
  }
  if (expected.bearer() && starts_with_ci(authorization, "Bearer ")) {
    return constant_time_equal(authorization.substr(7), expected.token);
  }
  return false;
}

}  // namespace eso::http
