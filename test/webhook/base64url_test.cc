#include "webhook/verify/base64url.h"

#include <vector>

#include <doctest/doctest.h>

namespace eso::webhook {

TEST_CASE("base64url: RFC 4648 vectors round-trip without padding") {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", ""},           {"f", "Zg"},          {"fo", "Zm8"},          {"foo", "Zm9v"},
      {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"}, {"\xfb\xff", "-_8"},
  };
  for (const auto& c : cases) {
    const std::string& bytes = c.first;
    const std::string& text = c.second;
    CAPTURE(text);
    CHECK(base64url_encode(bytes) == text);
    auto decoded = base64url_decode(text);
    REQUIRE(decoded.ok());
    CHECK(*decoded == bytes);
  }
}

TEST_CASE("base64url: padding and other alphabets and non-canonical text are refused") {
  for (const char* text : {"Zg==", "Zm9v+", "Zm9v/", "Zm 9v", "Z", "Zm9vY", "Zh", "Zm9"}) {
    CAPTURE(text);
    CHECK(!base64url_decode(text).ok());
  }
}

}  // namespace eso::webhook
