#include "webhook/verify/delivery_id.h"

#include <vector>

#include <doctest/doctest.h>

namespace eso::webhook {

TEST_CASE("Delivery ids: read per source from the body or the headers") {
  struct Case {
    const char* what;
    DeliverySource source;
    std::string body;
    HeaderList headers;
    std::optional<std::string> id;
  };
  const std::vector<Case> cases = {
      {"Pub/Sub messageId",
       DeliverySource::kPubSub,
       R"({"message":{"data":"e30=","messageId":"136969346945","message_id":"136969346945"},"subscription":"projects/p/subscriptions/s"})",
       {},
       "pubsub:136969346945"},
      {"Pub/Sub message_id only",
       DeliverySource::kPubSub,
       R"({"message":{"message_id":"77"}})",
       {},
       "pubsub:77"},
      {"Pub/Sub without an id",
       DeliverySource::kPubSub,
       R"({"message":{"data":"e30="}})",
       {},
       std::nullopt},
      {"SNS MessageId",
       DeliverySource::kSns,
       R"({"Type":"Notification","MessageId":"da41e39f-ea4d"})",
       {},
       "sns:da41e39f-ea4d"},
      {"Event Grid batch",
       DeliverySource::kEventGrid,
       R"([{"id":"a1"},{"id":"b22"}])",
       {},
       "eventgrid:2:a13:b22"},
      {"Event Grid event without id",
       DeliverySource::kEventGrid,
       R"([{"id":"a1"},{}])",
       {},
       std::nullopt},
      {"Event Grid empty batch", DeliverySource::kEventGrid, "[]", {}, std::nullopt},
      {"CloudEvents structured",
       DeliverySource::kCloudEvents,
       R"({"specversion":"1.0","source":"/vault","id":"42","type":"t"})",
       {},
       "cloudevents:6:/vault2:42"},
      {"CloudEvents binary",
       DeliverySource::kCloudEvents,
       "not json",
       {{"ce-source", "/vault"}, {"ce-id", "42"}},
       "cloudevents:6:/vault2:42"},
      {"CloudEvents without source",
       DeliverySource::kCloudEvents,
       R"({"id":"42"})",
       {},
       std::nullopt},
      {"Akeyless single event",
       DeliverySource::kAkeyless,
       R"({"event_id":1234,"item_name":"/prod/db"})",
       {},
       "akeyless:1234"},
      {"Akeyless array",
       DeliverySource::kAkeyless,
       R"([{"event_id":1},{"event_id":"2"}])",
       {},
       "akeyless:1:11:2"},
      {"Akeyless wrapped",
       DeliverySource::kAkeyless,
       R"({"Akeyless_Events":{"rotated-secret-success":[{"event_id":9}]}})",
       {},
       "akeyless:22:rotated-secret-success1:9"},
      {"Akeyless without event_id",
       DeliverySource::kAkeyless,
       R"({"item_name":"/prod/db"})",
       {},
       std::nullopt},
      {"Akeyless negative event_id",
       DeliverySource::kAkeyless,
       R"({"event_id":-1})",
       {},
       std::nullopt},
      {"not JSON", DeliverySource::kSns, "{", {}, std::nullopt},
      {"an id over 1 KiB",
       DeliverySource::kSns,
       R"({"MessageId":")" + std::string(2000, 'a') + R"("})",
       {},
       std::nullopt},
  };
  for (const auto& c : cases) {
    CAPTURE(c.what);
    CHECK(delivery_id(c.source, c.body, c.headers) == c.id);
  }
}

TEST_CASE("Delivery ids: the same id from two senders never collides") {
  CHECK(delivery_id(DeliverySource::kSns, R"({"MessageId":"1"})") !=
        delivery_id(DeliverySource::kEventGrid, R"({"id":"1"})"));
  // Framing keeps joined parts apart: source "a" id "bc" is not source "ab" id "c".
  CHECK(delivery_id(DeliverySource::kCloudEvents, R"({"source":"a","id":"bc"})") !=
        delivery_id(DeliverySource::kCloudEvents, R"({"source":"ab","id":"c"})"));
}

}  // namespace eso::webhook
