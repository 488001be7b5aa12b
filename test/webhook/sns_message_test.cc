// SNS messages parsed strictly, and the canonical string SNS signs.
#include "webhook/verify/sns_message.h"

#include <vector>

#include <doctest/doctest.h>

namespace eso::webhook {
namespace {

constexpr const char* kNotification = R"({
  "Type": "Notification",
  "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
  "TopicArn": "arn:aws:sns:us-west-2:123456789012:MyTopic",
  "Subject": "My First Message",
  "Message": "Hello world!",
  "Timestamp": "2012-05-02T00:54:06.655Z",
  "SignatureVersion": "1",
  "Signature": "EXAMPLEw6JRN=",
  "SigningCertURL": "https://sns.us-west-2.amazonaws.com/SimpleNotificationService-f3ecfb7224c7233fe7bb5f59f96de52f.pem",
  "UnsubscribeURL": "https://sns.us-west-2.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=x",
  "MessageAttributes": {"a": {"Type": "String", "Value": "b"}}
})";

constexpr const char* kConfirmation = R"({
  "Type": "SubscriptionConfirmation",
  "MessageId": "165545c9-2a5c-472c-8df2-7ff2be2b3b1b",
  "Token": "2336412f37",
  "TopicArn": "arn:aws:sns:us-west-2:123456789012:MyTopic",
  "Message": "You have chosen to subscribe to the topic.\nTo confirm the subscription, visit the SubscribeURL included in this message.",
  "SubscribeURL": "https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription&TopicArn=arn:aws:sns:us-west-2:123456789012:MyTopic&Token=2336412f37",
  "Timestamp": "2012-04-26T20:45:04.751Z",
  "SignatureVersion": "2",
  "Signature": "EXAMPLEpH+=",
  "SigningCertURL": "https://sns.us-west-2.amazonaws.com/SimpleNotificationService-f3ecfb7224c7233fe7bb5f59f96de52f.pem"
})";

// kNotification with `from` replaced by `to` (once).
std::string edited(std::string text, std::string_view from, std::string_view to) {
  const auto at = text.find(from);
  REQUIRE(at != std::string::npos);
  return text.replace(at, from.size(), to);
}

}  // namespace

TEST_CASE("SNS message: a Notification parses with its optional Subject") {
  auto m = parse_sns_message(kNotification);
  REQUIRE_MESSAGE(m.ok(), (m.ok() ? "" : m.error().message));
  CHECK(m->type == SnsMessageType::kNotification);
  CHECK(m->message_id == "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324");
  CHECK(m->subject == "My First Message");
  CHECK(m->signature_version == "1");
  auto bare = parse_sns_message(edited(kNotification, R"("Subject": "My First Message",)", ""));
  REQUIRE(bare.ok());
  CHECK(!bare->subject.has_value());
}

TEST_CASE("SNS message: the Notification string to sign is the documented one") {
  auto m = parse_sns_message(kNotification);
  REQUIRE(m.ok());
  CHECK(sns_string_to_sign(*m) ==
        "Message\nHello world!\n"
        "MessageId\n22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324\n"
        "Subject\nMy First Message\n"
        "Timestamp\n2012-05-02T00:54:06.655Z\n"
        "TopicArn\narn:aws:sns:us-west-2:123456789012:MyTopic\n"
        "Type\nNotification\n");
  auto bare = parse_sns_message(edited(kNotification, R"("Subject": "My First Message",)", ""));
  REQUIRE(bare.ok());
  CHECK(sns_string_to_sign(*bare).find("Subject") == std::string::npos);
  // An empty Subject is present, and signed as such.
  auto empty = parse_sns_message(edited(kNotification, "My First Message", ""));
  REQUIRE(empty.ok());
  CHECK(sns_string_to_sign(*empty).find("MessageId\n22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324\n"
                                        "Subject\n\nTimestamp") != std::string::npos);
}

TEST_CASE("SNS message: the confirmation string to sign is the documented one") {
  auto m = parse_sns_message(kConfirmation);
  REQUIRE(m.ok());
  CHECK(m->type == SnsMessageType::kSubscriptionConfirmation);
  CHECK(sns_string_to_sign(*m) ==
        "Message\nYou have chosen to subscribe to the topic.\nTo confirm the subscription, visit "
        "the SubscribeURL included in this message.\n"
        "MessageId\n165545c9-2a5c-472c-8df2-7ff2be2b3b1b\n"
        "SubscribeURL\nhttps://sns.us-west-2.amazonaws.com/"
        "?Action=ConfirmSubscription&TopicArn=arn:aws:sns:us-west-2:123456789012:MyTopic&Token="
        "2336412f37\n"
        "Timestamp\n2012-04-26T20:45:04.751Z\n"
        "Token\n2336412f37\n"
        "TopicArn\narn:aws:sns:us-west-2:123456789012:MyTopic\n"
        "Type\nSubscriptionConfirmation\n");
  auto unsubscribe = parse_sns_message(
      edited(kConfirmation, "SubscriptionConfirmation", "UnsubscribeConfirmation"));
  REQUIRE(unsubscribe.ok());
  CHECK(unsubscribe->type == SnsMessageType::kUnsubscribeConfirmation);
  CHECK(sns_string_to_sign(*unsubscribe).find("Token\n2336412f37\n") != std::string::npos);
}

TEST_CASE("SNS message: what a Type does not sign is dropped") {
  // A SubscribeURL in a Notification is not signed: it must not reach confirm_subscription.
  auto m = parse_sns_message(
      edited(kNotification, R"("Type": "Notification",)",
             R"("Type": "Notification", "SubscribeURL": "https://x", "Token": "t",)"));
  REQUIRE(m.ok());
  CHECK(m->subscribe_url.empty());
  CHECK(m->token.empty());
  auto c = parse_sns_message(edited(kConfirmation, R"("Token": "2336412f37",)",
                                    R"("Token": "2336412f37", "Subject": "unsigned",)"));
  REQUIRE(c.ok());
  CHECK(!c->subject.has_value());
}

TEST_CASE("SNS message: malformed messages are refused saying what is wrong") {
  struct Case {
    const char* what;
    std::string body;
    const char* says;
  };
  const std::vector<Case> cases = {
      {"not JSON", "Type=Notification", "not a JSON object"},
      {"an array", "[]", "not a JSON object"},
      {"unknown Type", edited(kNotification, "\"Notification\"", "\"Alert\""), "Type"},
      {"Type missing", edited(kNotification, R"("Type": "Notification",)", ""), "Type"},
      {"MessageId missing",
       edited(kNotification, R"("MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",)", ""),
       "MessageId is missing"},
      {"MessageId empty", edited(kNotification, "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324", ""),
       "MessageId is empty"},
      {"Message missing", edited(kNotification, R"("Message": "Hello world!",)", ""),
       "Message is missing"},
      {"Signature missing", edited(kNotification, R"("Signature": "EXAMPLEw6JRN=",)", ""),
       "Signature is missing"},
      {"Timestamp a number", edited(kNotification, R"("2012-05-02T00:54:06.655Z")", "1"),
       "Timestamp is not a string"},
      {"Subject null", edited(kNotification, R"("My First Message")", "null"),
       "Subject is not a string"},
      {"TopicArn twice",
       edited(kNotification, R"("Subject")", R"("TopicArn": "arn:aws:sns:x:1:evil", "Subject")"),
       "TopicArn appears twice"},
      {"confirmation without Token", edited(kConfirmation, R"("Token": "2336412f37",)", ""),
       "SubscribeURL and Token"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.what);
    auto m = parse_sns_message(c.body);
    REQUIRE(!m.ok());
    CHECK(m.error().code == ErrorCode::kMalformed);
    CHECK(m.error().message.find(c.says) != std::string::npos);
  }
}

}  // namespace eso::webhook
