#include "core/event_decoder.h"

#include <algorithm>
#include <array>

#include <fmt/format.h>
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include "core/json_fields.h"

namespace eso {
namespace {

using Json = rapidjson::Value;

Error invalid(std::string message) {
  return Error{ErrorCode::kInvalidArgument, std::move(message)};
}

void add_key(DecodedEvents& out, std::string key) {
  if (std::find(out.keys.begin(), out.keys.end(), key) == out.keys.end()) {
    out.keys.push_back(std::move(key));
  }
}

bool type_wanted(const std::string& type, const DecodeOptions& options,
                 std::span<const std::string_view> defaults) {
  if (type.empty()) return true;
  if (!options.event_types.empty()) {
    return std::find(options.event_types.begin(), options.event_types.end(), type) !=
           options.event_types.end();
  }
  return std::find(defaults.begin(), defaults.end(), type) != defaults.end();
}

// ---- Akeyless Event Center webhook forwarder ----

constexpr std::array<std::string_view, 2> kAkeylessTypes{"static-secret-updated",
                                                         "rotated-secret-success"};

bool looks_like_akeyless_event(const Json& v) {
  return v.IsObject() && (v.HasMember("item_name") || v.HasMember("event_type") ||
                          (v.HasMember("name") && !v.HasMember("keys")));
}

bool detect_akeyless(const Json& doc) {
  if (doc.IsArray()) {
    return std::any_of(doc.Begin(), doc.End(), looks_like_akeyless_event);
  }
  return looks_like_akeyless_event(doc) || json_member(doc, "Akeyless_Events") != nullptr;
}

void akeyless_event(const Json& event, const std::string& envelope_type,
                    const DecodeOptions& options, DecodedEvents& out) {
  ++out.events;
  if (!event.IsObject()) {
    ++out.types[envelope_type];
    out.ignored.push_back({envelope_type, "not a JSON object"});
    return;
  }
  std::string type = json_string(event, "event_type");
  if (type.empty()) type = envelope_type;
  ++out.types[type];
  if (!type_wanted(type, options, kAkeylessTypes)) {
    out.ignored.push_back({type, "event type not acted on"});
    return;
  }
  std::string key = json_string(event, "item_name");
  if (key.empty()) key = json_string(event, "name");
  if (key.empty()) {
    out.ignored.push_back({type, "no item_name"});
    return;
  }
  add_key(out, std::move(key));
}

Status decode_akeyless(const Json& doc, const DecodeOptions& options, DecodedEvents& out) {
  if (doc.IsArray()) {
    for (const auto& e : doc.GetArray()) akeyless_event(e, "", options, out);
    return ok_status();
  }
  const Json* grouped = json_member(doc, "Akeyless_Events");
  if (grouped == nullptr) {
    akeyless_event(doc, "", options, out);
    return ok_status();
  }
  if (!grouped->IsObject()) return invalid("Akeyless_Events must be an object of event lists");
  for (const auto& [type, events] : grouped->GetObject()) {
    const std::string type_name(type.GetString(), type.GetStringLength());
    if (!events.IsArray()) {
      akeyless_event(events, type_name, options, out);
      continue;
    }
    for (const auto& e : events.GetArray()) akeyless_event(e, type_name, options, out);
  }
  return ok_status();
}

// ---- generic: {"keys": [...], "store": "...", "provider": "..."} ----

bool detect_generic(const Json& doc) { return json_member(doc, "keys") != nullptr; }

Status decode_generic(const Json& doc, const DecodeOptions&, DecodedEvents& out) {
  const Json* keys = json_member(doc, "keys");
  if (keys == nullptr || !keys->IsArray()) return invalid("\"keys\" must be an array of strings");
  out.events = 1;
  ++out.types[""];
  for (const auto& k : keys->GetArray()) {
    if (!k.IsString() || k.GetStringLength() == 0) {
      return invalid("\"keys\" must hold non-empty strings");
    }
    add_key(out, std::string(k.GetString(), k.GetStringLength()));
  }
  out.store = json_string(doc, "store");
  out.provider = json_string(doc, "provider");
  return ok_status();
}

struct Decoder {
  EventSource info;
  bool (*detect)(const Json&);
  Status (*decode)(const Json&, const DecodeOptions&, DecodedEvents&);
};

// Auto-detection tries these in order; the generic shape is unambiguous, so it goes first.
constexpr std::array<Decoder, 2> kDecoders{{
    {{"generic", "{\"keys\": [\"/prod/db\"], \"store\": ..., \"provider\": ...}"},
     detect_generic,
     decode_generic},
    {{"akeyless",
      "Akeyless Event Center webhook: an event, an array of events, or "
      "{\"Akeyless_Events\": {\"<type>\": [events]}}"},
     detect_akeyless,
     decode_akeyless},
}};

std::array<EventSource, kDecoders.size()> make_sources() {
  std::array<EventSource, kDecoders.size()> out{};
  for (size_t i = 0; i < kDecoders.size(); ++i) out[i] = kDecoders[i].info;
  return out;
}
const auto kSources = make_sources();

}  // namespace

std::span<const EventSource> event_sources() { return kSources; }

Result<DecodedEvents> decode_events(std::string_view body, std::string_view source,
                                    const DecodeOptions& options) {
  rapidjson::Document doc;
  // Iterative parsing: a deeply nested body cannot exhaust the stack.
  doc.Parse<rapidjson::kParseIterativeFlag>(body.data(), body.size());
  if (doc.HasParseError()) {
    return invalid(fmt::format("malformed JSON at byte {}: {}", doc.GetErrorOffset(),
                               rapidjson::GetParseError_En(doc.GetParseError())));
  }
  const Decoder* decoder = nullptr;
  for (const auto& d : kDecoders) {
    if (source.empty() ? d.detect(doc) : d.info.name == source) {
      decoder = &d;
      break;
    }
  }
  if (decoder == nullptr && !source.empty()) {
    return invalid(fmt::format("unknown event source \"{}\"", source));
  }
  if (decoder == nullptr) {
    return invalid("the body is no event format eso-updater knows (Akeyless or {\"keys\": [...]})");
  }
  DecodedEvents out;
  out.source = std::string(decoder->info.name);
  if (auto decoded = decoder->decode(doc, options, out); !decoded) return decoded.error();
  if (out.events > options.max_events) {
    return invalid(fmt::format("{} events in one body; at most {} are accepted", out.events,
                               options.max_events));
  }
  return out;
}

}  // namespace eso
