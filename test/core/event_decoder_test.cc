#include "core/event_decoder.h"

#include <doctest/doctest.h>

namespace eso {

TEST_CASE("Akeyless and generic payloads decode to de-duplicated keys") {
  struct Case {
    const char* name;
    const char* body;
    const char* source;
    const char* want_source;
    std::vector<std::string> want_keys;
    size_t events;
    size_t ignored;
  };
  const Case cases[] = {
      {"single event",
       R"({"item_name": "/prod/db", "event_type": "static-secret-updated"})",
       "",
       "akeyless",
       {"/prod/db"},
       1,
       0},
      {"array of events",
       R"([{"item_name": "/a", "event_type": "rotated-secret-success", "event_id": 7,
            "payload": {"nested": [1, 2]}},
           {"item_name": "/b", "event_type": "static-secret-updated"},
           {"item_name": "/a", "event_type": "static-secret-updated"}])",
       "",
       "akeyless",
       {"/a", "/b"},
       3,
       0},
      {"grouped envelope",
       R"({"Akeyless_Events": {"static-secret-updated": [{"item_name": "/x"}, {"name": "/y"}],
           "certificate-expired": [{"item_name": "/cert"}]}})",
       "",
       "akeyless",
       {"/x", "/y"},
       3,
       1},
      {"name fallback and untyped event",
       R"({"name": "/legacy"})",
       "",
       "akeyless",
       {"/legacy"},
       1,
       0},
      {"ignored type",
       R"({"item_name": "/c", "event_type": "certificate-expired"})",
       "",
       "akeyless",
       {},
       1,
       1},
      {"missing item_name",
       R"([{"event_type": "static-secret-updated"}, 5])",
       "",
       "akeyless",
       {},
       2,
       2},
      {"generic",
       R"({"keys": ["/a", "b", "/a"], "store": "s", "provider": "akeyless"})",
       "",
       "generic",
       {"/a", "b"},
       1,
       0},
      {"explicit source", R"({"item_name": "/p"})", "akeyless", "akeyless", {"/p"}, 1, 0},
  };
  for (const auto& c : cases) {
    const std::string name = c.name;
    CAPTURE(name);
    auto r = decode_events(c.body, c.source);
    const std::string error = r.ok() ? std::string() : r.error().message;
    INFO(error);
    REQUIRE(r.ok());
    CHECK(r->source == c.want_source);
    CHECK(r->keys == c.want_keys);
    CHECK(r->events == c.events);
    CHECK(r->ignored.size() == c.ignored);
  }
  auto grouped = decode_events(
      R"({"Akeyless_Events": {"static-secret-updated": [{"item_name": "/x"}, {"name": "/y"}],
          "certificate-expired": [{"item_name": "/c"}]}})",
      "");
  REQUIRE(grouped.ok());
  CHECK(grouped->types ==
        std::map<std::string, size_t>{{"certificate-expired", 1}, {"static-secret-updated", 2}});
  auto generic = decode_events(R"({"keys": ["/a"], "store": "s", "provider": "aws"})", "");
  REQUIRE(generic.ok());
  CHECK(generic->store == "s");
  CHECK(generic->provider == "aws");
}

TEST_CASE("an event-type allow-list replaces the defaults") {
  DecodeOptions options;
  options.event_types = {"certificate-expired"};
  auto r = decode_events(
      R"([{"item_name": "/c", "event_type": "certificate-expired"},
          {"item_name": "/s", "event_type": "static-secret-updated"}])",
      "", options);
  REQUIRE(r.ok());
  CHECK(r->keys == std::vector<std::string>{"/c"});
  REQUIRE(r->ignored.size() == 1);
  CHECK(r->ignored[0].event_type == "static-secret-updated");
}

TEST_CASE("bad bodies are clear errors, never crashes") {
  struct Case {
    std::string body;
    const char* source;
    const char* want;
  };
  const Case cases[] = {
      {"", "", "malformed JSON"},
      {"{", "", "malformed JSON"},
      {"[1,2", "", "malformed JSON"},
      {R"({"item_name": "/a"} trailing)", "", "malformed JSON"},
      {std::string("{\"item_name\": \"/a\0b\"}", 20), "", "malformed JSON"},
      {"42", "", "no event format"},
      {"[]", "", "no event format"},
      {R"({"unrelated": true})", "", "no event format"},
      {R"({"keys": "x"})", "", "array of strings"},
      {R"({"keys": [1]})", "", "non-empty strings"},
      {R"({"keys": [""]})", "", "non-empty strings"},
      {R"({"Akeyless_Events": []})", "", "Akeyless_Events"},
      {R"({"item_name": "/a"})", "doppler", "unknown event source"},
      {std::string(100000, '[') + std::string(100000, ']'), "", ""},
  };
  for (const auto& c : cases) {
    CAPTURE(c.body.substr(0, 40));
    auto r = decode_events(c.body, c.source);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::kInvalidArgument);
    CHECK(r.error().message.find(c.want) != std::string::npos);
  }
}

TEST_CASE("too many events in one body are rejected") {
  std::string body = "[";
  for (int i = 0; i < 20; ++i) body += std::string(i ? "," : "") + R"({"item_name": "/k"})";
  body += "]";
  DecodeOptions options;
  options.max_events = 10;
  auto r = decode_events(body, "", options);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message.find("at most 10") != std::string::npos);
}

}  // namespace eso
