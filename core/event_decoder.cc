#include "core/event_decoder.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <unordered_set>

#include <fmt/format.h>
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "core/base64.h"
#include "core/http/basic_auth.h"
#include "core/http/escape.h"
#include "core/http/request_parser.h"
#include "core/json_fields.h"

namespace eso {
namespace {

using Json = rapidjson::Value;

// What every decoder sees: the request and the options.
struct Ctx {
  const EventRequest& request;
  const DecodeOptions& options;

  const std::string* header(std::string_view name) const {
    return request.header ? request.header(name) : nullptr;
  }
};

Error invalid(std::string message) {
  return Error{ErrorCode::kInvalidArgument, std::move(message)};
}

Error unauthorized(std::string message) {
  return Error{ErrorCode::kUnauthorized, std::move(message)};
}

// Keys are de-duplicated once, in finish(): a linear search per key would make a body of
// 100,000 keys take seconds.
void add_key(DecodedEvents& out, std::string key) { out.keys.push_back(std::move(key)); }

// A type is acted on when listed by --event-type, else when among the source's defaults; an
// empty default list means every type.
bool type_wanted(const std::string& type, const Ctx& ctx,
                 std::span<const std::string_view> defaults) {
  const auto& chosen = ctx.options.event_types;
  if (!chosen.empty()) {
    return type.empty() || std::find(chosen.begin(), chosen.end(), type) != chosen.end();
  }
  if (type.empty() || defaults.empty()) return true;
  return std::find(defaults.begin(), defaults.end(), type) != defaults.end();
}

// Counts an event of `type` and says whether it is acted on; records it as ignored if not.
bool take(DecodedEvents& out, const std::string& type, const Ctx& ctx,
          std::span<const std::string_view> defaults) {
  ++out.events;
  ++out.types[type];
  if (type_wanted(type, ctx, defaults)) return true;
  out.ignored.push_back({type, "event type not acted on"});
  return false;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// Azure writes the same field as `ObjectName`, `objectName` or `objectname`.
const Json* member_ci(const Json& v, std::string_view name) {
  if (!v.IsObject()) return nullptr;
  for (const auto& m : v.GetObject()) {
    if (iequals(std::string_view(m.name.GetString(), m.name.GetStringLength()), name)) {
      return &m.value;
    }
  }
  return nullptr;
}

std::string string_ci(const Json& v, std::string_view name) {
  const Json* m = member_ci(v, name);
  return m != nullptr && m->IsString() ? std::string(m->GetString(), m->GetStringLength())
                                       : std::string();
}

std::string as_string(const Json* v) {
  return v != nullptr && v->IsString() ? std::string(v->GetString(), v->GetStringLength())
                                       : std::string();
}

// Calls `fn` for the body's events: the elements of an array, or the body itself.
template <typename Fn>
void for_each_event(const Json& doc, Fn&& fn) {
  if (doc.IsArray()) {
    for (const auto& e : doc.GetArray()) fn(e);
  } else {
    fn(doc);
  }
}

template <typename Pred>
bool any_event(const Json& doc, Pred&& pred) {
  if (doc.IsArray()) return std::any_of(doc.Begin(), doc.End(), pred);
  return pred(doc);
}

// ---- dotted paths: `detail.name`, `items[].path`, `records.*.key` ----

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> out;
  while (!path.empty()) {
    const auto dot = path.find('.');
    std::string_view part = path.substr(0, dot);
    if (part.size() > 2 && part.substr(part.size() - 2) == "[]") {
      out.push_back(part.substr(0, part.size() - 2));
      out.push_back("*");
    } else if (!part.empty()) {
      out.push_back(part);
    }
    if (dot == std::string_view::npos) break;
    path.remove_prefix(dot + 1);
  }
  return out;
}

// Every string the path reaches; an array at the end contributes its strings.
void collect_strings(const Json& v, std::span<const std::string_view> path,
                     std::vector<std::string>& out, int depth = 0) {
  if (depth > 64) return;
  if (path.empty()) {
    if (v.IsString()) {
      if (v.GetStringLength() > 0) out.emplace_back(v.GetString(), v.GetStringLength());
    } else if (v.IsArray()) {
      for (const auto& e : v.GetArray()) collect_strings(e, path, out, depth + 1);
    }
    return;
  }
  if (path.front() == "*" || path.front() == "[]") {
    if (v.IsArray()) {
      for (const auto& e : v.GetArray()) collect_strings(e, path.subspan(1), out, depth + 1);
    } else if (v.IsObject()) {
      for (const auto& m : v.GetObject()) collect_strings(m.value, path.subspan(1), out, depth + 1);
    }
    return;
  }
  if (!v.IsObject()) return;
  // A Value, not a bare StringRef: that would decay to a C string and be read up to its NUL.
  const Json name(rapidjson::StringRef(path.front().data(),
                                       static_cast<rapidjson::SizeType>(path.front().size())));
  const auto it = v.FindMember(name);
  if (it != v.MemberEnd()) collect_strings(it->value, path.subspan(1), out, depth + 1);
}

std::string first_string(const Json& v, std::string_view path) {
  std::vector<std::string> found;
  const auto parts = split_path(path);
  collect_strings(v, parts, found);
  return found.empty() ? std::string() : found.front();
}

// ---- Akeyless Event Center webhook forwarder ----

constexpr std::array<std::string_view, 2> kAkeylessTypes{"static-secret-updated",
                                                         "rotated-secret-success"};

bool looks_like_akeyless_event(const Json& v) {
  return v.IsObject() && (v.HasMember("item_name") || v.HasMember("event_type") ||
                          (v.HasMember("name") && !v.HasMember("keys")));
}

bool detect_akeyless(const Json& doc, const Ctx&) {
  return any_event(doc, looks_like_akeyless_event) ||
         json_member(doc, "Akeyless_Events") != nullptr;
}

void akeyless_event(const Json& event, const std::string& envelope_type, const Ctx& ctx,
                    DecodedEvents& out) {
  if (!event.IsObject()) {
    ++out.events;
    ++out.types[envelope_type];
    out.ignored.push_back({envelope_type, "not a JSON object"});
    return;
  }
  std::string type = json_string(event, "event_type");
  if (type.empty()) type = envelope_type;
  if (!take(out, type, ctx, kAkeylessTypes)) return;
  std::string key = json_string(event, "item_name");
  if (key.empty()) key = json_string(event, "name");
  if (key.empty()) {
    out.ignored.push_back({type, "no item_name"});
    return;
  }
  add_key(out, std::move(key));
}

Status decode_akeyless(const Json& doc, const Ctx& ctx, DecodedEvents& out) {
  const Json* grouped = json_member(doc, "Akeyless_Events");
  if (grouped == nullptr) {
    for_each_event(doc, [&](const Json& e) { akeyless_event(e, "", ctx, out); });
    return ok_status();
  }
  if (!grouped->IsObject()) return invalid("Akeyless_Events must be an object of event lists");
  for (const auto& [type, events] : grouped->GetObject()) {
    const std::string type_name(type.GetString(), type.GetStringLength());
    for_each_event(events, [&](const Json& e) { akeyless_event(e, type_name, ctx, out); });
  }
  return ok_status();
}

// ---- generic: {"keys": [...], "store": "...", "provider": "..."}, or --key-path ----

bool detect_generic(const Json& doc, const Ctx&) { return json_member(doc, "keys") != nullptr; }

bool detect_key_paths(const Json& doc, const Ctx& ctx) {
  for (const auto& path : ctx.options.key_paths) {
    bool found = false;
    for_each_event(doc, [&](const Json& e) { found = found || !first_string(e, path).empty(); });
    if (found) return true;
  }
  return false;
}

Status decode_generic(const Json& doc, const Ctx& ctx, DecodedEvents& out) {
  const Json* keys = json_member(doc, "keys");
  if (keys == nullptr && !ctx.options.key_paths.empty()) {
    for_each_event(doc, [&](const Json& e) {
      ++out.events;
      ++out.types[""];
      std::vector<std::string> found;
      for (const auto& path : ctx.options.key_paths) {
        collect_strings(e, split_path(path), found);
      }
      if (found.empty()) out.ignored.push_back({"", "no key at --key-path"});
      for (auto& k : found) add_key(out, std::move(k));
    });
    return ok_status();
  }
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

// ---- Azure Key Vault (Event Grid schema, and through CloudEvents) ----

constexpr std::array<std::string_view, 3> kAzureTypes{
    "Microsoft.KeyVault.SecretNewVersionCreated",
    "Microsoft.KeyVault.CertificateNewVersionCreated",
    "Microsoft.KeyVault.KeyNewVersionCreated",
};
constexpr std::string_view kValidationType = "Microsoft.EventGrid.SubscriptionValidationEvent";

// The object a Key Vault event names, in the form an ESO azurekv key takes: `NAME` for a
// secret, `cert/NAME` and `key/NAME` for the others.
void azure_keyvault_event(const std::string& type, const Json* data, std::string_view subject,
                          const Ctx& ctx, DecodedEvents& out) {
  if (!take(out, type, ctx, kAzureTypes)) return;
  std::string name = data != nullptr ? string_ci(*data, "ObjectName") : std::string();
  if (name.empty()) name = std::string(subject.substr(subject.rfind('/') + 1));
  if (name.empty()) {
    out.ignored.push_back({type, "no data.ObjectName or subject"});
    return;
  }
  const std::string object_type = data != nullptr ? string_ci(*data, "ObjectType") : "";
  std::string prefix;
  if (type == kAzureTypes[1] || iequals(object_type, "Certificate")) {
    prefix = "cert/";
  } else if (type == kAzureTypes[2] || iequals(object_type, "Key")) {
    prefix = "key/";
  }
  add_key(out, prefix + name);
}

bool looks_like_event_grid(const Json& v) {
  return v.IsObject() && member_ci(v, "eventType") != nullptr && !v.HasMember("specversion");
}

bool detect_azure(const Json& doc, const Ctx& ctx) {
  return ctx.header("aeg-event-type") != nullptr || any_event(doc, looks_like_event_grid);
}

Status decode_azure(const Json& doc, const Ctx& ctx, DecodedEvents& out) {
  for_each_event(doc, [&](const Json& e) {
    const std::string type = string_ci(e, "eventType");
    const Json* data = member_ci(e, "data");
    if (type == kValidationType) {
      ++out.events;
      ++out.types[type];
      const std::string code = data != nullptr ? string_ci(*data, "validationCode") : "";
      if (code.empty() || out.reply) return;
      rapidjson::StringBuffer buffer;
      rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
      w.StartObject();
      w.Key("validationResponse");
      w.String(code);
      w.EndObject();
      out.reply = EventReply{200, buffer.GetString()};
      return;
    }
    if (!e.IsObject()) {
      ++out.events;
      ++out.types[""];
      out.ignored.push_back({"", "not a JSON object"});
      return;
    }
    azure_keyvault_event(type, data, string_ci(e, "subject"), ctx, out);
  });
  return ok_status();
}

// ---- CloudEvents 1.0: structured, batch and binary ----

struct CloudEvent {
  std::string specversion;
  std::string type;
  std::string subject;
  const Json* data = nullptr;
};

void cloud_event(const CloudEvent& ce, const Ctx& ctx, DecodedEvents& out) {
  if (ce.type.rfind("Microsoft.KeyVault.", 0) == 0) {
    azure_keyvault_event(ce.type, ce.data, ce.subject, ctx, out);
    return;
  }
  if (!take(out, ce.type, ctx, {})) return;
  if (ce.specversion != "1.0") {
    out.ignored.push_back({ce.type, "specversion \"" + ce.specversion + "\" is not 1.0"});
    return;
  }
  const std::string& path = ctx.options.cloudevents_key_path;
  std::string key = path.empty()         ? ce.subject
                    : ce.data != nullptr ? first_string(*ce.data, path)
                                         : std::string();
  if (key.empty()) {
    out.ignored.push_back({ce.type, path.empty() ? "no subject" : "no key at data." + path});
    return;
  }
  add_key(out, std::move(key));
}

bool is_cloudevents_type(const std::string* content_type) {
  return content_type != nullptr &&
         content_type->find("application/cloudevents") != std::string::npos;
}

bool detect_cloudevents(const Json& doc, const Ctx& ctx) {
  return is_cloudevents_type(ctx.header("content-type")) ||
         any_event(doc, [](const Json& e) { return json_member(e, "specversion") != nullptr; });
}

Status decode_cloudevents(const Json& doc, const Ctx& ctx, DecodedEvents& out) {
  const std::string* content_type = ctx.header("content-type");
  const bool batch =
      content_type != nullptr && content_type->find("cloudevents-batch") != std::string::npos;
  if (batch && !doc.IsArray()) return invalid("a CloudEvents batch must be a JSON array");
  for_each_event(doc, [&](const Json& e) {
    if (!e.IsObject()) {
      ++out.events;
      ++out.types[""];
      out.ignored.push_back({"", "not a JSON object"});
      return;
    }
    CloudEvent ce;
    ce.specversion = json_string(e, "specversion");
    ce.type = json_string(e, "type");
    ce.subject = json_string(e, "subject");
    ce.data = json_member(e, "data");
    cloud_event(ce, ctx, out);
  });
  return ok_status();
}

// Binary mode: the attributes are `ce-*` headers and the body is the data, in any format.
Status decode_cloudevents_binary(const Ctx& ctx, DecodedEvents& out) {
  CloudEvent ce;
  auto header = [&](std::string_view name) {
    const std::string* v = ctx.header(name);
    // The HTTP binding percent-encodes attribute values (space, '"', '%', non-ASCII).
    return v != nullptr ? http::percent_decode(*v, false) : std::string();
  };
  ce.specversion = header("ce-specversion");
  ce.type = header("ce-type");
  ce.subject = header("ce-subject");
  rapidjson::Document data;
  if (!ctx.request.body.empty()) {
    data.Parse<rapidjson::kParseIterativeFlag>(ctx.request.body.data(), ctx.request.body.size());
    if (!data.HasParseError()) ce.data = &data;
  }
  cloud_event(ce, ctx, out);
  return ok_status();
}

// ---- AWS Secrets Manager through EventBridge ----

constexpr std::array<std::string_view, 5> kAwsTypes{
    "Secret Label Updated", "PutSecretValue",           "UpdateSecret",
    "RotationSucceeded",    "UpdateSecretVersionStage",
};

bool detect_aws(const Json& doc, const Ctx&) {
  return any_event(doc, [](const Json& e) { return json_member(e, "detail-type") != nullptr; });
}

// EventBridge's own "Secret Label Updated": acted on when AWSCURRENT moved.
void aws_label_event(const std::string& detail_type, const Json& detail, const Ctx& ctx,
                     DecodedEvents& out) {
  if (!take(out, detail_type, ctx, kAwsTypes)) return;
  const std::string label = json_string(detail, "labelUpdated");
  if (label != "AWSCURRENT") {
    out.ignored.push_back({detail_type, "label \"" + label +
                                            "\" moved; ESO reads AWSCURRENT unless a version "
                                            "is named"});
    return;
  }
  const std::string name = json_string(detail, "name");
  if (name.empty()) {
    out.ignored.push_back({detail_type, "no detail.name"});
    return;
  }
  add_key(out, name);
}

// The secret a CloudTrail call changed so that AWSCURRENT reads a new value, or "" with the
// reason in `out.ignored`.
std::string cloudtrail_secret(const std::string& type, const Json& detail, DecodedEvents& out) {
  const Json* extra = json_member(detail, "additionalEventData");
  if (type == "RotationSucceeded") {
    std::string key = extra != nullptr ? string_ci(*extra, "SecretId") : "";
    if (key.empty()) out.ignored.push_back({type, "no secret id in the event"});
    return key;
  }
  const Json* params = json_member(detail, "requestParameters");
  const Json* stages = params != nullptr ? member_ci(*params, "versionStages") : nullptr;
  if (type == "PutSecretValue" && stages != nullptr && stages->IsArray() &&
      std::none_of(stages->Begin(), stages->End(), [](const Json& v) {
        return v.IsString() && std::string_view(v.GetString()) == "AWSCURRENT";
      })) {
    out.ignored.push_back({type, "the new value is not staged AWSCURRENT"});
    return "";
  }
  if (type == "UpdateSecretVersionStage" && params != nullptr &&
      (string_ci(*params, "versionStage") != "AWSCURRENT" ||
       member_ci(*params, "moveToVersionId") == nullptr)) {
    out.ignored.push_back({type, "AWSCURRENT did not move"});
    return "";
  }
  const std::string key = params != nullptr ? string_ci(*params, "secretId") : "";
  if (key.empty()) out.ignored.push_back({type, "no secret id in the event"});
  return key;
}

void aws_event(const Json& e, const Ctx& ctx, DecodedEvents& out) {
  const std::string detail_type = json_string(e, "detail-type");
  const Json* detail_ptr = json_member(e, "detail");
  static const Json kNull;
  const Json& detail = detail_ptr != nullptr ? *detail_ptr : kNull;
  if (detail_type == "Secret Label Updated") return aws_label_event(detail_type, detail, ctx, out);
  if (detail_type.find("via CloudTrail") == std::string::npos) {
    ++out.events;
    ++out.types[detail_type];
    out.ignored.push_back({detail_type, "detail-type not acted on"});
    return;
  }
  const std::string type = json_string(detail, "eventName");
  if (!take(out, type, ctx, kAwsTypes)) return;
  const std::string event_source = json_string(detail, "eventSource");
  if (!event_source.empty() && event_source != "secretsmanager.amazonaws.com") {
    out.ignored.push_back({type, "not a Secrets Manager event (" + event_source + ")"});
    return;
  }
  if (const std::string failed = json_string(detail, "errorCode"); !failed.empty()) {
    out.ignored.push_back({type, "the call failed (" + failed + ")"});
    return;
  }
  if (std::string key = cloudtrail_secret(type, detail, out); !key.empty()) {
    add_key(out, std::move(key));
  }
}

Status decode_aws(const Json& doc, const Ctx& ctx, DecodedEvents& out) {
  for_each_event(doc, [&](const Json& e) { aws_event(e, ctx, out); });
  return ok_status();
}

// ---- AWS Secrets Manager through an SNS topic (HTTPS subscription) ----

// An SNS HTTPS message (Type, TopicArn, Message): EventBridge rules and CloudTrail trails can
// publish to a topic, and SNS wraps each event in a Notification whose Message is the event.
bool detect_sns(const Json& doc, const Ctx&) {
  return !json_string(doc, "Type").empty() && json_member(doc, "TopicArn") != nullptr &&
         json_member(doc, "Message") != nullptr;
}

Status decode_sns(const Json& doc, const Ctx& ctx, DecodedEvents& out) {
  const std::string type = json_string(doc, "Type");
  const Json* message = json_member(doc, "Message");
  if (type.empty() || message == nullptr || !message->IsString()) {
    return invalid("an SNS message has a \"Type\" and a \"Message\" string");
  }
  if (type != "Notification") {
    ++out.events;
    ++out.types[type];
    out.ignored.push_back({type, "not a notification: it names no secret"});
    return ok_status();
  }
  rapidjson::Document event;
  event.Parse<rapidjson::kParseIterativeFlag>(message->GetString(), message->GetStringLength());
  if (event.HasParseError() || !detect_aws(event, ctx)) {
    ++out.events;
    ++out.types[type];
    out.ignored.push_back(
        {type, "the message is no EventBridge or CloudTrail event of AWS Secrets Manager"});
    return ok_status();
  }
  return decode_aws(event, ctx, out);
}

// ---- Google Secret Manager through a Pub/Sub push subscription ----

constexpr std::array<std::string_view, 1> kGcpTypes{"SECRET_VERSION_ADD"};

bool detect_gcp(const Json& doc, const Ctx&) {
  const Json* message = json_member(doc, "message");
  return message != nullptr && message->IsObject() &&
         (message->HasMember("attributes") || message->HasMember("data"));
}

Status decode_gcp(const Json& doc, const Ctx& ctx, DecodedEvents& out) {
  const Json* message = json_member(doc, "message");
  if (message == nullptr || !message->IsObject()) {
    return invalid("a Pub/Sub push body has a \"message\" object");
  }
  const Json* attributes = json_member(*message, "attributes");
  static const Json kNull;
  const Json& attrs = attributes != nullptr ? *attributes : kNull;
  const std::string type = json_string(attrs, "eventType");
  if (type == "SECRET_ROTATE" && ctx.options.event_types.empty()) {
    ++out.events;
    ++out.types[type];
    out.ignored.push_back(
        {type, "rotation is due, not done: the rotated value arrives as SECRET_VERSION_ADD"});
    return ok_status();
  }
  if (!take(out, type, ctx, kGcpTypes)) return ok_status();
  std::string key = json_string(attrs, "secretId");
  if (key.empty()) {
    // The message data is the Secret resource as JSON, base64-encoded.
    auto data = base64_decode(json_string(*message, "data"));
    rapidjson::Document secret;
    if (data) secret.Parse<rapidjson::kParseIterativeFlag>(data->data(), data->size());
    if (data && !secret.HasParseError()) key = json_string(secret, "name");
    // For SECRET_VERSION_ADD the data is the SecretVersion: projects/P/secrets/S/versions/N.
    if (const auto at = key.find("/versions/"); at != std::string::npos) key.resize(at);
  }
  if (key.empty()) {
    out.ignored.push_back({type, "no attributes.secretId or secret name in data"});
    return ok_status();
  }
  add_key(out, std::move(key));
  return ok_status();
}

// ---- Doppler ----

constexpr std::array<std::string_view, 2> kDopplerTypes{"config.secrets.update",
                                                        "enclave.project.config.secrets.update"};

bool detect_doppler(const Json& doc, const Ctx& ctx) {
  const std::string type = json_string(doc, "type");
  return ctx.header("x-doppler-signature") != nullptr || type.rfind("config.secrets.", 0) == 0 ||
         type.rfind("enclave.project.config.secrets.", 0) == 0;
}

Status decode_doppler(const Json& doc, const Ctx& ctx, DecodedEvents& out) {
  if (!doc.IsObject()) return invalid("a Doppler webhook body is a JSON object");
  const std::string type = json_string(doc, "type");
  if (!take(out, type, ctx, kDopplerTypes)) return ok_status();
  const Json* diff = json_member(doc, "diff");
  const size_t before = out.keys.size();
  for (const char* part : {"added", "updated", "removed"}) {
    const Json* names = diff != nullptr ? json_member(*diff, part) : nullptr;
    if (names == nullptr || !names->IsArray()) continue;
    for (const auto& n : names->GetArray()) {
      if (n.IsString() && n.GetStringLength() > 0) {
        add_key(out, std::string(n.GetString(), n.GetStringLength()));
      }
    }
  }
  if (out.keys.size() != before) return ok_status();
  // The default payload names no secret: the config changed as a whole.
  const Json* config = json_member(doc, "config");
  const Json* project = json_member(doc, "project");
  ConfigScope scope{"doppler", {}, config != nullptr ? json_string(*config, "name") : ""};
  for (const auto& name : {config != nullptr ? json_string(*config, "project") : "",
                           project != nullptr ? json_string(*project, "id") : "",
                           project != nullptr ? json_string(*project, "name") : ""}) {
    if (!name.empty() &&
        std::find(scope.projects.begin(), scope.projects.end(), name) == scope.projects.end()) {
      scope.projects.push_back(name);
    }
  }
  if (scope.config.empty() || scope.projects.empty()) {
    out.ignored.push_back({type, "no secret names in diff and no config.name and project"});
    return ok_status();
  }
  if (std::find(out.configs.begin(), out.configs.end(), scope) == out.configs.end()) {
    out.configs.push_back(std::move(scope));
  }
  return ok_status();
}

Status verify_doppler(const Ctx& ctx, const std::string& secret) {
  const std::string* signature = ctx.header("x-doppler-signature");
  if (signature == nullptr) return unauthorized("missing X-Doppler-Signature");
  const std::string want = "sha256=" + hmac_sha256_hex(secret, ctx.request.body);
  if (!http::constant_time_equal(*signature, want)) {
    return unauthorized("X-Doppler-Signature does not match the body");
  }
  return ok_status();
}

// ---- Infisical ----

constexpr std::array<std::string_view, 2> kInfisicalTypes{"secrets.modified", "secret.modified"};

bool detect_infisical(const Json& doc, const Ctx& ctx) {
  const Json* project = json_member(doc, "project");
  return ctx.header("x-infisical-signature") != nullptr ||
         (json_member(doc, "event") != nullptr && project != nullptr && project->IsObject());
}

std::string folder_path(std::string_view path) {
  std::string out = "/";
  for (std::string_view rest = path; !rest.empty();) {
    const auto slash = rest.find('/');
    const std::string_view part = rest.substr(0, slash);
    if (!part.empty()) out += std::string(part) + "/";
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  if (out.size() > 1) out.pop_back();
  return out;
}

Status decode_infisical(const Json& doc, const Ctx& ctx, DecodedEvents& out) {
  if (!doc.IsObject()) return invalid("an Infisical webhook body is a JSON object");
  const std::string type = json_string(doc, "event");
  if (!take(out, type, ctx, kInfisicalTypes)) return ok_status();
  const Json* project = json_member(doc, "project");
  const Json* path = project != nullptr ? json_member(*project, "secretPath") : nullptr;
  if (project != nullptr) out.environment = json_string(*project, "environment");
  const std::string folder = folder_path(as_string(path));
  if (std::find(out.paths.begin(), out.paths.end(), folder) == out.paths.end()) {
    out.paths.push_back(folder);
  }
  return ok_status();
}

Status verify_infisical(const Ctx& ctx, const std::string& secret) {
  const std::string* header = ctx.header("x-infisical-signature");
  if (header == nullptr) return unauthorized("missing x-infisical-signature");
  // t=<milliseconds>;<hex HMAC-SHA256 of the body>. The HMAC covers the body only, so the age
  // that counts is the body's own (signed) `timestamp`, which `t` must repeat.
  const std::string_view value = *header;
  const auto semicolon = value.find(';');
  if (value.rfind("t=", 0) != 0 || semicolon == std::string_view::npos) {
    return unauthorized("x-infisical-signature is not t=<ms>;<hex>");
  }
  int64_t millis = 0;
  const char* first = value.data() + 2;
  const char* last = value.data() + semicolon;
  const auto [end, ec] = std::from_chars(first, last, millis);
  if (ec != std::errc() || end != last || first == last) {
    return unauthorized("x-infisical-signature has no valid timestamp");
  }
  if (!http::constant_time_equal(value.substr(semicolon + 1),
                                 hmac_sha256_hex(secret, ctx.request.body))) {
    return unauthorized("x-infisical-signature does not match the body");
  }
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseIterativeFlag>(ctx.request.body.data(), ctx.request.body.size());
  const Json* stamp = doc.HasParseError() ? nullptr : json_member(doc, "timestamp");
  if (stamp == nullptr || !stamp->IsInt64() || stamp->GetInt64() != millis) {
    return unauthorized("the body's timestamp is missing or differs from x-infisical-signature");
  }
  const int64_t now =
      std::chrono::duration_cast<std::chrono::milliseconds>(ctx.request.now.time_since_epoch())
          .count();
  const int64_t tolerance =
      std::chrono::duration_cast<std::chrono::milliseconds>(ctx.options.signature_tolerance)
          .count();
  if (millis < now - tolerance || millis > now + tolerance) {
    return unauthorized(fmt::format("x-infisical-signature is stale (more than {} s from now)",
                                    ctx.options.signature_tolerance.count()));
  }
  return ok_status();
}

struct Decoder {
  EventSource info;
  bool (*detect)(const Json&, const Ctx&);
  Status (*decode)(const Json&, const Ctx&, DecodedEvents&);
  Status (*verify)(const Ctx&, const std::string& secret);  ///< signed senders only
};

// Auto-detection tries these in order: unambiguous shapes first, Akeyless's loose one last.
constexpr std::array<Decoder, 9> kDecoders{{
    {{"generic",
      "{\"keys\": [\"/prod/db\"], \"store\": ..., \"provider\": ...}, or any JSON with "
      "--key-path"},
     detect_generic,
     decode_generic,
     nullptr},
    {{"cloudevents",
      "CloudEvents 1.0, structured, batch or binary (ce-* headers); key from subject"},
     detect_cloudevents,
     decode_cloudevents,
     nullptr},
    {{"azure", "Azure Key Vault through Event Grid (SecretNewVersionCreated, ...)"},
     detect_azure,
     decode_azure,
     nullptr},
    {{"sns",
      "AWS Secrets Manager events through an SNS topic's HTTPS subscription (the "
      "Notification's Message is an EventBridge or CloudTrail event)"},
     detect_sns,
     decode_sns,
     nullptr},
    {{"aws", "AWS Secrets Manager through an EventBridge API destination"},
     detect_aws,
     decode_aws,
     nullptr},
    {{"gcp", "Google Secret Manager through a Pub/Sub push subscription"},
     detect_gcp,
     decode_gcp,
     nullptr},
    {{"doppler", "Doppler webhook (X-Doppler-Signature)"},
     detect_doppler,
     decode_doppler,
     verify_doppler},
    {{"infisical", "Infisical webhook (x-infisical-signature); names a folder, not secrets"},
     detect_infisical,
     decode_infisical,
     verify_infisical},
    {{"akeyless",
      "Akeyless Event Center webhook: an event, an array of events, or "
      "{\"Akeyless_Events\": {\"<type>\": [events]}}"},
     detect_akeyless,
     decode_akeyless,
     nullptr},
}};

std::array<EventSource, kDecoders.size()> make_sources() {
  std::array<EventSource, kDecoders.size()> out{};
  for (size_t i = 0; i < kDecoders.size(); ++i) out[i] = kDecoders[i].info;
  return out;
}
const auto kSources = make_sources();

const Decoder* decoder_named(std::string_view name) {
  for (const auto& d : kDecoders) {
    if (d.info.name == name) return &d;
  }
  return nullptr;
}

Status verify(const Decoder& decoder, const Ctx& ctx) {
  if (decoder.verify == nullptr) return ok_status();
  const auto secret = ctx.request.signing_secrets.find(decoder.info.name);
  if (secret == ctx.request.signing_secrets.end() || secret->second.empty()) return ok_status();
  return decoder.verify(ctx, secret->second);
}

Result<DecodedEvents> finish(DecodedEvents out, const Ctx& ctx) {
  if (out.events > ctx.options.max_events) {
    return invalid(fmt::format("{} events in one body; at most {} are accepted", out.events,
                               ctx.options.max_events));
  }
  std::unordered_set<std::string_view> seen;
  std::vector<std::string> keys;
  for (const auto& k : out.keys) {
    if (seen.insert(k).second) keys.push_back(k);
  }
  if (keys.size() > ctx.options.max_keys) {
    return invalid(fmt::format("{} distinct keys in one body; at most {} are accepted", keys.size(),
                               ctx.options.max_keys));
  }
  out.keys = std::move(keys);
  return out;
}

}  // namespace

std::span<const EventSource> event_sources() { return kSources; }

std::string hmac_sha256_hex(std::string_view key, std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int size = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest.data(), &size);
  std::string out;
  out.reserve(size * 2);
  for (unsigned int i = 0; i < size; ++i) out += fmt::format("{:02x}", digest[i]);
  return out;
}

namespace {

// DESIGN.md §6: what a sender chose goes on to logs, metric labels and JSON responses, all of
// which must be valid UTF-8; a key that is not can match no ExternalSecret anyway.
bool make_valid_utf8(std::string& text) {
  std::string valid = http::valid_utf8(text);
  if (valid == text) return false;
  text = std::move(valid);
  return true;
}

DecodedEvents valid_utf8(DecodedEvents out) {
  bool keys_changed = false;
  for (auto& k : out.keys) keys_changed |= make_valid_utf8(k);
  for (auto& p : out.paths) make_valid_utf8(p);
  for (auto& c : out.configs) {
    for (auto& p : c.projects) make_valid_utf8(p);
    make_valid_utf8(c.config);
  }
  for (auto& i : out.ignored) {
    make_valid_utf8(i.event_type);
    make_valid_utf8(i.reason);
  }
  std::map<std::string, size_t> types;
  for (const auto& [type, n] : out.types) types[http::valid_utf8(type)] += n;
  out.types = std::move(types);
  for (auto* field : {&out.environment, &out.store, &out.provider}) make_valid_utf8(*field);
  if (out.reply) make_valid_utf8(out.reply->body);
  if (!keys_changed) return out;
  // Two keys that differed only in invalid bytes are one now.
  std::vector<std::string> keys;
  std::unordered_set<std::string> seen;
  for (auto& k : out.keys) {
    if (seen.insert(k).second) keys.push_back(std::move(k));
  }
  out.keys = std::move(keys);
  return out;
}

Result<DecodedEvents> decode_unchecked(const EventRequest& request, std::string_view source,
                                       const DecodeOptions& options) {
  const Ctx ctx{request, options};
  const Decoder* chosen = nullptr;
  if (!source.empty()) {
    chosen = decoder_named(source);
    if (chosen == nullptr) {
      return Error{ErrorCode::kNotFound, fmt::format("unknown event source \"{}\"", source)};
    }
    // Check a signature before reading anything else of the body.
    if (auto checked = verify(*chosen, ctx); !checked) return checked.error();
  }
  if ((source.empty() || source == "cloudevents") && ctx.header("ce-specversion") != nullptr) {
    DecodedEvents out;
    out.source = "cloudevents";
    if (auto decoded = decode_cloudevents_binary(ctx, out); !decoded) return decoded.error();
    return finish(std::move(out), ctx);
  }
  rapidjson::Document doc;
  // Iterative parsing: a deeply nested body cannot exhaust the stack.
  doc.Parse<rapidjson::kParseIterativeFlag>(request.body.data(), request.body.size());
  if (doc.HasParseError()) {
    return Error{ErrorCode::kMalformed,
                 fmt::format("malformed JSON at byte {}: {}", doc.GetErrorOffset(),
                             rapidjson::GetParseError_En(doc.GetParseError()))};
  }
  if (chosen == nullptr) {
    for (const auto& d : kDecoders) {
      if (d.detect(doc, ctx)) {
        chosen = &d;
        break;
      }
    }
    if (chosen == nullptr && detect_key_paths(doc, ctx)) chosen = decoder_named("generic");
    if (chosen == nullptr) {
      return invalid(
          "the body is no event format eso-updater knows (see --event-source; {\"keys\": [...]} "
          "or --key-path for anything else)");
    }
    if (auto checked = verify(*chosen, ctx); !checked) return checked.error();
  }
  DecodedEvents out;
  out.source = std::string(chosen->info.name);
  if (auto decoded = chosen->decode(doc, ctx, out); !decoded) return decoded.error();
  return finish(std::move(out), ctx);
}

// The key rule each source's keys follow (DESIGN.md §3); a source not listed compares exactly.
std::string key_rule_of(const DecodedEvents& decoded) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 5> kRules{{
      {"akeyless", "akeyless"},
      {"aws", "aws"},
      {"azure", "azurekv"},
      {"gcp", "gcpsm"},
      {"sns", "aws"},
  }};
  if (decoded.source == "generic") return decoded.provider;
  for (const auto& [source, rule] : kRules) {
    if (source == decoded.source) return std::string(rule);
  }
  return "";
}

}  // namespace

Result<DecodedEvents> decode_events(const EventRequest& request, std::string_view source,
                                    const DecodeOptions& options) {
  auto decoded = decode_unchecked(request, source, options);
  if (!decoded) return Error{decoded.error().code, http::valid_utf8(decoded.error().message)};
  decoded->key_rule = key_rule_of(*decoded);
  return valid_utf8(std::move(*decoded));
}

Result<DecodedEvents> decode_events(std::string_view body, std::string_view source,
                                    const DecodeOptions& options) {
  EventRequest request;
  request.body = body;
  return decode_events(request, source, options);
}

}  // namespace eso
