#include "webhook/verify/sns_message.h"

#include <algorithm>
#include <array>
#include <bitset>
#include <span>

#include <fmt/format.h>
#include <rapidjson/document.h>

namespace eso::webhook {
namespace {

struct Member {
  std::string_view name;
  std::string SnsMessage::*field;  ///< nullptr: Subject, which is optional
  bool may_be_empty;
};

// Every member SNS signs or we read, in byte order of name (the order they are signed in).
constexpr std::array<Member, 11> kMembers = {{
    {"Message", &SnsMessage::message, true},
    {"MessageId", &SnsMessage::message_id, false},
    {"Signature", &SnsMessage::signature, false},
    {"SignatureVersion", &SnsMessage::signature_version, false},
    {"SigningCertURL", &SnsMessage::signing_cert_url, false},
    {"Subject", nullptr, true},
    {"SubscribeURL", &SnsMessage::subscribe_url, false},
    {"Timestamp", &SnsMessage::timestamp, false},
    {"Token", &SnsMessage::token, false},
    {"TopicArn", &SnsMessage::topic_arn, false},
    {"Type", &SnsMessage::type_name, false},
}};

constexpr std::string_view kNotificationSigned[] = {"Message",   "MessageId", "Subject",
                                                    "Timestamp", "TopicArn",  "Type"};
constexpr std::string_view kConfirmationSigned[] = {
    "Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"};

Error malformed(std::string what) {
  return Error{ErrorCode::kMalformed, "SNS message: " + std::move(what)};
}

std::optional<SnsMessageType> type_of(std::string_view name) {
  if (name == "Notification") return SnsMessageType::kNotification;
  if (name == "SubscriptionConfirmation") return SnsMessageType::kSubscriptionConfirmation;
  if (name == "UnsubscribeConfirmation") return SnsMessageType::kUnsubscribeConfirmation;
  return std::nullopt;
}

// The members known to us copied into `out`; `seen` marks which were there.
std::optional<Error> read_members(const rapidjson::Value& doc, SnsMessage& out,
                                  std::bitset<kMembers.size()>& seen) {
  for (const auto& m : doc.GetObject()) {
    const std::string_view name(m.name.GetString(), m.name.GetStringLength());
    for (size_t i = 0; i < kMembers.size(); ++i) {
      if (kMembers[i].name != name) continue;
      if (seen[i]) return malformed(fmt::format("{} appears twice", name));
      if (!m.value.IsString()) return malformed(fmt::format("{} is not a string", name));
      seen[i] = true;
      std::string value(m.value.GetString(), m.value.GetStringLength());
      if (!kMembers[i].may_be_empty && value.empty()) {
        return malformed(fmt::format("{} is empty", name));
      }
      if (kMembers[i].field == nullptr) {
        out.subject = std::move(value);
      } else {
        out.*kMembers[i].field = std::move(value);
      }
    }
  }
  return std::nullopt;
}

bool was_seen(std::string_view name, const std::bitset<kMembers.size()>& seen) {
  for (size_t i = 0; i < kMembers.size(); ++i) {
    if (kMembers[i].name == name) return seen[i];
  }
  return false;
}

}  // namespace

Result<SnsMessage> parse_sns_message(std::string_view body) {
  rapidjson::Document doc;
  doc.Parse(body.data(), body.size());
  if (doc.HasParseError() || !doc.IsObject()) return malformed("the body is not a JSON object");
  SnsMessage out;
  std::bitset<kMembers.size()> seen;
  if (auto error = read_members(doc, out, seen)) return *error;
  const auto type = type_of(out.type_name);
  if (!type)
    return malformed(
        "Type is not Notification, SubscriptionConfirmation or "
        "UnsubscribeConfirmation");
  out.type = *type;
  const bool notification = out.type == SnsMessageType::kNotification;
  for (const std::string_view name : {"Message", "MessageId", "Timestamp", "TopicArn",
                                      "SignatureVersion", "Signature", "SigningCertURL"}) {
    if (!was_seen(name, seen)) return malformed(fmt::format("{} is missing", name));
  }
  if (!notification && (!was_seen("SubscribeURL", seen) || !was_seen("Token", seen))) {
    return malformed(fmt::format("a {} needs SubscribeURL and Token", out.type_name));
  }
  // What a Type does not sign is dropped, so nothing unsigned can be mistaken for signed.
  if (notification) {
    out.subscribe_url.clear();
    out.token.clear();
  } else {
    out.subject.reset();
  }
  return out;
}

std::string sns_string_to_sign(const SnsMessage& message) {
  const std::span<const std::string_view> signed_names =
      message.type == SnsMessageType::kNotification
          ? std::span<const std::string_view>(kNotificationSigned)
          : std::span<const std::string_view>(kConfirmationSigned);
  std::string out;
  for (const Member& m : kMembers) {
    if (std::find(signed_names.begin(), signed_names.end(), m.name) == signed_names.end()) continue;
    const std::string* value = m.field != nullptr ? &(message.*m.field)
                               : message.subject  ? &*message.subject
                                                  : nullptr;
    if (value == nullptr) continue;  // a Notification without a Subject
    out.append(m.name).append("\n").append(*value).append("\n");
  }
  return out;
}

}  // namespace eso::webhook
