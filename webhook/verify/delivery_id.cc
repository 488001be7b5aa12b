#include "webhook/verify/delivery_id.h"

#include <cstdint>

#include <rapidjson/document.h>

#include "core/json_fields.h"

namespace eso::webhook {
namespace {

// Ids this long are not an id any of these senders makes; remembering them would let a sender
// grow the memory by the id's size.
constexpr size_t kMaxIdBytes = 1024;
// Events in one batch whose ids are joined, at most.
constexpr size_t kMaxBatch = 256;

// A string member, or a non-negative integer one written in decimal (Akeyless's event_id).
std::string id_member(const rapidjson::Value& v, const char* name) {
  const auto* m = json_member(v, name);
  if (m == nullptr) return "";
  if (m->IsString()) return std::string(m->GetString(), m->GetStringLength());
  if (m->IsUint64()) return std::to_string(m->GetUint64());
  return "";
}

// "<length>:<text>", so that joined parts cannot be confused whatever bytes they hold.
std::string framed(std::string_view text) {
  return std::to_string(text.size()) + ":" + std::string(text);
}

const std::string* header(const HeaderList& headers, std::string_view name) {
  for (const auto& [key, value] : headers) {
    if (key == name) return &value;
  }
  return nullptr;
}

// The ids of `events` (an object or an array of objects), read by `one`, joined; "" if any
// lacks one.
template <typename One>
std::string batch_id(const rapidjson::Value& events, One one) {
  if (!events.IsArray()) return one(events);
  if (events.Empty() || events.Size() > kMaxBatch) return "";
  std::string out;
  for (const auto& e : events.GetArray()) {
    std::string id = one(e);
    if (id.empty()) return "";
    out += framed(id);
  }
  return out;
}

std::string cloudevent_id(const rapidjson::Value& e) {
  const std::string source = json_string(e, "source");
  const std::string id = json_string(e, "id");
  if (source.empty() || id.empty()) return "";
  // CloudEvents 1.0: source + id identify an event.
  return framed(source) + framed(id);
}

std::string akeyless_id(const rapidjson::Value& body) {
  const auto one = [](const rapidjson::Value& e) { return id_member(e, "event_id"); };
  const auto* wrapped = json_member(body, "Akeyless_Events");
  if (wrapped == nullptr || !wrapped->IsObject()) return batch_id(body, one);
  // {"Akeyless_Events": {"<event type>": [events]}}
  std::string out;
  for (const auto& group : wrapped->GetObject()) {
    std::string ids = batch_id(group.value, one);
    if (ids.empty()) return "";
    out += framed(std::string_view(group.name.GetString(), group.name.GetStringLength())) + ids;
  }
  return out;
}

std::string id_in_body(DeliverySource source, const rapidjson::Value& body) {
  switch (source) {
    case DeliverySource::kPubSub: {
      const auto* message = json_member(body, "message");
      if (message == nullptr) return "";
      std::string id = id_member(*message, "messageId");
      return id.empty() ? id_member(*message, "message_id") : id;
    }
    case DeliverySource::kSns:
      return id_member(body, "MessageId");
    case DeliverySource::kEventGrid:
      return batch_id(body, [](const rapidjson::Value& e) { return id_member(e, "id"); });
    case DeliverySource::kCloudEvents:
      return batch_id(body, cloudevent_id);
    case DeliverySource::kAkeyless:
      return akeyless_id(body);
  }
  return "";
}

constexpr std::string_view prefix(DeliverySource source) {
  switch (source) {
    case DeliverySource::kPubSub:
      return "pubsub:";
    case DeliverySource::kSns:
      return "sns:";
    case DeliverySource::kEventGrid:
      return "eventgrid:";
    case DeliverySource::kCloudEvents:
      return "cloudevents:";
    case DeliverySource::kAkeyless:
      return "akeyless:";
  }
  return "";
}

}  // namespace

std::optional<std::string> delivery_id(DeliverySource source, std::string_view body,
                                       const HeaderList& headers) {
  std::string id;
  const auto* ce_source = header(headers, "ce-source");
  const auto* ce_id = header(headers, "ce-id");
  if (source == DeliverySource::kCloudEvents && ce_source != nullptr && ce_id != nullptr) {
    // Binary content mode: the attributes are headers and the body is the data alone.
    if (ce_source->empty() || ce_id->empty()) return std::nullopt;
    id = framed(*ce_source) + framed(*ce_id);
  } else {
    rapidjson::Document doc;
    doc.Parse(body.data(), body.size());
    if (doc.HasParseError()) return std::nullopt;
    id = id_in_body(source, doc);
  }
  if (id.empty() || id.size() > kMaxIdBytes) return std::nullopt;
  return std::string(prefix(source)) + id;
}

}  // namespace eso::webhook
