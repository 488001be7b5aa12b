// The trigger API's request parser (webhook/trigger_api.h); end to end in cli/trigger_api_test.cc.
#include <chrono>

#include <doctest/doctest.h>

#include "webhook/trigger_api.h"

namespace eso::webhook {

using std::chrono::milliseconds;

TEST_CASE("a trigger request's wait is rounded up to whole milliseconds and bounded") {
  TriggerApiOptions options;
  options.max_wait = std::chrono::minutes(2);
  const auto wait_of = [&](const char* wait) {
    return parse_trigger_request(std::string(R"({"keys": ["/k"], "wait": ")") + wait + "\"}",
                                 options);
  };
  // A direct trigger with --timeout 500us waits (and times out): so does the API.
  REQUIRE(wait_of("500us"));
  CHECK(wait_of("500us")->wait == milliseconds(1));
  REQUIRE(wait_of("1ns"));
  CHECK(wait_of("1ns")->wait == milliseconds(1));
  CHECK(wait_of("1500us")->wait == milliseconds(2));
  CHECK(wait_of("2m")->wait == std::chrono::minutes(2));
  CHECK(wait_of("2m1ms").error().code == ErrorCode::kInvalidArgument);
  CHECK(wait_of("0s").error().code == ErrorCode::kInvalidArgument);
  CHECK(wait_of("-1s").error().code == ErrorCode::kInvalidArgument);
}

TEST_CASE("a trigger request naming a namespace outside the allowed ones is forbidden") {
  TriggerApiOptions options;
  options.namespaces = {"a", "b"};
  CHECK(parse_trigger_request(R"({"keys": ["/k"], "namespaces": ["b"]})", options));
  const auto other = parse_trigger_request(R"({"keys": ["/k"], "namespaces": ["c"]})", options);
  REQUIRE_FALSE(other);
  CHECK(other.error().code == ErrorCode::kForbidden);
  CHECK_FALSE(parse_trigger_request(R"({"keys": ["/k"], "namespaces": [""]})", options));
}

}  // namespace eso::webhook
