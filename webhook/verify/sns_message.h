#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"

namespace eso::webhook {

/// The kinds of message Amazon SNS posts to an HTTPS subscriber.
enum class SnsMessageType { kNotification, kSubscriptionConfirmation, kUnsubscribeConfirmation };

/// An SNS HTTPS message (https://docs.aws.amazon.com/sns/latest/dg/http-notification-json.html
/// and http-subscription-confirmation-json.html), as posted: values unverified until
/// SnsVerifier says otherwise.
struct SnsMessage {
  SnsMessageType type = SnsMessageType::kNotification;
  std::string type_name;  ///< "Notification", ...
  std::string message_id;
  std::string topic_arn;
  std::optional<std::string> subject;  ///< Notification only, when the publisher set one
  std::string message;
  std::string timestamp;
  std::string signature_version;  ///< "1" or "2"
  std::string signature;          ///< base64
  std::string signing_cert_url;
  std::string subscribe_url;  ///< confirmations only
  std::string token;          ///< confirmations only
};

/// Parses an SNS message strictly: a JSON object whose known members are strings, with every
/// member its Type signs present (and not empty, except Message and Subject). Unknown members
/// (UnsubscribeURL, MessageAttributes, ...) are ignored; a known member given twice is an error.
/// kMalformed, saying which member.
Result<SnsMessage> parse_sns_message(std::string_view body);

/// The string SNS signs (the documented canonical form): for each signed member in byte order of
/// its name, the name, a newline, the value and a newline. A Notification signs Message,
/// MessageId, Subject (when present), Timestamp, TopicArn and Type; a confirmation signs
/// Message, MessageId, SubscribeURL, Timestamp, Token, TopicArn and Type.
std::string sns_string_to_sign(const SnsMessage& message);

}  // namespace eso::webhook
