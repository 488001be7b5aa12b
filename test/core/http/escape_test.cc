#include "core/http/escape.h"

#include <doctest/doctest.h>

#include "core/event_decoder.h"

namespace eso::http {

TEST_CASE("valid_utf8 keeps valid text and replaces every ill-formed byte with U+FFFD") {
  struct Case {
    const char* name;
    std::string in;
    std::string out;
  };
  const std::string r = "\xEF\xBF\xBD";
  const Case cases[] = {
      {"ascii", "static-secret-updated", "static-secret-updated"},
      {"two, three and four bytes", "\xC3\xA9\xE2\x82\xAC\xF0\x9F\x94\x91",
       "\xC3\xA9\xE2\x82\xAC\xF0\x9F\x94\x91"},
      {"lone continuation", "a\x80z", "a" + r + "z"},
      {"truncated at the end", "a\xE2\x82", "a" + r + r},
      {"overlong slash", "\xC0\xAF", r + r},
      {"overlong three-byte", "\xE0\x80\xAF", r + r + r},
      {"surrogate", "\xED\xA0\x80", r + r + r},
      {"past U+10FFFF", "\xF4\x90\x80\x80", r + r + r + r},
      {"0xFF", "\xFF", r},
      {"NUL is valid UTF-8", std::string("a\0b", 3), std::string("a\0b", 3)},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    CHECK(valid_utf8(c.in) == c.out);
  }
}

TEST_CASE("escapes for JSON, Prometheus labels and log lines") {
  CHECK(json_escape("a\"b\\c\n\x01\xFF") == "a\\\"b\\\\c\\u000a\\u0001\xEF\xBF\xBD");
  CHECK(prometheus_label_escape("a\"b\\c\nd\xFF") == "a\\\"b\\\\c\\nd\xEF\xBF\xBD");
  CHECK(log_escape("line\nforged 200\r\x7f\xC3") == "line\\x0aforged 200\\x0d\\x7f\xEF\xBF\xBD");
}

TEST_CASE("decoded events carry only valid UTF-8, whatever bytes the sender chose") {
  const std::string body =
      "[{\"item_name\":\"/k\xFF\",\"event_type\":\"static-secret-updated\"},"
      "{\"item_name\":\"/k\xFE\",\"event_type\":\"static-secret-updated\"},"
      "{\"item_name\":\"/x\",\"event_type\":\"t\xC0\xAF\"}]";
  const auto decoded = decode_events(body, "akeyless");
  REQUIRE(decoded.ok());
  CHECK(decoded->keys == std::vector<std::string>{"/k\xEF\xBF\xBD"});
  REQUIRE(decoded->ignored.size() == 1);
  CHECK(decoded->ignored[0].event_type == "t\xEF\xBF\xBD\xEF\xBF\xBD");
  for (const auto& [type, n] : decoded->types) CHECK(valid_utf8(type) == type);
}

}  // namespace eso::http
