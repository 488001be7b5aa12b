#include "core/http/basic_auth.h"

#include <doctest/doctest.h>

namespace eso::http {

TEST_CASE("half-configured Basic credentials accept no one") {
  // "hook:" and ":s3cret" in base64.
  CHECK_FALSE(authorized("Basic aG9vazo=", ExpectedCredentials{"hook", "", ""}));
  CHECK_FALSE(authorized("Basic OnMzY3JldA==", ExpectedCredentials{"", "s3cret", ""}));
  CHECK_FALSE(authorized("Basic Og==", ExpectedCredentials{"", "", ""}));  // ":"
  CHECK(authorized("Basic aG9vazpzM2NyZXQ=", ExpectedCredentials{"hook", "s3cret", ""}));
  CHECK_FALSE(ExpectedCredentials{"hook", "", ""}.basic());
}

}  // namespace eso::http
