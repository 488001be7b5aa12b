#include "core/base64.h"

#include <doctest/doctest.h>

namespace eso {

TEST_CASE("base64 decodes RFC 4648 test vectors") {
  const std::pair<const char*, const char*> cases[] = {
      {"", ""},
      {"Zg==", "f"},
      {"Zm8=", "fo"},
      {"Zm9v", "foo"},
      {"Zm9vYg==", "foob"},
      {"Zm9vYmE=", "fooba"},
      {"Zm9vYmFy", "foobar"},
  };
  for (const auto& [encoded, decoded] : cases) {
    CAPTURE(encoded);
    auto r = base64_decode(encoded);
    REQUIRE(r.ok());
    CHECK(*r == decoded);
    CHECK(base64_encode(decoded) == encoded);
  }
}

TEST_CASE("base64 rejects malformed input") {
  for (const char* bad : {"Zg", "Zg=", "Z===", "Zm9v\n", "Zm 9", "Zh==", "Zm9=v", "Zm-_", "=Zm9"}) {
    CAPTURE(bad);
    auto r = base64_decode(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message.find("invalid base64") != std::string::npos);
  }
}

}  // namespace eso
