#pragma once

#include <string>
#include <string_view>

namespace eso::http {

/// What a webhook request must present: HTTP Basic credentials and/or a bearer token.
struct ExpectedCredentials {
  std::string user;
  std::string password;
  std::string token;
  /// Both parts set: a half-configured pair (a file removed at run time) accepts no one.
  bool basic() const { return !user.empty() && !password.empty(); }
  bool bearer() const { return !token.empty(); }
};

/// Equal without a data-dependent early exit: the time depends on the lengths only.
bool constant_time_equal(std::string_view a, std::string_view b);

/// Checks an `Authorization` header value against `expected` (DESIGN.md §6): Basic with strict
/// base64 split at the first ':', both parts always compared; or `Bearer <token>`. Never logs.
bool authorized(std::string_view authorization, const ExpectedCredentials& expected);

}  // namespace eso::http
